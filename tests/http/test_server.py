"""The HTTP server alone: routes, Status shapes for bad input, discovery, auth, watch streams."""

from __future__ import annotations

import json
import socket

import requests

from controlplane.http import MAX_BODY, HTTPAPIServer, serve

from .conftest import auth

NS = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ns"}}


def pod(name: str) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [{"name": "c", "image": "busybox"}]}}


def is_status(body: dict, code: int, reason: str) -> None:
    assert body["kind"] == "Status" and body["apiVersion"] == "v1" and body["status"] == "Failure", body
    assert body["code"] == code and body["reason"] == reason, body
    assert body["metadata"] == {} and body["message"]


def test_unknown_paths_are_404_status(server: HTTPAPIServer) -> None:
    for path in ("/nope", "/api/v1/widgets", "/api/v1/namespaces/ns/nodes", "/api/v1/namespaces/ns/pods/p/exec",
                 "/apis/coordination.k8s.io/v1/pods", "/api/v1/leases", "/api/v1/nodes/a/b"):
        r = requests.get(server.url + path, headers=auth(), timeout=10)
        assert r.status_code == 404, path
        is_status(r.json(), 404, "NotFound")


def test_missing_object_is_404_status(server: HTTPAPIServer) -> None:
    r = requests.get(server.url + "/api/v1/nodes/n1", headers=auth(), timeout=10)
    assert r.status_code == 404
    is_status(r.json(), 404, "NotFound")
    assert r.json()["details"] == {"name": "n1", "kind": "nodes"}


def test_malformed_json_is_400_status(server: HTTPAPIServer) -> None:
    for data in (b"{not json", b"\xff\xfe", b"", b"[" * 100000):
        r = requests.post(server.url + "/api/v1/namespaces", data=data, headers=auth(), timeout=10)
        assert r.status_code == 400, data[:10]
        is_status(r.json(), 400, "BadRequest")
    r = requests.post(server.url + "/api/v1/namespaces", json=[1, 2], headers=auth(), timeout=10)
    assert r.status_code == 400 and r.json()["kind"] == "Status"
    r = requests.get(server.url + "/api/v1/pods?watch=maybe", headers=auth(), timeout=10)
    is_status(r.json(), 400, "BadRequest")
    r = requests.delete(server.url + "/api/v1/nodes/x?gracePeriodSeconds=soon", headers=auth(), timeout=10)
    is_status(r.json(), 400, "BadRequest")


def test_oversized_body_is_413_status(server: HTTPAPIServer) -> None:
    big = json.dumps({"metadata": {"name": "big", "annotations": {"a": "x" * MAX_BODY}}}).encode()
    r = requests.post(server.url + "/api/v1/namespaces", data=big, headers=auth(), timeout=30)
    assert r.status_code == 413
    is_status(r.json(), 413, "RequestEntityTooLarge")
    # and the server still answers afterwards
    assert requests.get(server.url + "/api/v1/namespaces", headers=auth(), timeout=10).status_code == 200


def test_missing_or_wrong_token_is_401_status(server: HTTPAPIServer) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic a2V5"}):
        r = requests.get(server.url + "/api/v1/namespaces", headers=headers, timeout=10)
        assert r.status_code == 401
        is_status(r.json(), 401, "Unauthorized")


def test_no_token_configured_means_open() -> None:
    with serve() as s:
        assert requests.get(s.url + "/api/v1/namespaces", timeout=10).status_code == 200
        assert s.url.startswith("http://127.0.0.1:") and s.port > 0


def test_discovery(server: HTTPAPIServer) -> None:
    def get(path: str) -> dict:
        r = requests.get(server.url + path, headers=auth(), timeout=10)
        assert r.status_code == 200, path
        return r.json()

    assert get("/version")["major"] == "1"
    assert get("/api")["versions"] == ["v1"]
    core = get("/api/v1")
    assert core["kind"] == "APIResourceList" and core["groupVersion"] == "v1"
    names = {r["name"]: r for r in core["resources"]}
    assert set(names) == {"namespaces", "nodes", "nodes/status", "pods", "pods/binding", "pods/status"}
    assert names["pods/status"]["verbs"] == ["get", "patch", "update"] and not names["nodes/status"]["namespaced"]
    assert names["pods"]["namespaced"] and not names["nodes"]["namespaced"] and names["pods"]["kind"] == "Pod"
    assert "watch" in names["pods"]["verbs"] and names["pods/binding"]["verbs"] == ["create"]
    groups = get("/apis")
    assert groups["kind"] == "APIGroupList"
    assert [g["name"] for g in groups["groups"]] == ["coordination.k8s.io"]
    coord = get("/apis/coordination.k8s.io/v1")
    assert coord["groupVersion"] == "coordination.k8s.io/v1"
    assert [(r["name"], r["kind"], r["namespaced"]) for r in coord["resources"]] == [("leases", "Lease", True)]


def test_status_subresource(server: HTTPAPIServer) -> None:
    u, h = server.url, auth()
    requests.post(u + "/api/v1/namespaces", json={"metadata": {"name": "st"}}, headers=h, timeout=10)
    body = {"metadata": {"name": "p"}, "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "i"}]}}
    created = requests.post(u + "/api/v1/namespaces/st/pods", json=body, headers=h, timeout=10).json()
    # a PUT of the status keeps the spec; a PUT of the pod keeps the status
    sent = {**created, "spec": {**created["spec"], "restartPolicy": "Always"},
            "status": {"phase": "Running", "hostIP": "10.0.0.1"}}
    r = requests.put(u + "/api/v1/namespaces/st/pods/p/status", json=sent, headers=h, timeout=10)
    assert r.status_code == 200, r.text
    assert r.json()["status"]["phase"] == "Running" and r.json()["spec"]["restartPolicy"] == "Never"
    got = requests.get(u + "/api/v1/namespaces/st/pods/p/status", headers=h, timeout=10).json()
    assert got["status"]["hostIP"] == "10.0.0.1"
    r = requests.patch(u + "/api/v1/namespaces/st/pods/p/status", json={"status": {"phase": "Succeeded"}},
                       headers={**h, "Content-Type": "application/merge-patch+json"}, timeout=10)
    assert r.status_code == 200 and r.json()["status"]["phase"] == "Succeeded"
    assert requests.delete(u + "/api/v1/namespaces/st/pods/p/status", headers=h, timeout=10).status_code == 405
    assert requests.get(u + "/api/v1/namespaces/st/leases/l/status", headers=h, timeout=10).status_code == 404
    node = requests.post(u + "/api/v1/nodes", json={"metadata": {"name": "n1"}}, headers=h, timeout=10).json()
    node["status"] = {"conditions": [{"type": "Ready", "status": "True"}]}
    node["spec"] = {"unschedulable": True}
    r = requests.put(u + "/api/v1/nodes/n1/status", json=node, headers=h, timeout=10)
    assert r.status_code == 200 and r.json()["status"]["conditions"][0]["type"] == "Ready"
    assert not r.json().get("spec", {}).get("unschedulable")


def test_crud_and_wall_clock(server: HTTPAPIServer) -> None:
    u, h = server.url, auth()
    assert requests.post(u + "/api/v1/namespaces", json=NS, headers=h, timeout=10).status_code == 201
    r = requests.post(u + "/api/v1/namespaces/ns/pods", json=pod("p"), headers=h, timeout=10)
    assert r.status_code == 201
    created = r.json()
    assert created["metadata"]["creationTimestamp"].startswith("20") and not created["metadata"][
        "creationTimestamp"].startswith("2026-01-01T00:00:00")
    got = requests.get(u + "/api/v1/namespaces/ns/pods/p", headers=h, timeout=10).json()
    assert got == created
    items = requests.get(u + "/api/v1/pods", headers=h, timeout=10).json()["items"]
    assert [i["metadata"]["name"] for i in items] == ["p"]
    lease = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "l", "labels": {"a": "b"}},
             "spec": {"holderIdentity": "x"}}
    r = requests.post(u + "/apis/coordination.k8s.io/v1/namespaces/ns/leases", json=lease, headers=h, timeout=10)
    assert r.status_code == 201, r.json()
    sel = requests.get(u + "/apis/coordination.k8s.io/v1/leases?labelSelector=a%3Db", headers=h, timeout=10).json()
    assert [i["metadata"]["name"] for i in sel["items"]] == ["l"]
    assert requests.get(u + "/apis/coordination.k8s.io/v1/leases?labelSelector=a%3Dc", headers=h,
                        timeout=10).json()["items"] == []
    body = r.json()
    body["spec"]["holderIdentity"] = "y"
    r = requests.put(u + "/apis/coordination.k8s.io/v1/namespaces/ns/leases/l", json=body, headers=h, timeout=10)
    assert r.status_code == 200 and r.json()["spec"]["holderIdentity"] == "y"
    r = requests.put(u + "/apis/coordination.k8s.io/v1/namespaces/ns/leases/l", json=body, headers=h, timeout=10)
    assert r.status_code == 409 and r.json()["reason"] == "Conflict"
    # gracePeriodSeconds as a query parameter: a bound pod goes at once with 0
    binding = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "p"}, "target": {"name": "n1"}}
    assert requests.post(u + "/api/v1/namespaces/ns/pods/p/binding", json=binding, headers=h,
                         timeout=10).status_code == 201
    r = requests.delete(u + "/api/v1/namespaces/ns/pods/p?gracePeriodSeconds=0", headers=h, timeout=10)
    assert r.status_code == 200
    assert requests.get(u + "/api/v1/namespaces/ns/pods/p", headers=h, timeout=10).status_code == 404


def test_watch_stream_and_timeout(server: HTTPAPIServer) -> None:
    u, h = server.url, auth()
    requests.post(u + "/api/v1/namespaces", json=NS, headers=h, timeout=10)
    rv = requests.post(u + "/api/v1/namespaces/ns/pods", json=pod("a"), headers=h,
                       timeout=10).json()["metadata"]["resourceVersion"]
    requests.post(u + "/api/v1/namespaces/ns/pods", json=pod("b"), headers=h, timeout=10)
    # a watch from rv with timeoutSeconds: the change after rv, then the server ends the stream
    r = requests.get(u + f"/api/v1/namespaces/ns/pods?watch=1&resourceVersion={rv}&timeoutSeconds=1",
                     headers=h, stream=True, timeout=10)
    assert r.status_code == 200 and r.headers["Transfer-Encoding"] == "chunked"
    events = [json.loads(line) for line in r.iter_lines() if line]
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [("ADDED", "b")]


def test_expired_watch_is_error_event(server: HTTPAPIServer) -> None:
    u, h = server.url, auth()
    requests.post(u + "/api/v1/namespaces", json=NS, headers=h, timeout=10)
    server.api.compact()
    requests.post(u + "/api/v1/namespaces/ns/pods", json=pod("a"), headers=h, timeout=10)
    server.api.compact()
    r = requests.get(u + "/api/v1/namespaces/ns/pods?watch=true&resourceVersion=1", headers=h, stream=True,
                     timeout=10)
    assert r.status_code == 200
    events = [json.loads(line) for line in r.iter_lines() if line]
    assert len(events) == 1 and events[0]["type"] == "ERROR"
    is_status(events[0]["object"], 410, "Expired")


def test_a_client_leaving_a_watch_frees_the_server(server: HTTPAPIServer) -> None:
    # a raw socket: open a watch, read the headers, hang up; the server must notice and stop serving it
    host, port = "127.0.0.1", server.port
    for _ in range(3):
        s = socket.create_connection((host, port), timeout=10)
        s.sendall(f"GET /api/v1/pods?watch=1 HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer "
                  f"{auth()['Authorization'].split()[1]}\r\n\r\n".encode())
        assert s.recv(4096).startswith(b"HTTP/1.1 200")
        s.close()
    assert requests.get(server.url + "/api/v1/pods", headers=auth(), timeout=10).status_code == 200


def _watch_names(r: requests.Response) -> list[tuple[str, str]]:
    assert r.status_code == 200, r.text
    return [(e["type"], e["object"]["metadata"]["name"]) for e in (json.loads(x) for x in r.iter_lines() if x)]


def test_the_deprecated_watch_prefix_serves_the_same_watches(server: HTTPAPIServer) -> None:
    # apiserver/pkg/endpoints/installer.go: WATCHLIST and WATCH under watch/ (answers measured on v1.37.2)
    u, h = server.url, auth()
    requests.post(u + "/api/v1/namespaces", json=NS, headers=h, timeout=10)
    for name in ("pa", "pb"):
        requests.post(u + "/api/v1/namespaces/ns/pods", json=pod(name), headers=h, timeout=10)
    requests.post(u + "/api/v1/nodes", json={"metadata": {"name": "n1"}}, headers=h, timeout=10)
    requests.post(u + "/apis/coordination.k8s.io/v1/namespaces/ns/leases", json={"metadata": {"name": "l1"}},
                  headers=h, timeout=10)
    for path, want in (("/api/v1/watch/pods", [("ADDED", "pa"), ("ADDED", "pb")]),
                       ("/api/v1/watch/namespaces/ns/pods", [("ADDED", "pa"), ("ADDED", "pb")]),
                       ("/api/v1/watch/namespaces/ns/pods/pa", [("ADDED", "pa")]),
                       ("/api/v1/watch/namespaces/ns/pods/pa/", [("ADDED", "pa")]),
                       ("/api/v1/watch/namespaces/ns/pods/zz", []),
                       ("/api/v1/watch/nodes", [("ADDED", "n1")]),
                       ("/api/v1/watch/nodes/n1", [("ADDED", "n1")]),
                       ("/api/v1/watch/namespaces/ns", [("ADDED", "ns")]),
                       ("/apis/coordination.k8s.io/v1/watch/namespaces/ns/leases", [("ADDED", "l1")]),
                       ("/apis/coordination.k8s.io/v1/watch/namespaces/ns/leases/l1", [("ADDED", "l1")]),
                       # a watch whatever ?watch= says, with any selector that agrees with the name in the URL
                       ("/api/v1/watch/namespaces/ns/pods/pa?watch=false", [("ADDED", "pa")]),
                       ("/api/v1/watch/namespaces/ns/pods/pa?fieldSelector=metadata.name%3D%3Dpa", [("ADDED", "pa")]),
                       ("/api/v1/namespaces/ns/pods?watch=true&fieldSelector=metadata.name%3Dpb", [("ADDED", "pb")])):
        sep = "&" if "?" in path else "?"
        r = requests.get(f"{u}{path}{sep}timeoutSeconds=1", headers=h, stream=True, timeout=10)
        assert _watch_names(r) == want, path
    # no watch of a subresource, of the older bindings URL, of a name across namespaces, nor twice prefixed
    for path in ("/api/v1/watch", "/api/v1/watch/namespaces/ns/pods/pa/binding", "/api/v1/watch/namespaces/ns/bindings",
                 "/api/v1/watch/pods/pa", "/api/v1/watch/watch/pods", "/api/v1/watch/leases",
                 "/api/v1/watch/namespaces/ns/pods/pa/x/y"):
        r = requests.get(u + path, headers=h, timeout=10)
        assert r.status_code == 404, path
        is_status(r.json(), 404, "NotFound")
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        r = requests.request(method, u + "/api/v1/watch/namespaces/ns/pods/pa", headers=h, timeout=10)
        assert r.status_code == 405, method
        is_status(r.json(), 405, "MethodNotAllowed")
        assert r.json()["message"] == "the server does not allow this method on the requested resource"


def test_field_selector_refusals_are_400_status(server: HTTPAPIServer) -> None:
    u, h = server.url, auth()
    requests.post(u + "/api/v1/namespaces", json=NS, headers=h, timeout=10)
    for path, message in (
            ("/api/v1/watch/namespaces/ns/pods/pa?fieldSelector=metadata.name%3Dpb",
             "fieldSelector metadata.name doesn't match requested name"),
            ("/api/v1/watch/namespaces/ns/pods/pa?fieldSelector=metadata.namespace%3Dns",
             "fieldSelector metadata.name doesn't match requested name"),
            ("/api/v1/watch/namespaces/ns/pods/pa?fieldSelector=foo%3Dbar", "field label not supported: foo"),
            ("/api/v1/namespaces/ns/pods?watch=true&fieldSelector=foo%3Dbar", "field label not supported: foo"),
            ("/api/v1/namespaces/ns/pods?fieldSelector=foo%3Dbar", "field label not supported: foo"),
            ("/api/v1/nodes?watch=1&fieldSelector=metadata.namespace%3Dns",
             "field label not supported: metadata.namespace"),
            ("/apis/coordination.k8s.io/v1/namespaces/ns/leases?watch=1&fieldSelector=foo%3Dbar",
             '"foo" is not a known field selector: only "metadata.name", "metadata.namespace"'),
            ("/api/v1/namespaces/ns/pods?watch=1&fieldSelector=metadata.name",
             "invalid selector: 'metadata.name'; can't understand 'metadata.name'"),
            ("/api/v1/namespaces/ns/pods?watch=1&fieldSelector=metadata.name%3Da%3Db",
             "invalid field selector: unescaped character in value: 61")):
        r = requests.get(u + path, headers=h, timeout=10)
        assert r.status_code == 400, path
        is_status(r.json(), 400, "BadRequest")
        assert r.json()["message"] == message, path
