"""Many examples against one long-lived server: each keeps to its own names and label, and cleans up."""

from __future__ import annotations

from hypothesis import HealthCheck, settings

from adapters.http import HTTPTarget
from adapters.scoped import RUN_LABEL, ScopedTarget
from conformance.machines import APIServerMachine
from conformance.runner import machine_for, run
from controlplane.http import HTTPAPIServer


def test_scoped_target_maps_names_labels_and_cleans_up(kubeconfig: str) -> None:
    raw = HTTPTarget(kubeconfig)
    t = ScopedTarget(HTTPTarget(kubeconfig), run_id="ktest01")
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ns-a"}}
    created = t.create("namespaces", None, ns)
    assert created.code == 201 and created.body["metadata"]["name"] == "ns-a"
    assert RUN_LABEL not in created.body["metadata"].get("labels", {})
    assert created.body["metadata"]["labels"]["kubernetes.io/metadata.name"] == "ns-a"
    outside = raw.get("namespaces", None, "ns-a-ktest01")
    assert outside.code == 200 and outside.body["metadata"]["labels"][RUN_LABEL] == "ktest01"
    # an object of someone else is invisible to the run
    raw.create("namespaces", None, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "theirs"}})
    assert [o["metadata"]["name"] for o in t.list("namespaces").body["items"]] == ["ns-a"]
    missing = t.get("pods", "ns-a", "p0")
    assert missing.code == 404 and missing.body["message"] == 'pods "p0" not found'
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n0"}}
    assert t.create("nodes", None, node).code == 201
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p0", "finalizers": ["kubeprop.io/a"]},
           "spec": {"containers": [{"name": "c", "image": "busybox:1.36"}]}}
    assert t.create("pods", "ns-a", pod).code == 201
    bound = t.bind("ns-a", "p0", {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "p0"},
                                  "target": {"kind": "Node", "name": "n0"}})
    assert bound.code == 201, bound.body
    assert raw.get("pods", "ns-a-ktest01", "p0").body["spec"]["nodeName"] == "n0-ktest01"
    assert t.get("pods", "ns-a", "p0").body["spec"]["nodeName"] == "n0"
    t.close()
    assert raw.get("pods", "ns-a-ktest01", "p0").code == 404
    assert raw.get("nodes", None, "n0-ktest01").code == 404
    assert raw.get("namespaces", None, "ns-a-ktest01").code == 404
    assert raw.get("namespaces", None, "theirs").code == 200
    raw.close()


def test_conformance_examples_share_one_server(server: HTTPAPIServer, kubeconfig: str) -> None:
    run(machine_for(APIServerMachine, kind="http", kubeconfig=kubeconfig),
        settings(max_examples=15, stateful_step_count=12, deadline=None, database=None,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]))
    # every example cleaned up after itself: nothing labelled by a run is left
    left = HTTPTarget(kubeconfig)
    for resource in ("pods", "nodes", "leases", "namespaces"):
        items = left.list(resource, label_selector=RUN_LABEL).body["items"]
        assert items == [], (resource, [i["metadata"]["name"] for i in items])
    left.close()


def test_a_refused_taint_is_named_at_the_index_sent(kubeconfig: str) -> None:
    # the run taint goes first in every node written; a refusal names the taints as the machine sent them
    t = ScopedTarget(HTTPTarget(kubeconfig), run_id="ktest02")
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n0"},
            "spec": {"taints": [{"key": "ok", "effect": "NoSchedule"}, {"key": "bad key", "effect": "NoSchedule"}]}}
    refused = t.create("nodes", None, node)
    assert refused.code == 422, refused.body
    assert [c["field"] for c in refused.body["details"]["causes"]] == ["metadata.taints[1].key"]
    assert refused.body["message"].startswith('Node "n0" is invalid: metadata.taints[1].key: Invalid value: "bad key"')
    assert t.create("nodes", None, {**node, "spec": {}}).code == 201
    patched = t.patch("nodes", None, "n0", {"metadata": {}, "spec": {"taints": [{"key": "k", "effect": "x"}]}})
    assert [c["field"] for c in patched.body["details"]["causes"]] == ["metadata.taints[0].effect"]
    t.close()


def test_a_status_write_goes_to_the_run_s_node_and_keeps_its_label(kubeconfig: str) -> None:
    raw = HTTPTarget(kubeconfig)
    t = ScopedTarget(HTTPTarget(kubeconfig), run_id="ktest03")
    node = t.create("nodes", None, {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n0"}}).body
    node["status"] = {"addresses": [{"type": "InternalIP", "address": "10.0.1.1"}]}
    written = t.update("nodes", None, "n0", node, subresource="status")
    assert written.code == 200 and written.body["metadata"]["name"] == "n0"
    assert t.get("nodes", None, "n0", subresource="status").body == written.body
    outside = raw.get("nodes", None, "n0-ktest03", subresource="status").body
    assert outside["status"]["addresses"] == node["status"]["addresses"]
    assert outside["metadata"]["labels"][RUN_LABEL] == "ktest03"
    patched = t.patch("nodes", None, "n0", {"status": {"phase": "Running"}}, subresource="status")
    assert patched.code == 200 and patched.body["status"]["phase"] == "Running"
    t.close()
    assert raw.get("nodes", None, "n0-ktest03").code == 404
    raw.close()
