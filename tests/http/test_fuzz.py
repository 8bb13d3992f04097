"""A request fuzzer against the served bundled API server: every bad request gets a 4xx Status, nothing changes.

One server for the whole run. Hypothesis draws batches of requests that are
wrong by construction (malformed JSON, wrong apiVersion or kind, invalid
names, missing fields, wrong types, unknown paths and verbs, bodies over
3 MiB, wrong content types, unicode everywhere, bad query parameters, patches
and deletes that cannot apply); a few threads send each batch. Every answer
must be a 4xx whose body is a Kubernetes ``Status`` with the same code, the
connection must hold, and the seed objects must be byte-for-byte what they
were before (same resourceVersion and content). The test prints how many
requests went out and how many got each status.
"""

from __future__ import annotations

import collections
import json
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

import pytest
import requests
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from controlplane.http import MAX_BODY, HTTPAPIServer

TOKEN = "kubeprop-fuzz-token"
#: requests the run must send at least (Hypothesis stops drawing batches once it has)
TARGET_REQUESTS = 10_000
LARGE_EVERY = 12
THREADS = 4
NS = "fuzz"
SEEDS = [
    ("/api/v1/namespaces/fuzz", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}}),
    ("/api/v1/namespaces/fuzz/pods/p0", {"apiVersion": "v1", "kind": "Pod",
                                         "metadata": {"name": "p0", "labels": {"app": "web"},
                                                      "finalizers": ["kubeprop.io/keep"]},
                                         "spec": {"containers": [{"name": "c0", "image": "busybox"}]}}),
    ("/api/v1/namespaces/fuzz/pods/p1", {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p1"},
                                         "spec": {"nodeName": "n0", "containers": [{"name": "c", "image": "x"}]}}),
    ("/api/v1/nodes/n0", {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n0", "labels": {"z": "a"}}}),
    ("/apis/coordination.k8s.io/v1/namespaces/fuzz/leases/l0",
     {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "l0"},
      "spec": {"holderIdentity": "a", "leaseDurationSeconds": 15}}),
]
COLLECTIONS = {
    "pods": ("/api/v1/namespaces/fuzz/pods", "v1", "Pod"),
    "nodes": ("/api/v1/nodes", "v1", "Node"),
    "leases": ("/apis/coordination.k8s.io/v1/namespaces/fuzz/leases", "coordination.k8s.io/v1", "Lease"),
    "namespaces": ("/api/v1/namespaces", "v1", "Namespace"),
}
SEED_OBJECTS = {"pods": ["p0", "p1"], "nodes": ["n0"], "leases": ["l0"], "namespaces": [NS]}


@dataclass
class Req:
    method: str
    path: str
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] | None = None
    auth: bool = True
    chunked: bool = False

    def describe(self) -> str:
        size = "" if self.body is None else f" ({len(self.body)} bytes{', chunked' if self.chunked else ''})"
        return f"{self.method} {self.path}{'?' + urlencode(self.params) if self.params else ''}{size} {self.headers}"


# ----- what the requests are made of -------------------------------------------------------------------

text = st.text(max_size=24)
unicode_text = st.text(st.characters(min_codepoint=0x80, max_codepoint=0x2FFFF, exclude_categories=("Cs",)),
                       min_size=1, max_size=12)
resources = st.sampled_from(sorted(COLLECTIONS))
json_scalars = st.one_of(st.none(), st.booleans(), st.integers(-(2**63), 2**63 - 1), st.floats(allow_nan=False,
                         allow_infinity=False), text)
json_values = st.recursive(json_scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                                 st.dictionaries(text, inner, max_size=3)),
                           max_leaves=8)


@st.composite
def invalid_names(draw: st.DrawFn) -> str:
    """A name no resource accepts: a character outside [a-z0-9.-], or too long, or badly placed dashes."""
    kind = draw(st.integers(0, 3))
    if kind == 0:
        return draw(text) + draw(st.sampled_from("_A /:@!é✓")) + draw(text)
    if kind == 1:
        return draw(unicode_text)
    if kind == 2:
        return "a" * draw(st.integers(254, 300))
    return draw(st.sampled_from(["-a", "a-", ".a", "a..b", "A"]))


def _seg(value: str) -> str:
    return quote(value, safe="")


def _body(value: Any) -> bytes:
    return json.dumps(value).encode()


def _valid_body(resource: str, name: str) -> dict[str, Any]:
    _, api_version, kind = COLLECTIONS[resource]
    body: dict[str, Any] = {"apiVersion": api_version, "kind": kind, "metadata": {"name": name}}
    if resource == "pods":
        body["spec"] = {"containers": [{"name": "c", "image": "x"}]}
    return body


def _object_path(resource: str, name: str) -> str:
    return f"{COLLECTIONS[resource][0]}/{_seg(name)}"


@st.composite
def malformed_json(draw: st.DrawFn) -> Req:
    resource = draw(resources)
    # whatever comes before it, a trailing "{" leaves the document unfinished
    raw = draw(st.one_of(text.map(str.encode), st.binary(max_size=40))) + b"{"
    method, path = draw(st.sampled_from([
        ("POST", COLLECTIONS[resource][0]),
        ("PUT", _object_path(resource, SEED_OBJECTS[resource][0])),
        ("DELETE", _object_path(resource, SEED_OBJECTS[resource][0])),
        ("PATCH", _object_path(resource, SEED_OBJECTS[resource][0])),
    ]))
    headers = {"Content-Type": "application/merge-patch+json"} if method == "PATCH" else {
        "Content-Type": "application/json"}
    return Req(method, path, raw, headers)


@st.composite
def wrong_type_meta(draw: st.DrawFn) -> Req:
    resource = draw(resources)
    body = _valid_body(resource, SEED_OBJECTS[resource][0])
    where = draw(st.sampled_from(["apiVersion", "kind", "metadata", "name", "labels", "annotations", "finalizers",
                                  "spec", "status", "generation", "body"]))
    if where in ("apiVersion", "kind"):
        body[where] = draw(text.filter(lambda t: t not in ("", COLLECTIONS[resource][1], COLLECTIONS[resource][2])))
    elif where == "metadata":
        body["metadata"] = draw(st.sampled_from([5, "x", [], True]))
    elif where == "name":
        body["metadata"]["name"] = draw(st.sampled_from([5, [], {"a": "b"}, True, 1.5]))
    elif where in ("labels", "annotations"):
        body["metadata"][where] = draw(st.sampled_from([5, "x", [1], {"k": 5}, {"k": ["v"]}]))
    elif where == "finalizers":
        body["metadata"]["finalizers"] = draw(st.sampled_from(["x", 5, [5], [{"a": 1}]]))
    elif where == "generation":
        body["metadata"]["generation"] = draw(st.sampled_from(["1", 1.5, [], True]))
    elif where in ("spec", "status"):
        body[where] = draw(st.sampled_from([5, "x", [], True]))
    else:
        body = draw(st.one_of(st.lists(json_values, max_size=3), json_scalars.filter(lambda v: v is not None)))
    method = draw(st.sampled_from(["POST", "PUT"]))
    path = COLLECTIONS[resource][0] if method == "POST" else _object_path(resource, SEED_OBJECTS[resource][0])
    return Req(method, path, _body(body), {"Content-Type": "application/json"})


@st.composite
def invalid_name_requests(draw: st.DrawFn) -> Req:
    resource = draw(resources)
    name = draw(invalid_names())
    body = _valid_body(resource, name)
    if draw(st.booleans()):
        body["metadata"]["labels"] = {draw(unicode_text): draw(text)}
    method = draw(st.sampled_from(["POST", "POST", "GET", "DELETE", "PUT", "PATCH"]))
    if method == "POST":
        return Req("POST", COLLECTIONS[resource][0], _body(body), {"Content-Type": "application/json"})
    path = _object_path(resource, name)
    if method == "PATCH":
        return Req("PATCH", path, _body({"metadata": {"labels": {"a": "b"}}}),
                   {"Content-Type": "application/merge-patch+json"})
    return Req(method, path, _body(body) if method == "PUT" else None,
               {"Content-Type": "application/json"} if method == "PUT" else {})


@st.composite
def missing_fields(draw: st.DrawFn) -> Req:
    resource = draw(resources)
    _, api_version, kind = COLLECTIONS[resource]
    body = draw(st.sampled_from([
        {},
        {"apiVersion": api_version, "kind": kind},
        {"apiVersion": api_version, "kind": kind, "metadata": {}},
        {"apiVersion": api_version, "kind": kind, "metadata": {"name": ""}},
        {"apiVersion": api_version, "kind": kind, "metadata": {"labels": {"a": "b"}}},
    ]))
    if draw(st.booleans()):
        return Req("POST", COLLECTIONS[resource][0], _body(body), {"Content-Type": "application/json"})
    # an update with no name (or another name) than the URL's
    return Req("PUT", _object_path(resource, SEED_OBJECTS[resource][0]), _body(body),
               {"Content-Type": "application/json"})


@st.composite
def invalid_labels(draw: st.DrawFn) -> Req:
    """Labels no object may carry, on a new object or on a seed (create, update, patch)."""
    resource = draw(resources)
    if draw(st.booleans()):
        key, value = draw(unicode_text) + draw(text), draw(text)
    else:
        key, value = draw(st.sampled_from(["app", "kubeprop.io/x"])), draw(unicode_text)
    how = draw(st.sampled_from(["create", "patch", "update"]))
    if how == "create":
        body = _valid_body(resource, "fuzz-new-" + draw(st.sampled_from("abcdefgh")))
        body["metadata"]["labels"] = {key: value}
        return Req("POST", COLLECTIONS[resource][0], _body(body), {"Content-Type": "application/json"})
    path = _object_path(resource, SEED_OBJECTS[resource][0])
    if how == "patch":
        return Req("PATCH", path, _body({"metadata": {"labels": {key: value}}}),
                   {"Content-Type": "application/merge-patch+json"})
    body = _valid_body(resource, SEED_OBJECTS[resource][0])
    body["metadata"]["labels"] = {key: value}
    return Req("PUT", path, _body(body), {"Content-Type": "application/json"})


PATCH_TYPES = ("application/json-patch+json", "application/merge-patch+json", "application/strategic-merge-patch+json")
UNKNOWN_METHODS = ["OPTIONS", "TRACE", "FOO", "PROPFIND", "LOCK"]


@st.composite
def unknown_paths_and_verbs(draw: st.DrawFn) -> Req:
    segs = draw(st.lists(st.one_of(text, unicode_text).filter(bool), min_size=0, max_size=5))
    root = draw(st.sampled_from(["/api/v1/", "/apis/", "/apis/coordination.k8s.io/v1/", "/", "/api/v2/",
                                 "/api/v1/namespaces/fuzz/", "/apis/example.com/v1/"]))
    path = root + "/".join(_seg(s) for s in segs)
    known = {p for p, _ in SEEDS} | {c[0] for c in COLLECTIONS.values()} | {
        "/api/v1", "/api", "/apis", "/version", "/apis/coordination.k8s.io/v1", "/apis/coordination.k8s.io",
        "/api/v1/pods", "/apis/coordination.k8s.io/v1/leases", "/healthz", "/livez", "/readyz", "/"}
    if path.rstrip("/") in known or path in known or not segs:
        # a path that is served: ask it with a verb it does not take
        return Req(draw(st.sampled_from(UNKNOWN_METHODS)), path or "/")
    method = draw(st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", *UNKNOWN_METHODS]))
    body = _body({"kind": "Pod"}) if method in ("POST", "PUT", "PATCH") else None
    return Req(method, path, body, {"Content-Type": "application/json"} if body else {})


@st.composite
def wrong_verbs(draw: st.DrawFn) -> Req:
    resource = draw(resources)
    collection = COLLECTIONS[resource][0]
    obj = _object_path(resource, SEED_OBJECTS[resource][0])
    method, path = draw(st.sampled_from([
        ("PUT", collection), ("DELETE", collection), ("PATCH", collection), ("POST", obj),
        ("GET", "/api/v1/namespaces/fuzz/pods/p0/binding"), ("PUT", "/api/v1/namespaces/fuzz/pods/p0/binding"),
        ("POST", "/version"), ("DELETE", "/api/v1"), ("POST", "/api/v1/pods"),
        ("POST", "/apis/coordination.k8s.io/v1/leases"),
    ]))
    return Req(method, path, _body(_valid_body(resource, "x")) if method in ("PUT", "POST", "PATCH") else None,
               {"Content-Type": "application/json"})


@st.composite
def too_large(draw: st.DrawFn) -> Req:
    resource = draw(resources)
    size = MAX_BODY + draw(st.integers(1, 4096))
    method, path, ctype = draw(st.sampled_from([
        ("POST", COLLECTIONS[resource][0], "application/json"),
        ("PUT", _object_path(resource, SEED_OBJECTS[resource][0]), "application/json"),
        ("PATCH", _object_path(resource, SEED_OBJECTS[resource][0]), "application/merge-patch+json"),
    ]))
    filler = json.dumps({"metadata": {"name": "x", "annotations": {"a": ""}}})
    body = (filler[:-3] + "x" * (size - len(filler)) + filler[-3:]).encode()
    return Req(method, path, body, {"Content-Type": ctype}, chunked=draw(st.integers(0, 3)) == 0)


@st.composite
def wrong_content_types(draw: st.DrawFn) -> Req:
    resource = draw(resources)
    ctype = draw(st.one_of(
        st.sampled_from(["text/plain", "application/xml", "application/apply-patch+yaml", "application/cbor",
                         "application/json-patch", "multipart/form-data", "Application/Merge-Patch+Json",
                         "*/*", "application"]),
        text.filter(lambda t: t.strip() != "" and t.isascii() and t.isprintable()
                    and t.split(";", 1)[0].strip() not in PATCH_TYPES)))
    if draw(st.booleans()):
        path = _object_path(resource, SEED_OBJECTS[resource][0])
        return Req("PATCH", path, _body({"metadata": {"labels": {"fuzz": "yes"}}}), {"Content-Type": ctype})
    ctype = ctype if not ctype.lower().startswith(("application/json", " application/json")) else "text/plain"
    if ctype.split(";", 1)[0].strip().lower() == "application/json":
        ctype = "text/plain"
    return Req("POST", COLLECTIONS[resource][0], _body(_valid_body(resource, "fuzz-ct")), {"Content-Type": ctype})


@st.composite
def bad_query_params(draw: st.DrawFn) -> Req:
    resource = draw(resources)
    collection = COLLECTIONS[resource][0]
    name, value = draw(st.sampled_from([
        ("labelSelector", "a in ("), ("labelSelector", "=x"), ("labelSelector", "!"), ("labelSelector", "a=b=c"),
        ("labelSelector", "a notin x"), ("limit", "abc"), ("limit", "1.5"), ("limit", "1_0"), ("limit", " 1"),
        ("resourceVersion", "abc"), ("resourceVersion", "-1"), ("resourceVersion", "1.0"),
        ("resourceVersionMatch", "Foo"), ("resourceVersionMatch", "Exact"), ("continue", "abc"),
        ("continue", "e30"), ("continue", "!!!"), ("watch", "maybe"), ("timeoutSeconds", "soon"),
        ("allowWatchBookmarks", "yes"),
    ]))
    params = {name: value}
    if name == "labelSelector" and value == "=x" and draw(st.booleans()):
        params[name] = value + draw(text)  # an empty key stays an error whatever follows
    if name in ("resourceVersion", "limit", "continue") and draw(st.booleans()):
        params[name] = value + draw(unicode_text)
    if name == "resourceVersionMatch" and value == "Exact":
        params["resourceVersion"] = "0"
    # a watch ignores limit and continue (it would open), so only parameters a watch also refuses go with one
    if name in ("timeoutSeconds", "allowWatchBookmarks") or (
            name in ("labelSelector", "resourceVersionMatch") and draw(st.integers(0, 3)) == 0):
        params["watch"] = "true"
    if draw(st.integers(0, 4)) == 0 and resource == "pods":
        # a delete whose options do not parse deletes nothing
        return Req("DELETE", _object_path(resource, "p1"), None, {}, {"gracePeriodSeconds": draw(
            st.sampled_from(["x", "1.5", "", "1e3", "0x10"])) or "z"})
    return Req("GET", collection, None, {}, params)


@st.composite
def bad_patches(draw: st.DrawFn) -> Req:
    """Patches of seed objects that must fail: a failed test, another name, a stale resourceVersion, bad shapes."""
    resource = draw(resources)
    path = _object_path(resource, SEED_OBJECTS[resource][0])
    kind = draw(st.sampled_from(["test", "rename", "stale", "json-shape", "merge-shape", "bad-op", "types",
                                 "strategic"]))
    if kind == "test":
        ops = [{"op": "test", "path": "/metadata/name", "value": "not-" + draw(text)},
               {"op": "replace", "path": "/metadata/labels", "value": {"fuzz": "yes"}}]
        return Req("PATCH", path, _body(ops), {"Content-Type": "application/json-patch+json"})
    if kind == "rename":
        new = "renamed-" + draw(st.sampled_from("abc"))
        return Req("PATCH", path, _body({"metadata": {"name": new}}), {"Content-Type": "application/merge-patch+json"})
    if kind == "stale":
        return Req("PATCH", path, _body({"metadata": {"resourceVersion": "1", "labels": {"fuzz": "yes"}}}),
                   {"Content-Type": "application/merge-patch+json"})
    if kind == "json-shape":
        body = draw(st.one_of(st.dictionaries(text, json_values, max_size=2), json_scalars, st.lists(
            st.one_of(json_scalars, st.lists(json_scalars, max_size=2)), min_size=1, max_size=3)))
        return Req("PATCH", path, _body(body), {"Content-Type": "application/json-patch+json"})
    if kind == "merge-shape":
        body = draw(st.one_of(st.none(), st.booleans(), st.integers(), text, st.lists(json_scalars, max_size=3)))
        return Req("PATCH", path, _body(body), {"Content-Type": "application/merge-patch+json"})
    if kind == "bad-op":
        op = {"op": draw(st.sampled_from(["remove", "replace", "move", "copy", "frobnicate", ""])),
              "path": "/" + "/".join(draw(st.lists(text, min_size=1, max_size=3))) + "/nowhere-" + draw(text),
              "from": "/nowhere", "value": 1}
        return Req("PATCH", path, _body([op]), {"Content-Type": "application/json-patch+json"})
    if kind == "types":
        return Req("PATCH", path, _body({"metadata": {"labels": draw(st.sampled_from([5, "x", [1], {"k": 5}]))}}),
                   {"Content-Type": "application/merge-patch+json"})
    return Req("PATCH", path, _body(draw(st.sampled_from([[1], "x", 5, [{"a": 1}]]))),
               {"Content-Type": "application/strategic-merge-patch+json"})


@st.composite
def conflicting_writes(draw: st.DrawFn) -> Req:
    """Writes to seed objects that must be refused: duplicates, stale updates, failing delete preconditions."""
    resource = draw(resources)
    name = SEED_OBJECTS[resource][0]
    kind = draw(st.sampled_from(["duplicate", "stale-put", "delete-uid", "delete-rv", "delete-body"]))
    if kind == "duplicate":
        return Req("POST", COLLECTIONS[resource][0], _body(_valid_body(resource, name)),
                   {"Content-Type": "application/json"})
    if kind == "stale-put":
        body = _valid_body(resource, name)
        body["metadata"]["resourceVersion"] = "1"  # a store starts at revision 1: no object has it
        body["metadata"]["labels"] = {"fuzz": "yes"}
        return Req("PUT", _object_path(resource, name), _body(body), {"Content-Type": "application/json"})
    if resource == "namespaces":
        resource, name = "pods", "p1"
    if kind == "delete-uid":
        options = {"preconditions": {"uid": "00000000-0000-0000-0000-" + draw(st.sampled_from(["0", "1"])) * 12}}
    elif kind == "delete-rv":
        options = {"preconditions": {"resourceVersion": "1"}}
    else:
        options = draw(st.sampled_from([{"gracePeriodSeconds": "x"}, {"preconditions": 5}, [1], "x",
                                        {"preconditions": {"uid": 5}}, {"gracePeriodSeconds": 1.5}]))
    return Req("DELETE", _object_path(resource, name), _body(options), {"Content-Type": "application/json"})


@st.composite
def unauthenticated(draw: st.DrawFn) -> Req:
    resource = draw(resources)
    method = draw(st.sampled_from(["GET", "POST", "DELETE", "PATCH"]))
    path = COLLECTIONS[resource][0] if method in ("GET", "POST") else _object_path(resource, SEED_OBJECTS[resource][0])
    headers = draw(st.sampled_from([{}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic eDp5"},
                                    {"Authorization": f"Bearer {TOKEN}x"}]))
    return Req(method, path, _body({"kind": "Pod"}) if method != "GET" else None, headers, auth=False)


REQUESTS = st.one_of(malformed_json(), wrong_type_meta(), invalid_name_requests(), missing_fields(),
                     invalid_labels(), unknown_paths_and_verbs(), wrong_verbs(), wrong_content_types(),
                     bad_query_params(), bad_patches(), conflicting_writes(), unauthenticated())
LARGE = too_large()


# ----- the run ------------------------------------------------------------------------------------------


class Sender:
    """Sends requests on a few keep-alive sessions and checks each answer."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.counts: collections.Counter[int] = collections.Counter()
        self.sent = 0
        self._lock = threading.Lock()
        self._local = threading.local()
        self.pool = ThreadPoolExecutor(THREADS, thread_name_prefix="fuzz")

    def _session(self) -> requests.Session:
        s = getattr(self._local, "session", None)
        if s is None:
            s = self._local.session = requests.Session()
        return s

    def send(self, req: Req) -> tuple[Req, int, Any]:
        headers = dict(req.headers)
        if req.auth:
            headers["Authorization"] = f"Bearer {TOKEN}"
        data: Any = req.body
        if req.chunked and req.body is not None:
            body = req.body
            data = (body[i:i + 65536] for i in range(0, len(body), 65536))
        try:
            resp = self._session().request(req.method, self.url + req.path, data=data, headers=headers,
                                           params=req.params, timeout=10, allow_redirects=False)
        except requests.RequestException as e:
            self._local.session = None
            return req, -1, f"connection failed: {e}"
        try:
            body = resp.json()
        except ValueError:
            body = resp.text[:300]
        with self._lock:
            self.sent += 1
            self.counts[resp.status_code] += 1
        return req, resp.status_code, body

    def run(self, batch: list[Req]) -> None:
        for req, code, body in self.pool.map(self.send, batch):
            check(req, code, body)


def check(req: Req, code: int, body: Any) -> None:
    where = req.describe()
    assert code != -1, f"{where}: {body}"
    assert 400 <= code < 500, f"{where}: expected a 4xx, got {code}: {body}"
    assert isinstance(body, dict), f"{where}: {code} without a JSON Status body: {body!r}"
    for key, want in (("kind", "Status"), ("apiVersion", "v1"), ("status", "Failure"), ("code", code)):
        assert body.get(key) == want, f"{where}: Status {key} is {body.get(key)!r}, expected {want!r}: {body}"
    assert isinstance(body.get("message", ""), str) and isinstance(body.get("metadata"), dict), f"{where}: {body}"


@pytest.fixture(scope="module")
def fuzz_server() -> Iterator[tuple[HTTPAPIServer, dict[str, Any]]]:
    server = HTTPAPIServer(port=0, token=TOKEN, threads=THREADS + 4).start()
    s = requests.Session()
    s.headers["Authorization"] = f"Bearer {TOKEN}"
    try:
        for path, body in SEEDS:
            collection = path.rsplit("/", 1)[0]
            r = s.post(server.url + collection, json=body)
            assert r.status_code == 201, r.text
        yield server, snapshot(s, server.url)
    finally:
        s.close()
        server.stop()


def snapshot(s: requests.Session, url: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for path, _ in SEEDS:
        r = s.get(url + path)
        assert r.status_code == 200, r.text
        out[path] = r.json()
    return out


def test_fuzz_requests_get_4xx_status_and_change_nothing(fuzz_server: tuple[HTTPAPIServer, dict[str, Any]],
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    server, before = fuzz_server
    sender = Sender(server.url)
    started = time.perf_counter()

    batches = [0]

    @settings(max_examples=2_000, deadline=None, database=None, phases=[Phase.generate, Phase.shrink],
              suppress_health_check=list(HealthCheck))
    @given(batch=st.lists(REQUESTS, min_size=24, max_size=40), large=LARGE)
    def fuzz(batch: list[Req], large: Req) -> None:
        if sender.sent >= TARGET_REQUESTS:
            return
        batches[0] += 1
        # every twelfth batch also sends a body over the limit (they are slow to send, so not more often)
        sender.run(batch + ([large] if batches[0] % LARGE_EVERY == 0 else []))

    try:
        fuzz()
    finally:
        sender.pool.shutdown()
    elapsed = time.perf_counter() - started
    with requests.Session() as s:
        s.headers["Authorization"] = f"Bearer {TOKEN}"
        after = snapshot(s, server.url)
        # the server still answers normal requests
        assert s.get(server.url + "/api/v1/namespaces/fuzz/pods").status_code == 200
    with capsys.disabled():
        histogram = ", ".join(f"{code}: {n}" for code, n in sorted(sender.counts.items()))
        print(f"\nfuzz: {sender.sent} requests in {elapsed:.1f} s ({sender.sent / elapsed:.0f}/s); {histogram}")
    assert sender.sent >= TARGET_REQUESTS
    for path in before:
        assert after[path] == before[path], f"{path} changed:\nbefore {before[path]}\nafter  {after[path]}"
