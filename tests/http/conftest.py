"""Fixtures for the HTTP tests: the bundled API server on a free loopback port, and a kubeconfig for it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters.http import HTTPTarget
from controlplane.__main__ import write_kubeconfig
from controlplane.http import HTTPAPIServer

TOKEN = "kubeprop-test-token"


@pytest.fixture
def server() -> Iterator[HTTPAPIServer]:
    s = HTTPAPIServer(port=0, token=TOKEN)
    s.start()
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture
def kubeconfig(server: HTTPAPIServer, tmp_path: Path) -> str:
    path = tmp_path / "kubeconfig"
    write_kubeconfig(str(path), server.url, TOKEN)
    return str(path)


@pytest.fixture
def target(kubeconfig: str) -> Iterator[HTTPTarget]:
    t = HTTPTarget(kubeconfig)
    try:
        yield t
    finally:
        t.close()


def auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKEN}"}
