"""When the score plugins the model leaves out (model/scheduler/omitted.py) may score a pod."""

from __future__ import annotations

from model.scheduler import omitted_scores


def pod(**spec: object) -> dict:
    return {"metadata": {"name": "p", "namespace": "ns", "labels": {"app": "web"}},
            "spec": {"containers": [{"name": "c", "image": "x"}], **spec}}


def service(selector: dict | None, namespace: str = "ns") -> dict:
    return {"metadata": {"name": "svc", "namespace": namespace}, "spec": {"selector": selector}}


def test_a_plain_pod() -> None:
    assert omitted_scores(pod()) == []
    assert omitted_scores(pod(), [pod()], [service({"app": "db"}), service(None),
                                           service({"app": "web"}, "other")]) == []


def test_pod_topology_spread() -> None:
    assert "Service svc selects the pod" in omitted_scores(pod(), [], [service({"app": "web"})])[0]
    assert "Service svc" in omitted_scores(pod(), [], [service({})])[0]  # an empty selector matches every pod
    owned = pod()
    owned["metadata"]["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs",
                                             "uid": "u", "controller": True}]
    assert "ReplicaSet rs" in omitted_scores(owned)[0]
    assert omitted_scores(pod(topologySpreadConstraints=[{"maxSkew": 1}]))[0].startswith("PodTopologySpread")


def test_inter_pod_affinity() -> None:
    term = {"weight": 1, "podAffinityTerm": {"topologyKey": "zone"}}
    assert "preferred pod" in omitted_scores(pod(affinity={"podAntiAffinity": {
        "preferredDuringSchedulingIgnoredDuringExecution": [term]}}))[0]
    holder = pod(affinity={"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": []}})
    assert "pods with pod (anti-)affinity are on nodes: ['p']" in omitted_scores(pod(), [holder])[0]
    # node affinity is modelled
    assert omitted_scores(pod(affinity={"nodeAffinity": {}})) == []


def test_claims() -> None:
    assert omitted_scores(pod(volumes=[{"name": "v", "persistentVolumeClaim": {"claimName": "c"}}]))
    assert omitted_scores(pod(resourceClaims=[{"name": "r"}]))
    assert omitted_scores(pod(volumes=[{"name": "v", "emptyDir": {}}])) == []
