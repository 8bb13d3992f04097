"""The model's PATCH: merge and JSON patches applied to the stored object, then the update rules."""

from __future__ import annotations

from model.apiserver import APIModel


def _model_with_pod() -> APIModel:
    m = APIModel()
    m.create("namespaces", None, {"metadata": {"name": "ns"}}).commit({"metadata": {"resourceVersion": "2"}})
    body = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "labels": {"a": "1"}},
            "spec": {"containers": [{"name": "c", "image": "x"}]}}
    m.create("pods", "ns", body).commit({"metadata": {"resourceVersion": "3", "uid": "u"}})
    return m


def test_merge_patch_changes_labels_and_a_noop_keeps_the_version() -> None:
    m = _model_with_pod()
    e = m.patch("pods", "ns", "p", "merge", {"metadata": {"labels": {"a": None, "b": "2"}}})
    assert e.op == "patch" and e.code == 200 and e.fresh_rv
    assert e.obj is not None and e.obj["metadata"]["labels"] == {"b": "2"}
    e.commit({"metadata": {"resourceVersion": "4"}})
    same = m.patch("pods", "ns", "p", "merge", {"metadata": {"labels": {"b": "2"}}})
    assert same.code == 200 and same.rv == "4"


def test_json_patch_test_failure_and_missing_object() -> None:
    m = _model_with_pod()
    e = m.patch("pods", "ns", "p", "json", [{"op": "test", "path": "/metadata/labels/a", "value": "2"}])
    assert e.code == 422 and e.status is not None and e.status["details"] == {}
    assert e.status["message"] == "the server rejected our request due to an error in our request"
    assert m.patch("pods", "ns", "q", "json", []).code == 404


def test_patch_with_a_stale_version_and_spec_change() -> None:
    m = _model_with_pod()
    assert m.patch("pods", "ns", "p", "merge", {"metadata": {"resourceVersion": "2"}}).code == 409
    e = m.patch("pods", "ns", "p", "json", [{"op": "replace", "path": "/spec/containers/0/image", "value": "y"}])
    assert e.code == 200 and e.obj is not None and e.obj["metadata"]["generation"] == 2
