"""model/leaderelection: what a candidate may write, and when it may act as leader."""

from __future__ import annotations

import pytest

from model.leaderelection import Candidate, Config, Record, check_write

CFG = Config()


def rec(holder: str, transitions: int = 0, duration: int = 15) -> Record:
    return Record(holder=holder, duration=duration, transitions=transitions)


def test_defaults_are_valid_and_constraints_are_enforced() -> None:
    assert CFG.problems() == []
    assert Config(lease_duration=10, renew_deadline=10, retry_period=2).problems() == [
        "leaseDuration must be greater than renewDeadline"]
    assert Config(lease_duration=15, renew_deadline=2.4, retry_period=2).problems() == [
        "renewDeadline must be greater than retryPeriod*JitterFactor"]


def test_record_from_lease_reads_spec_fields() -> None:
    lease = {"spec": {"holderIdentity": "a", "leaseDurationSeconds": 15, "leaseTransitions": 3,
                      "renewTime": "2026-01-01T00:00:05.000000Z"}}
    assert Record.from_lease(lease) == Record("a", 15, 3, None, "2026-01-01T00:00:05.000000Z")
    assert Record.from_lease({"spec": {}}) == Record("", 0, 0)


def test_observation_restarts_only_when_the_record_changes() -> None:
    c = Candidate("b").observe(rec("a"), 100.0)
    assert c.observed_at == 100.0
    assert c.observe(rec("a"), 110.0).observed_at == 100.0  # same record: time of first sight kept
    assert c.observe(rec("a", 1), 110.0).observed_at == 110.0


def test_takeover_allowed_only_after_the_candidates_own_observation_expires() -> None:
    c = Candidate("b").observe(rec("a", 2), 100.0)
    early = check_write(c, rec("a", 2), rec("b", 3), 114.9)
    assert len(early) == 1 and "took the lease from 'a' while" in early[0]
    assert check_write(c, rec("a", 2), rec("b", 3), 115.0) == []


def test_takeover_must_bump_transitions() -> None:
    c = Candidate("b").observe(rec("a", 2), 100.0)
    problems = check_write(c, rec("a", 2), rec("b", 2), 120.0)
    assert problems and "two holders would share one term" in problems[0]


def test_takeover_without_reading_the_current_record_is_refused() -> None:
    c = Candidate("b").observe(rec("a", 1), 100.0)
    assert "without having read" in check_write(c, rec("a", 2), rec("b", 3), 200.0)[0]


def test_released_lease_can_be_taken_at_once() -> None:
    c = Candidate("b").observe(rec("", 4, 1), 100.0)
    assert check_write(c, rec("", 4, 1), rec("b", 5), 100.0) == []


def test_create_and_renew_keep_the_term() -> None:
    c = Candidate("a")
    assert check_write(c, None, rec("a", 0), 0.0) == []
    assert check_write(c, None, rec("a", 1), 0.0) != []
    c = c.wrote(rec("a", 0), 0.0)
    assert check_write(c, rec("a", 0), rec("a", 0), 5.0) == []
    assert check_write(c, rec("a", 0), rec("a", 1), 5.0) != []


def test_release_keeps_transitions_and_needs_the_lease() -> None:
    c = Candidate("a").wrote(rec("a", 3), 0.0)
    assert check_write(c, rec("a", 3), rec("", 3, 1), 1.0) == []
    assert check_write(c, rec("a", 3), rec("", 4, 1), 1.0) != []
    assert check_write(Candidate("b"), rec("a", 3), rec("", 3, 1), 1.0) != []


@pytest.mark.parametrize(("now", "leads"), [(0.0, True), (9.999, True), (10.0, False), (30.0, False)])
def test_leading_ends_at_the_renew_deadline(now: float, leads: bool) -> None:
    c = Candidate("a").wrote(rec("a"), 0.0)
    assert c.may_lead(now, CFG) is leads


def test_a_candidate_that_wrote_someone_else_does_not_lead() -> None:
    assert not Candidate("a").may_lead(0.0, CFG)
    assert not Candidate("a").wrote(rec("", 0, 1), 0.0).may_lead(0.0, CFG)
