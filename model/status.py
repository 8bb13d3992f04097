"""Expected ``Status`` bodies, built the way apimachinery/pkg/api/errors/errors.go builds them.

A message may be a compiled pattern where the server is free to choose part of
it (e.g. the oldest revision it still keeps).
"""

from __future__ import annotations

import itertools
import re
from typing import Any

from model.resources import Resource

OPTIMISTIC_LOCK = (
    # apiserver/pkg/registry/generic/registry/store.go: OptimisticLockErrorMsg
    "the object has been modified; please apply your changes to the latest version and try again"
)


def _details(name: str | None, group: str, kind: str, **extra: Any) -> dict[str, Any]:
    d: dict[str, Any] = {}
    if name:
        d["name"] = name
    if group:
        d["group"] = group
    d["kind"] = kind
    d.update(extra)
    return d


def failure(code: int, reason: str | None, message: str | re.Pattern[str], details: dict | None) -> dict:
    s: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                         "message": message}
    if reason:
        s["reason"] = reason
    if details:
        s["details"] = details
    s["code"] = code
    return s


def not_found(res: Resource, name: str) -> dict:
    # errors.go: NewNotFound
    return failure(404, "NotFound", f'{res.qualified_resource} "{name}" not found',
                   _details(name, res.group, res.plural))


def path_not_found() -> dict:
    """The 404 for a URL that names no resource: errors.go NewGenericServerResponse, whose details are there with
    every field empty (kube-apiserver v1.29.15, v1.36.3 and v1.37.2 answer ``GET /api/v1/foo`` so)."""
    status = failure(404, "NotFound", "the server could not find the requested resource", None)
    return {**{k: v for k, v in status.items() if k != "code"}, "details": {}, "code": 404}


def already_exists(res: Resource, name: str) -> dict:
    # errors.go: NewAlreadyExists
    return failure(409, "AlreadyExists", f'{res.qualified_resource} "{name}" already exists',
                   _details(name, res.group, res.plural))


def conflict(group: str, resource_name: str, name: str, cause: str) -> dict:
    # errors.go: NewConflict; resource_name is a GroupResource's Resource part (plural, "pods/binding" or a Kind)
    qualified = f"{resource_name}.{group}" if group else resource_name
    return failure(409, "Conflict", f'Operation cannot be fulfilled on {qualified} "{name}": {cause}',
                   _details(name, group, resource_name))


def stale_update(res: Resource, name: str) -> dict:
    return conflict(res.group, res.plural, name, OPTIMISTIC_LOCK)


#: a key of an expected Status (never sent by a server): its causes may come in any order, as causes found by
#: walking a Go map do (apimachinery/pkg/apis/meta/v1/validation/validation.go: ValidateLabels and
#: objectmeta.go: ValidateAnnotations range over maps); conformance/compare.py compares them as a multiset
ANY_ORDER = "$causes-in-any-order"


def invalid(res: Resource, name: str, causes: list[tuple[str, str, str]], *, any_order: bool = False) -> dict:
    """causes: (reason, field, body) triples, e.g. ("FieldValueInvalid", "metadata.name", 'Invalid value: ...');
    ``any_order``: the server may list them in any order."""
    status = invalid_kind(res.qualified_kind, res.group, res.kind, name, causes)
    texts = list(dict.fromkeys(f"{f}: {b}" for _, f, b in causes))
    if any_order and len(texts) > 1:
        head = re.escape(f'{res.qualified_kind} "{name}" is invalid: ')
        orders = "|".join(re.escape("[" + ", ".join(p) + "]") for p in itertools.permutations(texts))
        status["message"] = re.compile(f"{head}(?:{orders})")
        status[ANY_ORDER] = True
    return status


def invalid_kind(qualified_kind: str, group: str, kind: str, name: str, causes: list[tuple[str, str, str]]) -> dict:
    """An Invalid Status for a kind that is not one of the stored resources (a Binding, say)."""
    # errors.go: NewInvalid keeps every cause; field/errors.go: ErrorList.ToAggregate folds equal texts into one
    texts = list(dict.fromkeys(f"{f}: {b}" for _, f, b in causes))
    agg = texts[0] if len(texts) == 1 else "[" + ", ".join(texts) + "]"
    return failure(422, "Invalid", f'{qualified_kind} "{name}" is invalid: {agg}',
                   _details(name, group, kind, causes=[{"reason": r, "message": b, "field": f} for r, f, b in causes]))


def rv_required(res: Resource, name: str, go_values: bool = False) -> dict:
    """A PUT without resourceVersion where the strategy forbids unconditional updates (``go_values``: the uint64
    zero as releases before 1.34 show it, in Go syntax: model/releases.py FIELD_VALUES_AS_JSON)."""
    # apiserver/pkg/registry/generic/registry/store.go: Update builds this Invalid with the resource in the kind's
    # place (GroupKind{Group, Kind: Resource}), so the message and details name the plural
    body = f"Invalid value: {'0x0' if go_values else 0}: must be specified for an update"
    qualified = f"{res.plural}.{res.group}" if res.group else res.plural
    return failure(422, "Invalid", f'{qualified} "{name}" is invalid: metadata.resourceVersion: {body}',
                   _details(name, res.group, res.plural, causes=[
                       {"reason": "FieldValueInvalid", "message": body, "field": "metadata.resourceVersion"}]))


def bad_request(message: str | re.Pattern[str]) -> dict:
    return failure(400, "BadRequest", message, None)


def internal(message: str) -> dict:
    # handlers/responsewriters/status.go: ErrorToAPIStatus on an error that is not an API status
    return failure(500, None, message, None)


def expired() -> dict:
    # apiserver/pkg/storage/etcd3/watcher.go / cacher: NewResourceExpired("too old resource version: %d (%d)")
    return failure(410, "Expired", re.compile(r"too old resource version: \d+ \(\d+\)"), None)


def success_deleted(res: Resource, name: str, uid: str | None) -> dict:
    # store.go: finalizeDelete for stores without ReturnDeletedObject
    details = _details(name, res.group, res.plural)
    if uid:
        details["uid"] = uid
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details}


def success_created() -> dict:
    # pods/binding returns a bare Success status; the create handler fills in 201
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}


def patch_not_applicable() -> dict:
    # apiserver/pkg/endpoints/handlers/patch.go: applyJSPatch answers a patch that does not apply with
    # errors.go: NewGenericServerResponse(422, ...), which keeps none of the cause and an empty details object
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": "the server rejected our request due to an error in our request", "reason": "Invalid",
            "details": {}, "code": 422}
