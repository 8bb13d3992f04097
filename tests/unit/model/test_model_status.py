"""The model's status subresource of pods and nodes: what a status write keeps, validates and refuses, per release.

The expected answers are the ones measured on kube-apiserver v1.37.2 (and the release rules of model/releases.py).
"""

from __future__ import annotations

from typing import Any

import pytest

from model import releases
from model.apiserver import V1_DEFAULTS, APIModel, clone

TERMINATED = {"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": "2026-01-01T00:00:00Z",
                             "finishedAt": "2026-01-01T00:00:05Z"}}
RUNNING = {"running": {"startedAt": "2026-01-01T00:00:09Z"}}


def container(name: str, state: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "ready": False, "restartCount": 0, "image": "busybox:1.36", "imageID": "", "state": state}


def model_with_pod(release: releases.Release = releases.PINNED, restart: str = "Never",
                   admission: frozenset[str] = frozenset({V1_DEFAULTS})) -> APIModel:
    m = APIModel(release=release, admission=admission)
    m.create("namespaces", None, {"metadata": {"name": "ns"}}).commit({"metadata": {"resourceVersion": "1"}})
    body = {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "labels": {"a": "1"},
                         "ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap", "name": "cm", "uid": "o"}]},
            "spec": {"restartPolicy": restart, "containers": [{"name": "c", "image": "busybox:1.36"}]}}
    m.create("pods", "ns", body).commit({"metadata": {"resourceVersion": "2", "uid": "u"}})
    return m


def written(m: APIModel, status: dict[str, Any], rv: str, **meta: Any) -> dict[str, Any]:
    """A status PUT of the stored pod with ``status`` (and metadata changes), expected 200, committed at ``rv``."""
    body = clone(m.lookup("pods", "ns", "p"))
    body["status"] = status
    body["metadata"].update(meta)
    e = m.update("pods", "ns", "p", body, subresource="status")
    assert e.code == 200, e.status
    e.commit({"metadata": {"resourceVersion": rv}})
    return e.obj


def refused(m: APIModel, status: dict[str, Any]) -> list[dict[str, Any]]:
    body = clone(m.lookup("pods", "ns", "p"))
    body["status"] = status
    e = m.update("pods", "ns", "p", body, subresource="status")
    assert e.code == 422 and e.status is not None
    return e.status["details"]["causes"]


def test_a_status_write_keeps_spec_owner_references_and_generation_and_takes_labels() -> None:
    m = model_with_pod()
    body = clone(m.lookup("pods", "ns", "p"))
    body["spec"]["restartPolicy"] = "Always"
    body["metadata"]["labels"] = {"a": "2"}
    body["metadata"]["ownerReferences"] = []
    body["status"] = {"phase": "Running", "hostIP": "10.0.0.1", "hostIPs": [{"ip": "10.0.0.1"}]}
    e = m.update("pods", "ns", "p", body, subresource="status")
    assert e.code == 200 and e.fresh_rv and e.obj is not None
    assert e.obj["spec"]["restartPolicy"] == "Never" and e.obj["metadata"]["generation"] == 1
    assert e.obj["metadata"]["labels"] == {"a": "2"} and e.obj["metadata"]["ownerReferences"][0]["name"] == "cm"
    # the QoS class the write left out is the stored one
    assert e.obj["status"] == {"phase": "Running", "hostIP": "10.0.0.1", "hostIPs": [{"ip": "10.0.0.1"}],
                               "qosClass": "BestEffort"}


def test_a_pod_put_keeps_the_status_a_status_write_stored() -> None:
    m = model_with_pod()
    written(m, {"phase": "Running", "qosClass": "BestEffort"}, "3")
    body = clone(m.lookup("pods", "ns", "p"))
    body["status"] = {"phase": "Failed"}
    body["metadata"]["labels"] = {"b": "1"}
    e = m.update("pods", "ns", "p", body)
    assert e.code == 200 and e.obj["status"]["phase"] == "Running"


def test_get_and_patch_of_the_status_subresource() -> None:
    m = model_with_pod()
    got = m.get("pods", "ns", "p", subresource="status")
    assert got.code == 200 and got.obj == m.lookup("pods", "ns", "p")
    e = m.patch("pods", "ns", "p", "merge", {"spec": {"restartPolicy": "Always"}, "status": {"phase": "Succeeded"}},
                subresource="status")
    assert e.op == "patch" and e.code == 200 and e.obj["status"]["phase"] == "Succeeded"
    assert e.obj["spec"]["restartPolicy"] == "Never"
    e = m.patch("pods", "ns", "p", "json", [{"op": "replace", "path": "/spec/restartPolicy", "value": "Always"}],
                subresource="status")
    assert e.code == 200 and e.rv == "2" and e.commit is None  # nothing a status write keeps changed: no write
    assert m.patch("pods", "ns", "q", "merge", {"status": {}}, subresource="status").code == 404
    with pytest.raises(ValueError):
        m.get("leases", "ns", "l", subresource="status")


def test_missing_stale_and_foreign_uid() -> None:
    m = model_with_pod()
    body = clone(m.lookup("pods", "ns", "p"))
    missing = {**body, "metadata": {"name": "q"}}
    e = m.update("pods", "ns", "q", missing, subresource="status")
    assert e.code == 404 and e.status["message"] == 'pods "q" not found'
    stale = {**body, "metadata": {**body["metadata"], "resourceVersion": "1"}}
    e = m.update("pods", "ns", "p", stale, subresource="status")
    assert e.code == 409 and e.rule == "api.optimistic-concurrency"
    other = {**body, "metadata": {**body["metadata"], "uid": "x"}}
    assert m.update("pods", "ns", "p", other, subresource="status").code == 409
    # before 1.34 a missing pod is read as an empty one: the uid precondition fails first
    old = model_with_pod((1, 33, 0))
    e = old.update("pods", "ns", "q", {**missing, "metadata": {"name": "q", "uid": "u"}}, subresource="status")
    assert e.code == 409


def test_a_deletion_timestamp_sent_to_pods_status_is_no_change_but_to_nodes_status_is_refused() -> None:
    m = model_with_pod()
    body = clone(m.lookup("pods", "ns", "p"))
    body["metadata"]["deletionTimestamp"] = "2001-02-03T04:05:06Z"
    e = m.update("pods", "ns", "p", body, subresource="status")
    assert e.code == 200 and e.rv == "2" and "deletionTimestamp" not in e.obj["metadata"]
    m.create("nodes", None, {"metadata": {"name": "n"}}).commit({"metadata": {"resourceVersion": "3", "uid": "n"}})
    node = clone(m.lookup("nodes", None, "n"))
    node["metadata"]["deletionTimestamp"] = "2001-02-03T04:05:06Z"
    e = m.update("nodes", None, "n", node, subresource="status")
    assert e.code == 422 and e.status["details"]["causes"][0]["field"] == "metadata.deletionTimestamp"


def test_terminated_containers_under_never_and_on_failure() -> None:
    m = model_with_pod()
    written(m, {"containerStatuses": [container("c", TERMINATED)]}, "3")
    causes = refused(m, {"containerStatuses": [container("c", RUNNING)]})
    assert causes == [{"reason": "FieldValueForbidden", "field": "status.containerStatuses[0].state",
                       "message": "Forbidden: may not be transitioned to non-terminated state"}]
    # two new statuses for one terminated container: one cause from 1.35, one each before
    twice = {"containerStatuses": [container("c", RUNNING), container("c", {"waiting": {"reason": "x"}})]}
    assert len(refused(m, twice)) == 1
    old = model_with_pod((1, 34, 0))
    written(old, {"containerStatuses": [container("c", TERMINATED)]}, "3")
    assert len(refused(old, twice)) == 2
    on_failure = model_with_pod(restart="OnFailure")
    failed = {"terminated": {"exitCode": 1}}
    written(on_failure, {"containerStatuses": [container("c", failed), container("d", TERMINATED)]}, "3")
    assert refused(on_failure, {"containerStatuses": [container("c", RUNNING), container("d", RUNNING)]}) == [
        {"reason": "FieldValueForbidden", "field": "status.containerStatuses[1].state",
         "message": "Forbidden: may not be transitioned to non-terminated state"}]


def test_a_status_for_no_container_of_the_spec_may_not_run_again_from_1_35() -> None:
    for release, refusals in (((1, 37, 2), 1), ((1, 34, 0), 0)):
        m = model_with_pod(release, restart="Always")
        written(m, {"containerStatuses": [container("c", TERMINATED), container("zz", TERMINATED)]}, "3")
        body = {"containerStatuses": [container("c", RUNNING), container("zz", RUNNING)]}
        if refusals:
            assert [c["field"] for c in refused(m, body)] == ["status.containerStatuses[1].state"]
        else:
            written(m, body, "4")


def test_every_status_cause_in_the_answers_order() -> None:
    m = model_with_pod()
    written(m, {"hostIP": "10.0.0.1", "hostIPs": [{"ip": "10.0.0.1"}], "qosClass": "BestEffort",
                "conditions": [{"type": "Ready", "status": "True"}],
                "containerStatuses": [container("c", TERMINATED)]}, "3")
    status = {"hostIP": "10.0.0.1", "hostIPs": [{"ip": "10.0.0.2"}], "qosClass": "Guaranteed",
              "conditions": [{"type": "Ready", "status": "True"}, {"type": "bad type", "status": "True"}],
              "containerStatuses": [container("c", RUNNING)]}
    causes = refused(m, status)
    assert [c["field"] for c in causes] == ["status.conditions[1].Type", "status.qosClass",
                                            "status.containerStatuses[0].state", "status.hostIPs[0].ip"]
    assert causes[1]["message"] == 'Invalid value: "Guaranteed": field is immutable'
    assert causes[3]["message"] == 'Invalid value: "10.0.0.2": must be equal to `hostIP`'
    assert causes[0]["message"].startswith('Invalid value: "bad type": name part must consist of')


def test_a_label_cause_comes_before_the_status_causes() -> None:
    m = model_with_pod()
    body = clone(m.lookup("pods", "ns", "p"))
    body["metadata"]["labels"] = {"bad key": "v"}
    body["status"] = {"hostIP": "10.0.0.1", "hostIPs": [{"ip": "10.0.0.2"}], "qosClass": "BestEffort"}
    e = m.update("pods", "ns", "p", body, subresource="status")
    assert e.code == 422
    assert [c["field"] for c in e.status["details"]["causes"]] == ["metadata.labels", "status.hostIPs[0].ip"]


def test_releases_before_the_qos_and_condition_path_rules() -> None:
    m = model_with_pod((1, 31, 0))
    obj = written(m, {"phase": "Running"}, "3")
    assert "qosClass" not in obj["status"]  # no backfill before 1.32
    written(m, {"phase": "Running", "qosClass": "Guaranteed"}, "4")  # nor immutability
    causes = refused(m, {"conditions": [{"type": "bad type", "status": "True"}]})
    assert [c["field"] for c in causes] == ["metadata.conditions[0].Type"]


def test_node_status_keeps_the_spec_and_refuses_duplicate_addresses() -> None:
    for release, shown in ((releases.PINNED, '{"Type":"InternalIP","Address":"10.0.0.1"}'),
                           ((1, 33, 0), 'core.NodeAddress{Type:"InternalIP", Address:"10.0.0.1"}')):
        m = APIModel(release=release)
        m.create("nodes", None, {"metadata": {"name": "n"}, "spec": {"taints": [{"key": "k", "effect": "NoSchedule"}]},
                                 "status": {"capacity": {"cpu": "2"}}}).commit({"metadata": {"resourceVersion": "1"}})
        body = clone(m.lookup("nodes", None, "n"))
        body["spec"] = {"unschedulable": True}
        body["metadata"]["labels"] = {"a": "2"}
        body["status"] = {"addresses": [{"type": "InternalIP", "address": "10.0.0.1"}]}
        e = m.update("nodes", None, "n", body, subresource="status")
        assert e.code == 200 and e.obj["spec"] == {"taints": [{"key": "k", "effect": "NoSchedule"}]}
        assert e.obj["metadata"]["labels"] == {"a": "2"} and e.obj["status"] == body["status"]
        e.commit({"metadata": {"resourceVersion": "2"}})
        body = clone(m.lookup("nodes", None, "n"))
        body["status"]["addresses"].append({"type": "InternalIP", "address": "10.0.0.1"})
        e = m.update("nodes", None, "n", body, subresource="status")
        assert e.code == 422 and e.status["details"]["causes"] == [
            {"reason": "FieldValueDuplicate", "field": "status.addresses[1]", "message": f"Duplicate value: {shown}"}]


def test_a_status_write_that_drops_the_last_finalizer_of_a_pod_being_deleted_removes_it() -> None:
    m = model_with_pod()
    body = clone(m.lookup("pods", "ns", "p"))
    body["metadata"]["finalizers"] = ["kubeprop.io/a"]
    m.update("pods", "ns", "p", body).commit({"metadata": {"resourceVersion": "3"}})
    m.delete("pods", "ns", "p", {"gracePeriodSeconds": 0}).commit({"metadata": {"resourceVersion": "4"}})
    body = clone(m.lookup("pods", "ns", "p"))
    body["metadata"]["finalizers"] = ["kubeprop.io/a", "kubeprop.io/b"]
    e = m.update("pods", "ns", "p", body, subresource="status")
    assert e.code == 422 and e.status["details"]["causes"][0]["field"] == "metadata.finalizers"
    body["metadata"]["finalizers"] = []
    e = m.update("pods", "ns", "p", body, subresource="status")
    assert e.code == 200 and e.rv == "4"
    e.commit(None)
    assert m.lookup("pods", "ns", "p") is None


def test_a_binding_replaces_the_pod_scheduled_condition_a_status_write_left() -> None:
    m = model_with_pod()
    m.now = "2026-01-01T00:10:00Z"
    written(m, {"qosClass": "BestEffort", "conditions": [
        {"type": "PodScheduled", "status": "True", "reason": "r", "lastTransitionTime": "2026-01-01T00:00:00Z"},
        {"type": "Ready", "status": "False"}]}, "3")
    binding = {"metadata": {"name": "p"}, "target": {"kind": "Node", "name": "n"}}
    e = m.bind("ns", "p", binding)
    assert e.code == 201
    e.commit(None)
    # True already: the time is kept, the reason goes, the place in the list stays
    assert m.lookup("pods", "ns", "p")["status"]["conditions"] == [
        {"type": "PodScheduled", "status": "True", "lastTransitionTime": "2026-01-01T00:00:00Z"},
        {"type": "Ready", "status": "False"}]
    other = model_with_pod()
    other.now = "2026-01-01T00:10:00Z"
    written(other, {"qosClass": "BestEffort", "conditions": [{"type": "PodScheduled", "status": "False"}]}, "3")
    other.bind("ns", "p", binding).commit(None)
    assert other.lookup("pods", "ns", "p")["status"]["conditions"] == [
        {"type": "PodScheduled", "status": "True", "lastTransitionTime": "2026-01-01T00:10:00Z"}]
