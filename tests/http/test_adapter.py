"""HTTPTarget against the bundled server: every Target call, and watch draining."""

from __future__ import annotations

import time

import pytest

from adapters.base import Target, TargetError
from adapters.http import HTTPTarget

NS = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ns"}}
POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "labels": {"app": "x"}},
       "spec": {"containers": [{"name": "c", "image": "busybox"}]}}


def test_protocol_and_round_trips(target: HTTPTarget) -> None:
    assert isinstance(target, Target) and target.name == "http" and target.controls is None
    assert target.create("namespaces", None, NS).code == 201
    w = target.watch("pods", "ns")
    created = target.create("pods", "ns", POD)
    assert created.code == 201
    rv = created.body["metadata"]["resourceVersion"]
    assert target.get("pods", "ns", "p").body == created.body
    assert [i["metadata"]["name"] for i in target.list("pods", None, label_selector="app=x").body["items"]] == ["p"]
    assert target.list("pods", "ns", label_selector="app=y").body["items"] == []
    body = dict(created.body, metadata={**created.body["metadata"], "labels": {"app": "z"}})
    updated = target.update("pods", "ns", "p", body)
    assert updated.code == 200 and updated.body["metadata"]["labels"] == {"app": "z"}
    stale = target.update("pods", "ns", "p", body)
    assert stale.code == 409 and stale.body["reason"] == "Conflict"
    bound = target.bind("ns", "p", {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "p"},
                                    "target": {"kind": "Node", "name": "n1"}})
    assert bound.code == 201 and bound.body["status"] == "Success"
    again = target.bind("ns", "p", {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "p"},
                                    "target": {"kind": "Node", "name": "n2"}})
    assert again.code == 409
    graceful = target.delete("pods", "ns", "p", options={"gracePeriodSeconds": 30})
    assert graceful.code == 200 and graceful.body["metadata"]["deletionGracePeriodSeconds"] == 30
    gone = target.delete("pods", "ns", "p", options={"gracePeriodSeconds": 0})
    assert gone.code == 200
    last_rv = gone.body["metadata"]["resourceVersion"]
    assert target.get("pods", "ns", "p").code == 404
    first = w.drain(until_rv=rv, timeout=10)
    assert first and first[0]["type"] == "ADDED" and first[0]["object"]["metadata"]["resourceVersion"] == rv
    rest = w.drain(until_rv=last_rv, timeout=10)
    types = [e["type"] for e in first + rest]
    assert types[0] == "ADDED" and types[-1] == "DELETED" and set(types[1:-1]) == {"MODIFIED"}
    # already seen: no wait
    t0 = time.monotonic()
    assert w.drain(until_rv=last_rv, timeout=10) == []
    assert time.monotonic() - t0 < 5
    w.close()
    assert w.ended


def test_watch_from_resource_version_and_refused_watch(target: HTTPTarget) -> None:
    target.create("namespaces", None, NS)
    rv = target.create("pods", "ns", POD).body["metadata"]["resourceVersion"]
    w = target.watch("pods", None, resource_version=rv)
    other = target.create("pods", "ns", {**POD, "metadata": {"name": "q"}}).body["metadata"]["resourceVersion"]
    events = w.drain(until_rv=other, timeout=10)
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [("ADDED", "q")]
    bad = target.watch("pods", "ns", label_selector="a in (")
    events = bad.drain()
    assert bad.ended and events[0]["type"] == "ERROR" and events[0]["object"]["code"] == 400


def test_close_ends_open_watches(target: HTTPTarget) -> None:
    ws = [target.watch("nodes") for _ in range(3)]
    target.close()
    assert all(w.ended for w in ws)


def test_wrong_context_and_unreachable_server(kubeconfig: str, tmp_path) -> None:
    with pytest.raises(TargetError):
        HTTPTarget(kubeconfig, context="nope")
    # a port nobody listens on: bind one, note it, release it
    import socket

    from controlplane.__main__ import write_kubeconfig

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    path = tmp_path / "dead"
    write_kubeconfig(str(path), f"http://127.0.0.1:{port}", "x")
    t = HTTPTarget(str(path))
    with pytest.raises(TargetError):
        t.get("nodes", None, "n")
    t.close()


@pytest.mark.parametrize("form", ["", "path"])
def test_a_watch_of_one_name_in_each_url_form(target: HTTPTarget, kubeconfig: str, form: str) -> None:
    from adapters.inprocess import InProcessTarget
    from adapters.scoped import ScopedTarget

    scoped = ScopedTarget(HTTPTarget(kubeconfig), run_id="kwatch01")
    builtin = InProcessTarget()
    try:
        for t in (target, builtin, scoped):
            assert t.create("namespaces", None, NS).code == 201
            for name in ("p", "q"):
                assert t.create("pods", "ns", {**POD, "metadata": {"name": name}}).code == 201
            assert t.create("nodes", None, {"metadata": {"name": "n1"}}).code == 201
            assert t.create("nodes", None, {"metadata": {"name": "n2"}}).code == 201
        for t in (target, builtin, scoped):
            seen = []
            for resource, ns, name in (("pods", "ns", "q"), ("pods", None, "q"), ("nodes", None, "n2"),
                                       ("pods", "ns", None)):
                w = t.watch(resource, ns, name=name, form=form)
                events = w.drain(timeout=5)
                while more := w.drain(timeout=0.3):  # the rest of the initial events, however they arrive
                    events += more
                seen.append([(e["type"], e["object"]["metadata"]["name"]) for e in events])
                w.close()
            # the raw target shares its server with the scoped one, whose run has a pod q in its own namespace;
            # the scoped one sees only its run, under the names it was given
            across = [("ADDED", "q")] * (2 if t is target else 1)
            assert seen == [[("ADDED", "q")], across, [("ADDED", "n2")], [("ADDED", "p"), ("ADDED", "q")]], (t, seen)
        with pytest.raises(TargetError):
            target.watch("pods", "ns", form="nope")
    finally:
        scoped.close()
        builtin.close()


def test_status_subresource_urls(target: HTTPTarget) -> None:
    """get, update and patch with ``subresource="status"`` reach pods/{name}/status and nodes/{name}/status."""
    assert target._path("pods", "ns", "p", "status") == "/api/v1/namespaces/ns/pods/p/status"
    assert target._path("nodes", None, "n", "status") == "/api/v1/nodes/n/status"
    target.create("namespaces", None, NS)
    pod = target.create("pods", "ns", POD).body
    sent = {**pod, "spec": {**pod["spec"], "restartPolicy": "Never"}, "status": {"phase": "Running"}}
    put = target.update("pods", "ns", "p", sent, subresource="status")
    assert put.code == 200 and put.body["status"]["phase"] == "Running" and "restartPolicy" not in put.body["spec"]
    assert target.get("pods", "ns", "p", subresource="status").body == put.body
    patched = target.patch("pods", "ns", "p", {"status": {"phase": "Succeeded"}}, subresource="status")
    assert patched.code == 200 and patched.body["status"]["phase"] == "Succeeded"
    # the main resource's PUT keeps the status the subresource wrote
    again = target.update("pods", "ns", "p", {**patched.body, "status": {"phase": "Failed"}})
    assert again.code == 200 and again.body["status"]["phase"] == "Succeeded"
    assert target.update("pods", "ns", "q", {**sent, "metadata": {"name": "q"}}, subresource="status").code == 404
    node = target.create("nodes", None, {"metadata": {"name": "n"}}).body
    node["status"] = {"conditions": [{"type": "Ready", "status": "True"}]}
    r = target.patch("nodes", None, "n", [{"op": "add", "path": "/status", "value": node["status"]}],
                     patch_type="json", subresource="status")
    assert r.code == 200 and r.body["status"]["conditions"][0]["type"] == "Ready"
