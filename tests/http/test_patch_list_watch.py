"""PATCH, paged lists and watch bookmarks over HTTP, and regressions for bugs the request fuzzer found."""

from __future__ import annotations

import json
import time
from typing import Any

import requests
from kubernetes import client, config, watch

from controlplane.http import HTTPAPIServer

from .conftest import auth

PODS = "/api/v1/namespaces/ns/pods"
MERGE = {"Content-Type": "application/merge-patch+json"}
JSONP = {"Content-Type": "application/json-patch+json"}


def _setup(server: HTTPAPIServer, pods: int = 1) -> None:
    s = requests.Session()
    s.headers.update(auth())
    assert s.post(server.url + "/api/v1/namespaces", json={"metadata": {"name": "ns"}}).status_code == 201
    for i in range(pods):
        body = {"metadata": {"name": f"p{i}", "labels": {"app": "web"}},
                "spec": {"containers": [{"name": "c", "image": "a"}]}}
        assert s.post(server.url + PODS, json=body).status_code == 201


def _patch(server: HTTPAPIServer, path: str, body: Any, headers: dict[str, str]) -> requests.Response:
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return requests.patch(server.url + path, data=data, headers={**auth(), **headers})


def test_patch_over_http_merge_json_and_errors(server: HTTPAPIServer) -> None:
    _setup(server)
    r = _patch(server, PODS + "/p0", {"metadata": {"labels": {"tier": "db"}}}, MERGE)
    assert r.status_code == 200 and r.json()["metadata"]["labels"] == {"app": "web", "tier": "db"}
    r = _patch(server, PODS + "/p0", [{"op": "replace", "path": "/spec/containers/0/image", "value": "b"}], JSONP)
    assert r.status_code == 200 and r.json()["spec"]["containers"][0]["image"] == "b"
    r = _patch(server, PODS + "/p0", [{"op": "test", "path": "/metadata/name", "value": "x"}], JSONP)
    assert r.status_code == 422 and r.json()["message"] == "the server rejected our request due to an error in " \
                                                          "our request"
    r = _patch(server, PODS + "/p0", "{", MERGE)
    assert r.status_code == 400 and r.json()["message"] == "invalid JSON patch"
    r = _patch(server, PODS + "/p0", "{}", {"Content-Type": "application/apply-patch+yaml"})
    assert r.status_code == 415 and r.json()["reason"] == "UnsupportedMediaType"
    r = _patch(server, PODS + "/nope", {}, MERGE)
    assert r.status_code == 404
    r = _patch(server, PODS, {}, MERGE)
    assert r.status_code == 405
    r = _patch(server, PODS + "/p0", b"{" + b" " * (3 * 1024 * 1024) + b"}", MERGE)
    assert r.status_code == 413 and r.json()["code"] == 413
    verbs = requests.get(server.url + "/api/v1", headers=auth()).json()["resources"][1]["verbs"]
    assert "patch" in verbs


def test_list_limit_and_continue_over_http(server: HTTPAPIServer) -> None:
    _setup(server, pods=3)
    got, token = [], None
    while True:
        params = {"limit": "2", **({"continue": token} if token else {})}
        page = requests.get(server.url + PODS, params=params, headers=auth()).json()
        got += [p["metadata"]["name"] for p in page["items"]]
        token = page["metadata"].get("continue")
        if not token:
            break
    assert got == ["p0", "p1", "p2"]
    r = requests.get(server.url + PODS, params={"resourceVersionMatch": "Exact"}, headers=auth())
    assert r.status_code == 422 and r.json()["details"]["kind"] == "ListOptions"
    r = requests.get(server.url + PODS, params={"limit": "x"}, headers=auth())
    assert r.status_code == 400


def test_watch_bookmark_before_the_deadline_and_a_clean_end(server: HTTPAPIServer) -> None:
    _setup(server)
    rv = requests.get(server.url + PODS, headers=auth()).json()["metadata"]["resourceVersion"]
    started = time.monotonic()
    r = requests.get(server.url + PODS, params={"watch": "true", "resourceVersion": rv, "timeoutSeconds": "3",
                                                "allowWatchBookmarks": "true"}, headers=auth(), stream=True,
                     timeout=10)
    events = [json.loads(line) for line in r.iter_lines() if line]  # ends by itself: the stream is closed cleanly
    took = time.monotonic() - started
    assert 2.5 < took < 6
    assert [e["type"] for e in events] == ["BOOKMARK"]
    obj = events[0]["object"]
    mark_rv = obj["metadata"]["resourceVersion"]
    assert obj == {"kind": "Pod", "apiVersion": "v1", "metadata": {"resourceVersion": mark_rv}}
    assert int(obj["metadata"]["resourceVersion"]) >= int(rv)
    # without allowWatchBookmarks there are none
    r = requests.get(server.url + PODS, params={"watch": "1", "resourceVersion": rv, "timeoutSeconds": "3"},
                     headers=auth(), stream=True, timeout=10)
    assert [line for line in r.iter_lines() if line] == []


def test_watch_refuses_resource_version_match_without_send_initial_events(server: HTTPAPIServer) -> None:
    _setup(server)
    r = requests.get(server.url + PODS, params={"watch": "true", "resourceVersionMatch": "NotOlderThan",
                                                "resourceVersion": "0"}, headers=auth(), timeout=5)
    assert r.status_code == 422
    assert r.json()["message"] == ('ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Forbidden: '
                                   "resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided")


def test_watch_timeout_zero_means_the_default(server: HTTPAPIServer) -> None:
    _setup(server)
    r = requests.get(server.url + PODS, params={"watch": "true", "timeoutSeconds": "0"}, headers=auth(),
                     stream=True, timeout=(5, 2))
    lines = r.iter_lines()
    assert json.loads(next(lines))["type"] == "ADDED"  # the stream stays open after the initial state
    r.close()


# ----- regressions: what the request fuzzer found ----------------------------------------------------


def _post(server: HTTPAPIServer, path: str, data: bytes, ctype: str = "application/json") -> requests.Response:
    return requests.post(server.url + path, data=data, headers={**auth(), "Content-Type": ctype})


def test_namespace_without_a_name_is_422_not_500(server: HTTPAPIServer) -> None:
    r = _post(server, "/api/v1/namespaces", b"{}")
    assert r.status_code == 422
    assert r.json()["message"] == 'Namespace "" is invalid: metadata.name: Required value: name or generateName ' \
                                  "is required"


def test_json_go_cannot_decode_is_400_and_lone_surrogates_become_replacement_chars(server: HTTPAPIServer) -> None:
    _setup(server, pods=0)
    for body in (b'{"metadata":{"name":"a"},"spec":{"x":NaN}}', b'{"metadata":{"name":"a"},"spec":{"x":1e999}}',
                 b'{"metadata":{"name":"a"},"spec":{"x":' + b"1" * 5000 + b"}}"):
        r = _post(server, PODS, body)
        assert r.status_code == 400 and r.json()["reason"] == "BadRequest"
    r = _post(server, PODS, b'{"metadata":{"name":"a","annotations":{"k":"\\ud800"}},"spec":{}}')
    assert r.status_code == 201 and r.json()["metadata"]["annotations"] == {"k": "\ufffd"}


def test_unicode_path_segments_are_utf8(server: HTTPAPIServer) -> None:
    _setup(server, pods=0)
    r = requests.get(server.url + PODS + "/%C3%A9t%C3%A9", headers=auth())
    assert r.status_code == 404 and r.json()["details"]["name"] == "été"


def test_invalid_labels_and_annotations_are_422(server: HTTPAPIServer) -> None:
    _setup(server, pods=0)
    body = {"metadata": {"name": "a", "labels": {"ключ": "v"}}, "spec": {}}
    r = _post(server, PODS, json.dumps(body).encode())
    assert r.status_code == 422 and r.json()["details"]["causes"][0]["field"] == "metadata.labels"
    body = {"metadata": {"name": "a", "labels": {"k": "é"}}, "spec": {}}
    r = _post(server, PODS, json.dumps(body).encode())
    assert r.status_code == 422 and "a valid label must be an empty string" in r.json()["message"]
    body = {"metadata": {"name": "a", "annotations": {"a/b/c": "v"}}, "spec": {}}
    assert _post(server, PODS, json.dumps(body).encode()).status_code == 422


def test_create_with_a_non_json_content_type_is_415(server: HTTPAPIServer) -> None:
    _setup(server, pods=0)
    r = _post(server, PODS, json.dumps({"metadata": {"name": "a"}, "spec": {}}).encode(), "text/plain")
    assert r.status_code == 415 and r.json()["reason"] == "UnsupportedMediaType"
    assert _post(server, PODS, json.dumps({"metadata": {"name": "a"}, "spec": {}}).encode(),
                 "application/json; charset=utf-8").status_code == 201


def test_integer_query_parameters_are_parsed_like_go(server: HTTPAPIServer) -> None:
    _setup(server, pods=0)
    for value in ("1_0", " 1", "1.0", "0x1"):
        assert requests.get(server.url + PODS, params={"limit": value}, headers=auth()).status_code == 400


# ----- the official Python client ---------------------------------------------------------------------


def _api(kubeconfig: str) -> client.CoreV1Api:
    cfg = client.Configuration()
    config.load_kube_config(config_file=kubeconfig, client_configuration=cfg)
    return client.CoreV1Api(client.ApiClient(cfg))


def test_python_client_patch_list_pages_and_bookmarks(server: HTTPAPIServer, kubeconfig: str) -> None:
    _setup(server, pods=3)
    api = _api(kubeconfig)
    # the client's default Content-Type is application/json-patch+json, and its rest.py turns it into
    # application/strategic-merge-patch+json for a body that is not a list: a dict is a strategic merge patch
    got = api.patch_namespaced_pod("p0", "ns", {"metadata": {"labels": {"tier": "db"}},
                                                "spec": {"containers": [{"name": "c", "image": "z"}]}})
    assert got.metadata.labels == {"app": "web", "tier": "db"} and got.spec.containers[0].image == "z"
    # a list body goes as a JSON patch
    got = api.patch_namespaced_pod("p0", "ns", [{"op": "remove", "path": "/metadata/labels/tier"}])
    assert got.metadata.labels == {"app": "web"}
    # a merge patch needs the content type passed explicitly (it sends the whole container list)
    got = api.patch_namespaced_pod("p0", "ns", {"metadata": {"labels": {"app": None}},
                                                "spec": {"containers": [{"name": "c", "image": "y"}]}},
                                   _content_type="application/merge-patch+json")
    assert not got.metadata.labels and got.spec.containers[0].image == "y"
    first = api.list_namespaced_pod("ns", limit=2)
    assert [p.metadata.name for p in first.items] == ["p0", "p1"] and first.metadata.remaining_item_count == 1
    rest = api.list_namespaced_pod("ns", limit=2, _continue=first.metadata._continue)
    assert [p.metadata.name for p in rest.items] == ["p2"] and rest.metadata._continue is None
    w = watch.Watch()
    kinds = [e["type"] for e in w.stream(api.list_namespaced_pod, "ns", resource_version=rest.metadata.resource_version,
                                         allow_watch_bookmarks=True, timeout_seconds=3)]
    assert kinds == ["BOOKMARK"]
