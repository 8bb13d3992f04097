"""Create, get, list, update and delete rules of the bundled API server (docs/semantics.md)."""

from __future__ import annotations

from typing import Any

from adapters.inprocess import InProcessTarget
from controlplane.apiserver import APIServer

JSON = dict[str, Any]
T0 = "2026-01-01T00:00:00Z"


def pod(name: str, *, node: str | None = None, labels: dict[str, str] | None = None, **spec: Any) -> JSON:
    body: JSON = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": dict(spec)}
    if node is not None:
        body["spec"]["nodeName"] = node
    if labels is not None:
        body["metadata"]["labels"] = labels
    return body


def with_meta(obj: JSON, **meta: Any) -> JSON:
    return {**obj, "metadata": {**obj["metadata"], **meta}}


# ---- create ----


def test_create_pod_fills_server_fields(t: InProcessTarget) -> None:
    body = pod("p", containers=[{"name": "c", "image": "i"}])
    body["metadata"].update(uid="mine", generation=7, deletionTimestamp=T0, deletionGracePeriodSeconds=3)
    body["status"] = {"phase": "Running", "podIP": "1.2.3.4"}
    r = t.create("pods", "ns", body)
    assert r.code == 201
    meta = r.body["metadata"]
    assert meta["uid"] != "mine" and len(meta["uid"]) == 36
    assert meta["generation"] == 1
    assert meta["creationTimestamp"] == T0
    assert meta["namespace"] == "ns"
    assert "deletionTimestamp" not in meta and "deletionGracePeriodSeconds" not in meta
    assert r.body["status"] == {"phase": "Pending"}
    assert r.body["kind"] == "Pod" and r.body["apiVersion"] == "v1"
    assert t.get("pods", "ns", "p").body == r.body
    assert body["metadata"]["uid"] == "mine"  # the caller's body is not touched


def test_create_namespace_defaults(t: InProcessTarget) -> None:
    r = t.create("namespaces", None, {"metadata": {"name": "n2", "labels": {"a": "b"}}})
    assert r.body["spec"] == {"finalizers": ["kubernetes"]}
    assert r.body["status"] == {"phase": "Active"}
    assert r.body["metadata"]["labels"] == {"a": "b", "kubernetes.io/metadata.name": "n2"}
    assert "generation" not in r.body["metadata"]


def test_node_keeps_status_on_create_and_update(t: InProcessTarget) -> None:
    status = {"allocatable": {"cpu": "4"}}
    node = t.create("nodes", None, {"metadata": {"name": "n", "namespace": "ignored"}, "status": status}).body
    assert node["status"] == status and "namespace" not in node["metadata"] and "generation" not in node["metadata"]
    r = t.update("nodes", None, "n", {**node, "status": {"allocatable": {"cpu": "1"}}})
    assert r.body["status"] == status
    assert r.body["metadata"]["resourceVersion"] == node["metadata"]["resourceVersion"]  # nothing else changed


def test_uids_are_unique_and_deterministic() -> None:
    def run() -> list[str]:
        t = InProcessTarget(seed=7)
        uids = [t.create("nodes", None, {"metadata": {"name": f"n{i}"}}).body["metadata"]["uid"] for i in range(3)]
        t.delete("nodes", None, "n0")
        uids.append(t.create("nodes", None, {"metadata": {"name": "n0"}}).body["metadata"]["uid"])
        return uids

    first = run()
    assert len(set(first)) == 4
    assert first == run()


def test_generate_name(t: InProcessTarget) -> None:
    r = t.create("pods", "ns", {"metadata": {"generateName": "web-"}, "spec": {}})
    assert r.code == 201 and r.body["metadata"]["name"].startswith("web-") and len(r.body["metadata"]["name"]) == 9


def test_lease_micro_times_are_canonical(t: InProcessTarget) -> None:
    spec = {"holderIdentity": "a", "leaseDurationSeconds": 15, "acquireTime": "2026-01-01T00:00:00Z",
            "renewTime": "2026-01-01T00:00:01.500000Z", "leaseTransitions": 0}
    r = t.create("leases", "ns", {"metadata": {"name": "l"}, "spec": spec})
    assert r.code == 201
    assert r.body["spec"]["acquireTime"] == "2026-01-01T00:00:00.000000Z"
    assert r.body["spec"]["renewTime"] == "2026-01-01T00:00:01.500000Z"
    assert r.body["apiVersion"] == "coordination.k8s.io/v1"


def test_bodies_are_fresh_copies(t: InProcessTarget) -> None:
    created = t.create("pods", "ns", pod("p", labels={"a": "1"})).body
    created["metadata"]["labels"]["a"] = "mutated"
    got = t.get("pods", "ns", "p").body
    assert got["metadata"]["labels"] == {"a": "1"}
    got["spec"]["x"] = 1
    assert "x" not in t.get("pods", "ns", "p").body["spec"]
    assert t.list("pods", "ns").body["items"][0] is not t.list("pods", "ns").body["items"][0]


# ---- list ----


def test_list_shape_sorting_and_namespace(t: InProcessTarget) -> None:
    for ns in ("b", "a-b", "a"):
        t.create("namespaces", None, {"metadata": {"name": ns}})
        for name in ("y", "x"):
            t.create("pods", ns, pod(name))
    r = t.list("pods")
    assert r.body["kind"] == "PodList" and r.body["apiVersion"] == "v1"
    order = [(p["metadata"]["namespace"], p["metadata"]["name"]) for p in r.body["items"]]
    assert order == [("a", "x"), ("a", "y"), ("a-b", "x"), ("a-b", "y"), ("b", "x"), ("b", "y")]
    rvs = [int(p["metadata"]["resourceVersion"]) for p in r.body["items"]]
    assert int(r.body["metadata"]["resourceVersion"]) == max(rvs)
    assert [p["metadata"]["name"] for p in t.list("pods", "a").body["items"]] == ["x", "y"]
    assert t.list("leases", "ns").body == {"kind": "LeaseList", "apiVersion": "coordination.k8s.io/v1",
                                           "metadata": {"resourceVersion": r.body["metadata"]["resourceVersion"]},
                                           "items": []}


def test_list_label_selectors(t: InProcessTarget) -> None:
    t.create("pods", "ns", pod("a", labels={"app": "web", "tier": "1"}))
    t.create("pods", "ns", pod("b", labels={"app": "db"}))
    t.create("pods", "ns", pod("c"))

    def names(sel: str) -> list[str]:
        r = t.list("pods", "ns", label_selector=sel)
        assert r.code == 200, r.body
        return [p["metadata"]["name"] for p in r.body["items"]]

    assert names("") == ["a", "b", "c"]
    assert names("app=web") == ["a"]
    assert names("app==web") == ["a"]
    assert names("app!=web") == ["b", "c"]
    assert names("app in (web, db)") == ["a", "b"]
    assert names("app notin (web)") == ["b", "c"]
    assert names("app") == ["a", "b"]
    assert names("!app") == ["c"]
    assert names("app,tier=1") == ["a"]
    assert names("app=web,!tier") == []
    assert names("tier>0") == ["a"]


# ---- update ----


def test_noop_update_keeps_rv_and_sends_nothing(t: InProcessTarget) -> None:
    p = t.create("pods", "ns", pod("p", labels={"a": "1"})).body
    w = t.watch("pods", "ns", resource_version=p["metadata"]["resourceVersion"])
    r = t.update("pods", "ns", "p", p)
    assert r.code == 200 and r.body == p
    # empty labels / status from the client / no rv: still a no-op
    r = t.update("pods", "ns", "p", {**with_meta(p, resourceVersion="", annotations={}), "status": {"phase": "X"}})
    assert r.body == p
    assert w.drain() == []


def test_update_bumps_rv_and_generation_on_spec_change(t: InProcessTarget) -> None:
    p = t.create("pods", "ns", pod("p")).body
    r = t.update("pods", "ns", "p", with_meta(p, labels={"a": "1"}))
    assert r.body["metadata"]["generation"] == 1
    assert int(r.body["metadata"]["resourceVersion"]) > int(p["metadata"]["resourceVersion"])
    r2 = t.update("pods", "ns", "p", {**r.body, "spec": {"x": 1}})
    assert r2.body["metadata"]["generation"] == 2
    assert r2.body["spec"] == {"x": 1}


def test_update_keeps_server_owned_fields(t: InProcessTarget) -> None:
    p = t.create("pods", "ns", pod("p", node="n1")).body
    body = with_meta(p, creationTimestamp="2000-01-01T00:00:00Z", generation=9)
    body = {**body, "spec": {"nodeName": "other"}, "status": {"phase": "Running"}}
    r = t.update("pods", "ns", "p", body)
    assert r.body == p  # every change was to a server-owned field that BeforeUpdate puts back: a no-op


def test_update_refuses_a_changed_uid_deletion_timestamp_or_grace(t: InProcessTarget) -> None:
    # as kube-apiserver v1.34.0 and v1.37.2 answer: a PUT's uid is a storage precondition (409); a merge patch's is
    # an immutable field (422); a deletionTimestamp on an object not being deleted, or any other grace, is immutable
    p = t.create("pods", "ns", pod("p")).body
    r = t.update("pods", "ns", "p", with_meta(p, uid="c1e47000"))
    assert r.code == 409 and r.body["message"] == (
        'Operation cannot be fulfilled on pods "p": StorageError: invalid object, Code: 4, Key: /registry/pods/ns/p, '
        f'ResourceVersion: 0, AdditionalErrorMsg: Precondition failed: UID in precondition: c1e47000, UID in object '
        f'meta: {p["metadata"]["uid"]}')
    r = t.patch("pods", "ns", "p", {"metadata": {"uid": "c1e47000"}})
    assert r.code == 422 and r.body["message"] == ('Pod "p" is invalid: metadata.uid: Invalid value: "c1e47000": '
                                                   "field is immutable")
    r = t.update("pods", "ns", "p", with_meta(p, deletionTimestamp=T0))
    assert r.code == 422 and r.body["details"]["causes"] == [{
        "reason": "FieldValueInvalid", "message": f'Invalid value: "{T0}": field is immutable',
        "field": "metadata.deletionTimestamp"}]
    r = t.update("pods", "ns", "p", with_meta(p, deletionGracePeriodSeconds=7))
    assert r.code == 422 and r.body["details"]["causes"][0]["message"] == "Invalid value: 7: field is immutable"
    assert t.get("pods", "ns", "p").body == p


def test_unconditional_update_allowed(t: InProcessTarget) -> None:
    t.create("nodes", None, {"metadata": {"name": "n"}})
    r = t.update("nodes", None, "n", {"metadata": {"name": "n", "labels": {"a": "b"}}})
    assert r.code == 200 and r.body["metadata"]["labels"] == {"a": "b"}


def test_lease_update_needs_resource_version(t: InProcessTarget) -> None:
    # pkg/registry/coordination/lease/strategy.go: AllowUnconditionalUpdate is false for leases
    t.create("leases", "ns", {"metadata": {"name": "l"}, "spec": {"holderIdentity": "a"}})
    r = t.update("leases", "ns", "l", {"metadata": {"name": "l"}, "spec": {"holderIdentity": "b"}})
    assert r.code == 422, r.body
    assert r.body["message"] == ('leases.coordination.k8s.io "l" is invalid: metadata.resourceVersion: '
                                 "Invalid value: 0: must be specified for an update")
    assert r.body["details"]["kind"] == "leases"


def test_lease_put_creates(t: InProcessTarget) -> None:
    # pkg/registry/coordination/lease/strategy.go: AllowCreateOnUpdate is true for leases
    body = {"metadata": {"name": "l", "resourceVersion": "99"}, "spec": {"holderIdentity": "a"}}
    r = t.update("leases", "ns", "l", body)
    assert r.code == 201 and r.body["spec"] == {"holderIdentity": "a"}, r.body
    assert t.update("leases", "missing", "l", body).body["message"] == 'namespaces "missing" not found'


def test_namespace_update_keeps_finalizers_status_and_label(t: InProcessTarget) -> None:
    ns = t.get("namespaces", None, "ns").body
    r = t.update("namespaces", None, "ns", {"metadata": {"name": "ns", "labels": {"x": "y"}},
                                           "spec": {"finalizers": []}, "status": {"phase": "Terminating"}})
    assert r.body["spec"] == ns["spec"] and r.body["status"] == ns["status"]
    assert r.body["metadata"]["labels"] == {"x": "y", "kubernetes.io/metadata.name": "ns"}


def test_no_new_finalizers_while_deleting(t: InProcessTarget) -> None:
    n = t.create("nodes", None, {"metadata": {"name": "n", "finalizers": ["keep"]}}).body
    deleting = t.delete("nodes", None, "n").body
    assert deleting["metadata"]["deletionTimestamp"] == T0
    r = t.update("nodes", None, "n", with_meta(deleting, finalizers=["keep", "b", "a"]))
    assert r.code == 422
    body = ('Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers '
            '[]string{"a", "b"}')
    assert r.body["message"] == f'Node "n" is invalid: metadata.finalizers: {body}'
    assert r.body["details"]["causes"] == [{"reason": "FieldValueForbidden", "message": body,
                                            "field": "metadata.finalizers"}]
    assert n["metadata"]["uid"] == deleting["metadata"]["uid"]


# ---- delete ----


def test_delete_unscheduled_pod_at_once(t: InProcessTarget) -> None:
    p = t.create("pods", "ns", pod("p")).body
    w = t.watch("pods", "ns")
    w.drain()
    r = t.delete("pods", "ns", "p")
    assert r.code == 200
    # written first (grace 0: deletionTimestamp now, generation + 1), then removed at a new resourceVersion
    marked, gone = w.drain()
    assert (marked["type"], gone["type"]) == ("MODIFIED", "DELETED")
    created_rv, marked_rv = int(p["metadata"]["resourceVersion"]), int(marked["object"]["metadata"]["resourceVersion"])
    assert created_rv < marked_rv < int(r.body["metadata"]["resourceVersion"])
    expected = with_meta(p, deletionTimestamp=T0, deletionGracePeriodSeconds=0, generation=2)
    assert marked["object"] == with_meta(expected, resourceVersion=str(marked_rv))
    assert r.body == with_meta(expected, resourceVersion=r.body["metadata"]["resourceVersion"])
    assert gone["object"] == r.body
    assert t.get("pods", "ns", "p").code == 404
    assert w.drain() == []


def test_graceful_delete_of_scheduled_pod(t: InProcessTarget) -> None:
    p = t.create("pods", "ns", pod("p", node="n1")).body
    w = t.watch("pods", "ns")
    w.drain()
    r = t.delete("pods", "ns", "p")
    assert r.code == 200
    assert int(r.body["metadata"]["resourceVersion"]) > int(p["metadata"]["resourceVersion"])
    assert r.body == with_meta(p, deletionTimestamp="2026-01-01T00:00:30Z", deletionGracePeriodSeconds=30,
                               generation=2, resourceVersion=r.body["metadata"]["resourceVersion"])
    assert t.get("pods", "ns", "p").body == r.body
    assert [(e["type"], e["object"]) for e in w.drain()] == [("MODIFIED", r.body)]
    # no grace asked, the same or a longer one: nothing is written
    for options in (None, {"gracePeriodSeconds": 30}, {"gracePeriodSeconds": 60}):
        assert t.delete("pods", "ns", "p", options=options).body == r.body
    assert w.drain() == []
    # a shorter one: deadline = first request (T0) + asked, generation unchanged
    t.controls.advance_clock(5)
    r2 = t.delete("pods", "ns", "p", options={"gracePeriodSeconds": 10})
    assert int(r2.body["metadata"]["resourceVersion"]) > int(r.body["metadata"]["resourceVersion"])
    assert r2.body == with_meta(r.body, deletionTimestamp="2026-01-01T00:00:10Z", deletionGracePeriodSeconds=10,
                                resourceVersion=r2.body["metadata"]["resourceVersion"])
    # T0 + 3 is already past: clamped to now, and the grace becomes 1
    r3 = t.delete("pods", "ns", "p", options={"gracePeriodSeconds": 3})
    assert int(r3.body["metadata"]["resourceVersion"]) > int(r2.body["metadata"]["resourceVersion"])
    assert r3.body == with_meta(r.body, deletionTimestamp="2026-01-01T00:00:05Z", deletionGracePeriodSeconds=1,
                                resourceVersion=r3.body["metadata"]["resourceVersion"])
    assert [(e["type"], e["object"]) for e in w.drain()] == [("MODIFIED", r2.body), ("MODIFIED", r3.body)]
    # grace 0: clamped to now with grace 0 (MODIFIED), then removed (DELETED at a new resourceVersion)
    r4 = t.delete("pods", "ns", "p", options={"gracePeriodSeconds": 0})
    assert r4.code == 200
    assert r4.body == with_meta(r.body, deletionTimestamp="2026-01-01T00:00:05Z", deletionGracePeriodSeconds=0,
                                resourceVersion=r4.body["metadata"]["resourceVersion"])
    marked, gone = w.drain()
    assert (marked["type"], gone["type"]) == ("MODIFIED", "DELETED")
    marked_rv = int(marked["object"]["metadata"]["resourceVersion"])
    assert int(r3.body["metadata"]["resourceVersion"]) < marked_rv < int(r4.body["metadata"]["resourceVersion"])
    assert marked["object"] == with_meta(r4.body, resourceVersion=str(marked_rv))
    assert gone["object"] == r4.body
    assert t.get("pods", "ns", "p").code == 404


def test_grace_from_spec_and_phase(t: InProcessTarget) -> None:
    t.create("pods", "ns", pod("p", node="n", terminationGracePeriodSeconds=5))
    assert t.delete("pods", "ns", "p").body["metadata"]["deletionGracePeriodSeconds"] == 5


def test_finalizers_block_removal(t: InProcessTarget) -> None:
    t.create("pods", "ns", with_meta(pod("p"), finalizers=["f/x"]))
    w = t.watch("pods", "ns")
    w.drain()
    r = t.delete("pods", "ns", "p")
    assert r.body["metadata"]["deletionTimestamp"] == T0
    assert r.body["metadata"]["deletionGracePeriodSeconds"] == 0
    assert t.delete("pods", "ns", "p").body == r.body  # not written again
    # removing the last finalizer removes the object; the answer is the object as the update made it, at the
    # resourceVersion the update was checked against, and watchers see the stored state go at a new one
    r2 = t.update("pods", "ns", "p", with_meta(r.body, finalizers=[]))
    assert r2.code == 200
    assert "finalizers" not in r2.body["metadata"]
    assert r2.body["metadata"]["resourceVersion"] == r.body["metadata"]["resourceVersion"]
    assert t.get("pods", "ns", "p").code == 404
    events = w.drain()
    assert [e["type"] for e in events] == ["MODIFIED", "DELETED"]
    assert events[0]["object"]["metadata"]["resourceVersion"] == r.body["metadata"]["resourceVersion"]
    assert events[1]["object"]["metadata"]["finalizers"] == ["f/x"]
    assert int(events[1]["object"]["metadata"]["resourceVersion"]) > int(r.body["metadata"]["resourceVersion"])


def test_finalizer_removal_on_node_answers_the_node(t: InProcessTarget) -> None:
    t.create("nodes", None, {"metadata": {"name": "n", "finalizers": ["a", "b"]}})
    d = t.delete("nodes", None, "n").body
    kept = t.update("nodes", None, "n", with_meta(d, finalizers=["a"])).body
    assert kept["metadata"]["finalizers"] == ["a"]
    r = t.update("nodes", None, "n", {"metadata": {"name": "n"}})
    assert r.code == 200 and r.body["kind"] == "Node"
    assert r.body["metadata"]["uid"] == d["metadata"]["uid"]
    assert r.body["metadata"]["deletionTimestamp"] == d["metadata"]["deletionTimestamp"]
    assert r.body["metadata"]["resourceVersion"] == kept["metadata"]["resourceVersion"]
    assert t.get("nodes", None, "n").code == 404


def test_node_and_lease_delete_answer_success_status(t: InProcessTarget) -> None:
    n = t.create("nodes", None, {"metadata": {"name": "n"}}).body
    assert t.delete("nodes", None, "n").body == {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
        "details": {"name": "n", "kind": "nodes", "uid": n["metadata"]["uid"]}}
    lease = t.create("leases", "ns", {"metadata": {"name": "l"}}).body
    assert t.delete("leases", "ns", "l").body["details"] == {
        "name": "l", "group": "coordination.k8s.io", "kind": "leases", "uid": lease["metadata"]["uid"]}
    assert t.delete("leases", "ns", "l").code == 404


def test_namespace_delete_returns_object(t: InProcessTarget) -> None:
    r = t.delete("namespaces", None, "ns")
    assert r.code == 200 and r.body["kind"] == "Namespace"
    assert t.get("namespaces", None, "ns").code == 404


def test_server_with_wall_clock_defaults() -> None:
    s = APIServer()
    r = s.create("nodes", None, {"metadata": {"name": "n"}})
    assert r.code == 201 and r.body["metadata"]["creationTimestamp"].endswith("Z")
