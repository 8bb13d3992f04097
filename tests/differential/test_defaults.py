"""The real kube-apiserver's pod defaulting and Priority admission (conformance/deviations.py), pinned on the
model and the bundled server always (``[model]``) and on the real server when the differential run is asked for
(``[real]``, marked ``differential``; otherwise skipped with the reason)."""

from __future__ import annotations

import pytest

from adapters.http import HTTPTarget
from adapters.inprocess import InProcessTarget
from adapters.scoped import ScopedTarget
from model.apiserver import ADMISSION_PLUGINS, APIModel

NS = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ns-a"}}
POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p0"},
       "spec": {"containers": [{"name": "c", "image": "busybox:1.36", "resources": {"requests": {"cpu": "100m"}}},
                               {"name": "d", "image": "nginx", "ports": [{"containerPort": 80}]}]}}
DEFAULTED_SPEC = {
    "dnsPolicy": "ClusterFirst", "restartPolicy": "Always", "securityContext": {},
    "terminationGracePeriodSeconds": 30, "enableServiceLinks": True,
}
WHERE = pytest.mark.parametrize("where", ["model", pytest.param("real", marks=pytest.mark.differential)])


def _model(admission: frozenset[str]) -> APIModel:
    model = APIModel(admission=admission)
    model.create("namespaces", None, NS).commit({"metadata": {"uid": "u0", "resourceVersion": "1"}})
    return model


def _real(request: pytest.FixtureRequest) -> ScopedTarget:
    kubeconfig = request.getfixturevalue("kubeconfig")  # skips when the binaries are missing
    t = ScopedTarget(HTTPTarget(kubeconfig))
    assert t.create("namespaces", None, NS).code == 201
    return t


def _created(request: pytest.FixtureRequest, where: str) -> dict:
    if where == "real":
        real = _real(request)
        got = real.create("pods", "ns-a", POD)
        real.close()
        assert got.code == 201, got.body
        return got.body
    return _model(ADMISSION_PLUGINS).create("pods", "ns-a", POD).obj


@WHERE
def test_v1_pod_defaults(request: pytest.FixtureRequest, where: str) -> None:
    pod = _created(request, where)
    spec = pod["spec"]
    assert {k: spec.get(k) for k in DEFAULTED_SPEC} == DEFAULTED_SPEC
    c, d = spec["containers"]
    assert (c["imagePullPolicy"], d["imagePullPolicy"]) == ("IfNotPresent", "Always")  # nginx: no tag is latest
    assert c["terminationMessagePath"] == "/dev/termination-log" and c["terminationMessagePolicy"] == "File"
    assert d["ports"] == [{"containerPort": 80, "protocol": "TCP"}]
    assert pod["status"]["qosClass"] == "Burstable"
    if where == "model":
        # without it the model, like the bundled server, stores the body as sent
        bare = _model(frozenset()).create("pods", "ns-a", POD).obj
        assert "dnsPolicy" not in bare["spec"] and "qosClass" not in bare["status"]
        t = InProcessTarget()
        t.create("namespaces", None, NS)
        stored = t.create("pods", "ns-a", POD).body
        assert "dnsPolicy" not in stored["spec"] and "qosClass" not in stored["status"]
        t.close()


@WHERE
def test_priority_admission(request: pytest.FixtureRequest, where: str) -> None:
    spec = _created(request, where)["spec"]
    assert (spec["priority"], spec["preemptionPolicy"]) == (0, "PreemptLowerPriority")
    if where == "model":
        model = _model(ADMISSION_PLUGINS)
        model.create("pods", "ns-a", POD).commit({"metadata": {"uid": "u1", "resourceVersion": "2"}})
        body = model.lookup("pods", "ns-a", "p0")
        body = {**body, "spec": {k: v for k, v in body["spec"].items() if k not in ("priority", "preemptionPolicy")}}
        kept = model.update("pods", "ns-a", "p0", body)
        assert kept.code == 200 and kept.obj["spec"]["priority"] == 0


def test_qos_classes() -> None:
    model = _model(ADMISSION_PLUGINS)

    def qos(*resources: dict) -> str:
        pod = {**POD, "spec": {"containers": [{"name": f"c{i}", "image": "busybox:1.36", "resources": r}
                                              for i, r in enumerate(resources)]}}
        return model.create("pods", "ns-a", pod).obj["status"]["qosClass"]

    both = {"cpu": "1", "memory": "1Gi"}
    assert qos({}) == "BestEffort"
    assert qos({"limits": both}) == "Guaranteed"  # requests default to the limits
    assert qos({"requests": both, "limits": both}, {"limits": both}) == "Guaranteed"
    assert qos({"requests": {"cpu": "1"}, "limits": {"cpu": "1"}}) == "Burstable"  # memory unset
    assert qos({"limits": both}, {}) == "Burstable"
