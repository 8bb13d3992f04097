"""pods/binding: order of checks, exact messages, what a successful binding writes."""

from __future__ import annotations

from typing import Any

from adapters.inprocess import InProcessTarget

JSON = dict[str, Any]


def pod(name: str, **spec: Any) -> JSON:
    return {"metadata": {"name": name}, "spec": dict(spec)}


def binding(name: str, node: str, **meta: Any) -> JSON:
    return {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": name, **meta},
            "target": {"kind": "Node", "name": node}}


def conflict(t: InProcessTarget, body: JSON, name: str = "p") -> JSON:
    r = t.bind("ns", name, body)
    assert r.code == 409, r.body
    return r.body


def test_success(t: InProcessTarget) -> None:
    p = t.create("pods", "ns", {**pod("p"), "metadata": {"name": "p", "annotations": {"a": "1"}}}).body
    w = t.watch("pods", "ns", resource_version=p["metadata"]["resourceVersion"])
    t.controls.advance_clock(3)
    r = t.bind("ns", "p", binding("p", "n1", uid=p["metadata"]["uid"], annotations={"b": "2"}))
    assert (r.code, r.body) == (201, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                                      "code": 201})
    got = t.get("pods", "ns", "p").body
    assert got["spec"]["nodeName"] == "n1"
    assert got["metadata"]["annotations"] == {"a": "1", "b": "2"}
    assert got["metadata"]["generation"] == 1
    assert got["status"]["conditions"] == [{"type": "PodScheduled", "status": "True", "lastProbeTime": None,
                                            "lastTransitionTime": "2026-01-01T00:00:03Z"}]
    assert [e["type"] for e in w.drain()] == ["MODIFIED"]


def test_node_need_not_exist_and_empty_kind_allowed(t: InProcessTarget) -> None:
    t.create("pods", "ns", pod("p"))
    body = binding("p", "ghost")
    body["target"].pop("kind")
    assert t.bind("ns", "p", body).code == 201


def test_name_mismatch_first(t: InProcessTarget) -> None:
    r = t.bind("ns", "missing", binding("other", "n1"))
    assert r.body == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                      "message": "name in URL does not match name in Binding object", "reason": "BadRequest",
                      "code": 400}


def test_bad_target_is_invalid(t: InProcessTarget) -> None:
    # releases answer these 500 (kubernetes#139488, a known finding); the bundled server answers 422 Invalid
    t.create("pods", "ns", pod("p"))
    r = t.bind("ns", "p", {"metadata": {"name": "p"}, "target": {"kind": "Pod", "name": "n"}})
    assert r.code == 422 and r.body["reason"] == "Invalid"
    assert r.body["message"] == ('Binding "p" is invalid: target.kind: Unsupported value: "Pod": supported values: '
                                 '"Node", "<empty>"')
    assert r.body["details"]["kind"] == "Binding"
    r = t.bind("ns", "p", {"metadata": {"name": "p"}, "target": {}})
    assert r.body["message"] == 'Binding "p" is invalid: target.name: Required value'
    assert t.get("pods", "ns", "p").body["spec"].get("nodeName") is None


def test_missing_pod(t: InProcessTarget) -> None:
    r = t.bind("ns", "p", binding("p", "n1"))
    assert r.code == 404 and r.body["message"] == 'pods "p" not found'


def test_preconditions(t: InProcessTarget) -> None:
    p = t.create("pods", "ns", pod("p")).body
    uid, rv = p["metadata"]["uid"], p["metadata"]["resourceVersion"]
    body = conflict(t, binding("p", "n1", uid="other"))
    assert body["message"] == (
        'Operation cannot be fulfilled on pods "p": StorageError: invalid object, Code: 4, Key: /registry/pods/ns/p, '
        f"ResourceVersion: 0, AdditionalErrorMsg: Precondition failed: UID in precondition: other, UID in object "
        f"meta: {uid}"
    )
    assert body["details"] == {"name": "p", "kind": "pods"} and body["reason"] == "Conflict"
    # uid is checked before resourceVersion
    assert "UID in precondition" in conflict(t, binding("p", "n1", uid="other", resourceVersion="1"))["message"]
    body = conflict(t, binding("p", "n1", uid=uid, resourceVersion="1"))
    assert body["message"].endswith(
        f"Precondition failed: ResourceVersion in precondition: 1, ResourceVersion in object meta: {rv}")
    assert t.bind("ns", "p", binding("p", "n1", uid=uid, resourceVersion=rv)).code == 201


def test_deleting_then_bound_then_gates_order(t: InProcessTarget) -> None:
    # a bound pod with finalizers, being deleted: "being deleted" wins over "already assigned"
    t.create("pods", "ns", {"metadata": {"name": "p", "finalizers": ["f/x"]},
                            "spec": {"nodeName": "n0", "schedulingGates": [{"name": "g"}]}})
    t.delete("pods", "ns", "p")
    body = conflict(t, binding("p", "n1"))
    assert body["message"] == ('Operation cannot be fulfilled on pods/binding "p": pod p is being deleted, '
                               "cannot be assigned to a host")
    assert body["details"] == {"name": "p", "kind": "pods/binding"}
    # already assigned wins over gates
    t.create("pods", "ns", pod("q", nodeName="n0", schedulingGates=[{"name": "g"}]))
    body = conflict(t, binding("q", "n1"), "q")
    assert body["message"] == ('Operation cannot be fulfilled on pods/binding "q": pod q is already assigned to '
                               'node "n0"')
    t.create("pods", "ns", pod("r", schedulingGates=[{"name": "g"}]))
    body = conflict(t, binding("r", "n1"), "r")
    assert body["message"] == ('Operation cannot be fulfilled on pods/binding "r": pod r has non-empty '
                               ".spec.schedulingGates")


def test_second_binding_conflicts(t: InProcessTarget) -> None:
    t.create("pods", "ns", pod("p"))
    assert t.bind("ns", "p", binding("p", "n1")).code == 201
    assert "already assigned to node \"n1\"" in conflict(t, binding("p", "n2"))["message"]
    assert t.get("pods", "ns", "p").body["spec"]["nodeName"] == "n1"
