"""The black-box scheduling machine (conformance/blackbox.py) against real kube-scheduler replicas: checked only
from what the real kube-apiserver shows, it must pass."""

from __future__ import annotations

import os
import time

import pytest

from conformance.blackbox import run_blackbox

pytestmark = pytest.mark.differential

EXAMPLES = int(os.environ.get("KUBEPROP_BLACKBOX_EXAMPLES", "8"))
STEPS = 12


def test_blackbox_machine_real_scheduler(kubeconfig: str, figures: dict) -> None:
    started = time.monotonic()
    # a real kube-apiserver's Priority admission refuses a bare spec.priority (plugin/pkg/admission/priority),
    # and kube-scheduler reports every pod that fits nowhere (PodScheduled=False, reason Unschedulable)
    machine = run_blackbox(kubeconfig, examples=EXAMPLES, steps=STEPS, priorities=False, reports_unschedulable=True)
    assert machine.stats.get("scores_judged", 0) > 0, machine.stats
    figures["blackbox real kube-scheduler"] = {**machine.stats, "examples": EXAMPLES,
                                               "seconds": round(time.monotonic() - started, 1)}


def test_blackbox_machine_kills_and_pauses_real_schedulers(figures: dict) -> None:
    """Two kube-scheduler replicas with a short Lease (3 s, renew 2 s, retry 0.5 s) on their own cluster, the
    leader killed and paused by the machine, Bindings slowed and refused on the wire: every invariant,
    lease.only-leader-acts included, must hold."""
    from conformance.blackbox import real_schedulers
    from conformance.kubecluster import cluster_module

    kube = cluster_module()
    try:
        binaries = kube.find_binaries()
    except kube.ClusterError as e:
        pytest.skip(f"real-cluster binaries missing: {e}")
    started = time.monotonic()
    with real_schedulers(binaries) as (cluster, wire, replicas):
        machine = run_blackbox(str(cluster.kubeconfig), examples=3, steps=10, priorities=False,
                               reports_unschedulable=True, replicas=replicas, wire=wire)
    assert machine.stats.get("kills", 0) + machine.stats.get("pauses", 0) > 0, machine.stats
    figures["blackbox real kube-scheduler, replicas killed and paused"] = {
        **machine.stats, "examples": 3, "seconds": round(time.monotonic() - started, 1)}
