"""Leader election over a Lease: acquire, renew, expiry by the candidate's own clock, release, races, faults."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from adapters.inprocess import CounterUIDs
from controlplane.apiserver import APIServer, MemoryStorage
from controlplane.leaderelection import LeaderElector
from controlplane.scheduler import Scheduler

JSON = dict[str, Any]
T0 = datetime(2026, 1, 1, tzinfo=UTC)


class Clock:
    """A settable clock: ``offset`` seconds from a shared base, advanced by hand."""

    def __init__(self, offset: float = 0.0) -> None:
        self.now = T0 + timedelta(seconds=offset)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def server() -> APIServer:
    api = APIServer(MemoryStorage(), clock=lambda: T0, uid_factory=CounterUIDs(3))
    assert api.create("namespaces", None, {"metadata": {"name": "kube-system"}}).code == 201
    return api


def lease(api: APIServer) -> JSON:
    return api.get("leases", "kube-system", "kube-scheduler").body["spec"]


def elector(api: Any, identity: str, clock: Callable[[], datetime], *faults: str) -> LeaderElector:
    return LeaderElector(api, identity=identity, clock=clock, faults=faults)


# ---- one candidate ----


def test_creates_the_lease_when_missing() -> None:
    api, clock = server(), Clock()
    e = elector(api, "a", clock)
    step = e.try_acquire_or_renew()
    assert (step.outcome, step.leading, step.term) == ("created", True, ("a", 0))
    assert [c.verb for c in step.calls] == ["get", "create"]
    assert lease(api) == {"holderIdentity": "a", "leaseDurationSeconds": 15,
                          "acquireTime": "2026-01-01T00:00:00.000000Z", "renewTime": "2026-01-01T00:00:00.000000Z",
                          "leaseTransitions": 0}


def test_renew_keeps_acquire_time_and_uses_the_fast_path() -> None:
    api, clock = server(), Clock()
    e = elector(api, "a", clock)
    e.try_acquire_or_renew()
    clock.advance(2.5)
    step = e.try_acquire_or_renew()
    assert step.outcome == "renewed" and [c.verb for c in step.calls] == ["update"]
    spec = lease(api)
    assert spec["acquireTime"] == "2026-01-01T00:00:00.000000Z"
    assert spec["renewTime"] == "2026-01-01T00:00:02.500000Z"
    assert spec["leaseTransitions"] == 0 and e.leading()


def test_renew_deadline_ends_leadership_on_its_own_clock() -> None:
    api, clock = server(), Clock()
    e = elector(api, "a", clock)
    e.try_acquire_or_renew()
    clock.advance(9.5)
    assert e.leading()
    clock.advance(0.5)  # exactly renew_deadline after the renewal: no longer leading
    assert not e.leading() and e.term() is None


@pytest.mark.parametrize("args,message", [
    ((10.0, 10.0, 2.0), "leaseDuration must be greater than renewDeadline"),
    ((15.0, 2.4, 2.0), "renewDeadline must be greater than retryPeriod*JitterFactor"),
    ((15.0, 10.0, 0.0), "retryPeriod must be greater than zero"),
])
def test_constraints_are_checked_at_construction(args: tuple[float, float, float], message: str) -> None:
    d, r, p = args
    with pytest.raises(ValueError, match=message.replace("*", r"\*")):
        LeaderElector(server(), identity="a", clock=Clock(), lease_duration=d, renew_deadline=r, retry_period=p)
    with pytest.raises(ValueError, match=message.replace("*", r"\*")):
        Scheduler(server(), identity="a", clock=Clock(), lease_duration=d, renew_deadline=r, retry_period=p)
    with pytest.raises(ValueError, match="Lock identity is empty"):
        LeaderElector(server(), identity="", clock=Clock())


# ---- two candidates ----


def test_only_one_leads_and_takeover_waits_for_expiry_on_the_candidates_clock() -> None:
    api = server()
    ca, cb = Clock(), Clock(offset=3600)  # b's clock is an hour ahead
    a, b = elector(api, "a", ca), elector(api, "b", cb)
    assert a.try_acquire_or_renew().outcome == "created"
    first = b.try_acquire_or_renew()
    assert (first.outcome, first.leading) == ("held", False)  # a's renewTime looks an hour old, yet b waits
    cb.advance(15)
    assert b.try_acquire_or_renew().outcome == "held"  # observed + 15 is not before now
    cb.advance(0.001)
    step = b.try_acquire_or_renew()
    assert (step.outcome, step.leading, step.term) == ("acquired", True, ("b", 1))
    spec = lease(api)
    assert spec["holderIdentity"] == "b" and spec["leaseTransitions"] == 1
    assert spec["acquireTime"] == spec["renewTime"]
    # a's next attempt sees b and stops leading, even though a's own renew deadline has not passed
    lost = a.try_acquire_or_renew()
    assert (lost.outcome, lost.leading) == ("held", False)


def test_a_renewing_holder_keeps_the_lease() -> None:
    api = server()
    ca, cb = Clock(), Clock(offset=-3600)  # b's clock is an hour behind
    a, b = elector(api, "a", ca), elector(api, "b", cb)
    a.try_acquire_or_renew()
    for _ in range(20):
        ca.advance(2)
        cb.advance(2)
        assert a.try_acquire_or_renew().outcome == "renewed"
        assert b.try_acquire_or_renew().outcome == "held"
    assert lease(api)["holderIdentity"] == "a" and a.leading() and not b.leading()


def test_release_lets_another_acquire_at_once() -> None:
    api = server()
    ca, cb = Clock(), Clock()
    a, b = elector(api, "a", ca), elector(api, "b", cb)
    a.try_acquire_or_renew()
    b.try_acquire_or_renew()
    ca.advance(3)
    step = a.release()
    assert step.outcome == "released" and not a.leading()
    spec = lease(api)
    assert spec == {"holderIdentity": "", "leaseDurationSeconds": 1, "acquireTime": "2026-01-01T00:00:03.000000Z",
                    "renewTime": "2026-01-01T00:00:03.000000Z", "leaseTransitions": 0}
    got = b.try_acquire_or_renew()
    assert (got.outcome, got.term) == ("acquired", ("b", 1))


def test_concurrent_takeover_one_wins_the_other_gets_409() -> None:
    api = server()
    ca, cb, cc = Clock(), Clock(), Clock()
    a, b, c = elector(api, "a", ca), elector(api, "b", cb), elector(api, "c", cc)
    a.try_acquire_or_renew()
    b.try_acquire_or_renew()
    c.try_acquire_or_renew()
    cb.advance(16)
    cc.advance(16)

    class Interleaved:
        """Lets c's update run between b's get and b's update."""

        def __init__(self) -> None:
            self.fired = False

        def __getattr__(self, verb: str) -> Any:
            return getattr(api, verb)

        def update(self, *args: Any) -> Any:
            if not self.fired:
                self.fired = True
                assert c.try_acquire_or_renew().outcome == "acquired"
            return api.update(*args)

    b.client = Interleaved()
    step = b.try_acquire_or_renew()
    assert (step.outcome, step.code, step.leading) == ("conflict", 409, False)
    assert lease(api)["holderIdentity"] == "c" and c.leading()


# ---- lease faults ----


def test_fault_ignores_expiry() -> None:
    api = server()
    a, b = elector(api, "a", Clock()), elector(api, "b", Clock(), "lease.ignores-expiry")
    a.try_acquire_or_renew()
    assert b.try_acquire_or_renew().outcome == "acquired"


def test_fault_trusts_record_time() -> None:
    api = server()
    cb = Clock(offset=3600)
    a = elector(api, "a", Clock())
    b_ok, b_bad = elector(api, "b", cb), elector(api, "c", cb, "lease.trusts-record-time")
    a.try_acquire_or_renew()
    assert b_ok.try_acquire_or_renew().outcome == "held"
    assert b_bad.try_acquire_or_renew().outcome == "acquired"  # a's renewTime is an hour old on c's clock


def test_fault_keeps_acting_after_renew_deadline() -> None:
    api, clock = server(), Clock()
    good, bad = elector(api, "a", clock), elector(server(), "a", clock, "lease.keeps-acting-after-renew-deadline")
    good.try_acquire_or_renew()
    bad.try_acquire_or_renew()
    clock.advance(11)
    assert not good.leading() and bad.leading()


def test_fault_keeps_transitions() -> None:
    api = server()
    cb = Clock()
    a, b = elector(api, "a", Clock()), elector(api, "b", cb, "lease.keeps-transitions")
    a.try_acquire_or_renew()
    b.try_acquire_or_renew()
    cb.advance(16)
    step = b.try_acquire_or_renew()
    assert step.outcome == "acquired" and step.term == ("b", 0) and lease(api)["leaseTransitions"] == 0


# ---- replicas ----


def cluster() -> tuple[APIServer, Clock]:
    api = server()
    assert api.create("namespaces", None, {"metadata": {"name": "ns"}}).code == 201
    api.create("nodes", None, {"metadata": {"name": "n"}, "status": {"allocatable": {"cpu": "4", "pods": "9"}}})
    return api, Clock()


def test_replicas_only_the_leader_schedules_and_binds() -> None:
    api, clock = cluster()
    a = Scheduler(api, identity="a", clock=clock)
    b = Scheduler(api, identity="b", clock=clock)
    a.start()
    b.start()
    api.create("pods", "ns", {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c"}]}})
    assert a.schedule_one() is None  # not leading yet
    assert a.tick().leading and not b.tick().leading
    assert b.schedule_one() is None and b.bind_one() is None
    assert a.schedule_one().node == "n"
    assert b.leading() is False and a.term() == ("a", 0)
    assert a.bind_one().code == 201


def test_losing_the_renew_deadline_drops_in_flight_work() -> None:
    api, clock = cluster()
    a = Scheduler(api, identity="a", clock=clock)
    a.start()
    a.tick()
    api.create("pods", "ns", {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c"}]}})
    c = a.schedule_one()
    assert c.node == "n" and a.pending_binds()
    clock.advance(10.5)
    assert not a.leading()
    assert a.pending_binds() == [] and not a.cache.is_assumed(c.uid)
    assert a.bind_one() is None
    assert api.get("pods", "ns", "p").body["spec"].get("nodeName") is None
    assert a.tick().leading  # still the holder: it leads again, and the pod is back in its queue
    assert a.schedule_one().uid == c.uid


def test_stop_releases_and_the_other_replica_takes_over_at_once() -> None:
    api, clock = cluster()
    a = Scheduler(api, identity="a", clock=clock)
    b = Scheduler(api, identity="b", clock=clock)
    a.start()
    b.start()
    a.tick()
    assert b.tick().outcome == "held"
    a.stop()
    assert not a.up and lease(api)["holderIdentity"] == ""
    assert b.tick().outcome == "acquired" and b.term() == ("b", 1)


def test_crash_keeps_the_lease_until_it_expires() -> None:
    api, clock = cluster()
    cb = Clock(offset=-100)
    a = Scheduler(api, identity="a", clock=clock)
    b = Scheduler(api, identity="b", clock=cb)
    a.start()
    b.start()
    a.tick()
    b.tick()
    a.crash()
    assert lease(api)["holderIdentity"] == "a"
    cb.advance(2)
    assert b.tick().outcome == "held"
    assert b.next_wakeup() == 2.0
    cb.advance(14)
    assert b.tick().outcome == "acquired"


def test_fault_acts_without_lease() -> None:
    api, clock = cluster()
    api.create("pods", "ns", {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c"}]}})
    good = Scheduler(api, identity="a", clock=clock)
    bad = Scheduler(api, identity="b", clock=clock, faults=["scheduler.acts-without-lease"])
    good.start()
    bad.start()
    assert good.schedule_one() is None
    assert bad.schedule_one().node == "n" and bad.bind_one().code == 201
