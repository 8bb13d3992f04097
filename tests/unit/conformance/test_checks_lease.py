"""The pure leader-election checks (conformance/checks/lease.py): a passing and a failing case each."""

from __future__ import annotations

from conformance.checks import lease as checks
from model.leaderelection import Candidate, Config, Record

T = "2026-01-01T00:00:{:02d}.000000Z"


def rec(holder: str, transitions: int, acquire: int = 0, renew: int = 0) -> Record:
    return Record(holder, 15, transitions, T.format(acquire), T.format(renew))


def test_every_check_names_its_invariant() -> None:
    for chk in (checks.write, checks.one_holder_per_term, checks.successive, checks.records, checks.acting_leaders):
        assert chk.invariant == "lease.single-holder-per-term"
    assert checks.only_leader_acts.invariant == "lease.only-leader-acts"


def test_write() -> None:
    a = Candidate("a")
    assert checks.write(a, None, rec("a", 0), 0.0) == []
    b = Candidate("b").observe(rec("a", 0), 0.0)
    assert checks.write(b, rec("a", 0), rec("b", 1), 16.0) == []
    [problem] = checks.write(b, rec("a", 0), rec("b", 1), 5.0)  # the holder's lease is still running
    assert "while, by its own clock" in problem


def test_one_holder_per_term() -> None:
    assert checks.one_holder_per_term({0: "a"}, rec("a", 0)) == []
    assert checks.one_holder_per_term({0: "a"}, rec("b", 1)) == []
    assert checks.one_holder_per_term({0: "a"}, rec("", 0)) == []  # a release names nobody
    assert checks.one_holder_per_term({0: "a"}, rec("b", 0)) == [
        "term leaseTransitions=0 has two holders: 'a' and 'b'"]


def test_successive() -> None:
    assert checks.successive(rec("a", 0, 0, 0), rec("a", 0, 0, 2)) == []
    assert "went 0 -> 1" in checks.successive(rec("a", 0), rec("a", 1))[0]
    assert "no bump" in checks.successive(rec("a", 3), rec("b", 3))[0]
    # a takeover 10 s after the last renewal of a 15 s lease: only judged when one clock wrote both
    assert checks.successive(rec("a", 0, 0, 10), rec("b", 1, 26, 26), tolerance=0.0) == []
    assert checks.successive(rec("a", 0, 0, 10), rec("b", 1, 20, 20)) == []
    assert "before its 15s lease ran out" in checks.successive(rec("a", 0, 0, 10), rec("b", 1, 20, 20), 0.0)[0]


def test_records() -> None:
    assert checks.records([rec("a", 0, 0, 0), rec("a", 0, 0, 2), rec("b", 1, 18, 18)], 0.0) == []
    problems = checks.records([rec("a", 0, 0, 0), rec("b", 0, 18, 18)], 0.0)
    assert any("two holders" in p for p in problems) and any("no bump" in p for p in problems)


def test_acting_leaders() -> None:
    config = Config()
    leader = Candidate("a").wrote(rec("a", 0), 100.0)
    assert checks.acting_leaders([(leader, 105.0)], config) == []
    assert checks.acting_leaders([], config) == []
    [late] = checks.acting_leaders([(leader, 111.0)], config)  # past the 10 s renew deadline
    assert "a acts as leader at 111.000" in late
    other = Candidate("b").wrote(rec("b", 1), 100.0)
    assert "all act as leader at once" in checks.acting_leaders([(leader, 105.0), (other, 101.0)], config)[-1]


def test_only_leader_acts() -> None:
    config = Config()
    leader = Candidate("a").wrote(rec("a", 0), 100.0)
    assert checks.only_leader_acts(leader, rec("a", 0), 105.0, config, "bound ns/p") == []
    [problem] = checks.only_leader_acts(leader, rec("b", 1), 105.0, config, "bound ns/p")
    assert problem == "a bound ns/p while the lease was held by 'b'"
    [problem] = checks.only_leader_acts(leader, rec("a", 0), 111.0, config, "bound ns/p")
    assert "more than renewDeadline (10s) ago" in problem


def _rec(holder: str, renew: str, transitions: int = 0, duration: int = 3) -> Record:
    return Record(holder, duration, transitions, acquire_time=renew, renew_time=renew)


def test_a_binding_inside_a_live_term_passes_whoever_held_it() -> None:
    seen = [_rec("a", "2026-01-01T00:00:00.000000Z"), _rec("a", "2026-01-01T00:00:02.000000Z")]
    t0 = checks.parse_time("2026-01-01T00:00:00Z")
    assert checks.bound_within_a_live_term("p bound", t0 + 4.0, t0 + 4.5, seen) == []
    # the window need only touch a live term: decided at its end, written later
    assert checks.bound_within_a_live_term("p bound", t0 + 4.9, t0 + 9.0, seen) == []


def test_a_binding_while_no_term_was_live_is_caught() -> None:
    # a's last renewal at 2 s runs out at 5 s; b takes over at 9 s: a binding decided and written in 5.5-8 s came
    # from a replica without a live term
    seen = [_rec("a", "2026-01-01T00:00:02.000000Z"), _rec("b", "2026-01-01T00:00:09.000000Z", transitions=1)]
    t0 = checks.parse_time("2026-01-01T00:00:00Z")
    problems = checks.bound_within_a_live_term("p bound", t0 + 5.5, t0 + 8.0, seen)
    assert problems and "no replica held a live term" in problems[0]
    assert checks.bound_within_a_live_term("p bound", t0 + 5.5, t0 + 8.0, seen, tolerance=0.6) == []


def test_a_released_lease_is_no_term() -> None:
    seen = [Record("", 1, 0, acquire_time="2026-01-01T00:00:00.000000Z", renew_time="2026-01-01T00:00:00.000000Z")]
    t0 = checks.parse_time("2026-01-01T00:00:00Z")
    assert checks.bound_within_a_live_term("p bound", t0, t0 + 0.5, seen)


def test_a_foreign_term_is_waited_out_by_observation_not_by_its_renew_time() -> None:
    t0 = checks.parse_time("2026-01-01T00:00:10Z")
    backdated = Record("harness", 3, 1, acquire_time="2026-01-01T00:00:00.000000Z",
                       renew_time="2026-01-01T00:00:00.000000Z")
    late = Record("a", 15, 2, acquire_time="2026-01-01T00:00:13.500000Z", renew_time="2026-01-01T00:00:13.500000Z")
    early = Record("a", 15, 2, acquire_time="2026-01-01T00:00:10.500000Z", renew_time="2026-01-01T00:00:10.500000Z")
    assert checks.waited_out("harness", t0, 3.0, [backdated, late]) == []
    [problem] = checks.waited_out("harness", t0, 3.0, [backdated, early])
    assert "before that term ran out" in problem
    assert checks.waited_out.invariant == "lease.single-holder-per-term"


def test_a_term_of_a_holder_that_never_acts_covers_no_binding() -> None:
    t0 = checks.parse_time("2026-01-01T00:00:00Z")
    seen = [_rec("harness-1", "2026-01-01T00:00:00.000000Z")]
    assert checks.bound_within_a_live_term("p bound", t0 + 1, t0 + 2, seen) == []
    assert checks.bound_within_a_live_term("p bound", t0 + 1, t0 + 2, seen,
                                           acting=lambda h: not h.startswith("harness"))


def test_a_takeover_counts_from_the_second_of_the_last_renewal() -> None:
    # client-go compares records with whole-second times: a renewal at 28.926 looks like one at 28.422, so a
    # takeover 2.91 s later (31.836) keeps the protocol; one at 30.9 does not
    old = Record("a", 3, 7, acquire_time="2026-01-01T00:00:20.000000Z", renew_time="2026-01-01T00:00:28.926778Z")
    ok = Record("b", 3, 8, acquire_time="2026-01-01T00:00:31.836443Z", renew_time="2026-01-01T00:00:31.836443Z")
    early = Record("b", 3, 8, acquire_time="2026-01-01T00:00:30.900000Z", renew_time="2026-01-01T00:00:30.900000Z")
    assert checks.successive(old, ok, 0.0) == []
    assert checks.successive(old, early, 0.0)


def test_an_action_attributed_to_a_replica_is_held_to_its_own_term_and_renew_deadline() -> None:
    t0 = checks.parse_time(T.format(0))
    seen = [rec("a", 0, 0, 0), rec("a", 0, 0, 2), rec("a", 0, 0, 4)]
    assert checks.sender_held_a_term.invariant == "lease.only-leader-acts"
    assert checks.sender_within_renew_deadline.invariant == "lease.single-holder-per-term"
    assert checks.sender_held_a_term("a", "a bind", t0 + 5, seen) == []
    [never] = checks.sender_held_a_term("b", "a bind", t0 + 5, seen)  # b never held the Lease
    assert "'b'" in never and "never showed as holder" in never
    # a renewed last at 4 s; with a renew deadline of 10 s it may act until 14 s
    assert checks.sender_within_renew_deadline("a", "a bind", t0 + 13.9, seen, 10.0) == []
    [late] = checks.sender_within_renew_deadline("a", "a bind", t0 + 15.0, seen, 10.0)
    assert "11.000s after the last renewal" in late
    assert checks.sender_within_renew_deadline("a", "a bind", t0 + 15.0, seen, 10.0, tolerance=1.5) == []


def test_time_a_replica_was_stopped_does_not_count_against_its_renew_deadline() -> None:
    t0 = checks.parse_time(T.format(0))
    seen = [rec("a", 0, 0, 4)]
    # renewed at 4 s, stopped from 10 s to 13 s: a send at 15 s ran 8 s since the renewal, within 10 s
    assert checks.sender_within_renew_deadline("a", "a bind", t0 + 15.0, seen, 10.0, stopped=[(t0 + 10, t0 + 13)]) == []
    # a stop before the renewal, or one after the send, does not count
    [late] = checks.sender_within_renew_deadline("a", "a bind", t0 + 15.0, seen, 10.0,
                                                 stopped=[(t0 + 1, t0 + 3), (t0 + 16, t0 + 20)])
    assert "11.000s after the last renewal" in late and "stopped" not in late
    # a stop that only covers part of the span counts for that part: 11 s less 0.5 s is still past 10 s
    [partial] = checks.sender_within_renew_deadline("a", "a bind", t0 + 15.0, seen, 10.0,
                                                    stopped=[(t0 + 3, t0 + 4.5)])
    assert "0.500s of it stopped" in partial
