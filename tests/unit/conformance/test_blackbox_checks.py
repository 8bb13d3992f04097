"""The black-box machine's judgements over a watch history (conformance/blackbox.py), without a server."""

from __future__ import annotations

from typing import Any

from conformance.blackbox import (
    Seen,
    at_most_once,
    check_best_score,
    check_binding,
    check_cycle_order,
    check_unschedulable,
    state_at,
)
from conformance.wire import WireBind

JSON = dict[str, Any]


def node(name: str, rv: int, *, cpu: str = "1", pods: str = "110", taints: list[JSON] | None = None,
         images: dict[str, int] | None = None) -> JSON:
    alloc = {"cpu": cpu, "memory": "4Gi", "pods": pods}
    status: JSON = {"allocatable": alloc, "capacity": alloc,
                    "images": [{"names": [n], "sizeBytes": size} for n, size in (images or {}).items()]}
    return {"metadata": {"name": name, "resourceVersion": str(rv), "labels": {}},
            "spec": {"taints": taints or []}, "status": status}


def pod(name: str, rv: int, *, cpu: str = "500m", node_name: str | None = None,
        message: str | None = None, image: str = "busybox") -> JSON:
    spec: JSON = {"containers": [{"name": "c", "image": image, "resources": {"requests": {"cpu": cpu}}}]}
    if node_name:
        spec["nodeName"] = node_name
    status: JSON = {}
    if message is not None:
        status["conditions"] = [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                                 "message": message}]
    return {"metadata": {"name": name, "namespace": "ns", "uid": f"uid-{name}", "resourceVersion": str(rv)},
            "spec": spec, "status": status}


def seen(obj: JSON, kind: str, type_: str = "ADDED", at: float = 0.0) -> Seen:
    return Seen(int(obj["metadata"]["resourceVersion"]), kind, type_, obj, at)


def test_state_at_applies_events_up_to_a_revision() -> None:
    events = [seen(node("n1", 1), "node"), seen(pod("a", 2), "pod"), seen(node("n1", 3), "node", "DELETED")]
    assert set(state_at(events, 2).nodes) == {"n1"}
    assert set(state_at(events, 3).nodes) == set()
    assert set(state_at(events, 3).pods) == {"uid-a"}


def test_at_most_once_flags_a_pod_that_moves() -> None:
    events = [seen(pod("a", 1), "pod"), seen(pod("a", 2, node_name="n1"), "pod", "MODIFIED"),
              seen(pod("a", 3, node_name="n1"), "pod", "MODIFIED")]
    assert at_most_once(events) == []
    moved = [*events, seen(pod("a", 4, node_name="n2"), "pod", "MODIFIED")]
    assert "then to 'n2'" in at_most_once(moved)[0]


def test_a_binding_past_allocatable_is_overcommit_and_a_tainted_node_does_not_fit() -> None:
    # b bound first (after a was created: a burst), then a on the same full node
    events = [seen(node("n1", 1, cpu="1"), "node", at=0.0), seen(pod("a", 2, cpu="600m"), "pod", at=5.0),
              seen(pod("b", 3, cpu="600m"), "pod", at=5.0),
              seen(pod("b", 4, cpu="600m", node_name="n1"), "pod", "MODIFIED", at=5.1)]
    bind_a = seen(pod("a", 5, cpu="600m", node_name="n1"), "pod", "MODIFIED", at=5.2)
    assert [inv for inv, _ in check_binding([*events, bind_a], bind_a)] == ["scheduler.no-overcommit"]
    assert check_binding([*events, bind_a], events[-1]) == []
    taint = {"key": "dedicated", "effect": "NoSchedule"}
    tainted = [seen(node("n2", 1, taints=[taint]), "node", at=0.0), seen(pod("c", 2), "pod", at=5.0)]
    bind_c = seen(pod("c", 3, node_name="n2"), "pod", "MODIFIED", at=5.1)
    assert [inv for inv, _ in check_binding([*tainted, bind_c], bind_c)] == ["scheduler.fits"]


def test_a_node_tainted_just_before_the_pod_came_may_still_have_been_seen_untainted() -> None:
    taint = {"key": "dedicated", "effect": "NoSchedule"}
    events = [seen(node("n1", 1), "node", at=0.0), seen(node("n1", 2, taints=[taint]), "node", "MODIFIED", at=4.9),
              seen(pod("a", 3), "pod", at=5.0)]
    bind = seen(pod("a", 4, node_name="n1"), "pod", "MODIFIED", at=5.1)
    assert check_binding([*events, bind], bind) == []
    # tainted long before: every version the scheduler may have seen is tainted
    late = [events[0], seen(node("n1", 2, taints=[taint]), "node", "MODIFIED", at=1.0), events[2]]
    assert [inv for inv, _ in check_binding([*late, bind], bind)] == ["scheduler.fits"]


def test_fit_error_is_judged_on_the_state_around_the_status_write() -> None:
    expected = "0/1 nodes are available: 1 Insufficient cpu."
    events = [seen(node("n1", 1, cpu="1"), "node", at=0.0), seen(pod("a", 2, cpu="2"), "pod", at=1.0)]
    ok = seen(pod("a", 3, cpu="2", message=expected + " preemption: not eligible"), "pod", "MODIFIED", at=1.1)
    assert check_unschedulable([*events, ok], ok) == []
    wrong = seen(pod("a", 3, cpu="2", message="0/1 nodes are available: 1 node(s) were unschedulable."), "pod",
                 "MODIFIED", at=1.1)
    assert "must start with" in check_unschedulable([*events, wrong], wrong)[0]
    fits = seen(pod("b", 4, cpu="100m", message=expected), "pod", "MODIFIED", at=9.0)
    assert "fits on ['n1']" in check_unschedulable([*events, seen(pod("b", 3, cpu="100m"), "pod", at=8.0), fits],
                                                   fits)[0]


class _Stream:
    """A watch stream that delivers its events and then ends, as kube-apiserver ends a watcher that fell behind."""

    def __init__(self, events: list[JSON], ends: bool) -> None:
        self.events, self.ended = list(events), False
        self._ends = ends

    def drain(self, timeout: float = 0.0) -> list[JSON]:
        out, self.events = self.events, []
        self.ended = self.ended or self._ends
        return out

    def close(self) -> None:
        pass


class _Server:
    """Pods p0 (rv 5) and p1 (rv 7): the first pod watch ends after p0, the reopened one goes on from rv 5."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, str | None]] = []

    def watch(self, resource: str, namespace: str | None = None, *, resource_version: str | None = None,
              label_selector: str | None = None) -> _Stream:
        self.asked.append((resource, resource_version))
        if resource != "pods":
            return _Stream([], ends=False)
        if resource_version is None:
            return _Stream([{"type": "ADDED", "object": pod("p0", 5)}], ends=True)
        assert resource_version == "5"
        return _Stream([{"type": "ADDED", "object": pod("p1", 7)}], ends=False)


def test_the_observer_reopens_a_watch_the_server_ended() -> None:
    import time

    from conformance.blackbox import Observer

    server = _Server()
    observer = Observer(server, "ns", "run")  # type: ignore[arg-type]
    try:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and len(observer.snapshot()[0]) < 2:
            time.sleep(0.02)
        seen, _ = observer.snapshot()  # a transport failure if the ended watch were not reopened
    finally:
        observer.close()
    assert [s.obj["metadata"]["name"] for s in seen] == ["p0", "p1"]
    assert ("pods", "5") in server.asked


def _half_full() -> list[Seen]:
    # n1 carries x (1 of its 2 cpus) since long before; n2 is empty; a (500m) comes at 5.0
    return [seen(node("n1", 1, cpu="2"), "node", at=0.0), seen(node("n2", 2, cpu="2"), "node", at=0.0),
            seen(pod("x", 3, cpu="1"), "pod", at=0.0), seen(pod("x", 4, cpu="1", node_name="n1"), "pod", "MODIFIED"),
            seen(pod("a", 5), "pod", at=5.0)]


def test_best_score_from_outside_fails_a_binding_no_view_makes_best() -> None:
    events = _half_full()
    to_n1 = seen(pod("a", 6, node_name="n1"), "pod", "MODIFIED", at=5.1)
    verdict = check_best_score([*events, to_n1], to_n1)
    assert len(verdict.problems) == 1 and "top-score nodes are ['n2']" in verdict.problems[0], verdict
    to_n2 = seen(pod("a", 6, node_name="n2"), "pod", "MODIFIED", at=5.1)
    assert check_best_score([*events, to_n2], to_n2).problems == []


def test_best_score_from_outside_counts_what_the_scheduler_may_have_assumed() -> None:
    # b (1500m), created with a and bound to n2 just after a's binding: the scheduler may have assumed it first
    events = [*_half_full(), seen(pod("b", 6, cpu="1500m"), "pod", at=5.0)]
    to_n1 = seen(pod("a", 7, node_name="n1"), "pod", "MODIFIED", at=5.1)
    b_bound = seen(pod("b", 8, cpu="1500m", node_name="n2"), "pod", "MODIFIED", at=5.2)
    verdict = check_best_score([*events, to_n1, b_bound], to_n1)
    assert verdict.problems == [] and verdict.contested, verdict
    # bound long after (past the informer lag), b cannot explain it
    late = seen(pod("b", 8, cpu="1500m", node_name="n2"), "pod", "MODIFIED", at=9.0)
    assert check_best_score([*events, to_n1, late], to_n1).problems
    # b deleted before any binding: its bind failed, but it counted on whichever node it was assumed to
    gone = seen(pod("b", 8, cpu="1500m"), "pod", "DELETED", at=5.2)
    assert check_best_score([*events, to_n1, gone], to_n1).problems == []


def test_a_kube_scheduler_may_count_an_image_on_an_unchanged_node_as_its_last_snapshot_did() -> None:
    # n1 has the big image since 0.0; n3 comes with it at 2.0 and takes x (1 cpu) at 2.5; a (the image) at 5.0.
    # Counted afresh, n1 and n3 each have the image on 2 of 3 nodes, and n1 (emptier) is the best. kube-scheduler
    # copied n1 into its snapshot before n3 came and has not copied it since: 1 of 3 for n1, 2 of 3 for n3, which
    # puts n3 first (ImageLocality 65 against 100)
    big = {"big:1": 2000 * 1024 * 1024}
    events = [seen(node("n1", 1, cpu="4", images=big), "node", at=0.0), seen(node("n2", 2, cpu="4"), "node", at=0.0),
              seen(node("n3", 3, cpu="4", images=big), "node", at=2.0), seen(pod("x", 4, cpu="1"), "pod", at=2.5),
              seen(pod("x", 5, cpu="1", node_name="n3"), "pod", "MODIFIED", at=2.5),
              seen(pod("a", 6, image="big:1"), "pod", at=5.0)]
    to_n3 = seen(pod("a", 7, image="big:1", node_name="n3"), "pod", "MODIFIED", at=5.1)
    afresh = check_best_score([*events, to_n3], to_n3)
    assert len(afresh.problems) == 1 and "top-score nodes are ['n1']" in afresh.problems[0], afresh
    assert check_best_score([*events, to_n3], to_n3, snapshot_images=True).problems == []
    assert check_cycle_order([*events, to_n3], [], snapshot_images=True).problems == []
    assert check_cycle_order([*events, to_n3], []).problems
    # a node without the image is no better for it
    to_n2 = seen(pod("a", 7, image="big:1", node_name="n2"), "pod", "MODIFIED", at=5.1)
    assert check_best_score([*events, to_n2], to_n2, snapshot_images=True).problems
    # n1 copied again well after n3 came (a pod bound to it at 4.0) counts 2 of 3 like n3: n1 is the best again
    touched = [*events, seen(pod("y", 8, cpu="100m"), "pod", at=3.9),
               seen(pod("y", 9, cpu="100m", node_name="n1"), "pod", "MODIFIED", at=4.0)]
    touched = sorted(touched, key=lambda e: (e.at, e.rv))
    renumbered = [Seen(i + 1, e.kind, e.type, e.obj, e.at) for i, e in enumerate(touched)]
    bind = seen(pod("a", len(renumbered) + 1, image="big:1", node_name="n3"), "pod", "MODIFIED", at=5.1)
    assert check_best_score([*renumbered, bind], bind, snapshot_images=True).problems


def _burst(a_node: str, b_node: str) -> list[Seen]:
    # two empty nodes; a and b created together, bound in turn
    return [seen(node("n1", 1, cpu="2"), "node", at=0.0), seen(node("n2", 2, cpu="2"), "node", at=0.0),
            seen(pod("a", 3), "pod", at=5.0), seen(pod("b", 4), "pod", at=5.0),
            seen(pod("a", 5, node_name=a_node), "pod", "MODIFIED", at=5.1),
            seen(pod("b", 6, node_name=b_node), "pod", "MODIFIED", at=5.15)]


def test_the_cycle_order_holds_one_scheduler_to_what_it_decided_before() -> None:
    spread = _burst("n1", "n2")
    assert check_cycle_order(spread, []).problems == []
    stacked = _burst("n1", "n1")
    # each binding alone may have been decided before the other was counted
    assert [check_best_score(stacked, e).problems for e in stacked[-2:]] == [[], []]
    # but one of the two cycles came second and counted the first: n2 was better then
    problems = check_cycle_order(stacked, []).problems
    assert len(problems) == 1 and "no order of the 2 scheduling cycles" in problems[0], problems
    # a change of the Lease's holder meanwhile: the second scheduler need not have counted the first's pod
    assert check_cycle_order(stacked, [5.05]).problems == []


def test_a_replica_resumed_after_a_pause_is_judged_on_what_it_saw_before_it_stopped() -> None:
    # one replica stopped at 1.0 and resumed at 4.9: until 7.0 it may act on its view from before 1.0
    pauses = [(1.0, 4.9, 7.0)]
    stacked = _burst("n1", "n1")
    assert check_cycle_order(stacked, []).problems
    assert check_cycle_order(stacked, [], pauses=pauses).problems == []
    # a pause that ended long before the burst changes nothing
    assert check_cycle_order(stacked, [], pauses=[(1.0, 1.5, 2.5)]).problems
    # n2 filled at 3.5 (n1 is the best for a, at 5.0, from then on); a replica that stopped at 1.0 saw n2 empty
    events = [seen(node("n1", 1, cpu="2"), "node", at=0.0), seen(node("n2", 2, cpu="2"), "node", at=0.0),
              seen(pod("x", 3, cpu="1"), "pod", at=3.4), seen(pod("x", 4, cpu="1", node_name="n2"), "pod", "MODIFIED",
                                                                at=3.5),
              seen(pod("a", 5), "pod", at=5.0)]
    to_n2 = seen(pod("a", 6, node_name="n2"), "pod", "MODIFIED", at=5.1)
    assert check_best_score([*events, to_n2], to_n2).problems
    assert check_best_score([*events, to_n2], to_n2, pauses=pauses).problems == []


def test_fit_error_counts_a_pod_assumed_whose_bind_failed() -> None:
    # n1 takes one pod; x was assumed there, then deleted before its bind: a's report counted it
    full = "0/1 nodes are available: 1 Too many pods."
    events = [seen(node("n1", 1, pods="1"), "node", at=0.0), seen(pod("x", 2), "pod", at=5.0),
              seen(pod("a", 3), "pod", at=5.0), seen(pod("x", 4), "pod", "DELETED", at=5.1)]
    report = seen(pod("a", 5, message=full), "pod", "MODIFIED", at=5.2)
    assert check_unschedulable([*events, report], report) == []
    # x deleted long after: its bind would have been sent and answered by then
    late = [*events[:3], seen(pod("x", 6), "pod", "DELETED", at=9.0)]
    assert check_unschedulable([*late[:3], report, late[3]], report)


def test_fit_error_takes_the_nodes_and_the_pods_each_as_of_its_own_revision() -> None:
    # seen against kube-scheduler v1.37.2: its node informer had not yet shown n2's not-ready taint lifted, while it
    # counted p and q on n1 (q assumed, its binding shown just after the report); no single revision shows that
    not_ready = {"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"}
    events = [seen(node("n1", 1, cpu="4", pods="2"), "node", at=0.0),
              seen(node("n2", 2, taints=[not_ready]), "node", at=5.0),
              seen(pod("p", 3), "pod", at=5.0), seen(pod("q", 4), "pod", at=5.0), seen(pod("a", 5), "pod", at=5.0),
              seen(node("n2", 6), "node", "MODIFIED", at=5.01),
              seen(pod("p", 7, node_name="n1"), "pod", "MODIFIED", at=5.02)]
    message = "0/2 nodes are available: 1 Too many pods, 1 node(s) had untolerated taint(s)."
    report = seen(pod("a", 8, message=message), "pod", "MODIFIED", at=5.02)
    q_bound = seen(pod("q", 9, node_name="n1"), "pod", "MODIFIED", at=5.03)
    assert check_unschedulable([*events, report, q_bound], report) == []
    # without q's binding nothing filled n1: a fitted there
    assert check_unschedulable([*events, report], report)


def test_a_binding_held_on_the_wire_counts_as_assumed_until_it_lands() -> None:
    # b (1500m) was decided onto n2 before a and its Binding held on the wire; the API shows it bound 4 s later
    events = [*_half_full(), seen(pod("b", 6, cpu="1500m"), "pod", at=5.0)]
    to_n1 = seen(pod("a", 7, node_name="n1"), "pod", "MODIFIED", at=5.1)
    b_late = seen(pod("b", 8, cpu="1500m", node_name="n2"), "pod", "MODIFIED", at=9.0)
    history = [*events, to_n1, b_late]
    assert check_best_score(history, to_n1).problems  # without the wire: b came too late to explain it
    held = WireBind("ns", "b", "uid-b", "n2", arrived=5.05, answered=9.0, code=201, held=True)
    assert check_best_score(history, to_n1, [held]).problems == []
    # and the order of the cycles goes by when the Binding was sent, not when it landed
    assert check_cycle_order(history, []).problems
    assert check_cycle_order(history, [], [held]).problems == []


def test_a_binding_refused_on_the_wire_counts_on_its_node_until_answered() -> None:
    # b (1500m) was assumed on n2 and its Binding refused at 5.3; a, decided meanwhile, went to n1
    events = [*_half_full(), seen(pod("b", 6, cpu="1500m"), "pod", at=5.0)]
    to_n1 = seen(pod("a", 7, node_name="n1"), "pod", "MODIFIED", at=5.2)
    history = [*events, to_n1]
    assert check_best_score(history, to_n1).problems
    refused = WireBind("ns", "b", "uid-b", "n2", arrived=5.1, answered=5.3, code=500, refused=True)
    assert check_best_score(history, to_n1, [refused]).problems == []
    # answered long before a was created: the scheduler had forgotten b by then
    early = WireBind("ns", "b", "uid-b", "n2", arrived=1.0, answered=1.1, code=500, refused=True)
    assert check_best_score(history, to_n1, [early]).problems
    # a Binding without a uid is matched to the pod of that name alive when it arrived
    nameless = WireBind("ns", "b", None, "n2", arrived=5.1, answered=5.3, code=500, refused=True)
    assert check_best_score(history, to_n1, [nameless]).problems == []


def test_a_probed_change_is_one_the_probe_pod_can_see() -> None:
    from adapters.scoped import RUN_TAINT_KEY
    from conformance.blackbox import HARD_EFFECTS, _visible

    run = {"key": RUN_TAINT_KEY, "value": "r", "effect": "NoSchedule"}
    current = {"metadata": {"labels": {"zone": "a", "rank": "1"}},
               "spec": {"unschedulable": True, "taints": [run]}}
    # the same labels again: the zone moves
    same = _visible({"labels": {"zone": "a", "rank": "1"}}, current)
    assert same["labels"]["zone"] != "a" and same["labels"]["rank"] == "1"
    moved = {"labels": {"zone": "a", "rank": "1", "tier": "web"}}
    assert _visible(moved, current) == moved
    # a cordon turns the node over
    assert _visible({"unschedulable": True}, current) == {"unschedulable": False}
    # soft taints only, on a node without a hard one (the run taint does not count): one hard taint is added
    soft = {"taints": [{"key": "gpu", "effect": "PreferNoSchedule"}]}
    got = _visible(soft, current)["taints"]
    assert any(t["effect"] in HARD_EFFECTS for t in got) and soft["taints"][0] in got
    # a hard taint replacing a hard taint: the hard ones go, the soft stay
    hard_now = {**current, "spec": {"taints": [run, {"key": "gpu", "effect": "NoExecute"}]}}
    both = {"taints": [{"key": "dedicated", "effect": "NoSchedule"}, {"key": "gpu", "effect": "PreferNoSchedule"}]}
    assert _visible(both, hard_now) == {"taints": [{"key": "gpu", "effect": "PreferNoSchedule"}]}
    # a change that already turns hardness over is kept
    assert _visible({"taints": []}, hard_now) == {"taints": []}


def test_a_run_pod_is_not_kept_off_a_node_the_api_server_just_marked_not_ready() -> None:
    """A new node carries the not-ready NoSchedule taint until the machine lifts it; every run pod tolerates it, so
    a scheduler deciding in that moment decides as on the node once lifted, and a pending pod it retries on the
    node's arrival is not reported unschedulable on a node version that lived for milliseconds."""
    from adapters.scoped import RUN_LABEL
    from conformance.blackbox import NOT_READY, _run_pod_spec
    from model import scheduler as sched

    run_pod = {**pod("a", 1), "spec": _run_pod_spec(pod("a", 1)["spec"], "r1", priorities=False)}
    fresh = node("n1", 2, taints=[{"key": NOT_READY, "effect": "NoSchedule"}])
    fresh["metadata"]["labels"] = {RUN_LABEL: "r1"}
    bare = {**pod("b", 3), "spec": {**run_pod["spec"], "tolerations": []}}
    assert sched.schedule(run_pod, [sched.node_info(fresh, [])]).feasible == {"n1"}
    assert not sched.schedule(bare, [sched.node_info(fresh, [])]).feasible


def test_a_failed_example_s_history_is_kept_and_judged_again_the_same(tmp_path: Any, monkeypatch: Any) -> None:
    import threading
    from types import SimpleNamespace

    from conformance.blackbox import HISTORY_ENV, BlackBoxMachine, load_history
    from conformance.invariants import violation_class
    from model.leaderelection import Record

    stacked = _burst("n1", "n1")
    held = WireBind("ns", "b", "uid-b", "n1", arrived=5.12, answered=5.13, code=201, held=True)
    observer = SimpleNamespace(lock=threading.Lock(), events=list(reversed(stacked)),
                               leases=[Record("s-0", 3, 1, renew_time="2026-12-05T00:00:01.000000Z")],
                               holder_changes=lambda: [4.0])
    wire = SimpleNamespace(records=lambda: [held, WireBind("other", "c", None, None, arrived=1.0)])
    machine = SimpleNamespace(observer=observer, wire=wire, ns="ns", run_id="k1", stopped={"s-0": [(101.0, 102.0)]},
                              wall_offset=100.0, _pauses=lambda: [(1.0, 2.0, 5.0)])
    found = violation_class("scheduler.best-score")("stacked")
    monkeypatch.delenv(HISTORY_ENV, raising=False)
    BlackBoxMachine._keep_history(machine, found)  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []  # nothing kept unless asked
    monkeypatch.setenv(HISTORY_ENV, str(tmp_path / "histories"))
    BlackBoxMachine._keep_history(machine, found)  # type: ignore[arg-type]
    events, leases, wired, transitions, pauses = load_history(tmp_path / "histories" / "k1.json")
    assert events == stacked and leases == observer.leases and wired == [held] and transitions == [4.0]
    assert pauses == [(1.0, 2.0, 5.0)]
    assert check_cycle_order(events, []).problems == check_cycle_order(stacked, []).problems != []
    assert check_cycle_order(events, [], wired).problems == check_cycle_order(stacked, [], [held]).problems


def test_the_measurement_refuses_a_fault_name_the_replicas_do_not_know(capsys: Any) -> None:
    import pytest

    from conformance.blackbox import main

    with pytest.raises(SystemExit) as stopped:
        main(["no-forget", "--runs", "1"])
    assert stopped.value.code == 2
    assert "unknown fault(s): no-forget" in capsys.readouterr().err
