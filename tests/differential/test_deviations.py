"""Every entry of conformance/deviations.py pinned: on the model and the bundled server always (``[model]``), on
the real kube-apiserver (``[real]``, marked ``differential``) when the differential run is asked for and the
binaries are there; otherwise ``[real]`` shows as skipped, with the reason."""

from __future__ import annotations

import ast
import time
from pathlib import Path

import pytest

from adapters.http import HTTPTarget
from adapters.inprocess import InProcessTarget
from adapters.scoped import RUN_TAINT_KEY, UNSCHEDULED, ScopedTarget
from conformance.deviations import BY_ID, DEVIATIONS, admission_for, is_bundled
from model.apiserver import ADMISSION_PLUGINS, NOT_READY, UNREACHABLE, APIModel

HERE = Path(__file__).parent
NS = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ns-a"}}
POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p0"},
       "spec": {"containers": [{"name": "c", "image": "busybox:1.36"}]}}
NODE = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n0"}, "spec": {}}
DEFAULT_TOLERATIONS = [
    {"key": NOT_READY, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
    {"key": UNREACHABLE, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
]
#: each pin runs on the model and the bundled server, and separately on the real server
WHERE = pytest.mark.parametrize("where", ["model", pytest.param("real", marks=pytest.mark.differential)])


def test_every_deviation_has_a_test() -> None:
    defined = set()
    for path in HERE.glob("test_*.py"):
        tree = ast.parse(path.read_text())
        defined |= {f"tests/differential/{path.name}::{n.name}" for n in tree.body if isinstance(n, ast.FunctionDef)}
    for d in DEVIATIONS:
        assert d.test in defined, f"{d.id}: no test {d.test}"
        assert d.upstream and d.handling and d.what
    assert len(BY_ID) == len(DEVIATIONS)


def test_bundled_server_is_recognised() -> None:
    assert is_bundled({"gitVersion": "v1.33.0-kubeprop", "platform": "python"})
    assert not is_bundled({"gitVersion": "v1.37.2", "platform": "linux/amd64"})
    assert admission_for(InProcessTarget()) == frozenset()


def _model(admission: frozenset[str]) -> APIModel:
    model = APIModel(admission=admission)
    model.create("namespaces", None, NS).commit({"metadata": {"uid": "u0", "resourceVersion": "1"}})
    return model


@WHERE
def test_default_toleration_seconds(request: pytest.FixtureRequest, where: str) -> None:
    if where == "real":
        # the real kube-apiserver does, as the model says
        real = _real(request)
        got = real.create("pods", "ns-a", POD)
        assert got.code == 201, got.body
        assert got.body["spec"]["tolerations"] == DEFAULT_TOLERATIONS
        real.close()
        return
    # the model, with and without the plugin
    assert _model(ADMISSION_PLUGINS).create("pods", "ns-a", POD).obj["spec"]["tolerations"] == DEFAULT_TOLERATIONS
    assert "tolerations" not in _model(frozenset()).create("pods", "ns-a", POD).obj["spec"]
    blanket = {**POD, "spec": {**POD["spec"], "tolerations": [{"operator": "Exists"}]}}
    assert _model(ADMISSION_PLUGINS).create("pods", "ns-a", blanket).obj["spec"]["tolerations"] == [
        {"operator": "Exists"}]
    # the bundled server runs no admission plugin
    t = InProcessTarget()
    t.create("namespaces", None, NS)
    assert "tolerations" not in t.create("pods", "ns-a", POD).body["spec"]
    t.close()


@WHERE
def test_taint_nodes_by_condition(request: pytest.FixtureRequest, where: str) -> None:
    not_ready = {"key": NOT_READY, "effect": "NoSchedule"}
    if where == "real":
        real = _real(request)
        got = real.create("nodes", None, NODE)
        assert got.code == 201, got.body
        assert got.body["spec"]["taints"] == [not_ready]  # the run taint is hidden by the scoped target
        real.close()
        return
    assert _model(ADMISSION_PLUGINS).create("nodes", None, NODE).obj["spec"]["taints"] == [not_ready]
    assert "taints" not in _model(frozenset()).create("nodes", None, NODE).obj["spec"]
    t = InProcessTarget()
    assert "taints" not in (t.create("nodes", None, NODE).body.get("spec") or {})
    t.close()


@WHERE
def test_run_taint_and_scheduler_name(request: pytest.FixtureRequest, where: str) -> None:
    if where == "real":
        # with an untainted Ready node present, a real scheduler still leaves the pod alone
        cluster = request.getfixturevalue("cluster")
        scoped = _real(request)
        scoped.create("nodes", None, {**NODE, "status": {"allocatable": {"cpu": "4", "memory": "4Gi", "pods": "10"},
                                                         "capacity": {"cpu": "4", "memory": "4Gi", "pods": "10"}}})
        assert scoped.create("pods", "ns-a", POD).code == 201
        time.sleep(3 * cluster.retry_period)
        got = scoped.get("pods", "ns-a", "p0").body
        assert not got["spec"].get("nodeName") and not (got.get("status") or {}).get("conditions"), got
        scoped.close()
        return
    inner = InProcessTarget()
    t = ScopedTarget(inner, run_id="kpin001")
    t.create("namespaces", None, NS)
    node = t.create("nodes", None, {**NODE, "spec": {"taints": [{"key": "gpu", "effect": "NoSchedule"}]}})
    assert node.body["spec"]["taints"] == [{"key": "gpu", "effect": "NoSchedule"}]
    raw = inner.get("nodes", None, "n0-kpin001").body
    assert raw["spec"]["taints"][0] == {"key": RUN_TAINT_KEY, "value": "kpin001", "effect": "NoSchedule"}
    pod = t.create("pods", "ns-a", POD)
    assert "schedulerName" not in pod.body["spec"]
    assert inner.get("pods", "ns-a-kpin001", "p0").body["spec"]["schedulerName"] == UNSCHEDULED
    # a body read back and written again keeps the stored order: a no-op stays a no-op
    again = t.update("nodes", None, "n0", node.body)
    assert again.body["metadata"]["resourceVersion"] == node.body["metadata"]["resourceVersion"]
    t.close()


def _real(request: pytest.FixtureRequest) -> ScopedTarget:
    """A scoped target on the real cluster, with its namespace ns-a (only from a test marked differential)."""
    kubeconfig = request.getfixturevalue("kubeconfig")  # skips when the binaries are missing
    t = ScopedTarget(HTTPTarget(kubeconfig))
    assert t.create("namespaces", None, NS).code == 201
    return t
