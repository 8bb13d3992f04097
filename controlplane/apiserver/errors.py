"""API errors and the Kubernetes ``Status`` bodies they turn into.

One exception tree: every failure the server reports to a caller is an
:class:`APIError` whose :meth:`APIError.status` is the exact ``Status`` JSON a
kube-apiserver would send (apimachinery/pkg/api/errors/errors.go). Field errors
for 422 Invalid follow apimachinery/pkg/util/validation/field/errors.go.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

JSON = dict[str, Any]

#: a Binding posted to namespaces/{ns}/bindings without metadata.name: 400, in kube-apiserver v1.37.2's words
LEGACY_BINDING_NO_NAME = "Name parameter required."


_GO_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r", "\a": "\\a",
               "\b": "\\b", "\f": "\\f", "\v": "\\v"}


def go_quote(value: str) -> str:
    """A Go ``%q`` of a string (strconv.Quote): messages embed names this way."""
    out = ['"']
    for ch in value:
        code = ord(ch)
        if ch in _GO_ESCAPES:
            out.append(_GO_ESCAPES[ch])
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\x{code:02x}")
        elif not ch.isprintable():
            out.append(f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def go_value(value: Any) -> str:
    """How field.Error.ErrorBody prints a bad value: strings quoted, numbers and bools plain."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return go_quote(value)
    if isinstance(value, list | dict):  # a slice or struct prints as compact JSON (field/errors.go: ErrorBody)
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return str(value)


# apimachinery/pkg/util/validation/field/errors.go: ErrorType names and their cause reasons
_TYPE_TEXT = {
    "FieldValueInvalid": "Invalid value",
    "FieldValueRequired": "Required value",
    "FieldValueForbidden": "Forbidden",
    "FieldValueNotSupported": "Unsupported value",
    "FieldValueDuplicate": "Duplicate value",
    "FieldValueTooLong": "Too long",
}


@dataclass(frozen=True)
class FieldError:
    """One validation failure on one field (field.Error)."""

    type: str  # the cause reason, e.g. "FieldValueInvalid"
    field: str
    detail: str = ""
    bad_value: Any = None
    has_value: bool = False  # Invalid / NotSupported print the value; Required / Forbidden do not

    def body(self) -> str:
        # field/errors.go: ErrorBody
        text = _TYPE_TEXT[self.type]
        if self.has_value:
            text = f"{text}: {go_value(self.bad_value)}"
        if self.detail:
            text = f"{text}: {self.detail}"
        return text

    def text(self) -> str:
        # field/errors.go: Error
        return f"{self.field}: {self.body()}"

    def cause(self) -> JSON:
        return {"reason": self.type, "message": self.body(), "field": self.field}


def invalid_value(field: str, value: Any, detail: str) -> FieldError:
    return FieldError("FieldValueInvalid", field, detail, value, True)


def required(field: str, detail: str = "") -> FieldError:
    return FieldError("FieldValueRequired", field, detail)


def forbidden(field: str, detail: str) -> FieldError:
    return FieldError("FieldValueForbidden", field, detail)


def not_supported(field: str, value: Any, supported: list[str]) -> FieldError:
    detail = "supported values: " + ", ".join(go_quote(s) for s in supported)
    return FieldError("FieldValueNotSupported", field, detail, value, True)


def aggregate(messages: list[str]) -> str:
    """apimachinery/pkg/util/errors/errors.go: aggregate.Error (one message bare, several bracketed)."""
    seen: list[str] = []
    for m in messages:
        if m not in seen:
            seen.append(m)
    if len(seen) == 1:
        return seen[0]
    return "[" + ", ".join(seen) + "]"


class APIError(Exception):
    """A failure with an HTTP code and a Status body; the server never lets anything else escape."""

    code: int = 500
    reason: str = ""
    list_continue: str = ""

    def __init__(self, message: str, details: JSON | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def status(self) -> JSON:
        """The Status JSON, leaving out keys with empty values as the Go encoder's omitempty does."""
        body: JSON = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure"}
        if self.list_continue:
            # etcd3/errors.go: handleCompactedErrorForPaging -- a token to go on with, in the Status' ListMeta
            body["metadata"] = {"continue": self.list_continue}
        if self.message:
            body["message"] = self.message
        if self.reason:
            body["reason"] = self.reason
        if self.details:
            body["details"] = {k: v for k, v in self.details.items() if v not in ("", None, [])}
        body["code"] = self.code
        return body


def _details(name: str, group: str, kind: str) -> JSON:
    return {"name": name, "group": group, "kind": kind}


class NotFound(APIError):
    code = 404
    reason = "NotFound"

    def __init__(self, qualified_resource: str, group: str, plural: str, name: str) -> None:
        # errors.go: NewNotFound
        super().__init__(f"{qualified_resource} {go_quote(name)} not found", _details(name, group, plural))


class AlreadyExists(APIError):
    code = 409
    reason = "AlreadyExists"

    def __init__(self, qualified_resource: str, group: str, plural: str, name: str) -> None:
        # errors.go: NewAlreadyExists
        super().__init__(f"{qualified_resource} {go_quote(name)} already exists", _details(name, group, plural))


class Conflict(APIError):
    code = 409
    reason = "Conflict"

    def __init__(self, qualified: str, group: str, kind: str, name: str, cause: str) -> None:
        # errors.go: NewConflict (qualified is a resource, a Kind, or "pods/binding")
        super().__init__(
            f"Operation cannot be fulfilled on {qualified} {go_quote(name)}: {cause}",
            _details(name, group, kind),
        )


class Invalid(APIError):
    code = 422
    reason = "Invalid"

    def __init__(self, qualified_kind: str, group: str, kind: str, name: str, errors: list[FieldError]) -> None:
        # errors.go: NewInvalid
        message = f"{qualified_kind} {go_quote(name)} is invalid"
        if errors:
            message += ": " + aggregate([e.text() for e in errors])
        details = _details(name, group, kind)
        details["causes"] = [e.cause() for e in errors]
        super().__init__(message, details)
        self.errors = list(errors)


class BadRequest(APIError):
    code = 400
    reason = "BadRequest"

    def __init__(self, message: str) -> None:
        # errors.go: NewBadRequest carries no details
        super().__init__(message)


class Expired(APIError):
    code = 410
    reason = "Expired"

    def __init__(self, message: str) -> None:
        # errors.go: NewResourceExpired
        super().__init__(message)


class InternalError(APIError):
    """A plain (non-API) error; apiserver/pkg/endpoints/handlers/responsewriters/status.go: ErrorToAPIStatus."""

    code = 500
    reason = ""

    def __init__(self, message: str) -> None:
        super().__init__(message)


class UnknownResource(APIError):
    """A URL that names no resource this server serves."""

    code = 404
    reason = "NotFound"

    def __init__(self) -> None:
        super().__init__("the server could not find the requested resource")


class UnsupportedMediaType(APIError):
    """apiserver/pkg/endpoints/handlers/negotiation/errors.go: errUnsupportedMediaType (415, no details)."""

    code = 415
    reason = "UnsupportedMediaType"

    def __init__(self, accepted: list[str]) -> None:
        super().__init__(
            "the body of the request was in an unknown format - accepted media types include: " + ", ".join(accepted)
        )


class RequestEntityTooLarge(APIError):
    """errors.go: NewRequestEntityTooLargeError."""

    code = 413
    reason = "RequestEntityTooLarge"

    def __init__(self, message: str) -> None:
        super().__init__(f"Request entity too large: {message}")


class UnprocessablePatch(APIError):
    """errors.go: NewGenericServerResponse(422, ...) -- the server's own message is not kept, details stay empty."""

    code = 422
    reason = "Invalid"

    def __init__(self) -> None:
        super().__init__("the server rejected our request due to an error in our request")

    def status(self) -> JSON:
        body = super().status()
        # the Status carries a details object whose fields are all empty
        body = {k: v for k, v in body.items() if k != "code"}
        body["details"] = {}
        body["code"] = self.code
        return body


class TooLargeResourceVersion(APIError):
    """apiserver/pkg/storage/errors.go: NewTooLargeResourceVersionError -- errors.go: NewTimeoutError, 504."""

    code = 504
    reason = "Timeout"

    def __init__(self, asked: int, current: int) -> None:
        super().__init__(
            f"Timeout: Too large resource version: {asked}, current: {current}",
            {"causes": [{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}]},
        )
