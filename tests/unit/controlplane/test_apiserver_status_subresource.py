"""The bundled server's status subresource where it follows kube-apiserver v1.37.2 (measured): a deletionTimestamp
sent to pods/status changes nothing, terminated containers follow the restart rules of 1.35 on, and nodes/status
refuses an address listed twice."""

from __future__ import annotations

from typing import Any

from adapters.inprocess import InProcessTarget

TERMINATED = {"terminated": {"exitCode": 0}}
RUNNING = {"running": {}}


def _pod(t: InProcessTarget, restart: str) -> dict[str, Any]:
    assert t.create("namespaces", None, {"metadata": {"name": "ns"}}).code == 201
    body = {"metadata": {"name": "p"}, "spec": {"restartPolicy": restart, "containers": [{"name": "c", "image": "i"}]}}
    created = t.create("pods", "ns", body)
    assert created.code == 201
    return created.body


def _statuses(*pairs: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    return {"containerStatuses": [{"name": n, "state": s} for n, s in pairs]}


def test_a_deletion_timestamp_sent_to_pods_status_is_no_change() -> None:
    t = InProcessTarget()
    pod = _pod(t, "Always")
    pod["metadata"]["deletionTimestamp"] = "2001-02-03T04:05:06Z"
    r = t.server.update("pods", "ns", "p", pod, subresource="status")
    assert r.code == 200 and "deletionTimestamp" not in r.body["metadata"]
    assert r.body["metadata"]["resourceVersion"] == pod["metadata"]["resourceVersion"]  # nothing written


def test_container_restart_rules() -> None:
    t = InProcessTarget()
    pod = _pod(t, "Always")
    pod["status"] = _statuses(("c", TERMINATED), ("zz", TERMINATED))
    pod = t.server.update("pods", "ns", "p", pod, subresource="status").body
    # a status for no container of the spec may not run again, even under restartPolicy Always
    pod["status"] = _statuses(("c", RUNNING), ("zz", RUNNING))
    r = t.server.update("pods", "ns", "p", pod, subresource="status")
    assert r.code == 422 and [c["field"] for c in r.body["details"]["causes"]] == ["status.containerStatuses[1].state"]
    t2 = InProcessTarget()
    pod = _pod(t2, "Never")
    pod["status"] = _statuses(("c", TERMINATED))
    pod = t2.server.update("pods", "ns", "p", pod, subresource="status").body
    # two new statuses for one terminated container: refused once
    pod["status"] = _statuses(("c", RUNNING), ("c", {"waiting": {}}))
    r = t2.server.update("pods", "ns", "p", pod, subresource="status")
    assert r.code == 422 and len(r.body["details"]["causes"]) == 1


def test_node_status_refuses_a_duplicate_address() -> None:
    t = InProcessTarget()
    node = t.create("nodes", None, {"metadata": {"name": "n"}}).body
    address = {"type": "InternalIP", "address": "10.0.0.1"}
    node["status"] = {"addresses": [address, dict(address)]}
    r = t.server.update("nodes", None, "n", node, subresource="status")
    assert r.code == 422 and r.body["details"]["causes"] == [{
        "reason": "FieldValueDuplicate", "field": "status.addresses[1]",
        "message": 'Duplicate value: {"Type":"InternalIP","Address":"10.0.0.1"}'}]


def test_a_binding_replaces_the_pod_scheduled_condition() -> None:
    t = InProcessTarget()
    pod = _pod(t, "Always")
    pod["status"] = {"conditions": [{"type": "PodScheduled", "status": "True", "reason": "r",
                                     "lastTransitionTime": "2001-01-01T00:00:00Z"}]}
    assert t.server.update("pods", "ns", "p", pod, subresource="status").code == 200
    binding = {"metadata": {"name": "p"}, "target": {"kind": "Node", "name": "n"}}
    assert t.server.bind("ns", "p", binding).code == 201
    conditions = t.server.get("pods", "ns", "p").body["status"]["conditions"]
    assert conditions == [{"type": "PodScheduled", "status": "True", "lastProbeTime": None,
                           "lastTransitionTime": "2001-01-01T00:00:00Z"}]
