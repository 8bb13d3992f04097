"""Object helpers: encoding to and from stored bytes, timestamps, and type checks of request bodies.

Bodies arrive as arbitrary JSON; the checks here turn wrong shapes into the
400 BadRequest a Go server's decoder would answer, before any rule runs.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from .errors import BadRequest
from .resources import Resource

JSON = dict[str, Any]

TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
MICRO_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def format_time(t: datetime) -> str:
    """RFC 3339, whole seconds, UTC, 'Z' (apimachinery/pkg/apis/meta/v1/time.go: MarshalJSON)."""
    return t.astimezone(UTC).strftime(TIME_FORMAT)


def parse_time(text: str) -> datetime:
    return datetime.strptime(text, TIME_FORMAT).replace(tzinfo=UTC)


def add_seconds(text: str, seconds: int) -> str:
    return format_time(parse_time(text) + timedelta(seconds=seconds))


def normalize_micro_time(text: str) -> str:
    """Parse an RFC 3339 time and print it as a MicroTime (meta/v1/micro_time.go: MarshalJSON)."""
    try:
        t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest(f"parsing time {json.dumps(text)} as RFC 3339 failed") from None
    if t.tzinfo is None:
        raise BadRequest(f"parsing time {json.dumps(text)}: missing time zone")
    return t.astimezone(UTC).strftime(MICRO_TIME_FORMAT)


def encode(obj: JSON) -> bytes:
    """The stored form: JSON without resourceVersion (etcd's mod revision is the version)."""
    meta = obj["metadata"]
    rv = meta.pop("resourceVersion", None)
    try:
        return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()
    finally:
        if rv is not None:
            meta["resourceVersion"] = rv


def decode(value: bytes, revision: int) -> JSON:
    """A fresh object from stored bytes, stamped with the revision as its resourceVersion."""
    obj: JSON = json.loads(value)
    obj["metadata"]["resourceVersion"] = str(revision)
    return obj


def without_rv(obj: JSON) -> JSON:
    """A shallow copy whose metadata lacks resourceVersion, for comparing contents."""
    meta = dict(obj.get("metadata") or {})
    meta.pop("resourceVersion", None)
    return {**obj, "metadata": meta}


# ---- body shape checks (the Go decoder would refuse these with a 400) ----


def _cannot_handle(res: Resource, detail: str) -> BadRequest:
    # apimachinery/pkg/runtime/serializer: a decode failure reads "<Kind> in version ... cannot be handled"
    return BadRequest(f'{res.kind} in version "{res.version}" cannot be handled as a {res.kind}: {detail}')


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null"


def expect(res: Resource, value: Any, want: type | tuple[type, ...], field: str, go_type: str) -> None:
    """Raise 400 unless value (if not None) has the wanted JSON type; bools are never ints."""
    if value is None:
        return
    # JSON true/false decode to Python bools, which are ints: Go refuses them for int fields
    ok = isinstance(value, want) and not (isinstance(value, bool) and want is int)
    if not ok:
        raise _cannot_handle(
            res, f"json: cannot unmarshal {_type_name(value)} into Go struct field {field} of type {go_type}"
        )


def _string_map(res: Resource, value: Any, field: str) -> None:
    expect(res, value, dict, field, "map[string]string")
    for v in (value or {}).values():
        expect(res, v, str, field, "string")


def check_body(res: Resource, body: Any) -> JSON:
    """The body as an object with a metadata object whose well-known fields have the right types."""
    if not isinstance(body, dict):
        raise _cannot_handle(res, f"json: cannot unmarshal {_type_name(body)} into Go value of type {res.kind}")
    kind, api_version = body.get("kind"), body.get("apiVersion")
    expect(res, kind, str, "kind", "string")
    expect(res, api_version, str, "apiVersion", "string")
    if api_version and api_version != res.api_version:
        raise BadRequest(
            f"the API version in the data ({api_version}) does not match the expected API version ({res.api_version})"
        )
    if kind and kind != res.kind:
        raise BadRequest(f"the kind in the data ({kind}) does not match the expected kind ({res.kind})")
    meta = body.get("metadata")
    expect(res, meta, dict, "metadata", "v1.ObjectMeta")
    meta = meta or {}
    for f in ("name", "generateName", "namespace", "uid", "resourceVersion", "creationTimestamp",
              "deletionTimestamp"):
        expect(res, meta.get(f), str, f"ObjectMeta.metadata.{f}", "string")
    for f in ("generation", "deletionGracePeriodSeconds"):
        expect(res, meta.get(f), int, f"ObjectMeta.metadata.{f}", "int64")
    _string_map(res, meta.get("labels"), "ObjectMeta.metadata.labels")
    _string_map(res, meta.get("annotations"), "ObjectMeta.metadata.annotations")
    finalizers = meta.get("finalizers")
    expect(res, finalizers, list, "ObjectMeta.metadata.finalizers", "[]string")
    for f in finalizers or []:
        expect(res, f, str, "ObjectMeta.metadata.finalizers", "string")
    expect(res, body.get("spec"), dict, "spec", f"v1.{res.kind}Spec")
    expect(res, body.get("status"), dict, "status", f"v1.{res.kind}Status")
    return body


def normalize_meta(meta: JSON) -> None:
    """Drop empty optional fields, as the Go encoder's omitempty does, so that empty equals absent."""
    for f in ("labels", "annotations", "finalizers", "generateName", "namespace"):
        if f in meta and not meta[f]:
            del meta[f]
    for f in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation",
              "resourceVersion"):
        if f in meta and meta[f] is None:
            del meta[f]
