"""Exact Status bodies and messages for every error the API server answers (docs/semantics.md)."""

from __future__ import annotations

from typing import Any

from adapters.inprocess import InProcessTarget

JSON = dict[str, Any]


def pod(name: str) -> JSON:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": {}}

LABEL_REGEX = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start "
    "and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
SUBDOMAIN_REGEX = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must "
    "start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)


def failure(code: int, reason: str | None, message: str, details: dict | None = None) -> dict:
    body: dict = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message}
    if reason:
        body["reason"] = reason
    if details is not None:
        body["details"] = details
    body["code"] = code
    return body


def test_not_found(t: InProcessTarget) -> None:
    r = t.get("pods", "ns", "nope")
    expected = failure(404, "NotFound", 'pods "nope" not found', {"name": "nope", "kind": "pods"})
    assert (r.code, r.body) == (404, expected)


def test_not_found_carries_group_for_leases(t: InProcessTarget) -> None:
    r = t.get("leases", "ns", "l")
    assert r.body == failure(404, "NotFound", 'leases.coordination.k8s.io "l" not found',
                             {"name": "l", "group": "coordination.k8s.io", "kind": "leases"})


def test_already_exists(t: InProcessTarget) -> None:
    assert t.create("nodes", None, {"metadata": {"name": "n1"}}).code == 201
    r = t.create("nodes", None, {"metadata": {"name": "n1"}})
    assert r.body == failure(409, "AlreadyExists", 'nodes "n1" already exists', {"name": "n1", "kind": "nodes"})


def test_create_in_missing_namespace(t: InProcessTarget) -> None:
    r = t.create("pods", "ghost", pod("p"))
    assert r.body == failure(404, "NotFound", 'namespaces "ghost" not found', {"name": "ghost", "kind": "namespaces"})


def test_create_namespace_mismatch(t: InProcessTarget) -> None:
    body = pod("p")
    body["metadata"]["namespace"] = "other"
    r = t.create("pods", "ns", body)
    assert r.body == failure(
        400, "BadRequest", "the namespace of the provided object does not match the namespace sent on the request"
    )


def test_invalid_subdomain_name(t: InProcessTarget) -> None:
    r = t.create("pods", "ns", pod("Bad_Name"))
    body = f'Invalid value: "Bad_Name": {SUBDOMAIN_REGEX}'
    assert r.body == failure(422, "Invalid", f'Pod "Bad_Name" is invalid: metadata.name: {body}', {
        "name": "Bad_Name", "kind": "Pod",
        "causes": [{"reason": "FieldValueInvalid", "message": body, "field": "metadata.name"}]})


def test_namespace_name_with_dots(t: InProcessTarget) -> None:
    r = t.create("namespaces", None, {"metadata": {"name": "a.b"}})
    assert r.code == 422
    assert r.body["message"] == 'Namespace "a.b" is invalid: metadata.name: Invalid value: "a.b": must not contain dots'


def test_namespace_name_regex_and_length(t: InProcessTarget) -> None:
    r = t.create("namespaces", None, {"metadata": {"name": "A"}})
    assert r.body["message"] == f'Namespace "A" is invalid: metadata.name: Invalid value: "A": {LABEL_REGEX}'
    # pkg/apis/core/v1/defaults.go: SetDefaults_Namespace puts the name into the kubernetes.io/metadata.name label
    # before validation, so a name that is no label value fails on metadata.labels too (as v1.37.2 answers)
    long = "a" * 64
    r = t.create("namespaces", None, {"metadata": {"name": long}})
    assert r.body["message"] == (
        f'Namespace "{long}" is invalid: [metadata.name: Invalid value: "{long}": must be no more than 63 characters, '
        f'metadata.labels: Invalid value: "{long}": must be no more than 63 bytes]'
    )
    bad_long = "-" * 64
    r = t.create("namespaces", None, {"metadata": {"name": bad_long}})
    assert r.body["message"].startswith(
        f'Namespace "{bad_long}" is invalid: [metadata.name: Invalid value: "{bad_long}": must be no more than 63 '
        f'characters, metadata.name: Invalid value: "{bad_long}": {LABEL_REGEX}, metadata.labels: '
    )
    assert [c["field"] for c in r.body["details"]["causes"]] == ["metadata.name"] * 2 + ["metadata.labels"] * 2


def test_missing_name(t: InProcessTarget) -> None:
    r = t.create("nodes", None, {"metadata": {}})
    assert r.body == failure(422, "Invalid", 'Node "" is invalid: metadata.name: Required value: name or generateName '
                             "is required", {"kind": "Node", "causes": [{
                                 "reason": "FieldValueRequired",
                                 "message": "Required value: name or generateName is required",
                                 "field": "metadata.name"}]})


def test_lease_invalid_has_group_and_qualified_kind(t: InProcessTarget) -> None:
    r = t.create("leases", "ns", {"metadata": {"name": "l"}, "spec": {"leaseDurationSeconds": 0}})
    assert r.code == 422
    assert r.body["message"] == (
        'Lease.coordination.k8s.io "l" is invalid: spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0'
    )
    assert r.body["details"]["group"] == "coordination.k8s.io"
    assert r.body["details"]["kind"] == "Lease"


def test_create_with_resource_version_is_400(t: InProcessTarget) -> None:
    # releases answer it 500 (a known finding, conformance/findings.py); the client's mistake gets 400 here
    r = t.create("nodes", None, {"metadata": {"name": "n", "resourceVersion": "5"}})
    assert r.body == failure(400, "BadRequest", "resourceVersion should not be set on objects to be created")


def test_stale_update_conflict(t: InProcessTarget) -> None:
    created = t.create("nodes", None, {"metadata": {"name": "n", "labels": {"a": "1"}}}).body
    assert t.update("nodes", None, "n", {**created, "metadata": {**created["metadata"], "labels": {"a": "2"}}}).ok
    r = t.update("nodes", None, "n", created)
    assert r.body == failure(409, "Conflict", 'Operation cannot be fulfilled on nodes "n": the object has been '
                             "modified; please apply your changes to the latest version and try again",
                             {"name": "n", "kind": "nodes"})


def test_update_name_mismatch(t: InProcessTarget) -> None:
    t.create("nodes", None, {"metadata": {"name": "n"}})
    r = t.update("nodes", None, "n", {"metadata": {"name": "m"}})
    assert r.body == failure(400, "BadRequest", "the name of the object (m) does not match the name on the URL (n)")


def test_update_missing_is_404_before_name_check(t: InProcessTarget) -> None:
    r = t.update("nodes", None, "n", {"metadata": {"name": "m"}})
    assert r.code == 404


def test_delete_preconditions(t: InProcessTarget) -> None:
    node = t.create("nodes", None, {"metadata": {"name": "n"}}).body
    r = t.delete("nodes", None, "n", options={"preconditions": {"uid": "x"}})
    assert r.body == failure(409, "Conflict", 'Operation cannot be fulfilled on Node "n": the UID in the precondition '
                             f"(x) does not match the UID in record ({node['metadata']['uid']}). The object might "
                             "have been deleted and then recreated", {"name": "n", "kind": "Node"})
    r = t.delete("nodes", None, "n", options={"preconditions": {"resourceVersion": "1"}})
    rv = node["metadata"]["resourceVersion"]
    assert r.body["message"] == (
        'Operation cannot be fulfilled on Node "n": the ResourceVersion in the precondition (1) does not match the '
        f"ResourceVersion in record ({rv}). The object might have been modified"
    )


def test_lease_delete_precondition_on_qualified_kind(t: InProcessTarget) -> None:
    t.create("leases", "ns", {"metadata": {"name": "l"}})
    r = t.delete("leases", "ns", "l", options={"preconditions": {"uid": "x"}})
    assert r.body["message"].startswith('Operation cannot be fulfilled on Lease.coordination.k8s.io "l": ')
    assert r.body["details"] == {"name": "l", "group": "coordination.k8s.io", "kind": "Lease"}


def test_bad_selector_is_400(t: InProcessTarget) -> None:
    for sel in ("a in (", "a in ()", "!", "a,", "a=b=c", "Bad Key=1", "a notin b"):
        r = t.list("pods", "ns", label_selector=sel)
        assert r.code == 400, sel
        assert r.body["reason"] == "BadRequest"
        assert "details" not in r.body


def test_unknown_resource(t: InProcessTarget) -> None:
    r = t.get("services", "ns", "x")
    assert r.code == 404 and r.body["status"] == "Failure"


def test_bad_input_never_raises(t: InProcessTarget) -> None:
    bad_bodies = [
        None, 5, "x", [], {"metadata": 3}, {"metadata": {"name": 5}}, {"metadata": {"labels": {"a": 1}}},
        {"metadata": {"name": "p", "finalizers": "x"}}, {"metadata": {"name": "p"}, "spec": []},
        {"metadata": {"name": "p"}, "spec": {"terminationGracePeriodSeconds": "x"}},
        {"metadata": {"name": "p"}, "spec": {"nodeName": 3}}, {"kind": "Node", "metadata": {"name": "p"}},
        {"apiVersion": "v2", "metadata": {"name": "p"}}, {"metadata": {"name": "p", "generation": True}},
        {"metadata": {"name": "p"}, "x": object()},
    ]
    for body in bad_bodies:
        r = t.create("pods", "ns", body)  # type: ignore[arg-type]
        assert r.code == 400, body
        assert r.body["reason"] == "BadRequest"
    lease_bad = [{"metadata": {"name": "l"}, "spec": {"leaseDurationSeconds": "15"}},
                 {"metadata": {"name": "l"}, "spec": {"renewTime": "yesterday"}},
                 {"metadata": {"name": "l"}, "spec": {"holderIdentity": 1}}]
    for body in lease_bad:
        assert t.create("leases", "ns", body).code == 400, body
    t.create("pods", "ns", pod("p"))
    for body in bad_bodies[:5]:
        assert t.update("pods", "ns", "p", body).code in (400, 404), body  # type: ignore[arg-type]
    for opts in (5, {"gracePeriodSeconds": "x"}, {"preconditions": 3}, {"preconditions": {"uid": 1}}):
        assert t.delete("pods", "ns", "p", options=opts).code == 400, opts  # type: ignore[arg-type]
    for body in (None, {"metadata": 1}, {"metadata": {"name": "p"}, "target": "n"}):
        assert t.bind("ns", "p", body).code == 400, body  # type: ignore[arg-type]
    w = t.watch("pods", "ns", resource_version="abc")
    events = w.drain()
    assert w.ended and [e["type"] for e in events] == ["ERROR"] and events[0]["object"]["code"] == 400
