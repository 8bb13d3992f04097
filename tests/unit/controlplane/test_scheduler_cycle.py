"""The scheduler's queue, cache and binding: order, backoff, requeue events, assume/forget, uid preconditions."""

from __future__ import annotations

from typing import Any

from adapters.inprocess import CounterUIDs, FakeClock
from controlplane.apiserver import APIServer, MemoryStorage, Reply
from controlplane.scheduler import Scheduler

JSON = dict[str, Any]


def node(name: str, *, cpu: str = "4", pods: str = "110", unschedulable: bool = False) -> JSON:
    return {"metadata": {"name": name}, "spec": {"unschedulable": unschedulable},
            "status": {"allocatable": {"cpu": cpu, "memory": "8Gi", "pods": pods}}}


def pod(name: str, *, cpu: str = "1", priority: int | None = None, **meta: Any) -> JSON:
    spec: JSON = {"containers": [{"name": "c", "image": "app", "resources": {"requests": {"cpu": cpu}}}]}
    if priority is not None:
        spec["priority"] = priority
    return {"metadata": {"name": name, **meta}, "spec": spec}


class FlakyClient:
    """The API server, except that the next ``fail_binds`` bindings answer 500 without reaching it."""

    def __init__(self, api: APIServer) -> None:
        self.api = api
        self.fail_binds = 0
        self.calls: list[str] = []

    def __getattr__(self, verb: str) -> Any:
        fn = getattr(self.api, verb)

        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(verb)
            return fn(*args, **kwargs)

        return call

    def bind(self, namespace: str, name: str, body: JSON) -> Reply:
        self.calls.append("bind")
        if self.fail_binds > 0:
            self.fail_binds -= 1
            return Reply(500, {"kind": "Status", "status": "Failure", "message": "boom", "code": 500})
        return self.api.bind(namespace, name, body)


class Cluster:
    def __init__(self, *faults: str) -> None:
        self.clock = FakeClock("2026-01-01T00:00:00Z")
        self.api = APIServer(MemoryStorage(), clock=self.clock, uid_factory=CounterUIDs(7))
        assert self.api.create("namespaces", None, {"metadata": {"name": "ns"}}).code == 201
        self.client = FlakyClient(self.api)
        self.sched = Scheduler(self.client, identity="s", clock=self.clock, faults=faults, leader_elect=False)

    def nodes(self, *bodies: JSON) -> None:
        for b in bodies:
            assert self.api.create("nodes", None, b).code == 201

    def pod(self, body: JSON) -> str:
        r = self.api.create("pods", "ns", body)
        assert r.code == 201, r.body
        return r.body["metadata"]["uid"]

    def bound_node(self, name: str) -> str | None:
        return self.api.get("pods", "ns", name).body["spec"].get("nodeName")

    def run(self) -> list[tuple[str, str | None]]:
        """Schedule and bind until nothing is ready; (pod, node) per cycle."""
        out = []
        while (c := self.sched.schedule_one()) is not None:
            out.append((c.name, c.node))
            while self.sched.bind_one() is not None:
                pass
        return out


def test_queue_order_priority_then_arrival() -> None:
    c = Cluster()
    c.nodes(node("n", cpu="100"))
    for name, prio in (("low1", None), ("high", 100), ("mid", 50), ("low2", 0), ("high2", 100)):
        c.pod(pod(name, priority=prio))
    c.sched.start()
    assert [name for name, _ in c.run()] == ["high", "high2", "mid", "low1", "low2"]


def test_unschedulable_pod_waits_until_a_node_is_added_then_backs_off() -> None:
    c = Cluster()
    c.nodes(node("small", cpu="1"))
    c.pod(pod("p", cpu="2"))
    c.sched.start()
    first = c.sched.schedule_one()
    assert first is not None and first.node is None
    assert c.sched.schedule_one() is None  # waits in the unschedulable pool
    assert c.sched.next_wakeup() == 300.0  # only the leftover flush would bring it back
    c.nodes(node("big", cpu="4"))
    assert c.sched.schedule_one() is None  # moved, but still backing off (1 s after one failure)
    assert c.sched.next_wakeup() == 1.0
    c.clock.advance(1)
    again = c.sched.schedule_one()
    assert again is not None and again.node == "big"


def test_node_update_that_may_help_requeues() -> None:
    c = Cluster()
    c.nodes(node("n", unschedulable=True))
    uid = c.pod(pod("p"))
    c.sched.start()
    assert c.sched.schedule_one().node is None
    c.clock.advance(5)
    n = c.api.get("nodes", None, "n").body
    n["metadata"]["labels"] = {"irrelevant": "x"}
    n["spec"]["unschedulable"] = True
    c.api.update("nodes", None, "n", n)
    c.sched.sync()
    assert c.sched.queue.where(uid) == "active"
    # a label change may help, so it is retried at once (its backoff ran out): still cordoned
    assert c.sched.schedule_one().node is None
    c.clock.advance(5)
    n = c.api.get("nodes", None, "n").body
    n["spec"]["unschedulable"] = False
    c.api.update("nodes", None, "n", n)
    assert c.sched.schedule_one().node == "n"


def test_node_update_that_cannot_help_does_not_requeue() -> None:
    c = Cluster()
    c.nodes(node("n", cpu="1"))
    c.pod(pod("p", cpu="2"))
    c.sched.start()
    assert c.sched.schedule_one().node is None
    c.clock.advance(5)
    n = c.api.get("nodes", None, "n").body
    n["metadata"]["annotations"] = {"a": "b"}  # nothing a filter reads
    c.api.update("nodes", None, "n", n)
    assert c.sched.schedule_one() is None


def test_assigned_pod_delete_requeues_unschedulable_pods() -> None:
    c = Cluster()
    c.nodes(node("n", cpu="2"))
    c.pod(pod("first", cpu="2"))
    c.sched.start()
    assert c.run() == [("first", "n")]
    c.pod(pod("second", cpu="2"))
    assert c.run() == [("second", None)]
    c.clock.advance(10)
    assert c.sched.schedule_one() is None
    assert c.api.delete("pods", "ns", "first", {"gracePeriodSeconds": 0}).code == 200
    assert c.run() == [("second", "n")]


def test_unschedulable_pods_are_retried_after_five_minutes() -> None:
    c = Cluster()
    c.nodes(node("n", cpu="1"))
    c.pod(pod("p", cpu="2"))
    c.sched.start()
    assert c.run() == [("p", None)]
    c.clock.advance(299)
    assert c.sched.schedule_one() is None
    c.clock.advance(1)
    assert c.run() == [("p", None)]


def test_assume_sends_the_second_pod_elsewhere_before_any_bind() -> None:
    c = Cluster()
    c.nodes(node("a", cpu="4"), node("b", cpu="4"))
    c.pod(pod("p1", cpu="3"))
    c.pod(pod("p2", cpu="3"))
    c.sched.start()
    c1, c2 = c.sched.schedule_one(), c.sched.schedule_one()
    assert {c1.node, c2.node} == {"a", "b"}
    assert [b.name for b in c.sched.pending_binds()] == ["p1", "p2"]
    assert c.sched.bind_one().code == 201 and c.sched.bind_one().code == 201
    assert {c.bound_node("p1"), c.bound_node("p2")} == {"a", "b"}


def test_bind_failure_forgets_and_requeues_with_backoff() -> None:
    c = Cluster()
    c.nodes(node("a", cpu="4"))
    uid = c.pod(pod("p1", cpu="3"))
    c.pod(pod("p2", cpu="3"))
    c.sched.start()
    assert c.sched.schedule_one().node == "a"
    assert c.sched.schedule_one().node is None  # p1 is assumed on a
    c.client.fail_binds = 1
    step = c.sched.bind_one()
    assert step.code == 500 and step.uid == uid
    assert not c.sched.cache.is_assumed(uid)
    assert c.sched.queue.where(uid) == "backoff"
    # the forgotten room moved p2 back too; both back off 1 s, then p2 (requeued earlier) goes first
    assert c.sched.schedule_one() is None and c.sched.next_wakeup() == 1.0
    c.clock.advance(1)
    assert c.run() == [("p2", "a"), ("p1", None)]


def test_deleting_an_assumed_pod_before_its_bind_requeues_the_pods_it_kept_out() -> None:
    c = Cluster()
    c.nodes(node("a", cpu="4"))
    c.pod(pod("p1", cpu="3"))
    c.pod(pod("p2", cpu="3"))
    c.sched.start()
    assert c.sched.schedule_one().node == "a"
    assert c.sched.schedule_one().node is None  # p1 is assumed on a, its Binding not sent yet
    assert c.api.delete("pods", "ns", "p1", {"gracePeriodSeconds": 0}).code == 200
    assert c.sched.schedule_one() is None  # the replica sees the delete before its Binding goes out
    assert c.sched.bind_one().code == 404  # the Binding of a pod that is gone
    c.clock.advance(1)  # p2 backs off after its failed attempt, and no periodic flush is due for minutes
    assert c.run() == [("p2", "a")]


def test_binding_carries_the_uid_and_a_recreated_pod_is_a_new_entry() -> None:
    c = Cluster()
    c.nodes(node("a"))
    old_uid = c.pod(pod("p"))
    c.sched.start()
    assert c.sched.schedule_one().uid == old_uid
    assert c.api.delete("pods", "ns", "p").code == 200
    new_uid = c.pod(pod("p"))
    step = c.sched.bind_one()
    assert step.body["metadata"]["uid"] == old_uid
    assert step.code == 409 and "Precondition failed: UID in precondition" in step.response["message"]
    assert c.bound_node("p") is None
    r = c.sched.schedule_one()
    assert (r.uid, r.node) == (new_uid, "a")
    assert c.sched.bind_one().code == 201 and c.bound_node("p") == "a"
    assert c.sched.schedule_one() is None


def test_deleted_pod_leaves_the_queue_and_terminating_pods_are_not_queued() -> None:
    c = Cluster()
    c.nodes(node("a", cpu="1"))
    c.pod(pod("gone", cpu="2"))
    c.pod(pod("held", finalizers=["x/y"]))
    c.sched.start()
    assert c.api.delete("pods", "ns", "gone").code == 200
    assert c.api.delete("pods", "ns", "held").code == 200  # stays, being deleted
    assert c.sched.schedule_one() is None
    assert len(c.sched.queue) == 0


def test_gated_pod_waits_for_its_gates_to_go() -> None:
    c = Cluster()
    c.nodes(node("a"))
    body = pod("p")
    body["spec"]["schedulingGates"] = [{"name": "wait"}]
    c.pod(body)
    c.sched.start()
    assert c.sched.schedule_one() is None
    p = c.api.get("pods", "ns", "p").body
    p["spec"]["schedulingGates"] = []
    assert c.api.update("pods", "ns", "p", p).code == 200
    assert c.run() == [("p", "a")]


def test_informer_relists_after_its_watch_ends() -> None:
    c = Cluster()
    c.nodes(node("a"))
    c.pod(pod("p1", cpu="100"))
    c.sched.start()
    assert c.run() == [("p1", None)]
    c.sched._pods._watch.close()  # the stream ends, as after a 410
    c.api.delete("pods", "ns", "p1")
    c.pod(pod("p2"))
    assert c.sched.sync() == 2  # p1 DELETED and p2 ADDED from the re-list diff
    assert c.sched._pods.relists == 2
    assert c.run() == [("p2", "a")]


def test_bound_pods_count_after_a_restart_and_crash_loses_pending_binds() -> None:
    c = Cluster()
    c.nodes(node("a", cpu="2"))
    c.pod(pod("p1"))
    c.pod(pod("p2"))
    c.sched.start()
    assert c.run() == [("p1", "a"), ("p2", "a")]
    c.pod(pod("p3"))
    c.sched.crash()
    c.client.calls.clear()
    c.sched.restart()
    assert c.client.calls == ["list", "watch", "list", "watch"]
    assert c.run() == [("p3", None)]  # p1 and p2 fill the node
    c.api.delete("pods", "ns", "p1", {"gracePeriodSeconds": 0})
    c.clock.advance(1)
    assert c.sched.schedule_one().node == "a"
    before = list(c.client.calls)
    c.sched.crash()
    assert c.client.calls == before and c.sched.pending_binds() == []
    assert c.sched.schedule_one() is None and c.sched.bind_one() is None
    c.sched.restart()
    assert c.run() == [("p3", "a")]
