"""controlplane/restclient.py against the bundled server over HTTP: the verbs a hollow kubelet needs (lists by field
and label selector, status PUTs, deletes with DeleteOptions and preconditions) and stamped watches, and one hollow
kubelet doing its work through it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from controlplane.kubelet import HollowKubelet, Runtime
from controlplane.restclient import RESTClient

NS = "rc"


@pytest.fixture
def client(kubeconfig: str) -> Iterator[RESTClient]:
    c = RESTClient(kubeconfig)
    try:
        for ns in (NS, "kube-node-lease"):
            assert c.create("namespaces", None, {"apiVersion": "v1", "kind": "Namespace",
                                                 "metadata": {"name": ns}}).code == 201
        yield c
    finally:
        c.close()


def _pod(name: str, node: str | None = None, grace: int | None = None) -> dict:
    spec: dict = {"containers": [{"name": "c0", "image": "hollow"}]}
    if node:
        spec["nodeName"] = node
    if grace is not None:
        spec["terminationGracePeriodSeconds"] = grace
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": NS, "labels": {"app": name}},
            "spec": spec}


def _names(answer) -> list[str]:
    assert answer.code == 200, answer.body
    return sorted(i["metadata"]["name"] for i in answer.body["items"])


def test_list_by_field_and_label_selector(client: RESTClient) -> None:
    for name, node in (("a", "n1"), ("b", "n2"), ("c", None)):
        assert client.create("pods", NS, _pod(name, node)).code == 201
    assert _names(client.list("pods", NS)) == ["a", "b", "c"]
    assert _names(client.list("pods", None, field_selector="spec.nodeName=n1")) == ["a"]
    assert _names(client.list("pods", NS, field_selector="spec.nodeName=")) == ["c"]
    assert _names(client.list("pods", NS, label_selector="app in (a,c)")) == ["a", "c"]
    assert _names(client.list("pods", NS, label_selector="app=b", field_selector="spec.nodeName=n2")) == ["b"]
    assert client.list("pods", NS, field_selector="spec.bogus=1").code == 400


def test_status_put_keeps_the_spec(client: RESTClient) -> None:
    pod = client.create("pods", NS, _pod("s", "n1")).body
    pod["status"] = {"phase": "Running", "hostIP": "10.0.0.1", "hostIPs": [{"ip": "10.0.0.1"}]}
    pod["spec"]["activeDeadlineSeconds"] = 5  # a spec change sent to status is ignored
    put = client.update("pods", NS, "s", pod, subresource="status")
    assert put.code == 200, put.body
    assert put.body["status"]["phase"] == "Running" and "activeDeadlineSeconds" not in put.body["spec"]
    assert client.get("pods", NS, "s", subresource="status").body["status"]["phase"] == "Running"
    stale = client.update("pods", NS, "s", pod, subresource="status")  # the resourceVersion read before the PUT
    assert stale.code == 409 and stale.body["reason"] == "Conflict"

    node = client.create("nodes", None, {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}}).body
    node["status"] = {"conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                                      "lastHeartbeatTime": "2026-01-01T00:00:00Z",
                                      "lastTransitionTime": "2026-01-01T00:00:00Z"}]}
    got = client.update("nodes", None, "n1", node, subresource="status")
    assert got.code == 200, got.body
    assert got.body["status"]["conditions"][0]["status"] == "True"


def test_delete_with_options_and_preconditions(client: RESTClient) -> None:
    uid = client.create("pods", NS, _pod("d", "n1", grace=30)).body["metadata"]["uid"]
    wrong = client.delete("pods", NS, "d", {"gracePeriodSeconds": 0, "preconditions": {"uid": "not-" + uid}})
    assert wrong.code == 409 and "the UID in the precondition" in wrong.body["message"], wrong.body
    graceful = client.delete("pods", NS, "d", {"gracePeriodSeconds": 10})
    assert graceful.code == 200 and graceful.body["metadata"]["deletionGracePeriodSeconds"] == 10
    assert client.get("pods", NS, "d").code == 200  # a bound pod waits for its kubelet
    gone = client.delete("pods", NS, "d", {"gracePeriodSeconds": 0, "preconditions": {"uid": uid}})
    assert gone.code == 200, gone.body
    assert client.get("pods", NS, "d").code == 404
    assert client.delete("pods", NS, "d").code == 404  # no options: no body


def test_watch_with_selectors_stamps_each_event(client: RESTClient) -> None:
    w = client.watch("pods", NS, label_selector="app=w")
    other = client.watch("pods", None, field_selector="spec.nodeName=n9")
    try:
        before = time.time()
        client.create("pods", NS, _pod("w"))
        client.create("pods", NS, _pod("x", "n9"))
        deadline = time.monotonic() + 5
        got: list = []
        while time.monotonic() < deadline and len(got) < 1:
            got += w.drain_stamped()
            time.sleep(0.02)
        assert [(e["type"], e["object"]["metadata"]["name"]) for _, e in got] == [("ADDED", "w")]
        assert before <= got[0][0] <= time.time()
        deadline = time.monotonic() + 5
        seen: list = []
        while time.monotonic() < deadline and not seen:
            seen = other.drain()
            time.sleep(0.02)
        assert [e["object"]["metadata"]["name"] for e in seen] == ["x"]
    finally:
        w.close()
        other.close()


def test_hollow_kubelet_over_http(client: RESTClient) -> None:
    """One hollow kubelet through the REST client: it registers, renews its Lease, runs the pod bound to it (and
    only that one), and on a graceful delete stops the pod, reports it, and deletes it with grace 0."""

    def clock() -> datetime:
        return datetime.now(UTC)

    runtime = Runtime("n1", clock)
    kubelet = HollowKubelet(client, "n1", ip="10.0.0.1", clock=clock, runtime=runtime)
    assert kubelet.register() == 200
    assert kubelet.heartbeat() == 201 and kubelet.heartbeat() == 200
    ready = [c for c in client.get("nodes", None, "n1").body["status"]["conditions"] if c["type"] == "Ready"]
    assert ready[0]["status"] == "True"
    client.create("pods", NS, _pod("mine", "n1", grace=5))
    client.create("pods", NS, _pod("theirs", "n2"))
    client.create("pods", NS, _pod("pending"))
    kubelet.sync()
    assert sorted(c.pod for c in runtime.records) == ["mine"]
    assert client.get("pods", NS, "mine").body["status"]["phase"] == "Running"
    client.delete("pods", NS, "mine", {"gracePeriodSeconds": 5})
    done = kubelet.sync()
    assert any(line.startswith("delete rc/mine") and line.endswith(": 200") for line in done), done
    assert not runtime.records[0].running and client.get("pods", NS, "mine").code == 404
