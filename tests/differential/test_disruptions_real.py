"""Faults while clients run, against the real control plane: kube-apiserver v1.37.2 (watch cache on, as
shipped) on a real etcd, the concurrent machine with a process fault injected in every round.

Two kube-apiserver replicas on one etcd with the clients spread across them, one replica killed and restarted
mid-round; the only replica killed and restarted (its watch cache starts again from a fresh list, so a watch
reopened from an older resourceVersion may rightly get 410: apiserver/pkg/storage/cacher/watch_cache.go);
etcd paused under kube-apiserver. Each cluster is its own (no kube-scheduler), started for the test.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, settings

from conformance import disruption
from conformance.concurrency import ConcurrentMachine
from conformance.kubecluster import cluster_module
from conformance.runner import machine_for, run

pytestmark = pytest.mark.differential

kubecluster = cluster_module()
EXAMPLES = int(os.environ.get("KUBEPROP_DISRUPTION_EXAMPLES", "3"))


class _Replica:
    """One kube-apiserver replica of a cluster, as a fleet member."""

    def __init__(self, cluster, index: int) -> None:  # noqa: ANN001 - tools/kube/cluster.py's Cluster
        self.cluster, self.index = cluster, index

    def kill(self) -> None:
        pass  # restart_apiserver kills it first

    def restart(self) -> None:
        self.cluster.restart_apiserver(self.index)


class _Etcd:
    def __init__(self, cluster) -> None:  # noqa: ANN001
        self.cluster = cluster

    def pause(self) -> None:
        self.cluster.pause_etcd()

    def resume(self) -> None:
        self.cluster.resume_etcd()

    def kill(self) -> None:
        pass

    def restart(self) -> None:
        self.cluster.restart_etcd()


CASES: dict[str, tuple[int, Callable[[disruption.Fleet, random.Random], str]]] = {
    "two-apiservers-one-killed": (2, disruption.apiserver_restart),
    "apiserver-kill-restart": (1, disruption.apiserver_restart),
    "etcd-pause": (1, disruption.etcd_pause()),
}


@pytest.mark.parametrize("name", list(CASES))
def test_disrupted_rounds_real(name: str, figures: dict) -> None:
    try:
        binaries = kubecluster.find_binaries()
    except kubecluster.ClusterError as e:
        pytest.skip(f"real-cluster binaries missing: {e}")
    apiservers, inject = CASES[name]
    with kubecluster.Cluster(0, apiservers=apiservers, binaries=binaries) as cluster:
        fleet = disruption.Fleet([str(k) for k in cluster.kubeconfigs], etcd=_Etcd(cluster),
                                 apiservers=[_Replica(cluster, i) for i in range(apiservers)])
        # a kube-apiserver restart takes seconds (its caches list everything again): more patience than served
        fault = disruption.Disruption(name, fleet, inject, within=90.0, seed=0)
        machine = machine_for(ConcurrentMachine, kind="http", kubeconfig=fleet.kubeconfigs[0])
        machine.disruption = fault  # type: ignore[attr-defined]
        start = time.perf_counter()
        run(machine, settings(max_examples=EXAMPLES, stateful_step_count=3, deadline=None, database=None,
                              derandomize=True, suppress_health_check=list(HealthCheck)))
        figures[f"disrupted rounds, real kube-apiserver, {name}"] = (
            f"{fault.tally.summary()}, in {time.perf_counter() - start:.1f}s")
        assert fault.tally.rounds > 0
