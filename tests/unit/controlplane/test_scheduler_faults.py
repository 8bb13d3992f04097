"""Each seeded scheduler fault flips its one behaviour; the same scenario without it behaves."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.inprocess import CounterUIDs, FakeClock
from controlplane.apiserver import APIServer, MemoryStorage, Reply
from controlplane.scheduler import Scheduler

JSON = dict[str, Any]


def node(name: str, *, cpu: str = "4", memory: str = "8Gi", pods: str = "110", **spec: Any) -> JSON:
    return {"metadata": {"name": name}, "spec": spec,
            "status": {"allocatable": {"cpu": cpu, "memory": memory, "pods": pods}}}


def pod(name: str, **requests: str) -> JSON:
    return {"metadata": {"name": name},
            "spec": {"containers": [{"name": "c", "image": "app", "resources": {"requests": requests}}]}}


class FailingBinds:
    """The API server, with every binding answered 500."""

    def __init__(self, api: APIServer) -> None:
        self.api = api

    def __getattr__(self, verb: str) -> Any:
        return getattr(self.api, verb)

    def bind(self, namespace: str, name: str, body: JSON) -> Reply:
        return Reply(500, {"kind": "Status", "status": "Failure", "message": "boom", "code": 500})


def setup(*faults: str, nodes: tuple[JSON, ...], pods: tuple[JSON, ...] = (), client: Any = None
          ) -> tuple[APIServer, Scheduler, FakeClock]:
    clock = FakeClock("2026-01-01T00:00:00Z")
    api = APIServer(MemoryStorage(), clock=clock, uid_factory=CounterUIDs(5))
    api.create("namespaces", None, {"metadata": {"name": "ns"}})
    for n in nodes:
        assert api.create("nodes", None, n).code == 201
    for p in pods:
        assert api.create("pods", "ns", p).code == 201
    s = Scheduler(client(api) if client else api, identity="s", clock=clock, faults=faults, leader_elect=False)
    s.start()
    return api, s, clock


@pytest.mark.parametrize("faulty", [False, True])
def test_ignores_taints(faulty: bool) -> None:
    tainted = node("t", taints=[{"key": "k", "effect": "NoSchedule"}])
    _, s, _ = setup(*(["scheduler.ignores-taints"] if faulty else []), nodes=(tainted,), pods=(pod("p"),))
    assert s.schedule_one().node == ("t" if faulty else None)


@pytest.mark.parametrize("faulty", [False, True])
@pytest.mark.parametrize("alloc,requests", [
    ({"cpu": "1"}, {"cpu": "1001m"}),
    ({"memory": "1Ki"}, {"memory": "1025"}),
])
def test_resources_off_by_one(faulty: bool, alloc: dict[str, str], requests: dict[str, str]) -> None:
    n = node("n", **alloc)
    _, s, _ = setup(*(["scheduler.resources-off-by-one"] if faulty else []), nodes=(n,), pods=(pod("p", **requests),))
    assert s.schedule_one().node == ("n" if faulty else None)


@pytest.mark.parametrize("faulty", [False, True])
def test_resources_off_by_one_pod_count(faulty: bool) -> None:
    _, s, _ = setup(*(["scheduler.resources-off-by-one"] if faulty else []), nodes=(node("n", pods="1"),),
                    pods=(pod("a"), pod("b")))
    assert s.schedule_one().node == "n"
    assert s.schedule_one().node == ("n" if faulty else None)


@pytest.mark.parametrize("faulty", [False, True])
def test_no_assume(faulty: bool) -> None:
    _, s, _ = setup(*(["scheduler.no-assume"] if faulty else []), nodes=(node("a", cpu="8"), node("b", cpu="6")),
                    pods=(pod("p1", cpu="5"), pod("p2", cpu="5")))
    assert s.schedule_one().node == "a"
    assert s.schedule_one().node == ("a" if faulty else "b")


@pytest.mark.parametrize("faulty", [False, True])
def test_no_forget(faulty: bool) -> None:
    _, s, _ = setup(*(["scheduler.no-forget"] if faulty else []), nodes=(node("a"),), pods=(pod("p", cpu="1"),),
                    client=FailingBinds)
    c = s.schedule_one()
    assert s.bind_one().code == 500
    assert s.cache.is_assumed(c.uid) is faulty
    assert s.queue.where(c.uid) == (None if faulty else "backoff")
    assert s.cache.nodes["a"].req_cpu == (1000 if faulty else 0)


@pytest.mark.parametrize("faulty", [False, True])
def test_binds_without_uid(faulty: bool) -> None:
    api, s, _ = setup(*(["scheduler.binds-without-uid"] if faulty else []), nodes=(node("a"),), pods=(pod("p"),))
    s.schedule_one()
    api.delete("pods", "ns", "p")
    api.create("pods", "ns", pod("p"))
    step = s.bind_one()
    assert ("uid" in step.body["metadata"]) is not faulty
    assert step.code == (201 if faulty else 409)
    assert api.get("pods", "ns", "p").body["spec"].get("nodeName") == ("a" if faulty else None)


@pytest.mark.parametrize("faulty", [False, True])
def test_stale_cache(faulty: bool) -> None:
    api, s, _ = setup(*(["scheduler.stale-cache"] if faulty else []), nodes=(node("a"),))
    n = api.get("nodes", None, "a").body
    n["spec"]["unschedulable"] = True
    assert api.update("nodes", None, "a", n).code == 200
    api.create("pods", "ns", pod("p"))
    assert s.schedule_one().node == ("a" if faulty else None)


@pytest.mark.parametrize("faulty", [False, True])
def test_picks_first_feasible(faulty: bool) -> None:
    _, s, _ = setup(*(["scheduler.picks-first-feasible"] if faulty else []),
                    nodes=(node("b", cpu="16", memory="32Gi"), node("a", cpu="2", memory="2Gi")),
                    pods=(pod("p", cpu="1", memory="1Gi"),))
    c = s.schedule_one()
    assert c.node == ("a" if faulty else "b")
    assert (c.scores == {}) is faulty
