"""The official kubernetes Python client against the bundled server: it must read what we serve."""

from __future__ import annotations

import json

from kubernetes import client, config


def api(kubeconfig: str) -> client.CoreV1Api:
    return client.CoreV1Api(config.new_client_from_config(config_file=kubeconfig))


def test_core_v1_pods(kubeconfig: str) -> None:
    v1 = api(kubeconfig)
    v1.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="ns")))
    pod = client.V1Pod(metadata=client.V1ObjectMeta(name="p", labels={"app": "x"}),
                       spec=client.V1PodSpec(containers=[client.V1Container(name="c", image="busybox")]))
    created = v1.create_namespaced_pod("ns", pod)
    assert created.metadata.uid and created.metadata.generation == 1 and created.status.phase == "Pending"
    assert [p.metadata.name for p in v1.list_namespaced_pod("ns", label_selector="app=x").items] == ["p"]
    assert [p.metadata.name for p in v1.list_pod_for_all_namespaces().items] == ["p"]
    read = v1.read_namespaced_pod("p", "ns")
    assert read.metadata.resource_version == created.metadata.resource_version
    # kubernetes-client/python issue 825: the Status a binding answers cannot be deserialised as V1Binding
    body = client.V1Binding(metadata=client.V1ObjectMeta(name="p"),
                            target=client.V1ObjectReference(kind="Node", name="n1"))
    resp = v1.create_namespaced_pod_binding("p", "ns", body, _preload_content=False)
    assert resp.status == 201 and json.loads(resp.data)["status"] == "Success"
    assert v1.read_namespaced_pod("p", "ns").spec.node_name == "n1"
    # the older namespaces/{ns}/bindings endpoint answers the same way
    v1.create_namespaced_pod("ns", client.V1Pod(metadata=client.V1ObjectMeta(name="q"), spec=pod.spec))
    body.metadata.name = "q"
    resp = v1.create_namespaced_binding("ns", body, _preload_content=False)
    assert resp.status == 201 and v1.read_namespaced_pod("q", "ns").spec.node_name == "n1"
    try:
        v1.read_namespaced_pod("missing", "ns")
    except client.ApiException as e:
        assert e.status == 404 and json.loads(e.body)["reason"] == "NotFound"
    else:
        raise AssertionError("expected 404")
