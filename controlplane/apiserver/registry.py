"""The generic registry: create, get, list, update, delete and watch over a revisioned store.

One :class:`Store` per resource, driven by that resource's strategy, following
apiserver/pkg/registry/generic/registry/store.go. Writes are compare-and-swap
on the mod revision read (a GuaranteedUpdate loop retries when another writer
got in first), so the same code is correct over etcd. Every object handed
back is freshly decoded from stored bytes or built for this call alone.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..faults import FaultSet
from . import resources
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
    forbidden,
    go_quote,
    invalid_value,
    required,
)
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
from .storage import Compacted, KeyExists, KeyNotFound, RevisionConflict, Storage
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

    def now(self) -> str:
        return format_time(self.clock())


def json_copy(body: Any, res: Resource) -> Any:
    """A deep copy that is guaranteed to be plain JSON (anything else is a 400, never an exception)."""
    try:
        return json.loads(json.dumps(body))
    except (TypeError, ValueError) as e:
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
        if not self.ctx.faults.enabled("get.stale-read"):
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
        if not name and meta.get("generateName"):
            name = meta["name"] = self._generate_name(meta["generateName"])
        asked_rv = meta.get("resourceVersion")
        # apiserver/pkg/registry/rest/create.go: BeforeCreate -- the server owns these
        for f in ("deletionTimestamp", "deletionGracePeriodSeconds", "generation", "resourceVersion"):
            meta.pop(f, None)
        self._stamp(obj, namespace)
        self.strategy.prepare_for_create(obj, self.ctx.now())
        # apimachinery/pkg/api/validation/objectmeta.go: ValidateObjectMeta
        errs: list[FieldError] = []
        if not name:
            errs.append(required("metadata.name", "name or generateName is required"))
        else:
            errs.extend(invalid_value("metadata.name", name, msg) for msg in res.name_rule(name))
        errs.extend(self.strategy.validate(obj))
        if errs:
            raise Invalid(res.qualified_kind, res.group, res.kind, name, errs)
        if asked_rv:
            # apiserver/pkg/storage/etcd3/store.go: Create -- a plain error, so a 500 without reason
            raise InternalError("resourceVersion should not be set on objects to be created")
        if self.ctx.faults.enabled("create.reuses-uid"):
            meta["uid"] = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{res.plural}/{namespace or ''}/{name}"))
        else:
            meta["uid"] = self.ctx.new_uid()
        meta["creationTimestamp"] = self.ctx.now()
        normalize_meta(meta)
        key = res.key(namespace, name)
        value = encode(obj)
        try:
            rev = self.ctx.storage.put(key, value, 0)
        except KeyExists:
            raise AlreadyExists(res.qualified_resource, res.group, res.plural, name) from None
        self._note_write(key, None, obj, value, rev)
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

    def list(self, namespace: str | None, label_selector: str | None) -> JSON:
        selector = self._selector(label_selector)
        if self.ctx.faults.enabled("list.ignores-selector"):
            selector = selector.equality_only()
        rows, rev = self.ctx.storage.range(self.res.prefix(namespace))
        items: list[tuple[tuple[str, str], JSON]] = []
        for key, value, mod in rows:
            obj = decode(value, mod)
            if selector.empty or selector.matches(obj["metadata"].get("labels")):
                items.append((self.res.split_key(key), obj))
        items.sort(key=lambda kv: kv[0])
        return {
            "kind": self.res.list_kind,
            "apiVersion": self.res.api_version,
            "metadata": {"resourceVersion": str(rev)},
            "items": [obj for _, obj in items],
        }

    @staticmethod
    def _selector(text: str | None) -> Selector:
        try:
            return parse_selector(text)
        except SelectorError as e:
            # apiserver/pkg/endpoints/handlers/get.go: an unparsable selector is a 400
            raise BadRequest(f"unable to parse requirement: {e}") from None

    # ---- update ----

    def update(self, namespace: str | None, name: str, body: Any) -> JSON:
        res = self.res
        base = self._checked_body(body)
        key = res.key(namespace, name)
        for _ in range(MAX_ATTEMPTS):
            value, cur_rev, old = self.load(key, name)
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
            asked_rv = meta.get("resourceVersion")
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
            # apiserver/pkg/registry/rest/update.go: BeforeUpdate -- server-owned metadata keeps its value
            for f in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation"):
                if f in old_meta:
                    new_meta[f] = old_meta[f]
                else:
                    new_meta.pop(f, None)
            normalize_meta(new_meta)
            stored = without_rv(old)
            self.strategy.prepare_for_update(new, stored)
            errs = self.strategy.validate(new)
            if old_meta.get("deletionTimestamp"):
                # apimachinery/pkg/api/validation/objectmeta.go: ValidateNoNewFinalizers
                added = sorted(set(new_meta.get("finalizers", [])) - set(old_meta.get("finalizers", [])))
                if added:
                    errs.append(forbidden(
                        "metadata.finalizers",
                        "no new finalizers can be added if the object is being deleted, "
                        f"found new finalizers {go_string_slice(added)}",
                    ))
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
                return self._deleted_reply(value, rev)
            if new == stored and not self.ctx.faults.enabled("update.noop-bumps-rv"):
                # apiserver/pkg/storage/etcd3/store.go: GuaranteedUpdate -- identical bytes are not written
                return old
            new_value = encode(new)
            try:
                rev = self.ctx.storage.put(key, new_value, cur_rev)
            except (RevisionConflict, KeyNotFound):
                continue
            self._note_write(key, old, new, new_value, rev)
            new_meta["resourceVersion"] = str(rev)
            return new
        raise InternalError(f"too many conflicts updating {key}")

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

    def watch(self, namespace: str | None, resource_version: str | None, label_selector: str | None) -> Watcher:
        faults = self.ctx.faults
        try:
            selector = self._selector(label_selector)
        except APIError as e:
            w = Watcher(Selector(()), faults)
            w.fail(e.status())
            return w
        prefix = self.res.prefix(namespace)
        storage = self.ctx.storage
        if not resource_version or resource_version == "0":
            # apiserver/pkg/storage/cacher/cacher.go: Watch -- no RV: the current state as ADDED, then changes
            rows, rev = storage.range(prefix)
            w = Watcher(selector, faults, after_revision=rev)
            for _, value, mod in sorted((self.res.split_key(k), v, m) for k, v, m in rows):
                obj = decode(value, mod)
                if selector.empty or selector.matches(obj["metadata"].get("labels")):
                    w.push("ADDED", obj)
            w.attach(storage.watch(prefix, rev + 1, w.on_storage_event))
            return w
        try:
            after = int(resource_version)
            if after < 0:
                raise ValueError
        except ValueError:
            w = Watcher(selector, faults)
            w.fail(BadRequest(f"invalid resource version: {resource_version!r}").status())
            return w
        w = Watcher(selector, faults, after_revision=after)
        w.begin_replay()
        try:
            # the store replays from `after` inclusive; the watcher drops the change at `after` itself
            handle = storage.watch(prefix, after, w.on_storage_event)
        except Compacted as e:
            if not faults.enabled("watch.no-expiry"):
                w.end_replay()
                # apiserver/pkg/storage/cacher/watch_cache.go: getAllEventsSinceLocked -- too old: 410 Expired
                w.fail(Expired(f"too old resource version: {after} ({e.compact_revision})").status())
                return w
            handle = storage.watch(prefix, e.compact_revision, w.on_storage_event)
        w.end_replay()
        w.attach(handle)
        return w
