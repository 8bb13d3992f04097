"""The node side: the contract's pure rules, the checks on hand-made histories, and one hollow node's life."""

from __future__ import annotations

from adapters.inprocess import InProcessTarget
from conformance.checks import kubelet as checks
from conformance.checks.kubelet import Seen
from model import kubelet as contract

T0 = 1_767_225_600.0


def pod(uid: str, *, node: str | None = None, phase: str = "Pending", deleting: str | None = None,
        running: bool = False) -> dict:
    meta = {"name": "p", "namespace": "ns", "uid": uid}
    if deleting:
        meta["deletionTimestamp"] = deleting
    status: dict = {"phase": phase}
    if running:
        status["containerStatuses"] = [{"name": "c0", "state": {"running": {}}}]
    return {"metadata": meta, "spec": {"nodeName": node} if node else {}, "status": status}


def container(uid: str, node: str, started: float, stopped: float | None = None) -> dict:
    return {"node": node, "namespace": "ns", "pod": "p", "uid": uid, "name": "c0", "started": started,
            "stopped": stopped, "exit_code": None if stopped is None else 0}


def test_phases_only_move_forward() -> None:
    assert contract.phase_step_allowed("Pending", "Running")
    assert contract.phase_step_allowed("Running", "Succeeded")
    assert contract.phase_step_allowed("Pending", "Failed")
    assert not contract.phase_step_allowed("Succeeded", "Running")
    assert not contract.phase_step_allowed("Failed", "Succeeded")
    assert not contract.phase_step_allowed("Running", "Pending")


def test_grace_period_by_release() -> None:
    assert contract.node_monitor_grace((1, 31, 0)) == 40.0
    assert contract.node_monitor_grace((1, 32, 0)) == 50.0
    assert contract.node_monitor_grace() == 50.0
    timing = contract.NodeTiming(grace=50.0, monitor_period=5.0)
    assert timing.earliest_unknown(T0) == T0 + 50 and timing.latest_unknown(T0) == T0 + 65


def test_runs_only_bound() -> None:
    seen = [Seen(T0, "pods", "ADDED", pod("u1")), Seen(T0 + 1, "pods", "MODIFIED", pod("u1", node="n0"))]
    assert checks.runs_only_bound(seen, [container("u1", "n0", T0 + 1)]) == []
    assert checks.runs_only_bound(seen, [container("u1", "n0", T0)])  # started before the binding was shown
    assert checks.runs_only_bound(seen, [container("u1", "n1", T0 + 2)])  # another node


def test_runs_at_most_once_excepts_force_deleted() -> None:
    two = [container("u1", "n0", T0, T0 + 20), container("u2", "n1", T0 + 10)]
    assert checks.runs_at_most_once(two, set())
    assert checks.runs_at_most_once(two, {"u1"}) == []
    assert checks.runs_at_most_once([container("u1", "n0", T0, T0 + 5), container("u2", "n1", T0 + 5)], set()) == []
    assert checks.runs_at_most_once([container("u1", "n0", T0), container("u1", "n0", T0 + 3)], set())


def test_stops_before_delete() -> None:
    gone = Seen(T0 + 10, "pods", "DELETED", pod("u1", node="n0", phase="Failed"))
    assert checks.stops_before_delete([gone], [container("u1", "n0", T0, T0 + 10)], set()) == []
    assert checks.stops_before_delete([gone], [container("u1", "n0", T0, T0 + 12)], set())
    assert checks.stops_before_delete([gone], [container("u1", "n0", T0, T0 + 12)], {"u1"}) == []
    shown_running = Seen(T0 + 10, "pods", "DELETED", pod("u1", node="n0", phase="Running", running=True))
    assert checks.stops_before_delete([shown_running], [], set())


def test_graceful_delete_bounded_needs_a_working_kubelet() -> None:
    marked = Seen(T0, "pods", "MODIFIED", pod("u1", node="n0", deleting="2026-01-01T00:00:05Z"))
    deadline = contract.graceful_deadline(T0 + 5) + checks.DEFAULT_TIMING.slack
    assert checks.graceful_delete_bounded([marked], {"n0": T0}, set(), deadline) == []
    assert checks.graceful_delete_bounded([marked], {"n0": T0}, set(), deadline + 1)
    assert checks.graceful_delete_bounded([marked], {"n0": None}, set(), deadline + 1) == []
    gone = Seen(T0 + 6, "pods", "DELETED", marked.obj)
    assert checks.graceful_delete_bounded([marked, gone], {"n0": T0}, set(), deadline + 1) == []


def test_stops_removed_counts_from_the_kubelet_start_too() -> None:
    gone = Seen(T0 + 10, "pods", "DELETED", pod("u1", node="n0"))
    late = T0 + 10 + checks.DEFAULT_TIMING.sync + checks.DEFAULT_TIMING.slack + 1
    running = [container("u1", "n0", T0)]
    assert checks.stops_removed([gone], running, {"n0": T0}, late)  # a working kubelet kept it past a sync
    assert checks.stops_removed([gone], [container("u1", "n0", T0, T0 + 15)], {"n0": T0}, late) == []
    assert checks.stops_removed([gone], running, {"n0": None}, late) == []  # its kubelet is down
    # a kubelet that came back after the removal has one sync from its start to find the orphan
    assert checks.stops_removed([gone], running, {"n0": T0 + 20}, late) == []
    assert checks.stops_removed([gone], running, {"n0": T0 + 20}, late + 10)


def test_phase_monotonic() -> None:
    seen = [Seen(T0, "pods", "MODIFIED", pod("u1", phase=p)) for p in ("Pending", "Running", "Succeeded")]
    assert checks.phase_monotonic(seen) == []
    assert checks.phase_monotonic([*seen, Seen(T0 + 1, "pods", "MODIFIED", pod("u1", phase="Running"))])


def lease(node: str, renew: str) -> dict:
    return {"metadata": {"name": node, "namespace": "kube-node-lease"}, "spec": {"renewTime": renew}}


def node(name: str, ready: str) -> dict:
    return {"metadata": {"name": name}, "status": {"conditions": [{"type": "Ready", "status": ready}]}}


def test_node_health_timing() -> None:
    timing = contract.NodeTiming(grace=20.0, monitor_period=5.0)
    seen = [Seen(T0, "nodes", "ADDED", node("n0", "True")),
            Seen(T0, "leases", "ADDED", lease("n0", "2026-01-01T00:00:00.000000Z"))]
    assert checks.unknown_in_time(seen, timing, T0, T0 + 36) == []
    assert checks.unknown_in_time(seen, timing, T0, T0 + 37)
    assert checks.unknown_in_time(seen, timing, None, T0 + 37) == []  # no controller at work
    early = [*seen, Seen(T0 + 15, "nodes", "MODIFIED", node("n0", "Unknown"))]
    assert checks.unknown_not_early(early, timing)
    late = [*seen, Seen(T0 + 25, "nodes", "MODIFIED", node("n0", "Unknown"))]
    assert checks.unknown_not_early(late, timing) == [] and checks.unknown_in_time(late, timing, T0, T0 + 40) == []
    assert checks.heartbeat_renews(seen, {"n0": T0}, T0 + 11) == []
    assert checks.heartbeat_renews(seen, {"n0": T0}, T0 + 12)


def test_a_hollow_node_runs_a_pod_and_completes_its_delete() -> None:
    target = InProcessTarget()
    for ns in ("ns", "kube-node-lease"):
        assert target.create("namespaces", None, {"metadata": {"name": ns}}).code == 201
    nodes = target.start_kubelets(1, grace=20.0)
    assert nodes.register(0) == 200 and nodes.heartbeat(0) == 201
    assert target.get("nodes", None, "node-0").body["status"]["conditions"][-1]["status"] == "True"
    body = {"metadata": {"name": "p"}, "spec": {"restartPolicy": "Never", "containers": [{"name": "c0"}]}}
    uid = target.create("pods", "ns", body).body["metadata"]["uid"]
    assert nodes.sync(0) == []  # not bound: not this node's
    assert target.bind("ns", "p", {"metadata": {"name": "p"}, "target": {"name": "node-0"}}).code == 201
    assert [a.split()[0] for a in nodes.sync(0)] == ["start", "status"]
    shown = target.get("pods", "ns", "p").body
    assert shown["status"]["phase"] == "Running" and shown["status"]["hostIP"] == "10.0.0.1"
    assert [c["uid"] for c in nodes.containers() if c["stopped"] is None] == [uid]
    assert target.delete("pods", "ns", "p").code == 200  # graceful: marked
    assert [a.split()[0] for a in nodes.sync(0)] == ["stop", "status", "delete"]
    assert target.get("pods", "ns", "p").code == 404
    assert all(c["stopped"] is not None for c in nodes.containers())
    nodes.advance(30)
    assert nodes.monitor() == []  # first sight of the node: its heartbeat is dated now
    nodes.advance(21)
    assert nodes.monitor() == ["mark node-0 Unknown: 200"]
    assert nodes.heartbeat(0) == 200 and nodes.node_status(0) == 200
    assert target.get("nodes", None, "node-0").body["status"]["conditions"][-1]["status"] == "True"


def test_ready_consistent() -> None:
    def shown(phase: str, ready: str, state: str, container_ready: bool) -> Seen:
        p = pod("u1", node="n0", phase=phase)
        p["spec"]["containers"] = [{"name": "c0"}]
        p["status"]["conditions"] = [{"type": "Ready", "status": ready}, {"type": "ContainersReady", "status": ready}]
        p["status"]["containerStatuses"] = [{"name": "c0", "ready": container_ready, "state": {state: {}}}]
        return Seen(T0, "pods", "MODIFIED", p)

    assert checks.ready_consistent([shown("Running", "True", "running", True)]) == []
    assert checks.ready_consistent([shown("Failed", "False", "terminated", False)]) == []
    assert checks.ready_consistent([shown("Failed", "True", "terminated", False)])
    assert checks.ready_consistent([shown("Running", "True", "running", False)])
