"""Fixtures for the served tests: the bundled server as its own process (``python -m controlplane serve``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from adapters.served import ServedServer


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., ServedServer]]:
    """``serve(storage=, faults=, test_controls=, schedulers=)`` → a started server, stopped after the test."""
    started: list[ServedServer] = []

    def start(**kwargs: object) -> ServedServer:
        s = ServedServer(tmp_path / f"served-{len(started)}", **kwargs)  # type: ignore[arg-type]
        started.append(s)
        return s.start()

    yield start
    for s in started:
        s.stop()
