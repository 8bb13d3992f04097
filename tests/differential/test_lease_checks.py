"""The lease.single-holder-per-term checks the leader-election differential applies to the records it reads."""

from __future__ import annotations

from conformance.differential import Observation, check_lease_records
from model.leaderelection import Record


def _obs(at: float, holder: str, transitions: int, acquire: int, renew: int) -> Observation:
    t = "2026-01-01T00:00:{:02d}.000000Z"
    return Observation(at, Record(holder, 15, transitions, t.format(acquire), t.format(renew)))


def test_a_clean_failover_passes() -> None:
    records = [_obs(0, "a", 0, 0, 0), _obs(2, "a", 0, 0, 2), _obs(20, "b", 1, 18, 18), _obs(22, "b", 1, 18, 20)]
    assert check_lease_records(records) == []


def test_two_holders_in_one_term() -> None:
    problems = check_lease_records([_obs(0, "a", 0, 0, 0), _obs(20, "b", 0, 18, 18)])
    assert any("leaseTransitions=0 has two holders: 'a' and 'b'" in p for p in problems)
    assert any("no bump" in p for p in problems)


def test_takeover_before_the_lease_ran_out() -> None:
    problems = check_lease_records([_obs(0, "a", 0, 0, 10), _obs(12, "b", 1, 20, 20)])
    assert any("before its 15s lease ran out" in p for p in problems), problems


def test_renew_going_back_and_acquire_changing() -> None:
    problems = check_lease_records([_obs(0, "a", 0, 0, 10), _obs(2, "a", 0, 1, 8)])
    assert any("renewTime" in p for p in problems) and any("acquireTime" in p for p in problems)
