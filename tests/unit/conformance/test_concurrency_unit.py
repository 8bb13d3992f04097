"""The concurrent machine's plumbing: a failure over HTTP is reported once, with how often it recurred."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings

from conformance import concurrency
from conformance.concurrency import Baton, Call, ConcurrentMachine, replay
from conformance.invariants import InvariantViolation, ObservedViolation, violations_in
from conformance.runner import machine_for, run


def test_baton_runs_clients_one_at_a_time_in_the_chosen_order() -> None:
    trace: list[str] = []
    picks = iter([1, 0, 0])
    baton = Baton(lambda n: next(picks))

    def client(name: str) -> None:
        trace.append(f"{name} starts")
        baton.pass_()
        trace.append(f"{name} ends")

    baton.run([lambda: client("a"), lambda: client("b")])
    assert trace == ["b starts", "a starts", "a ends", "b ends"]


def test_a_replay_fails_the_same_way() -> None:
    rounds = [([[Call("create", "n0")], [Call("create", "n0")]], [0, 0, 1, 1, 0, 0])]
    replay([], rounds)  # the clean server: both creates are fine in any order (one gets 409)
    with pytest.raises(InvariantViolation) as err:
        replay(["create.racy-exists"], rounds)
    assert err.value.invariant == "api.linearizable"


def test_a_failure_against_a_server_is_observed_not_shrunk(monkeypatch: pytest.MonkeyPatch) -> None:
    # the HTTP path over the builtin target: every round is "illegal", and so are the re-runs
    plays: list[int] = []

    def play(self, programs, baton):  # noqa: ANN001, ANN202
        plays.append(len(programs))
        return [], "illegal", None

    class Observed(ConcurrentMachine):
        def __init__(self) -> None:
            super().__init__()
            self.builtin = False

    monkeypatch.setattr(ConcurrentMachine, "_play", play)
    monkeypatch.setattr(concurrency, "check", lambda ops, **kw: None)
    machine = machine_for(Observed)()
    with pytest.raises(ObservedViolation) as err:
        machine.run_round([[Call("get", "n0")], [Call("list")]], None)
    assert [v.invariant for v in violations_in(err.value)] == ["api.linearizable"]
    assert f"run {concurrency.REPEATS} times more, broke it again {concurrency.REPEATS} time(s)" in str(err.value)
    assert plays == [2] * (1 + concurrency.REPEATS)
    # under Hypothesis it comes out as it went in: no shrinking, no replay, no flakiness error
    with pytest.raises(ObservedViolation):
        run(machine_for(Observed), settings(max_examples=50, database=None, deadline=None,
                                            suppress_health_check=list(HealthCheck)))
