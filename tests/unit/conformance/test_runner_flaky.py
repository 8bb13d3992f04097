"""conformance.runner.run against a server: a failure a replay does not repeat is reported as what was seen,
never as Hypothesis' flaky error; in process a flaky run stays an error (it would be kubeprop's own bug)."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest
from hypothesis import Phase, settings
from hypothesis.errors import FlakyFailure
from hypothesis.stateful import RuleBasedStateMachine, rule

from conformance.invariants import InvariantViolation, violation
from conformance.runner import run

SETTINGS = settings(max_examples=5, stateful_step_count=3, database=None, derandomize=True,
                    phases=[Phase.generate, Phase.shrink])


def once(kind: str) -> type[RuleBasedStateMachine]:
    class Once(RuleBasedStateMachine):
        target_spec: ClassVar[dict[str, Any]] = {"kind": kind}
        calls: ClassVar[int] = 0

        @rule()
        def step(self) -> None:
            type(self).calls += 1
            if type(self).calls == 1:  # the server answered wrongly once, and rightly when asked again
                raise violation("api.matches-model", "answered 500 once")

    return Once


def test_a_failure_not_repeated_against_a_server_is_reported_as_seen() -> None:
    with pytest.raises(InvariantViolation, match=r"answered 500 once \(seen once; a replay") as info:
        run(once("http"), SETTINGS)
    assert info.value.invariant == "api.matches-model"


def test_a_flaky_run_in_process_stays_an_error() -> None:
    with pytest.raises(FlakyFailure):
        run(once("builtin"), SETTINGS)
