"""The differential run: the model against a real kube-apiserver on etcd and real kube-scheduler replicas.

Tests that need the real control plane (marked ``differential``) run only when asked for (``make differential``,
``pytest -m differential tests/differential`` or KUBEPROP_DIFFERENTIAL=1) and when the binaries are there
(``make kube-binaries``); otherwise they are skipped with the reason. The rest (the deviation pins on the model and
the bundled server, the safety rules of the scoped target) always run and are fast.

Figures (steps/s, failover times, scheduler decisions) are printed in the terminal summary and written to
``reports/differential.json`` (``reports/differential-<release>.json`` when KUBE_VERSION names a release other
than the pinned one: ``make differential KUBE_VERSION=v1.36.3``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from conformance.kubecluster import cluster_module

ROOT = Path(__file__).resolve().parents[2]
SCHEDULERS = int(os.environ.get("KUBEPROP_DIFFERENTIAL_SCHEDULERS", "2"))
FIGURES = pytest.StashKey[dict]()




kubecluster = cluster_module()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "differential: needs etcd, kube-apiserver and kube-scheduler binaries "
                                       "(make kube-binaries); run with make differential")
    config.stash[FIGURES] = {}


def _asked_for(config: pytest.Config) -> bool:
    markexpr = config.getoption("markexpr", "") or ""
    return os.environ.get("KUBEPROP_DIFFERENTIAL") == "1" or ("differential" in markexpr
                                                              and "not differential" not in markexpr)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    reason = None
    if not _asked_for(config):
        reason = "differential tests run only when asked for: make differential (or -m differential)"
    else:
        try:
            kubecluster.find_binaries()
        except kubecluster.ClusterError as e:
            reason = f"real-cluster binaries missing: {e}"
    if reason:
        for item in items:
            if item.get_closest_marker("differential"):
                item.add_marker(pytest.mark.skip(reason=reason))


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    figures = config.stash.get(FIGURES, {})
    if figures:
        terminalreporter.section("differential figures")
        for key, value in figures.items():
            terminalreporter.write_line(f"{key}: {value}")
        version = os.environ.get("KUBE_VERSION")
        other = version and version != kubecluster.pinned_version()
        out = ROOT / "reports" / (f"differential-{version}.json" if other else "differential.json")
        out.parent.mkdir(exist_ok=True)
        out.write_text(json.dumps(figures, indent=2, sort_keys=True) + "\n")


@pytest.fixture(scope="session")
def figures(pytestconfig: pytest.Config) -> dict:
    """Measurements printed at the end of the run (and written to reports/differential.json)."""
    return pytestconfig.stash[FIGURES]


@pytest.fixture(scope="session")
def cluster():
    try:
        binaries = kubecluster.find_binaries()
    except kubecluster.ClusterError as e:
        pytest.skip(f"real-cluster binaries missing: {e}")
    with kubecluster.Cluster(SCHEDULERS, binaries=binaries) as running:
        yield running


@pytest.fixture(scope="session")
def release(cluster) -> str:
    """The running release for figure labels, e.g. ``kube-apiserver v1.37.2 (etcd 3.7.0)``."""
    return f"kube-apiserver {cluster.version()['gitVersion']} (etcd {cluster.binaries.etcd_version()})"


@pytest.fixture(scope="session")
def kubeconfig(cluster) -> str:
    return str(cluster.kubeconfig)
