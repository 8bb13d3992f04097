"""PATCH bodies: JSON merge patch (RFC 7386), JSON patch (RFC 6902) and strategic merge patch.

apiserver/pkg/endpoints/handlers/patch.go applies a patch to the stored
object as the client would see it (its JSON, resourceVersion included) and
hands the result to the ordinary update path. What is here only turns a stored
object and a patch body into the patched JSON, or raises the error a
kube-apiserver answers for a patch that cannot be applied.
"""

from __future__ import annotations

import json
from typing import Any

import jsonpatch
import jsonpointer

from .errors import BadRequest, RequestEntityTooLarge, UnprocessablePatch, UnsupportedMediaType

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
# apiserver/pkg/endpoints/installer.go: the patch types a built-in resource accepts, in upstream's order
# (server-side apply is not served here, so its media type is refused with the others)
SUPPORTED = [JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH]
# the short names a caller of APIServer.patch may use
SHORT_NAMES = {"json": JSON_PATCH, "merge": MERGE_PATCH, "strategic": STRATEGIC_MERGE_PATCH, "apply": APPLY_PATCH}
# patch.go: maxJSONPatchOperations
MAX_JSON_PATCH_OPERATIONS = 10000


def media_type(patch_type: str) -> str:
    """The media type a patch names (a short name, or a Content-Type with parameters), or 415."""
    # patch.go: PatchResource drops "; charset=..." before checking the type
    idx = patch_type.find(";")
    base = patch_type[:idx] if idx > 0 else patch_type
    base = SHORT_NAMES.get(base, base)
    if base not in SUPPORTED:
        raise UnsupportedMediaType(SUPPORTED)
    return base


def _go_type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def apply(current: dict[str, Any], kind: str, body: Any) -> Any:
    """The patched JSON of ``current`` (decoded patch ``body``) for one of the SUPPORTED media types."""
    if kind == MERGE_PATCH:
        return merge_patch(current, body)
    if kind == JSON_PATCH:
        return json_patch(current, body)
    return strategic_merge_patch(current, body)


# ----- RFC 7386 (gopkg.in/evanphx/json-patch.v4 merge.go: MergePatch) ------------------------------


def _prune_nulls(value: Any) -> Any:
    # merge.go: pruneNulls -- keys set to null go from objects, also inside arrays; array elements stay
    if isinstance(value, dict):
        return {k: _prune_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_prune_nulls(v) if v is not None else None for v in value]
    return value


def _merge(doc: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    out = dict(doc)
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = _prune_nulls(value)
    return out


def merge_patch(current: dict[str, Any], patch: Any) -> Any:
    if isinstance(patch, dict):
        return _merge(current, patch)
    if isinstance(patch, list):
        # merge.go: doMergePatch -- an array patch replaces the document (which then fails to decode)
        return _prune_nulls(patch)
    # merge.go: ErrBadJSONPatch, which patch.go: applyJSPatch answers with 400
    raise BadRequest("Invalid JSON Patch")


# ----- RFC 6902 (json-patch.v4 patch.go, through the jsonpatch library) -----------------------------


def json_patch(current: dict[str, Any], patch: Any) -> Any:
    # json-patch.v4 patch.go: DecodePatch -- a JSON array of objects, else the decoder's error (400)
    if not isinstance(patch, list):
        raise BadRequest(f"json: cannot unmarshal {_go_type(patch)} into Go value of type jsonpatch.Patch")
    for op in patch:
        if not isinstance(op, dict):
            raise BadRequest(f"json: cannot unmarshal {_go_type(op)} into Go value of type jsonpatch.Operation")
    if len(patch) > MAX_JSON_PATCH_OPERATIONS:
        raise RequestEntityTooLarge(
            f"The allowed maximum operations in a JSON patch is {MAX_JSON_PATCH_OPERATIONS}, got {len(patch)}"
        )
    try:
        return jsonpatch.apply_patch(current, patch, in_place=False)
    except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException, TypeError, ValueError, KeyError,
            IndexError, AttributeError, RecursionError):
        # patch.go: applyJSPatch -- any failure to apply (a failed test too) is a generic 422
        raise UnprocessablePatch() from None


# ----- strategic merge patch (apimachinery/pkg/util/strategicpatch/patch.go) ---------------------------

# the patchStrategy / patchMergeKey tags of the lists kubeprop's resources carry (k8s.io/api core/v1/types.go,
# apimachinery/pkg/apis/meta/v1/types.go); a list not named here is replaced whole. "*" is any list element.
_CONTAINER_LISTS = {"ports": "containerPort", "env": "name", "volumeMounts": "mountPath",
                    "volumeDevices": "devicePath"}
_MERGE_KEYS: dict[tuple[str, ...], str | None] = {
    ("metadata", "finalizers"): None,  # a list of strings merged as a set
    ("metadata", "ownerReferences"): "uid",
    ("spec", "containers"): "name",
    ("spec", "initContainers"): "name",
    ("spec", "ephemeralContainers"): "name",
    ("spec", "volumes"): "name",
    ("spec", "imagePullSecrets"): "name",
    ("spec", "hostAliases"): "ip",
    ("spec", "topologySpreadConstraints"): "topologyKey",
    ("spec", "schedulingGates"): "name",
    ("spec", "resourceClaims"): "name",
    ("spec", "podCIDRs"): None,
    ("status", "conditions"): "type",
    ("status", "hostIPs"): "ip",
    ("status", "podIPs"): "ip",
    ("status", "addresses"): "type",
}
for _list in ("containers", "initContainers", "ephemeralContainers"):
    for _field, _key in _CONTAINER_LISTS.items():
        _MERGE_KEYS[("spec", _list, "*", _field)] = _key

_DIRECTIVE = "$patch"
_RETAIN_KEYS = "$retainKeys"
_DELETE_FROM = "$deleteFromPrimitiveList/"
_SET_ORDER = "$setElementOrder/"


class _BadStrategicPatch(Exception):
    pass


def strategic_merge_patch(current: dict[str, Any], patch: Any) -> Any:
    # patch.go: strategicPatchObject -- the patch must decode into a map (null is an empty patch)
    if patch is None:
        return current
    if not isinstance(patch, dict):
        raise BadRequest(f"json: cannot unmarshal {_go_type(patch)} into Go value of type map[string]interface {{}}")
    try:
        return _smp_map(json.loads(json.dumps(current)), patch, ())
    except _BadStrategicPatch as e:
        # upstream answers these with the strategicpatch error text; kubeprop never lets them become a 500
        raise BadRequest(str(e)) from None


def _strip(value: Any) -> Any:
    """A patch value placed where nothing was: directives and nulls removed."""
    if isinstance(value, dict):
        if value.get(_DIRECTIVE) == "delete":
            return None
        return {k: _strip(v) for k, v in value.items()
                if v is not None and not k.startswith("$")}
    if isinstance(value, list):
        return [_strip(v) for v in value if not (isinstance(v, dict) and v.get(_DIRECTIVE) == "delete")]
    return value


def _smp_map(original: dict[str, Any], patch: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any]:
    patch = dict(patch)
    directive = patch.pop(_DIRECTIVE, None)
    if directive == "replace":
        return _strip(patch)
    if directive == "delete":
        return {}
    if directive not in (None, "merge"):
        raise _BadStrategicPatch(f"unknown patch type: {directive} in map: {patch}")
    retain = patch.pop(_RETAIN_KEYS, None)
    if retain is not None and not isinstance(retain, list):
        raise _BadStrategicPatch("invalid patch: $retainKeys must be a list")
    orders: dict[str, Any] = {}
    for key in [k for k in patch if k.startswith(_SET_ORDER)]:
        orders[key[len(_SET_ORDER):]] = patch.pop(key)
    for key in [k for k in patch if k.startswith(_DELETE_FROM)]:
        field, values = key[len(_DELETE_FROM):], patch.pop(key)
        if not isinstance(values, list):
            raise _BadStrategicPatch("invalid patch: $deleteFromPrimitiveList must be a list")
        if isinstance(original.get(field), list):
            original[field] = [v for v in original[field] if v not in values]
    for key, value in patch.items():
        child = (*path, key)
        if value is None:
            original.pop(key, None)
        elif isinstance(value, dict) and isinstance(original.get(key), dict):
            original[key] = _smp_map(original[key], value, child)
        elif isinstance(value, list) and isinstance(original.get(key), list) and child in _MERGE_KEYS:
            original[key] = _smp_list(original[key], value, child, _MERGE_KEYS[child])
        else:
            stripped = _strip(value)
            if stripped is None:
                original.pop(key, None)
            else:
                original[key] = stripped
    for field, order in orders.items():
        if isinstance(order, list) and isinstance(original.get(field), list):
            original[field] = _reorder(original[field], order, _MERGE_KEYS.get((*path, field)))
    if retain is not None:
        original = {k: v for k, v in original.items() if k in retain}
    return original


def _smp_list(original: list[Any], patch: list[Any], path: tuple[str, ...], key: str | None) -> list[Any]:
    if key is None:
        # a set of primitives: the patch's values are added
        out = list(original)
        for v in patch:
            if v not in out:
                out.append(v)
        return out
    out = list(original)
    for item in patch:
        if not isinstance(item, dict):
            raise _BadStrategicPatch(f"invalid patch: a list merged by {key} holds {_go_type(item)} values")
        if item.get(_DIRECTIVE) == "replace":
            return _strip([i for i in patch if i.get(_DIRECTIVE) != "replace"])
        if key not in item:
            raise _BadStrategicPatch(f"map: {item} does not contain declared merge key: {key}")
        at = next((i for i, o in enumerate(out) if isinstance(o, dict) and o.get(key) == item[key]), None)
        if item.get(_DIRECTIVE) == "delete":
            out = [o for o in out if not (isinstance(o, dict) and o.get(key) == item[key])]
        elif at is None:
            out.append(_strip(item))
        else:
            out[at] = _smp_map(out[at], item, (*path, "*"))
    return out


def _reorder(items: list[Any], order: list[Any], key: str | None) -> list[Any]:
    def ident(v: Any) -> Any:
        return v.get(key) if key and isinstance(v, dict) else v

    wanted = [ident(o) for o in order]
    ranked = [(wanted.index(ident(v)) if ident(v) in wanted else len(wanted), i, v) for i, v in enumerate(items)]
    return [v for _, _, v in sorted(ranked, key=lambda t: (t[0], t[1]))]
