"""The generic registry: create, get, list, update, delete and watch over a revisioned store.

One :class:`Store` per resource, driven by that resource's strategy, following
apiserver/pkg/registry/generic/registry/store.go. Writes are compare-and-swap
on the mod revision read (a GuaranteedUpdate loop retries when another writer
got in first), so the same code is correct over etcd. Every object handed
back is freshly decoded from stored bytes or built for this call alone.
"""

from __future__ import annotations

import base64
import json
import posixpath
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..faults import FaultSet
from . import patch as patch_ops
from . import resources, validation
from .errors import (
    AlreadyExists,
    APIError,
    BadRequest,
    Conflict,
    Expired,
    FieldError,
    InternalError,
    Invalid,
    NotFound,
    TooLargeResourceVersion,
    forbidden,
    go_quote,
    invalid_value,
    not_supported,
    required,
)
from .fields import FieldSelector, FieldSelectorError, one_term
from .fields import parse as parse_fields
from .meta import (
    JSON,
    add_seconds,
    check_body,
    decode,
    encode,
    format_time,
    normalize_meta,
    parse_time,
    without_rv,
)
from .resources import Resource
from .selectors import Selector, SelectorError
from .selectors import parse as parse_selector
from .storage import Compacted, FutureRevision, KeyExists, KeyNotFound, RevisionConflict, Storage, StorageWatch
from .strategies import Strategy
from .watch import Watcher

MODIFIED_CAUSE = "the object has been modified; please apply your changes to the latest version and try again"
# GuaranteedUpdate retries on a lost compare-and-swap; in process it never loops, over etcd it rarely does
MAX_ATTEMPTS = 64
# apimachinery/pkg/util/rand: generateName suffixes use this alphabet (no vowels, no look-alikes)
_SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


@dataclass
class Context:
    """What every store shares: the storage, the injected clock and uid source, and the faults."""

    storage: Storage
    clock: Callable[[], datetime]
    new_uid: Callable[[], str]
    faults: FaultSet
    name_counter: int = 0
    # the read cache of the get.stale-read fault: key -> (stored bytes, mod revision); used only when it is on
    stale_cache: dict[str, tuple[bytes, int]] = field(default_factory=dict)
    # the revision each key was created at, for the list.stale-item-rv fault; kept only when it is on
    created_at: dict[str, int] = field(default_factory=dict)
    #: the list.cache-skips-wait fault's cache: prefix -> the rows and revision of the last consistent list
    list_cache: dict[str, tuple[list[tuple[str, bytes, int]], int]] = field(default_factory=dict)
    # lets other requests run for a moment, the server lock released (set by APIServer); only the window of a
    # seeded concurrency fault calls it
    interleave: Callable[[str], None] = field(default=lambda point: None)
    #: a dry run (dryRun=All): the storage checks every write and keeps none (storage.DryRunStorage)
    dry: bool = False

    def racy(self, fault: str, point: str) -> bool:
        """With ``fault`` on: open a window at ``point`` in which other requests run, and say so (the caller then
        acts on what it read before the window, without the compare-and-swap that would have caught a change)."""
        if not self.faults.enabled(fault):
            return False
        self.interleave(point)
        return True

    def now(self) -> str:
        return format_time(self.clock())


def json_copy(body: Any, res: Resource) -> Any:
    """A deep copy that is guaranteed to be plain JSON (anything else is a 400, never an exception)."""
    try:
        # no NaN or infinities and no lone surrogates: what is stored must encode as JSON in UTF-8
        text = json.dumps(body, allow_nan=False, ensure_ascii=False)
        text.encode("utf-8")
        return json.loads(text)
    except (TypeError, ValueError, RecursionError) as e:
        raise BadRequest(f"{res.kind} in version \"{res.version}\" cannot be handled as a {res.kind}: {e}") from None


def go_string_slice(values: list[str]) -> str:
    """Go's %#v of a []string."""
    return "[]string{" + ", ".join(go_quote(v) for v in values) + "}"


def _precondition_strings(res: Resource, options: JSON) -> tuple[int | None, str | None, str | None]:
    """(gracePeriodSeconds, uid, resourceVersion) of a DeleteOptions body, type-checked."""

    def bad(detail: str) -> BadRequest:
        return BadRequest(f'DeleteOptions in version "v1" cannot be handled as a DeleteOptions: {detail}')

    if not isinstance(options, dict):
        raise bad("json: cannot unmarshal into Go value of type v1.DeleteOptions")
    grace = options.get("gracePeriodSeconds")
    if grace is not None and (isinstance(grace, bool) or not isinstance(grace, int)):
        raise bad("json: cannot unmarshal into Go struct field DeleteOptions.gracePeriodSeconds of type int64")
    pre = options.get("preconditions")
    if pre is None:
        pre = {}
    if not isinstance(pre, dict):
        raise bad("json: cannot unmarshal into Go struct field DeleteOptions.preconditions of type v1.Preconditions")
    uid, rv = pre.get("uid"), pre.get("resourceVersion")
    for value, name in ((uid, "uid"), (rv, "resourceVersion")):
        if value is not None and not isinstance(value, str):
            raise bad(f"json: cannot unmarshal into Go struct field Preconditions.preconditions.{name} of type string")
    return grace, uid, rv


# ---- list options (apimachinery/pkg/apis/meta/internalversion/validation, apiserver/pkg/storage) ----

# apiserver/pkg/storage/etcd3/errors.go: the messages of a list whose revision was compacted
LIST_EXPIRED = "The resourceVersion for the provided list is too old."
CONTINUE_EXPIRED = (
    "The provided continue parameter is too old to display a consistent list result. You can start a new list "
    "without the continue parameter, or use the continue token in this response to retrieve the remainder of the "
    "results. Continuing with the provided token results in an inconsistent list - objects that were created, "
    "modified, or deleted between the time the first chunk was returned and now may show up in the list."
)
_UINT = re.compile(r"[0-9]+")


# apimachinery/pkg/api/validation/objectmeta.go: TotalAnnotationSizeLimitB
ANNOTATIONS_SIZE_LIMIT = 256 * 1024


def _meta_errors(meta: JSON, canonical: tuple[str, ...] = ()) -> list[FieldError]:
    """apimachinery/pkg/api/validation/objectmeta.go: ValidateObjectMeta's label and annotation rules.

    ``canonical`` labels are the ones a strategy's Canonicalize sets after validation (not checked here).
    """
    errs: list[FieldError] = []
    labels = {k: v for k, v in (meta.get("labels") or {}).items() if k not in canonical}
    # apimachinery/pkg/apis/meta/v1/validation/validation.go: ValidateLabels (Go walks the map in no set order)
    for key in sorted(labels):
        errs.extend(invalid_value("metadata.labels", key, m) for m in validation.label_key(key))
        errs.extend(invalid_value("metadata.labels", labels[key], m) for m in validation.label_value(labels[key]))
    annotations = meta.get("annotations") or {}
    # objectmeta.go: ValidateAnnotations -- keys are qualified names whatever their case, and the total is bounded
    for key in sorted(annotations):
        errs.extend(invalid_value("metadata.annotations", key, m) for m in validation.label_key(key.lower()))
    size = sum(len(k.encode("utf-8", "replace")) + len(v.encode("utf-8", "replace")) for k, v in annotations.items())
    if size > ANNOTATIONS_SIZE_LIMIT:
        errs.append(FieldError("FieldValueTooLong", "metadata.annotations",
                               f"may not be more than {ANNOTATIONS_SIZE_LIMIT} bytes"))
    return errs


def _validate_list_options(rv: str, match: str, continue_: str) -> None:
    """internalversion/validation/validation.go: ValidateListOptions -- 422 on ListOptions.meta.k8s.io."""
    errs: list[FieldError] = []
    if match:
        if not rv:
            errs.append(forbidden("resourceVersionMatch",
                                  "resourceVersionMatch is forbidden unless resourceVersion is provided"))
        if continue_:
            errs.append(forbidden("resourceVersionMatch",
                                  "resourceVersionMatch is forbidden when continue is provided"))
        if match not in ("Exact", "NotOlderThan"):
            errs.append(not_supported("resourceVersionMatch", match, ["Exact", "NotOlderThan", ""]))
        if match == "Exact" and rv == "0":
            errs.append(forbidden("resourceVersionMatch",
                                  'resourceVersionMatch "exact" is forbidden for resourceVersion "0"'))
    if errs:
        raise Invalid("ListOptions.meta.k8s.io", "meta.k8s.io", "ListOptions", "", errs)


def validate_watch_options(match: str, continue_: str, send_initial_events: bool | None) -> None:
    """internalversion/validation/validation.go: validateWatchOptions, with the WatchList feature off here."""
    errs: list[FieldError] = []
    if send_initial_events is not None:
        if match != "NotOlderThan":
            errs.append(forbidden("resourceVersionMatch",
                                  "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan"))
        errs.append(forbidden("sendInitialEvents",
                              "sendInitialEvents is forbidden for watch unless the WatchList feature gate is enabled"))
    if match:
        if send_initial_events is None:
            errs.append(forbidden("resourceVersionMatch",
                                  "resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided"))
        if match != "NotOlderThan":
            errs.append(not_supported("resourceVersionMatch", match, ["NotOlderThan"]))
        if continue_:
            errs.append(forbidden("resourceVersionMatch",
                                  "resourceVersionMatch is forbidden when continue is provided"))
    if errs:
        raise Invalid("ListOptions.meta.k8s.io", "meta.k8s.io", "ListOptions", "", errs)


def parse_resource_version(rv: str) -> int:
    """apiserver/pkg/storage/api_object_versioner.go: ParseResourceVersion ("" and "0" are 0), else 400."""
    if rv in ("", "0"):
        return 0
    if _UINT.fullmatch(rv) and int(rv) < 2**64:
        return int(rv)
    reason = "value out of range" if _UINT.fullmatch(rv) else "invalid syntax"
    detail = f"strconv.ParseUint: parsing {go_quote(rv)}: {reason}"
    # storage/interfaces.go: ValidateListOptions wraps the field error in a BadRequest
    raise BadRequest(f"invalid resource version: {invalid_value('resourceVersion', rv, detail).text()}")


def _encode_continue(key: str, prefix: str, rev: int) -> str:
    # apiserver/pkg/storage/continue.go: EncodeContinue -- unpadded URL-safe base64 of {"v","rv","start"}
    token = {"v": "meta.k8s.io/v1", "rv": rev, "start": key[len(prefix):]}
    data = json.dumps(token, separators=(",", ":"), ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _decode_continue(token: str, prefix: str) -> tuple[str, int]:
    """continue.go: DecodeContinue -- (start key, revision), or the BadRequest ValidateListOptions answers."""

    def bad(detail: str) -> BadRequest:
        return BadRequest(f"invalid continue token: {detail}")

    generic = "continue key is not valid"
    try:
        if not re.fullmatch(r"[A-Za-z0-9_-]*", token) or len(token) % 4 == 1:
            raise ValueError("illegal base64 data")
        data = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        parsed = json.loads(data.decode("utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError) as e:
        raise bad(f"{generic}: {e}") from None
    if not isinstance(parsed, dict):
        raise bad(f"{generic}: json: cannot unmarshal into Go value of type storage.continueToken")
    version, rev, start = parsed.get("v"), parsed.get("rv", 0), parsed.get("start", "")
    if not isinstance(rev, int) or isinstance(rev, bool) or not isinstance(start, str) \
            or not isinstance(version, (str, type(None))):
        raise bad(f"{generic}: json: cannot unmarshal into Go struct field continueToken of a wrong type")
    if version != "meta.k8s.io/v1":
        raise bad(f"continue key is not valid: server does not recognize this encoded version {version or ''}")
    if rev == 0:
        raise bad("continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)")
    if not start:
        raise bad("continue key is not valid: encoded start key empty (version meta.k8s.io/v1)")
    key = start if start.startswith("/") else "/" + start
    if posixpath.normpath(key) != key or key.startswith("//"):
        # path.Clean must leave the key as it is: no way out of the listed prefix
        raise bad(f"{generic}: {start}")
    return prefix + key[1:], rev


def _list_start(prefix: str, limit: int, continue_: str, rv: str, match: str) -> tuple[int, str | None]:
    """storage/interfaces.go: ValidateListOptions -- the revision to read at (0: latest) and the first key."""
    if continue_:
        start, rev = _decode_continue(continue_, prefix)
        if rv and rv != "0":
            raise BadRequest("specifying resource version is not allowed when using continue")
        return (rev if rev > 0 else 0), start
    parsed = parse_resource_version(rv)
    if not rv:
        return 0, None
    if match == "Exact":
        return parsed, None
    if match == "" and limit > 0 and parsed > 0:
        return parsed, None
    return 0, None


def _list_expired(prefix: str, start: str | None, paging: bool) -> APIError:
    # apiserver/pkg/storage/etcd3/errors.go: interpretListError, handleCompactedErrorForPaging
    if not paging or start is None:
        return Expired(LIST_EXPIRED)
    err = Expired(CONTINUE_EXPIRED)
    err.list_continue = _encode_continue(start, prefix, -1)
    return err


def _too_large(asked: int, current: int) -> APIError:
    # apiserver/pkg/storage/errors.go: NewTooLargeResourceVersionError (a 504 Timeout)
    return TooLargeResourceVersion(asked, current)


class Store:
    """The generic registry for one resource."""

    def __init__(self, ctx: Context, strategy: Strategy) -> None:
        self.ctx = ctx
        self.strategy = strategy
        self.res = strategy.resource

    # ---- helpers ----

    def load(self, key: str, name: str) -> tuple[bytes, int, JSON]:
        """The stored bytes, their revision and the decoded object, or NotFound."""
        got = self.ctx.storage.get(key)
        if got is None:
            raise self._not_found(name)
        value, rev = got
        return value, rev, decode(value, rev)

    def precondition_failed(self, namespace: str | None, name: str, detail: str) -> Conflict:
        """A storage precondition that failed (apiserver/pkg/storage/errors.go: StorageError.Error with
        ErrCodeInvalidObj, 4, as store.go wraps it). A dry run names the key without the storage's /registry
        prefix: registry/dryrun.go checks the preconditions itself, on the key as the registry builds it, which
        etcd3/store.go alone prefixes (measured on v1.37.2)."""
        res = self.res
        key = res.key(namespace, name)
        if self.ctx.dry:
            key = key.removeprefix("/registry")
        return Conflict(res.qualified_resource, res.group, res.plural, name, (
            f"StorageError: invalid object, Code: 4, Key: {key}, ResourceVersion: 0, "
            f"AdditionalErrorMsg: Precondition failed: {detail}"))

    def _uid_precondition_failed(self, namespace: str | None, name: str, asked: str, stored: str) -> Conflict:
        return self.precondition_failed(namespace, name, f"UID in precondition: {asked}, UID in object meta: {stored}")

    def _not_found(self, name: str) -> NotFound:
        return NotFound(self.res.qualified_resource, self.res.group, self.res.plural, name)

    def _checked_body(self, body: Any) -> JSON:
        check_body(self.res, body)
        self.strategy.check_types(body)
        copy: JSON = json_copy(body, self.res)
        copy["metadata"] = dict(copy.get("metadata") or {})
        for f in ("spec", "status"):
            if f in copy and copy[f] is None:
                del copy[f]  # null decodes to the zero value, which the encoder leaves out
        return copy

    def _stamp(self, obj: JSON, namespace: str | None) -> None:
        # kind and apiVersion first, as a Go server prints them
        rest = {k: v for k, v in obj.items() if k not in ("kind", "apiVersion")}
        obj.clear()
        obj.update({"kind": self.res.kind, "apiVersion": self.res.api_version, **rest})
        meta = obj["metadata"]
        # apiserver/pkg/registry/rest/create.go: BeforeCreate -- cluster-scoped objects carry no namespace
        if self.res.namespaced:
            meta["namespace"] = namespace
        else:
            meta.pop("namespace", None)

    def _note_write(self, key: str, old: JSON | None, new: JSON | None, value: bytes | None, rev: int) -> None:
        """Keep the get.stale-read fault's cache; a no-op unless that fault is on."""
        if self.ctx.dry or not self.ctx.faults.enabled("get.stale-read"):
            return
        cache = self.ctx.stale_cache
        if new is None or value is None:
            cache.pop(key, None)
            return
        if old is not None and key in cache:
            a, b = without_rv(old), without_rv(new)
            a["metadata"].pop("labels", None)
            b["metadata"].pop("labels", None)
            if a == b:
                return  # the bug: a labels-only change never reaches the cache
        cache[key] = (value, rev)

    def _generate_name(self, prefix: str) -> str:
        # apiserver/pkg/storage/names/generate.go: SimpleNameGenerator -- prefix + 5 characters
        self.ctx.name_counter += 1
        n, chars = self.ctx.name_counter, []
        for _ in range(5):
            n, r = divmod(n, len(_SUFFIX_ALPHABET))
            chars.append(_SUFFIX_ALPHABET[r])
        return prefix + "".join(chars)

    # ---- create ----

    def create(self, namespace: str | None, body: Any) -> JSON:
        res = self.res
        obj = self._checked_body(body)
        meta = obj["metadata"]
        if res.namespaced:
            assert namespace is not None
            # plugin/pkg/admission/namespace/lifecycle/admission.go: Validate -- the namespace must exist
            if self.ctx.storage.get(resources.NAMESPACES.key(None, namespace)) is None:
                r = resources.NAMESPACES
                raise NotFound(r.qualified_resource, r.group, r.plural, namespace)
            # apiserver/pkg/registry/rest/meta.go: EnsureObjectNamespaceMatchesRequestNamespace
            if meta.get("namespace") and meta["namespace"] != namespace:
                raise BadRequest(
                    "the namespace of the provided object does not match the namespace sent on the request"
                )
        name = meta.get("name") or ""
        generated = not name and bool(meta.get("generateName"))
        if generated:
            name = meta["name"] = self._generate_name(meta["generateName"])
        asked_rv = meta.get("resourceVersion")
        # apiserver/pkg/registry/rest/create.go: BeforeCreate -- the server owns these
        for f in ("deletionTimestamp", "deletionGracePeriodSeconds", "generation", "resourceVersion"):
            meta.pop(f, None)
        self._stamp(obj, namespace)
        sent_status = obj.get("status")
        self.strategy.prepare_for_create(obj, self.ctx.now())
        if self.ctx.faults.enabled("create.keeps-status") and isinstance(sent_status, dict) \
                and isinstance(obj.get("status"), dict):
            obj["status"] = {**sent_status, **obj["status"]}
        # apimachinery/pkg/api/validation/objectmeta.go: ValidateObjectMeta
        errs: list[FieldError] = []
        if not name:
            errs.append(required("metadata.name", "name or generateName is required"))
        else:
            errs.extend(invalid_value("metadata.name", name, msg) for msg in res.name_rule(name))
        # pkg/apis/core/v1/defaults.go: SetDefaults_Namespace sets the name label before validation when the name
        # is in the body, so it is validated like any label; only a generated name gets it after (Canonicalize)
        meta_errs = _meta_errors(meta, self.strategy.canonical_labels if generated else ())
        errs.extend(meta_errs)
        errs.extend(self.strategy.validate(obj))
        if self.ctx.faults.enabled("create.skips-label-validation") and len(errs) == len(meta_errs) \
                and self.ctx.storage.get(res.key(namespace, name)) is None:
            errs = []  # stored, when its labels and annotations are all that is wrong with it and its name is free
        if errs:
            raise Invalid(res.qualified_kind, res.group, res.kind, name, errs)
        if asked_rv:
            # apiserver/pkg/storage/etcd3/store.go: Create refuses it with a plain error, which releases answer
            # 500 (a known finding: conformance/findings.py); the client's mistake gets 400 here
            raise BadRequest("resourceVersion should not be set on objects to be created")
        if self.ctx.faults.enabled("create.reuses-uid"):
            meta["uid"] = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{res.plural}/{namespace or ''}/{name}"))
        else:
            meta["uid"] = self.ctx.new_uid()
        meta["creationTimestamp"] = self.ctx.now()
        normalize_meta(meta)
        key = res.key(namespace, name)
        value = encode(obj)
        try:
            expected = 0
            if self.ctx.faults.enabled("create.racy-exists"):
                if self.ctx.storage.get(key) is not None:
                    raise KeyExists(key)
                if self.ctx.racy("create.racy-exists", f"create {key}: the name was free"):
                    now = self.ctx.storage.get(key)
                    expected = now[1] if now is not None else 0  # writes over a create that came in meanwhile
            rev = self.ctx.storage.put(key, value, expected)
        except KeyExists:
            err = AlreadyExists(res.qualified_resource, res.group, res.plural, name)
            got = self.ctx.storage.get(key)
            if got is not None and decode(*got)["metadata"].get("deletionTimestamp"):
                # apiserver/pkg/registry/generic/registry/store.go: Create -- says why the name is still taken
                err.message = f"object is being deleted: {err.message}"
            raise err from None
        self._note_write(key, None, obj, value, rev)
        if self.ctx.dry:
            return obj  # nothing stored, so no resourceVersion (registry/dryrun.go: Create copies the object)
        if self.ctx.faults.enabled("list.stale-item-rv"):
            self.ctx.created_at[key] = rev
        meta["resourceVersion"] = str(rev)
        return obj

    # ---- get, list ----

    def get(self, namespace: str | None, name: str) -> JSON:
        key = self.res.key(namespace, name)
        if self.ctx.faults.enabled("get.stale-read"):
            cached = self.ctx.stale_cache.get(key)
            if cached is not None:
                return decode(*cached)
        got = self.ctx.storage.get(key)
        if got is None:
            raise self._not_found(name)
        if self.ctx.faults.enabled("get.stale-read"):
            self.ctx.stale_cache[key] = got
        return decode(*got)

    def list(self, namespace: str | None, label_selector: str | None, *, field_selector: str | None = None,
             limit: int = 0, continue_: str = "", resource_version: str = "", resource_version_match: str = "") -> JSON:
        """apiserver/pkg/registry/generic/registry/store.go: List over apiserver/pkg/storage/etcd3/store.go: GetList."""
        # apiserver/pkg/endpoints/handlers/get.go: ListResource -- the selectors are parsed while decoding the options
        selector = self._selector(label_selector)
        fields = self._fields(field_selector)
        _validate_list_options(resource_version, resource_version_match, continue_)
        if self.ctx.faults.enabled("list.ignores-selector"):
            selector = selector.equality_only()
        selects = self._selects(selector, fields)
        prefix = self.res.prefix(namespace)
        paging = limit > 0
        with_rev, start = _list_start(prefix, limit, continue_, resource_version, resource_version_match)
        if continue_ and self.ctx.faults.enabled("list.page-at-latest"):
            with_rev = 0  # the next page reads whatever the store holds now
        storage = self.ctx.storage
        if with_rev:
            range_at = getattr(storage, "range_at", None)
            if range_at is None:
                rows, rev = storage.range(prefix)
            else:
                try:
                    rows, rev = range_at(prefix, with_rev), with_rev
                except Compacted:
                    raise _list_expired(prefix, start, bool(continue_)) from None
                except FutureRevision as e:
                    raise _too_large(with_rev, e.current) from None
        elif self.ctx.faults.enabled("list.torn-read"):
            rows, rev = self._torn_range(prefix)
        elif (self.ctx.faults.enabled("list.cache-skips-wait") and resource_version and prefix in self.ctx.list_cache
              and (resource_version == "0" or resource_version_match == "NotOlderThan")):
            # the cache does not wait to catch up with the revision asked, and claims it anyway
            rows, rev = self.ctx.list_cache[prefix]
            rev = max(rev, int(resource_version))
        else:
            rows, rev = storage.range(prefix)
            if resource_version and resource_version != "0" and int(resource_version) > rev:
                # etcd3/store.go: validateMinimumResourceVersion -- the answer must be at least that recent
                raise _too_large(int(resource_version), rev)
            if not resource_version and not paging and self.ctx.faults.enabled("list.cache-skips-wait"):
                self.ctx.list_cache[prefix] = (list(rows), rev)

        def order(key: str) -> tuple[str, ...]:
            return tuple(key[len(prefix):].split("/"))

        rows = sorted(rows, key=lambda r: order(r[0]))
        if start is not None:
            rows = [r for r in rows if order(r[0]) >= order(start)]
        items: list[JSON] = []
        last_key, more = "", False
        for key, value, mod in rows:
            if paging and len(items) >= limit:
                more = True  # etcd3/store.go: appendChunk -- the limit is reached with keys left to read
                break
            last_key = key
            obj = decode(value, mod)
            if self.ctx.faults.enabled("list.stale-item-rv") and key in self.ctx.created_at:
                obj["metadata"]["resourceVersion"] = str(self.ctx.created_at[key])
            if selects is None or selects(obj):
                items.append(obj)
        list_meta: JSON = {"resourceVersion": str(rev)}
        if more:
            # apiserver/pkg/storage/continue.go: PrepareContinueToken -- resume just after the last key read
            list_meta["continue"] = _encode_continue(last_key + "\x00", prefix, rev)
            if selects is None:  # etcd3/store.go: GetList counts what is left only when nothing is filtered
                list_meta["remainingItemCount"] = len(rows) - limit
        return {
            "kind": self.res.list_kind,
            "apiVersion": self.res.api_version,
            "metadata": list_meta,
            "items": items,
        }

    def _torn_range(self, prefix: str) -> tuple[list[tuple[str, bytes, int]], int]:
        """The list.torn-read fault: the keys first, then each object on its own read with other requests let in
        between, so the answer can show a state the store never held."""
        keys = [k for k, _, _ in self.ctx.storage.range(prefix)[0]]
        rows = []
        for key in keys:
            self.ctx.racy("list.torn-read", f"list {prefix}: before reading {key}")
            got = self.ctx.storage.get(key)
            if got is not None:
                rows.append((key, *got))
        return rows, self.ctx.storage.current_revision()

    @staticmethod
    def _selector(text: str | None) -> Selector:
        try:
            return parse_selector(text)
        except SelectorError as e:
            # apiserver/pkg/endpoints/handlers/get.go: an unparsable selector is a 400
            raise BadRequest(f"unable to parse requirement: {e}") from None

    def _fields(self, text: str | None, name: str | None = None) -> FieldSelector:
        """A fieldSelector, its fields checked against the resource's; with ``name`` (a watch of one object by
        its URL), the selection of that name. apiserver/pkg/endpoints/handlers/get.go: ListResource -- the fields
        go through the kind's field label conversion (400 for one it does not know), then a name in the URL
        becomes metadata.name=NAME, and a selector that does not require exactly that name is refused (400)."""
        try:
            fields = parse_fields(text).transform(self.strategy.field_label)
        except FieldSelectorError as e:
            raise BadRequest(str(e)) from None
        if name is None:
            return fields
        if fields.empty:
            return one_term("metadata.name", name)
        if fields.requires_exact("metadata.name") != name:
            raise BadRequest("fieldSelector metadata.name doesn't match requested name")
        return fields

    def _selects(self, labels: Selector, fields: FieldSelector) -> Callable[[JSON], bool] | None:
        """Whether an object is selected by both selectors; None when they select everything."""
        if labels.empty and fields.empty:
            return None

        def selects(obj: JSON) -> bool:
            return ((labels.empty or labels.matches(obj["metadata"].get("labels")))
                    and (fields.empty or fields.matches(self.strategy.selectable_fields(obj))))

        return selects

    # ---- update ----

    def put(self, namespace: str | None, name: str, body: Any) -> tuple[JSON, bool]:
        """PUT ``body``: the updated object and False, or, where the strategy allows a PUT to create, the new
        object and True when there was none."""
        # apiserver/pkg/registry/generic/registry/store.go: Update (AllowCreateOnUpdate)
        if not self.strategy.allow_create_on_update:
            return self.update(namespace, name, body), False
        base = self._checked_body(body)
        meta = base["metadata"]
        if (meta.get("name") or "") == name and meta.get("uid"):
            if self.ctx.storage.get(self.res.key(namespace, name)) is None:
                # store.go: Update -- where a PUT may create, a missing object is read as an empty one, and the
                # body's uid, a precondition (rest/update.go), fails against its empty uid
                raise self._uid_precondition_failed(namespace, name, meta["uid"], "")
        if (meta.get("name") or "") == name and not meta.get("uid"):
            if self.ctx.storage.get(self.res.key(namespace, name)) is None:
                # rest/meta.go: WipeObjectMetaSystemFields -- what the body says of them does not count
                for f in ("uid", "resourceVersion", "creationTimestamp", "deletionTimestamp",
                          "deletionGracePeriodSeconds"):
                    meta.pop(f, None)
                try:
                    return self.create(namespace, base), True
                except AlreadyExists:
                    pass  # created meanwhile: update it
        return self.update(namespace, name, body), False

    def update(self, namespace: str | None, name: str, body: Any,
               patched: Callable[[JSON], JSON] | None = None) -> JSON:
        """PUT ``body``; or, with ``patched``, write what it makes of the object read in each attempt (PATCH)."""
        res = self.res
        base = self._checked_body(body) if patched is None else {}
        key = res.key(namespace, name)
        for _ in range(MAX_ATTEMPTS):
            value, cur_rev, old = self.load(key, name)
            if patched is not None:
                # apiserver/pkg/endpoints/handlers/patch.go: applyPatch runs again on every GuaranteedUpdate attempt
                base = patched(old)
            meta = base["metadata"]
            body_name = meta.get("name") or ""
            if body_name != name:
                # apiserver/pkg/endpoints/handlers/update.go: checkName
                raise BadRequest(
                    f"the name of the object ({body_name}) does not match the name on the URL ({name})"
                )
            if res.namespaced and meta.get("namespace") and meta["namespace"] != namespace:
                raise BadRequest(
                    "the namespace of the provided object does not match the namespace sent on the request"
                )
            if patched is None and old is not None and meta.get("uid") and meta["uid"] != old["metadata"].get("uid"):
                # rest/update.go: DefaultUpdatedObjectInfo.Preconditions -- a PUT's uid is a storage precondition,
                # checked on the stored object first (storage/interfaces.go: Preconditions.Check)
                raise self._uid_precondition_failed(namespace, name, meta["uid"], old["metadata"].get("uid", ""))
            asked_rv = meta.get("resourceVersion")
            if not asked_rv and not self.strategy.allow_unconditional_update:
                # store.go: Update -- an Invalid whose kind is the resource (GroupKind{Group, Resource})
                raise Invalid(res.qualified_resource, res.group, res.plural, name, [
                    invalid_value("metadata.resourceVersion", 0, "must be specified for an update")])
            # store.go: Update -- a non-empty resourceVersion must match the stored one
            if asked_rv and asked_rv != str(cur_rev) and not self.ctx.faults.enabled("update.ignores-rv"):
                err = Conflict(res.qualified_resource, res.group, res.plural, name, MODIFIED_CAUSE)
                if self.ctx.faults.enabled("status.wrong-reason"):
                    err.reason = "AlreadyExists"
                raise err
            new: JSON = json.loads(json.dumps(base))
            self._stamp(new, namespace)
            new_meta, old_meta = new["metadata"], old["metadata"]
            new_meta.pop("resourceVersion", None)
            for f in self.strategy.cleared_on_update:
                new_meta.pop(f, None)
            # apiserver/pkg/registry/rest/update.go: BeforeUpdate puts back an empty uid, a deletionTimestamp once
            # there is one and an absent deletionGracePeriodSeconds; anything else changed is refused
            # (apimachinery/pkg/api/validation/objectmeta.go: ValidateObjectMetaAccessorUpdate)
            immutable = [invalid_value(f"metadata.{f}", new_meta[f], "field is immutable") for f in (
                "uid", "deletionTimestamp", "deletionGracePeriodSeconds") if _changes_owned(f, new_meta, old_meta)]
            if immutable:
                # the metadata's own values are validated before the immutable fields are compared
                raise Invalid(res.qualified_kind, res.group, res.kind, name,
                              _meta_errors(new_meta, self.strategy.canonical_labels) + immutable)
            # apiserver/pkg/registry/rest/update.go: BeforeUpdate -- server-owned metadata keeps its value
            sent_creation, sent_deletion = new_meta.get("creationTimestamp"), new_meta.get("deletionTimestamp")
            for f in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation"):
                if f in old_meta:
                    new_meta[f] = old_meta[f]
                else:
                    new_meta.pop(f, None)
            if sent_creation and self.ctx.faults.enabled("update.takes-creation-timestamp"):
                new_meta["creationTimestamp"] = sent_creation
            normalize_meta(new_meta)
            stored = without_rv(old)
            self.strategy.prepare_for_update(new, stored)
            if self.ctx.faults.enabled("update.keeps-dropped-field") and isinstance(stored.get("spec"), dict):
                kept = new.setdefault("spec", {})
                for field_name, value_ in stored["spec"].items():
                    kept.setdefault(field_name, value_)
            errs = _meta_errors(new_meta, self.strategy.canonical_labels) + self.strategy.validate_update(new, stored)
            if old_meta.get("deletionTimestamp"):
                # apimachinery/pkg/api/validation/objectmeta.go: ValidateNoNewFinalizers
                added = sorted(set(new_meta.get("finalizers", [])) - set(old_meta.get("finalizers", [])))
                if added:
                    errs.append(forbidden(
                        "metadata.finalizers",
                        "no new finalizers can be added if the object is being deleted, "
                        f"found new finalizers {go_string_slice(added)}",
                    ))
            if self.ctx.faults.enabled("update.skips-taint-validation") \
                    and all(e.field.startswith("metadata.taints[") for e in errs):
                errs = []  # stored, when its taints are all that is wrong with it
            if errs:
                raise Invalid(res.qualified_kind, res.group, res.kind, name, errs)
            if (
                old_meta.get("deletionTimestamp")
                and old_meta.get("deletionGracePeriodSeconds") == 0
                and not new_meta.get("finalizers")
            ):
                # store.go: Update, ShouldDeleteDuringUpdate -- the last finalizer gone: remove, don't write
                try:
                    rev = self.ctx.storage.delete(key, cur_rev)
                except (RevisionConflict, KeyNotFound):
                    continue
                self._note_write(key, old, None, None, rev)
                # deleteWithoutFinalizers answers with the object as the update made it, not a delete's reply
                new_meta["resourceVersion"] = str(cur_rev)
                return new
            # kube-apiserver writes a body naming another deletionTimestamp for an object being deleted, though
            # BeforeUpdate puts the stored one back and nothing shown changes (v1.36.3 and v1.37.2 alike)
            other_deletion = bool(sent_deletion) and sent_deletion != old_meta.get("deletionTimestamp")
            if new == stored and not other_deletion and not self.ctx.faults.enabled("update.noop-bumps-rv"):
                # apiserver/pkg/storage/etcd3/store.go: GuaranteedUpdate -- identical bytes are not written
                return old
            new_value = encode(new)
            if self.ctx.racy("update.racy-precondition", f"update {key}: checked against revision {cur_rev}"):
                now = self.ctx.storage.get(key)
                cur_rev = now[1] if now is not None else cur_rev  # writes over a change that came in meanwhile
            try:
                rev = self.ctx.storage.put(key, new_value, cur_rev)
            except (RevisionConflict, KeyNotFound):
                continue
            self._note_write(key, old, new, new_value, rev)
            new_meta["resourceVersion"] = str(rev)
            return new
        raise InternalError(f"too many conflicts updating {key}")

    # ---- patch ----

    def patch(self, namespace: str | None, name: str, kind: str, body: Any) -> JSON:
        """apiserver/pkg/endpoints/handlers/patch.go: the patch applied to the stored object, then an update."""
        res = self.res

        def patched(old: JSON) -> JSON:
            result = patch_ops.apply(old, kind, body)
            try:
                return self._checked_body(result)
            except BadRequest as e:
                # patch.go: applyPatchToCurrentObject -- a result that does not decode is Invalid on "patch"
                prefix = f'{res.kind} in version "{res.version}" cannot be handled as a {res.kind}: '
                detail = e.message[len(prefix):] if e.message.startswith(prefix) else e.message
                text = json.dumps(result, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
                raise Invalid("", "", "", "", [invalid_value("patch", text, detail)]) from None

        return self.update(namespace, name, None, patched)

    # ---- delete ----

    def _deleted_reply(self, last_value: bytes, rev: int) -> JSON:
        """store.go: finalizeDelete -- the last state at the delete's revision, or a Success Status."""
        last = decode(last_value, rev)
        if self.strategy.returns_deleted_object:
            return last
        details: JSON = {"name": last["metadata"]["name"]}
        if self.res.group:
            details["group"] = self.res.group
        details["kind"] = self.res.plural
        details["uid"] = last["metadata"].get("uid", "")
        return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details}

    def _deletion_plan(self, old: JSON, grace_asked: int | None) -> tuple[JSON | None, bool] | None:
        """What a delete does to ``old``: (state to write first or None, remove afterwards), or None for nothing.

        Follows apiserver/pkg/registry/generic/registry/store.go: Delete, updateForGracefulDeletionAndFinalizers,
        markAsDeleting, and rest/delete.go: BeforeDelete.
        """
        meta = old["metadata"]
        held = bool(meta.get("finalizers")) and not self.ctx.faults.enabled("delete.ignores-finalizers")
        now = self.ctx.now()
        pending_grace = meta.get("deletionGracePeriodSeconds") or 0

        def mark(deadline: str, grace: int, bump: bool) -> JSON:
            new = without_rv(old)
            nm = new["metadata"] = dict(new["metadata"])
            nm["deletionTimestamp"] = deadline
            nm["deletionGracePeriodSeconds"] = grace
            if bump and nm.get("generation"):
                nm["generation"] = nm["generation"] + 1
            return new

        if not self.strategy.graceful or (meta.get("deletionTimestamp") and pending_grace == 0):
            if not held:
                return (None, True)
            # markAsDeleting: the timestamp only ever moves earlier, to now
            stamp = meta.get("deletionTimestamp")
            deadline = stamp if stamp and not parse_time(stamp) > parse_time(now) else now
            new = mark(deadline, 0, bump=not stamp)
            return None if new == without_rv(old) else (new, False)
        if meta.get("deletionTimestamp"):
            # BeforeDelete on a pending graceful deletion: only a shorter grace period changes anything
            if grace_asked is None or grace_asked >= pending_grace:
                return None
            first_asked = add_seconds(meta["deletionTimestamp"], -pending_grace)
            deadline, period = add_seconds(first_asked, grace_asked), grace_asked
            if parse_time(deadline) < parse_time(now):
                deadline = now
                period = 1 if period != 0 else 0
            return (mark(deadline, period, bump=False), grace_asked == 0 and not held)
        grace = self.strategy.grace_period(old, grace_asked)
        return (mark(add_seconds(now, grace), grace, bump=True), grace == 0 and not held)

    def delete(self, namespace: str | None, name: str, options: Any) -> JSON:
        res = self.res
        grace_asked, pre_uid, pre_rv = _precondition_strings(res, options if options is not None else {})
        key = res.key(namespace, name)
        for _ in range(MAX_ATTEMPTS):
            value, cur_rev, old = self.load(key, name)
            meta = old["metadata"]
            # apiserver/pkg/apis/meta/v1 Preconditions, checked by store.go: Delete -- a conflict on the kind
            if pre_uid and pre_uid != meta.get("uid"):
                raise Conflict(res.qualified_kind, res.group, res.kind, name,
                               f"the UID in the precondition ({pre_uid}) does not match the UID in record "
                               f"({meta.get('uid', '')}). The object might have been deleted and then recreated")
            if pre_rv and pre_rv != str(cur_rev):
                raise Conflict(res.qualified_kind, res.group, res.kind, name,
                               f"the ResourceVersion in the precondition ({pre_rv}) does not match the "
                               f"ResourceVersion in record ({cur_rev}). The object might have been modified")
            if self.ctx.racy("delete.racy-precondition", f"delete {key}: checked against revision {cur_rev}"):
                now = self.ctx.storage.get(key)
                if now is not None:  # deletes whatever came in meanwhile
                    value, cur_rev, old = now[0], now[1], decode(*now)
            plan = self._deletion_plan(old, grace_asked)
            if plan is None:
                return old  # nothing to change: rest/delete.go BeforeDelete reports the deletion as pending
            written, remove = plan
            if written is not None:
                new_value = encode(written)
                try:
                    rev = self.ctx.storage.put(key, new_value, cur_rev)
                except (RevisionConflict, KeyNotFound):
                    continue
                self._note_write(key, old, written, new_value, rev)
                written["metadata"]["resourceVersion"] = str(rev)
                if not remove:
                    return written
                old, value, cur_rev = written, new_value, rev
            try:
                rev = self.ctx.storage.delete(key, cur_rev)
            except (RevisionConflict, KeyNotFound):
                continue
            self._note_write(key, old, None, None, rev)
            return self._deleted_reply(value, rev)
        raise InternalError(f"too many conflicts deleting {key}")

    # ---- watch ----

    def _racy_start(self, prefix: str, after: int, w: Watcher) -> StorageWatch:
        """The watch.racy-start fault: the changes since ``after`` are replayed, other requests are let in, and
        the live stream then starts at the revision current at that moment: what committed in between is lost.
        (Without the fault the replay and the live stream are one storage watch, so nothing falls between.)"""
        storage = self.ctx.storage
        storage.watch(prefix, after, w.on_storage_event).cancel()
        self.ctx.racy("watch.racy-start", f"watch {prefix}: replayed up to {storage.current_revision()}")
        return storage.watch(prefix, storage.current_revision() + 1, w.on_storage_event)

    def watch(self, namespace: str | None, resource_version: str | None, label_selector: str | None,
              field_selector: str | None = None, name: str | None = None) -> Watcher:
        """A watch of the objects both selectors select; ``name``: of that one object (its URL named it)."""
        faults = self.ctx.faults
        try:
            selects = self._selects(self._selector(label_selector), self._fields(field_selector, name))
        except APIError as e:
            w = Watcher(None, faults)
            w.fail(e.status())
            return w
        prefix = self.res.prefix(namespace)
        storage = self.ctx.storage
        if not resource_version or resource_version == "0":
            # apiserver/pkg/storage/cacher/cacher.go: Watch -- no RV: the current state as ADDED, then changes
            rows, rev = storage.range(prefix)
            w = Watcher(selects, faults, after_revision=rev)
            for _, value, mod in sorted((self.res.split_key(k), v, m) for k, v, m in rows):
                obj = decode(value, mod)
                if selects is None or selects(obj):
                    w.push("ADDED", obj)
            w.attach(storage.watch(prefix, rev + 1, w.on_storage_event, on_error=w.storage_failed))
            return w
        try:
            after = int(resource_version)
            if after < 0:
                raise ValueError
        except ValueError:
            w = Watcher(selects, faults)
            w.fail(BadRequest(f"invalid resource version: {resource_version!r}").status())
            return w
        w = Watcher(selects, faults, after_revision=after)
        w.begin_replay()
        try:
            # apiserver/pkg/storage/etcd3/watcher.go: the etcd watch starts at the revision after the one asked
            # for, so a compaction at that next revision does not end it. The watch.resume-duplicates fault
            # needs the change at `after` itself; without the fault the watcher would drop it anyway.
            start = after if faults.enabled("watch.resume-duplicates") else after + 1
            if faults.enabled("watch.racy-start"):
                handle = self._racy_start(prefix, start, w)
            else:
                handle = storage.watch(prefix, start, w.on_storage_event, on_error=w.storage_failed)
        except Compacted as e:
            if not faults.enabled("watch.no-expiry"):
                w.end_replay()
                # apiserver/pkg/storage/cacher/watch_cache.go: getAllEventsSinceLocked -- too old: 410 Expired
                w.fail(Expired(f"too old resource version: {after} ({e.compact_revision})").status())
                return w
            handle = storage.watch(prefix, e.compact_revision + 1, w.on_storage_event)
        w.end_replay()
        w.attach(handle)
        return w


def _changes_owned(field_name: str, new_meta: JSON, old_meta: JSON) -> bool:
    """Whether an update's metadata changes a server-owned field in a way rest/update.go BeforeUpdate does not
    put back (an empty uid and an absent grace period take the stored ones; a deletionTimestamp is the stored one
    once the object has one)."""
    new, old = new_meta.get(field_name), old_meta.get(field_name)
    if field_name == "deletionTimestamp":
        return bool(new) and not old
    if field_name == "uid":
        return bool(new) and new != old
    return new is not None and new != old
