"""Shared fixtures: a fresh deterministic builtin target with a namespace ``ns`` in it."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from adapters.inprocess import InProcessTarget


@pytest.fixture
def make_target() -> Iterator[Callable[..., InProcessTarget]]:
    made: list[InProcessTarget] = []

    def make(*faults: str) -> InProcessTarget:
        t = InProcessTarget(faults)
        assert t.create("namespaces", None, {"metadata": {"name": "ns"}}).code == 201
        made.append(t)
        return t

    yield make
    for t in made:
        t.close()


@pytest.fixture
def t(make_target: Callable[..., InProcessTarget]) -> InProcessTarget:
    return make_target()
