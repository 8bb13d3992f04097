"""Opening a target by description, for reproduction programs and the command line."""

from __future__ import annotations

from collections.abc import Iterable

from adapters.base import Target


def open_target(kind: str = "builtin", faults: Iterable[str] = ()) -> Target:
    if kind == "builtin":
        from adapters.inprocess import InProcessTarget

        return InProcessTarget(faults=tuple(faults))
    raise ValueError(f"unknown target kind {kind!r}; known: builtin")
