"""PATCH (merge, JSON, strategic) and paged / versioned lists of the bundled API server, in process."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from adapters.inprocess import InProcessTarget
from controlplane.apiserver.registry import CONTINUE_EXPIRED, LIST_EXPIRED

GENERIC_422 = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
               "message": "the server rejected our request due to an error in our request", "reason": "Invalid",
               "details": {}, "code": 422}


def pod(name: str, **labels: str) -> dict[str, Any]:
    body: dict[str, Any] = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
                            "spec": {"containers": [{"name": "c", "image": "a"}, {"name": "d", "image": "b"}]}}
    if labels:
        body["metadata"]["labels"] = labels
    return body


def failure(code: int, reason: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                           "message": message, "reason": reason}
    if details is not None:
        out["details"] = details
    out["code"] = code
    return out


# ----- patch -------------------------------------------------------------------------------------------


def test_merge_patch_sets_and_removes_labels_and_noop_keeps_rv(t: InProcessTarget) -> None:
    created = t.create("pods", "ns", pod("p", a="1", b="2")).body
    r = t.patch("pods", "ns", "p", {"metadata": {"labels": {"a": None, "c": "3"}}})
    assert r.code == 200 and r.body["metadata"]["labels"] == {"b": "2", "c": "3"}
    assert r.body["metadata"]["resourceVersion"] != created["metadata"]["resourceVersion"]
    assert r.body["metadata"]["generation"] == 1  # labels are not spec
    again = t.patch("pods", "ns", "p", {"metadata": {"labels": {"c": "3"}}})
    assert again.code == 200 and again.body["metadata"]["resourceVersion"] == r.body["metadata"]["resourceVersion"]


def test_json_patch_replaces_one_container_image_and_bumps_generation(t: InProcessTarget) -> None:
    t.create("pods", "ns", pod("p"))
    r = t.patch("pods", "ns", "p", [{"op": "test", "path": "/spec/containers/1/image", "value": "b"},
                                    {"op": "replace", "path": "/spec/containers/1/image", "value": "z"}],
                patch_type="json")
    assert r.code == 200
    assert r.body["spec"]["containers"] == [{"name": "c", "image": "a"}, {"name": "d", "image": "z"}]
    assert r.body["metadata"]["generation"] == 2


def test_json_patch_failed_test_is_upstreams_generic_422(t: InProcessTarget) -> None:
    before = t.create("pods", "ns", pod("p")).body
    r = t.patch("pods", "ns", "p", [{"op": "test", "path": "/spec/containers/0/image", "value": "nope"}],
                patch_type="json")
    assert (r.code, r.body) == (422, GENERIC_422)
    r = t.patch("pods", "ns", "p", [{"op": "remove", "path": "/metadata/labels/none"}], patch_type="json")
    assert (r.code, r.body) == (422, GENERIC_422)
    assert t.get("pods", "ns", "p").body == before


def test_json_patch_shapes_the_decoder_refuses_are_400(t: InProcessTarget) -> None:
    t.create("pods", "ns", pod("p"))
    r = t.patch("pods", "ns", "p", {"op": "add"}, patch_type="json")
    assert r.body == failure(400, "BadRequest", "json: cannot unmarshal object into Go value of type jsonpatch.Patch")
    r = t.patch("pods", "ns", "p", [1], patch_type="json")
    assert r.body == failure(400, "BadRequest",
                             "json: cannot unmarshal number into Go value of type jsonpatch.Operation")


def test_merge_patch_null_is_400_and_array_is_invalid(t: InProcessTarget) -> None:
    t.create("pods", "ns", pod("p"))
    assert t.patch("pods", "ns", "p", None).body == failure(400, "BadRequest", "Invalid JSON Patch")
    r = t.patch("pods", "ns", "p", [1])
    assert r.code == 422 and r.body["reason"] == "Invalid"
    assert r.body["message"].startswith(' "" is invalid: patch: Invalid value: "[1]": ')
    assert r.body["details"]["causes"][0]["field"] == "patch"


def test_patch_of_a_missing_object_is_404_before_the_patch_is_read(t: InProcessTarget) -> None:
    r = t.patch("pods", "ns", "nope", [{"op": "bogus"}], patch_type="json")
    assert r.body == failure(404, "NotFound", 'pods "nope" not found', {"name": "nope", "kind": "pods"})


def test_patch_with_a_stale_resource_version_conflicts(t: InProcessTarget) -> None:
    t.create("pods", "ns", pod("p"))
    r = t.patch("pods", "ns", "p", {"metadata": {"resourceVersion": "1", "labels": {"x": "y"}}})
    assert r.code == 409 and r.body["reason"] == "Conflict"
    assert r.body["message"].endswith("the object has been modified; please apply your changes to the latest "
                                      "version and try again")
    # null drops the precondition: the update is unconditional
    r = t.patch("pods", "ns", "p", {"metadata": {"resourceVersion": None, "labels": {"x": "y"}}})
    assert r.code == 200


def test_patch_that_renames_or_moves_is_400_and_invalid_result_is_422(t: InProcessTarget) -> None:
    t.create("pods", "ns", pod("p"))
    r = t.patch("pods", "ns", "p", {"metadata": {"name": "q"}})
    assert r.body == failure(400, "BadRequest", "the name of the object (q) does not match the name on the URL (p)")
    r = t.patch("pods", "ns", "p", {"metadata": {"namespace": "other"}})
    assert r.code == 400
    r = t.patch("pods", "ns", "p", {"metadata": {"labels": {"bad key!": "v"}}})
    assert r.code == 422 and r.body["details"]["causes"][0]["field"] == "metadata.labels"
    t.create("leases", "ns", {"metadata": {"name": "l"}, "spec": {"leaseDurationSeconds": 5}})
    r = t.patch("leases", "ns", "l", {"spec": {"leaseDurationSeconds": 0}})
    assert r.code == 422 and "spec.leaseDurationSeconds" in r.body["message"]


def test_apply_patch_and_unknown_types_are_415(t: InProcessTarget) -> None:
    t.create("pods", "ns", pod("p"))
    for kind in ("apply", "application/apply-patch+yaml", "text/plain", "application/merge-patch+json "):
        r = t.patch("pods", "ns", "p", {}, patch_type=kind)
        assert r.body == failure(415, "UnsupportedMediaType",
                                 "the body of the request was in an unknown format - accepted media types include: "
                                 "application/json-patch+json, application/merge-patch+json, "
                                 "application/strategic-merge-patch+json"), kind
    assert t.patch("pods", "ns", "p", {}, patch_type="application/merge-patch+json; charset=utf-8").code == 200


def test_strategic_merge_patch_merges_lists_by_their_keys(t: InProcessTarget) -> None:
    t.create("pods", "ns", {**pod("p"), "metadata": {"name": "p", "finalizers": ["a/x"]}})
    r = t.patch("pods", "ns", "p", {"metadata": {"finalizers": ["a/y"]},
                                    "spec": {"containers": [{"name": "d", "image": "z"}, {"name": "e", "image": "e"}]}},
                patch_type="strategic")
    assert r.code == 200
    assert r.body["metadata"]["finalizers"] == ["a/x", "a/y"]
    assert r.body["spec"]["containers"] == [{"name": "c", "image": "a"}, {"name": "d", "image": "z"},
                                            {"name": "e", "image": "e"}]
    r = t.patch("pods", "ns", "p", {"spec": {"containers": [{"name": "e", "$patch": "delete"}]},
                                    "$deleteFromPrimitiveList/finalizers": ["a/x"]}, patch_type="strategic")
    assert r.code == 200, r.body
    assert [c["name"] for c in r.body["spec"]["containers"]] == ["c", "d"]
    r = t.patch("pods", "ns", "p", {"metadata": {"$deleteFromPrimitiveList/finalizers": ["a/x"]}},
                patch_type="strategic")
    assert r.body["metadata"]["finalizers"] == ["a/y"]
    # a list with no merge key in its schema is replaced
    r = t.patch("pods", "ns", "p", {"spec": {"tolerations": [{"key": "k"}]}}, patch_type="strategic")
    r = t.patch("pods", "ns", "p", {"spec": {"tolerations": [{"key": "j"}]}}, patch_type="strategic")
    assert r.body["spec"]["tolerations"] == [{"key": "j"}]
    r = t.patch("pods", "ns", "p", [1], patch_type="strategic")
    assert r.body == failure(400, "BadRequest",
                             "json: cannot unmarshal array into Go value of type map[string]interface {}")


# ----- list: limit, continue, resourceVersion, resourceVersionMatch ------------------------------------


def names(body: dict[str, Any]) -> list[str]:
    return [o["metadata"]["name"] for o in body["items"]]


def test_list_pages_with_opaque_tokens_at_the_first_pages_revision(t: InProcessTarget) -> None:
    for i in range(5):
        t.create("pods", "ns", pod(f"p{i}", i=str(i % 2)))
    srv = t.server
    first = srv.list("pods", "ns", limit=2).body
    rv = first["metadata"]["resourceVersion"]
    assert names(first) == ["p0", "p1"] and first["metadata"]["remainingItemCount"] == 3
    token = first["metadata"]["continue"]
    decoded = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    assert decoded == {"v": "meta.k8s.io/v1", "rv": int(rv), "start": "p1\x00"}
    # a write between pages is not seen: the pages are a snapshot at the first page's revision
    t.delete("pods", "ns", "p2", options={"gracePeriodSeconds": 0})
    second = srv.list("pods", "ns", limit=2, continue_=token).body
    assert names(second) == ["p2", "p3"] and second["metadata"]["resourceVersion"] == rv
    third = srv.list("pods", "ns", limit=2, continue_=second["metadata"]["continue"]).body
    assert names(third) == ["p4"] and "continue" not in third["metadata"]
    # with a selector, pages fill up and the count is left out
    sel = srv.list("pods", None, limit=1, label_selector="i=1").body
    assert names(sel) == ["p1"] and "remainingItemCount" not in sel["metadata"] and sel["metadata"]["continue"]
    # a page that ends on the last key carries no token
    assert "continue" not in srv.list("pods", "ns", limit=4).body["metadata"]


def test_list_at_an_exact_revision_and_not_older_than(t: InProcessTarget) -> None:
    t.create("pods", "ns", pod("a"))
    rv = t.list("pods", "ns").body["metadata"]["resourceVersion"]
    t.create("pods", "ns", pod("b"))
    srv = t.server
    exact = srv.list("pods", "ns", resource_version=rv, resource_version_match="Exact").body
    assert names(exact) == ["a"] and exact["metadata"]["resourceVersion"] == rv
    newer = srv.list("pods", "ns", resource_version=rv, resource_version_match="NotOlderThan").body
    assert names(newer) == ["a", "b"] and int(newer["metadata"]["resourceVersion"]) > int(rv)
    # the legacy form with a limit reads at that revision too
    assert names(srv.list("pods", "ns", resource_version=rv, limit=5).body) == ["a"]


def test_list_compacted_revision_and_token_are_410(t: InProcessTarget) -> None:
    for i in range(3):
        t.create("pods", "ns", pod(f"p{i}"))
    srv = t.server
    page = srv.list("pods", "ns", limit=1).body
    rv = page["metadata"]["resourceVersion"]
    t.create("pods", "ns", pod("p9"))
    t.controls.compact()
    r = srv.list("pods", "ns", limit=1, continue_=page["metadata"]["continue"])
    assert r.code == 410 and r.body["reason"] == "Expired" and r.body["message"] == CONTINUE_EXPIRED
    fresh = r.body["metadata"]["continue"]
    decoded = json.loads(base64.urlsafe_b64decode(fresh + "=" * (-len(fresh) % 4)))
    assert decoded == {"v": "meta.k8s.io/v1", "rv": -1, "start": "p0\x00"}
    # the token from the 410 goes on at the latest revision
    rest = srv.list("pods", "ns", continue_=fresh).body
    assert names(rest) == ["p1", "p2", "p9"]
    r = srv.list("pods", "ns", resource_version=rv, resource_version_match="Exact")
    assert (r.code, r.body) == (410, failure(410, "Expired", LIST_EXPIRED))


@pytest.mark.parametrize(("kwargs", "errors"), [
    ({"resource_version_match": "Exact"},
     ["resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided"]),
    ({"resource_version": "0", "resource_version_match": "Exact"},
     ['resourceVersionMatch: Forbidden: resourceVersionMatch "exact" is forbidden for resourceVersion "0"']),
    ({"resource_version": "5", "resource_version_match": "Newest"},
     ['resourceVersionMatch: Unsupported value: "Newest": supported values: "Exact", "NotOlderThan", ""']),
    ({"resource_version": "5", "resource_version_match": "Exact", "continue_": "x"},
     ["resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden when continue is provided"]),
])
def test_list_option_combinations_upstream_refuses(t: InProcessTarget, kwargs: dict[str, str],
                                                   errors: list[str]) -> None:
    r = t.server.list("pods", "ns", **kwargs)
    text = errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]"
    assert r.code == 422 and r.body["message"] == f'ListOptions.meta.k8s.io "" is invalid: {text}'
    assert r.body["details"]["group"] == "meta.k8s.io" and r.body["details"]["kind"] == "ListOptions"


def test_list_bad_versions_and_tokens_are_400_and_future_is_504(t: InProcessTarget) -> None:
    srv = t.server
    r = srv.list("pods", "ns", resource_version="abc")
    assert r.body == failure(400, "BadRequest", 'invalid resource version: resourceVersion: Invalid value: "abc": '
                                                'strconv.ParseUint: parsing "abc": invalid syntax')
    token = srv.list("pods", "ns", limit=1).body["metadata"].get("continue")
    assert token is None
    t.create("pods", "ns", pod("a"))
    t.create("pods", "ns", pod("b"))
    token = srv.list("pods", "ns", limit=1).body["metadata"]["continue"]
    r = srv.list("pods", "ns", continue_=token, resource_version="5")
    assert r.body == failure(400, "BadRequest", "specifying resource version is not allowed when using continue")
    bad = base64.urlsafe_b64encode(b'{"v":"meta.k8s.io/v1","rv":3,"start":"../x"}').decode().rstrip("=")
    assert srv.list("pods", "ns", continue_=bad).code == 400
    r = srv.list("pods", "ns", resource_version="999999")
    assert r.code == 504 and r.body["reason"] == "Timeout"
    assert r.body["message"].startswith("Timeout: Too large resource version: 999999, current: ")
