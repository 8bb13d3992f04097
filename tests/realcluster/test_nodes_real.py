"""Hollow kubelets against a real kube-apiserver and kube-controller-manager (conformance/nodes_real.py), judged by
the nine node checks: a short clean scenario passes, and two seeded kubelet faults are caught on their invariants.

The cluster is the module's own (conftest.py: nlc_cluster; no scheduler, kube-controller-manager with only the node
lifecycle controller, an 8 s grace period and a 1 s monitor period). About a minute. Needs ``make
kube-controller-manager``.
"""

from __future__ import annotations

import pytest

from adapters.hollow import Periods
from conformance.nodes_real import GRACE, MONITOR_PERIOD, SLACK, NodesRun
from model.kubelet import NodeTiming

pytestmark = pytest.mark.realcluster

PERIOD = MONITOR_PERIOD  # with GRACE, the flags of the module's cluster (conftest.py: nlc_cluster)
PERIODS = Periods(renew=2.0, sync=1.0)
TIMING = NodeTiming(grace=GRACE, monitor_period=PERIOD, renew_interval=PERIODS.renew, sync=PERIODS.sync,
                    slack=SLACK)


def _run(cluster, seed: int, steps: int, faults: list[str], lines: list[str]):
    run = NodesRun(str(cluster.kubeconfig), seed=seed, steps=steps, faults=faults, timing=TIMING, periods=PERIODS,
                   until_caught=bool(faults), log=lines.append)
    result = run.execute()
    cluster.check_alive()
    return result


def test_clean_kubelets_keep_the_node_contract(nlc_cluster, measurements):
    lines: list[str] = []
    result = _run(nlc_cluster, seed=3, steps=30, faults=[], lines=lines)
    assert result.passed, "\n".join(lines)
    assert result.actions == result.planned and result.events > 50, "\n".join(lines)
    # seed 3 crashes kubelets for longer than the grace period: the real controller marks their nodes Unknown (not
    # too early: node.unknown-not-early passed; and in time)
    assert result.unknown_after and all(d <= TIMING.latest_unknown(0) + SLACK for _, d in result.unknown_after), \
        result.unknown_after
    assert not result.kubelet_errors and not result.left_behind, (result.kubelet_errors, result.left_behind)
    measurements.append(f"hollow kubelets, clean (kube-controller-manager --node-monitor-grace-period {GRACE:g}s): "
                        + lines[-1])


@pytest.mark.parametrize(("fault", "seed"), [("kubelet.heartbeat-frozen", 1), ("kubelet.runs-unbound", 2)])
def test_kubelet_fault_is_caught_on_its_invariant(nlc_cluster, measurements, fault, seed):
    lines: list[str] = []
    result = _run(nlc_cluster, seed=seed, steps=30, faults=[fault], lines=lines)
    assert result.caught == {fault: True}, "\n".join(lines)
    measurements.append(f"hollow kubelets, {fault}: caught on {result.expected[fault]} "
                        f"{result.violations[result.expected[fault]].first:.1f} s into the run")
