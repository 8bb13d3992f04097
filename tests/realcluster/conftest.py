"""Session fixture: one real control plane (etcd, upstream kube-apiserver, kube-scheduler replicas) for all tests here.

These tests run only when asked for (``make realcluster-test``, ``pytest -m realcluster tests/realcluster`` or
KUBEPROP_REALCLUSTER=1) and when the binaries are there (``make kube-binaries``); otherwise they are skipped
with the reason, so the default suite stays fast.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from conformance.kubecluster import cluster_module

SCHEDULERS = int(os.environ.get("KUBEPROP_REALCLUSTER_SCHEDULERS", "2"))

MEASUREMENTS = pytest.StashKey[list]()




kubecluster = cluster_module()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "realcluster: needs etcd, kube-apiserver and kube-scheduler binaries "
                                       "(make kube-binaries); run with make realcluster-test")
    config.stash[MEASUREMENTS] = []


def _asked_for(config: pytest.Config) -> bool:
    markexpr = config.getoption("markexpr", "") or ""
    return os.environ.get("KUBEPROP_REALCLUSTER") == "1" or ("realcluster" in markexpr
                                                              and "not realcluster" not in markexpr)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    ours = [item for item in items if here in Path(str(item.path)).parents]
    if not ours:
        return
    reason = None
    if not _asked_for(config):
        reason = "real-cluster tests run only when asked for: make realcluster-test (or -m realcluster)"
    else:
        try:
            kubecluster.find_binaries()
        except kubecluster.ClusterError as e:
            reason = f"real-cluster binaries missing: {e}"
    for item in ours:
        item.add_marker(pytest.mark.realcluster)
        if reason:
            item.add_marker(pytest.mark.skip(reason=reason))


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    lines = config.stash.get(MEASUREMENTS, [])
    if lines:
        terminalreporter.section("realcluster measurements")
        for line in lines:
            terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def measurements(pytestconfig: pytest.Config) -> list[str]:
    """Lines printed in the terminal summary (failover times and the like)."""
    return pytestconfig.stash[MEASUREMENTS]


@pytest.fixture(scope="session")
def cluster():
    try:
        binaries = kubecluster.find_binaries()
    except kubecluster.ClusterError as e:
        pytest.skip(f"real-cluster binaries missing: {e}")
    with kubecluster.Cluster(SCHEDULERS, binaries=binaries) as running:
        yield running


@pytest.fixture(scope="module")
def nlc_cluster(request: pytest.FixtureRequest):
    """A cluster of the module's own: no scheduler, and kube-controller-manager with only the node lifecycle
    controller, its --node-monitor-grace-period and --node-monitor-period the module's GRACE and PERIOD."""
    try:
        binaries = kubecluster.find_binaries()
    except kubecluster.ClusterError as e:
        pytest.skip(f"real-cluster binaries missing: {e}")
    if not binaries.controller_manager:
        pytest.skip(f"kube-controller-manager missing: {kubecluster.CONTROLLER_MANAGER_HINT}")
    with kubecluster.Cluster(0, binaries=binaries, controller_manager=True,
                             node_monitor_grace_period=request.module.GRACE,
                             node_monitor_period=request.module.PERIOD) as running:
        yield running


@pytest.fixture(scope="session")
def api_client(cluster):
    kubernetes = pytest.importorskip("kubernetes")
    client = kubernetes.config.new_client_from_config(config_file=str(cluster.kubeconfig))
    yield client
    client.close()


@pytest.fixture(scope="session")
def core(api_client):
    import kubernetes

    return kubernetes.client.CoreV1Api(api_client)
