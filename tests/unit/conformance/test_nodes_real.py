"""conformance/nodes_real.py without a cluster: scenarios from seeds, every node check run by its parameters, the
figures drawn from a watched history, and which faults a run against a real control plane can switch on."""

from __future__ import annotations

import pytest

from conformance import nodes_real
from conformance.checks import kubelet as checks
from conformance.checks.kubelet import Seen
from model.kubelet import NodeTiming

T0 = 1_767_225_600.0
TIMING = NodeTiming(grace=8.0, monitor_period=1.0, renew_interval=2.0, sync=1.0, slack=1.5)


def test_a_seed_gives_the_same_scenario() -> None:
    one = nodes_real.scenario(7, 60)
    assert one == nodes_real.scenario(7, 60) and one != nodes_real.scenario(8, 60)
    assert len(one) == 60 and {a.kind for a in one} <= {"create", "bind", "delete", "pause", "resume", "crash",
                                                        "restart", "wait"}
    assert nodes_real.scenario(7, 20) == one[:20]  # fewer steps cut the same scenario short
    with_writes = nodes_real.scenario(7, 200, lease_writes=True)
    assert any(a.kind == "annotate_lease" for a in with_writes)


def test_a_stopped_kubelet_is_started_the_way_it_was_stopped() -> None:
    state: dict[int, str] = {}
    for a in nodes_real.scenario(3, 300):
        if a.kind in ("pause", "crash"):
            assert a.args[0] not in state
            state[a.args[0]] = a.kind
        elif a.kind in ("resume", "restart"):
            assert state.pop(a.args[0]) == ("pause" if a.kind == "resume" else "crash")


def _pod(uid: str, node: str | None) -> dict:
    return {"metadata": {"name": "p", "namespace": "ns", "uid": uid}, "spec": {"nodeName": node} if node else {},
            "status": {"phase": "Pending"}}


def _lease(node: str, renew: float) -> dict:
    from datetime import UTC, datetime

    stamp = datetime.fromtimestamp(renew, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return {"metadata": {"name": node, "namespace": "kube-node-lease"}, "spec": {"renewTime": stamp}}


def test_check_all_runs_every_node_check_and_dates_bindings_by_the_slack() -> None:
    assert [c.invariant for c in nodes_real.node_checks()][:2] == ["kubelet.runs-only-bound",
                                                                   "kubelet.runs-at-most-once"]
    assert "node.unknown-not-early" in {c.invariant for c in nodes_real.node_checks()}
    # the kubelet's own list showed the binding 0.2 s before the harness's watch did: not a violation
    seen = [Seen(T0, "pods", "ADDED", _pod("u1", None)), Seen(T0 + 1.2, "pods", "MODIFIED", _pod("u1", "n0"))]
    started = [{"node": "n0", "namespace": "ns", "pod": "p", "uid": "u1", "name": "c0", "started": T0 + 1.0,
                "stopped": None, "exit_code": None}]
    assert nodes_real.check_all(seen, started, {}, set(), T0 + 2, TIMING, None) == {}
    # a start long before any binding was shown is
    early = [dict(started[0], started=T0 - 5)]
    found = nodes_real.check_all(seen, early, {}, set(), T0 + 2, TIMING, None)
    assert list(found) == ["kubelet.runs-only-bound"]
    # a working kubelet that stopped renewing its Lease
    found = nodes_real.check_all([Seen(T0, "leases", "ADDED", _lease("n0", T0))], [], {"n0": T0}, set(), T0 + 4,
                                 TIMING, None)
    assert list(found) == [checks.heartbeat_renews.invariant]


def test_figures_from_a_watched_history() -> None:
    ready = {"status": {"conditions": [{"type": "Ready", "status": "True", "lastHeartbeatTime": "x"}]},
             "metadata": {"name": "n0"}}
    unknown = {"status": {"conditions": [{"type": "Ready", "status": "Unknown", "lastHeartbeatTime": "x"}]},
               "metadata": {"name": "n0"}}
    seen = [Seen(T0, "nodes", "ADDED", ready), Seen(T0 + 0.01, "leases", "ADDED", _lease("n0", T0)),
            Seen(T0 + 2.02, "leases", "MODIFIED", _lease("n0", T0 + 2)),
            Seen(T0 + 10.9, "nodes", "MODIFIED", unknown)]
    assert nodes_real.unknown_delays(seen) == [("n0", pytest.approx(8.88))]
    assert nodes_real.lease_delays(seen) == [pytest.approx(0.01), pytest.approx(0.02)]
    # a working window from T0 to T0 + 5: renewals seen at T0 + 0.01 and T0 + 2.02, then nothing until it ended
    assert max(nodes_real.heartbeat_gaps(seen, {"n0": [[T0, T0 + 5]]}, T0 + 20)) == pytest.approx(2.98)


def test_only_kubelet_faults_apply() -> None:
    assert {f for f, _ in nodes_real.kubelet_faults()} >= {"kubelet.runs-unbound", "kubelet.heartbeat-frozen"}
    assert nodes_real._fault_invariants(["kubelet.keeps-orphans"]) == {"kubelet.keeps-orphans":
                                                                       "kubelet.stops-removed"}
    with pytest.raises(SystemExit, match="bundled node lifecycle controller"):
        nodes_real._fault_invariants(["nodelifecycle.never-marks"])
    with pytest.raises(SystemExit, match="bundled API server or scheduler"):
        nodes_real._fault_invariants(["binding.overwrites"])
    with pytest.raises(SystemExit, match="unknown fault"):
        nodes_real._fault_invariants(["kubelet.nope"])


def test_with_the_bundled_server_the_controller_faults_apply_too() -> None:
    assert nodes_real._fault_invariants(["nodelifecycle.never-marks"], served=True) == {
        "nodelifecycle.never-marks": "node.unknown-in-time"}
    with pytest.raises(SystemExit, match="bundled API server or scheduler"):
        nodes_real._fault_invariants(["watch.reorders"], served=True)
    kubelet = [f for f, _ in nodes_real.kubelet_faults()]
    assert nodes_real.matrix_faults(False) == kubelet
    assert nodes_real.matrix_faults(True) == kubelet + ["nodelifecycle.never-marks", "nodelifecycle.marks-early",
                                                        "nodelifecycle.trusts-renew-time"]
    assert nodes_real.server_faults(["kubelet.runs-unbound", "nodelifecycle.never-marks"]) == (
        "nodelifecycle.never-marks",)


def test_runs_are_grouped_by_the_faults_their_server_carries() -> None:
    runs = [(1, []), (2, []), (1, ["kubelet.keeps-orphans"]), (1, ["nodelifecycle.marks-early"]),
            (2, ["nodelifecycle.marks-early"]), (1, ["nodelifecycle.never-marks", "kubelet.runs-unbound"])]
    assert nodes_real.plane_groups(runs, served=False) == {(): runs}
    assert nodes_real.plane_groups(runs, served=True) == {
        (): runs[:3], ("nodelifecycle.marks-early",): runs[3:5], ("nodelifecycle.never-marks",): runs[5:]}


def test_a_known_finding_passes_a_clean_run_only_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    result = nodes_real.RunResult(seed=1, faults=[], run_id="k", actions=1, planned=1, events=1, seconds=1.0,
                                  violations={"node.unknown-in-time": nodes_real.Violation(
                                      1.0, 1, "n0's Lease ...", known=nodes_real.LEASE_WRITE_FINDING)})
    monkeypatch.delenv("KUBEPROP_REPORT_KNOWN", raising=False)
    assert not result.passed
    monkeypatch.setenv("KUBEPROP_REPORT_KNOWN", "1")
    assert result.passed and "known upstream findings only" in nodes_real.summary_line(result)


def test_a_renewal_the_watch_delivered_late_is_dated_by_its_renew_time() -> None:
    ready = {"metadata": {"name": "n0"}, "status": {"conditions": [{"type": "Ready", "status": "True"}]}}
    unknown = {"metadata": {"name": "n0"}, "status": {"conditions": [{"type": "Ready", "status": "Unknown"}]}}
    # renewed at T0, delivered to the harness 0.3 s late; the controller, which saw it at once, marks at T0 + 8.1
    seen = [Seen(T0 - 1, "nodes", "ADDED", ready), Seen(T0 + 0.3, "leases", "MODIFIED", _lease("n0", T0)),
            Seen(T0 + 8.1, "nodes", "MODIFIED", unknown)]
    assert checks.unknown_not_early(seen, TIMING)  # by arrival alone, 7.8 s after the renewal
    assert nodes_real.check_all(seen, [], {}, set(), T0 + 9, TIMING, None) == {}
    marked_early = [*seen[:2], Seen(T0 + 6, "nodes", "MODIFIED", unknown)]
    assert list(nodes_real.check_all(marked_early, [], {}, set(), T0 + 9, TIMING, None)) == ["node.unknown-not-early"]


def test_a_renew_time_from_a_clock_behind_is_dated_by_true_time() -> None:
    assert nodes_real.clock_offsets(4, 20.0) == [0.0, -20.0, 20.0, -20.0]
    assert nodes_real.clock_offsets(3, 0.0) == [0.0, 0.0, 0.0]
    ready = {"metadata": {"name": "n1"}, "status": {"conditions": [{"type": "Ready", "status": "True"}]}}
    unknown = {"metadata": {"name": "n1"}, "status": {"conditions": [{"type": "Ready", "status": "Unknown"}]}}
    # n1's kubelet runs 20 s behind: it renewed at T0 (true time) and wrote T0 - 20; a controller that trusts the
    # renewTime marks it at T0 + 1, which a check dating the renewal by renewTime alone would take for late enough
    seen = [Seen(T0 - 1, "nodes", "ADDED", ready), Seen(T0 + 0.01, "leases", "MODIFIED", _lease("n1", T0 - 20)),
            Seen(T0 + 1, "nodes", "MODIFIED", unknown)]
    assert nodes_real.check_all(seen, [], {}, set(), T0 + 2, TIMING, None) == {}
    found = nodes_real.check_all(seen, [], {}, set(), T0 + 2, TIMING, None, {"n1": -20.0})
    assert list(found) == ["node.unknown-not-early"]
    # the measured delay from renewal to watch event is on true time
    assert nodes_real.lease_delays(seen[1:2], {"n1": -20.0}) == pytest.approx([0.01])
    # a kubelet ahead: its renewTime lies in the future, and the arrival dates the renewal
    ahead = [seen[0], Seen(T0 + 0.01, "leases", "MODIFIED", _lease("n1", T0 + 20)),
             Seen(T0 + 8.5, "nodes", "MODIFIED", unknown)]
    assert nodes_real.check_all(ahead, [], {}, set(), T0 + 9, TIMING, None, {"n1": 20.0}) == {}


def test_an_offset_clock_is_the_wall_clock_moved() -> None:
    from datetime import UTC, datetime

    from adapters.hollow import offset_clock, wall_clock

    assert offset_clock(0.0) is wall_clock
    behind = offset_clock(-20.0)()
    assert 19.5 < (datetime.now(UTC) - behind).total_seconds() < 20.5
