"""The promises kubeprop checks, as pure functions: one invariant id each, shared by every machine and differential.

A check takes plain data (pods, nodes, the model's decisions, lease records)
and returns a list of problem strings, empty when the guarantee holds. It does
no I/O and keeps no state: what a caller has seen so far (the holders of past
terms, say) is passed in. Each check carries the id of the invariant it
decides (``check.invariant``), so a failure is named the same whoever found it:
the state machines raise it through their reporter, the differentials
directly, as the same :class:`conformance.invariants.InvariantViolation`.
Checks may use ``model/`` (pure), never adapters or Hypothesis.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, ParamSpec

from conformance.invariants import INVARIANTS

P = ParamSpec("P")


class Check(Generic[P]):
    """A pure check function together with the invariant id it decides."""

    def __init__(self, invariant: str, fn: Callable[P, list[str]]) -> None:
        if invariant not in INVARIANTS:
            raise ValueError(f"unknown invariant {invariant!r}")
        self.invariant = invariant
        self.fn = fn
        self.__name__ = fn.__name__
        self.__doc__ = fn.__doc__

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> list[str]:
        return self.fn(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<check {self.__name__} [{self.invariant}]>"


def check(invariant: str) -> Callable[[Callable[P, list[str]]], Check[P]]:
    """Mark a function as the check of ``invariant``."""

    def wrap(fn: Callable[P, list[str]]) -> Check[P]:
        return Check(invariant, fn)

    return wrap
