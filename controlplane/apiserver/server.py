"""The API server facade: one entry point per API verb, answering (code, body) like HTTP would.

It resolves the resource, takes the server lock (calls may come from several
threads once this is served over HTTP), runs the registry, and turns every
failure into a Status body. Nothing raises out of it.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from ..faults import FaultSet
from . import binding
from . import patch as patch_ops
from .errors import (
    LEGACY_BINDING_NO_NAME,
    APIError,
    BadRequest,
    InternalError,
    Invalid,
    UnknownResource,
    not_supported,
)
from .registry import Context, Store, parse_resource_version
from .storage import Compacted, DryRunStorage, MemoryStorage, Storage
from .strategies import STATUS_STRATEGIES, STRATEGIES
from .watch import Watcher, held_fanout, queued_fanout

JSON = dict[str, Any]


@dataclass(frozen=True)
class Reply:
    """One answer: the HTTP status code and a JSON body (object, list or Status)."""

    code: int
    body: Any


def _wall_clock() -> datetime:
    return datetime.now(UTC)


def _random_uid() -> str:
    return str(uuid.uuid4())


class APIServer:
    """An API server for namespaces, pods (with pods/binding), nodes and leases over a revisioned store."""

    def __init__(
        self,
        storage: Storage | None = None,
        *,
        clock: Callable[[], datetime] = _wall_clock,
        uid_factory: Callable[[], str] = _random_uid,
        faults: Iterable[str] = (),
    ) -> None:
        self.storage: Storage = storage if storage is not None else MemoryStorage()
        self.faults = faults if isinstance(faults, FaultSet) else FaultSet(faults)
        self._ctx = Context(self.storage, clock, uid_factory, self.faults)
        self._stores = {plural: Store(self._ctx, s) for plural, s in STRATEGIES.items()}
        self._status_stores = {plural: Store(self._ctx, s) for plural, s in STATUS_STRATEGIES.items()}
        self._lock = threading.RLock()
        #: what a seeded concurrency fault's window does while the lock is released: a moment's sleep, so that
        #: requests on other threads get in; a deterministic harness sets its own (it picks who runs next)
        self.pause: Callable[[str], None] = lambda point: time.sleep(0.002)
        self._ctx.interleave = self._window

    def _window(self, point: str) -> None:
        """Let other requests run at ``point`` (a seeded concurrency fault): the lock, which ``_call`` holds once,
        is released around :attr:`pause`."""
        self._lock.release()
        try:
            self.pause(point)
        finally:
            self._lock.acquire()

    def _store(self, resource: str, namespace: str | None, *, listing: bool = False, subresource: str = "") -> Store:
        store = self._stores.get(resource)
        if store is None:
            raise UnknownResource()
        if subresource:
            # the status subresource of pods and nodes (pkg/registry/core/pod/storage/storage.go: StatusREST,
            # node/storage/storage.go: StatusREST); no other subresource is served through these verbs
            store = self._status_stores.get(resource) if subresource == "status" else None
            if store is None:
                raise UnknownResource()
        # a namespaced object needs a namespace in its URL, a cluster-scoped one must not have one
        if store.res.namespaced and namespace is None and not listing:
            raise UnknownResource()
        if not store.res.namespaced and namespace is not None:
            raise UnknownResource()
        return store

    def _writer(self, resource: str, namespace: str | None, options_kind: str, dry_run: list[str] | None,
                subresource: str = "") -> Store:
        """The store a write goes to: the real one, or for a dry run one whose storage keeps nothing.

        ``dry_run`` holds every dryRun value of the request (the URL's, and a delete's DeleteOptions'); each must
        be "All" (apimachinery/pkg/apis/meta/v1/validation/validation.go: ValidateDryRun, run on the request's
        options before anything else), and any of them makes it a dry run.
        """
        if dry_run and any(v != "All" for v in dry_run):
            raise Invalid(f"{options_kind}.meta.k8s.io", "meta.k8s.io", options_kind, "",
                          [not_supported("dryRun", list(dry_run), ["All"])])
        store = self._store(resource, namespace, subresource=subresource)
        if not dry_run:
            return store
        return Store(replace(self._ctx, storage=DryRunStorage(self.storage), dry=True), store.strategy)

    def _call(self, code: int, fn: Callable[[], Any]) -> Reply:
        with self._lock:
            if self.faults.enabled("watch.racy-fanout"):
                inner = fn

                def fn() -> Any:
                    with held_fanout(self._window):
                        return inner()
            if self.faults.enabled("watch.bookmark-ahead"):
                queued = fn

                def fn() -> Any:
                    with queued_fanout(self._window):
                        return queued()
            try:
                return Reply(code, fn())
            except APIError as e:
                return Reply(e.code, e.status())
            except Exception as e:  # a bug must still answer like a server: 500, never an exception
                err = InternalError(f"{type(e).__name__}: {e}")
                return Reply(err.code, err.status())

    def create(self, resource: str, namespace: str | None, body: Any, dry_run: list[str] | None = None) -> Reply:
        return self._call(201, lambda: self._writer(resource, namespace, "CreateOptions", dry_run).create(
            namespace, body))

    def get(self, resource: str, namespace: str | None, name: str, resource_version: str = "", *,
            subresource: str = "") -> Reply:
        """A get reads storage whatever the resourceVersion asks (the newest object is a right answer to any of
        them); a resourceVersion the storage cannot parse is refused first, as for a list."""

        def run() -> Any:
            parse_resource_version(resource_version or "")
            return self._store(resource, namespace, subresource=subresource).get(namespace, name)

        return self._call(200, run)

    def list(self, resource: str, namespace: str | None = None, *, label_selector: str | None = None,
             field_selector: str | None = None, limit: int = 0, continue_: str = "", resource_version: str = "",
             resource_version_match: str = "") -> Reply:
        """A list; ``limit``/``continue_`` page it; ``resource_version``(``_match``) pick the revision read."""
        return self._call(200, lambda: self._store(resource, namespace, listing=True).list(
            namespace, label_selector, field_selector=field_selector, limit=limit, continue_=continue_,
            resource_version=resource_version or "", resource_version_match=resource_version_match or ""))

    def update(self, resource: str, namespace: str | None, name: str, body: Any,
               dry_run: list[str] | None = None, *, subresource: str = "") -> Reply:
        """PUT; with ``subresource="status"`` the object's status subresource (pods and nodes)."""
        created = False

        def run() -> Any:
            nonlocal created
            store = self._writer(resource, namespace, "UpdateOptions", dry_run, subresource)
            obj, created = store.put(namespace, name, body)
            return obj

        reply = self._call(200, run)
        # apiserver/pkg/endpoints/handlers/update.go: a PUT that created the object answers 201
        return Reply(201, reply.body) if created and reply.code == 200 else reply

    def patch(self, resource: str, namespace: str | None, name: str, patch_type: str, body: Any,
              dry_run: list[str] | None = None, *, subresource: str = "") -> Reply:
        """PATCH with ``patch_type`` "merge", "json", "strategic" (or the media type itself) and a decoded body."""

        def run() -> Any:
            store = self._writer(resource, namespace, "PatchOptions", dry_run, subresource)
            # apiserver/pkg/endpoints/handlers/patch.go: PatchResource -- an unsupported type is a 415 first
            kind = patch_ops.media_type(patch_type)
            return store.patch(namespace, name, kind, body)

        return self._call(200, run)

    def delete(self, resource: str, namespace: str | None, name: str, options: Any = None,
               dry_run: list[str] | None = None) -> Reply:
        """A delete; ``options`` is its DeleteOptions body, whose dryRun counts as the URL's does (a
        kube-apiserver reads the options from the body alone when there is one: conformance/findings.py,
        delete-body-hides-dry-run-query)."""

        def run() -> Any:
            asked = list(dry_run or [])
            body_dry = options.get("dryRun") if isinstance(options, dict) else None
            if isinstance(body_dry, list):
                asked += [str(v) for v in body_dry]
            if self.faults.enabled("delete.ignores-dry-run") and all(v == "All" for v in asked):
                asked = []  # the bug: the dry run is carried out
            return self._writer(resource, namespace, "DeleteOptions", asked).delete(namespace, name, options)

        return self._call(200, run)

    def bind(self, namespace: str, name: str | None, body: Any, dry_run: list[str] | None = None) -> Reply:
        """A Binding posted to pods/{name}/binding, or with ``name`` None to the older namespaces/{ns}/bindings,
        which takes the pod's name from the Binding (pkg/registry/core/pod/storage/storage.go: LegacyBindingREST)."""

        def run() -> Any:
            pod = name
            if pod is None:
                meta = body.get("metadata") if isinstance(body, dict) else None
                pod = meta.get("name") if isinstance(meta, dict) else None
                if not isinstance(pod, str) or not pod:
                    raise BadRequest(LEGACY_BINDING_NO_NAME)
            return binding.bind(self._writer("pods", namespace, "CreateOptions", dry_run), namespace, pod, body)

        return self._call(201, run)

    def watch(
        self,
        resource: str,
        namespace: str | None = None,
        *,
        resource_version: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        name: str | None = None,
    ) -> Watcher:
        """An open watch; a request that cannot start gives a stream of one ERROR event, already ended.
        ``name``: a watch of the object of that name (its URL named it: apiserver/pkg/endpoints/installer.go, the
        WATCH action), which a ``field_selector`` must then not contradict; without a namespace, of every object
        of that name."""
        with self._lock:
            try:
                store = self._store(resource, namespace, listing=True)
                return store.watch(namespace, resource_version, label_selector, field_selector, name)
            except APIError as e:
                status = e.status()
            except Exception as e:
                status = InternalError(f"{type(e).__name__}: {e}").status()
            w = Watcher(None, self.faults)
            w.fail(status)
            return w

    def bookmark(self, resource: str, watcher: Watcher) -> JSON:
        """A BOOKMARK event for an open watch: only kind, apiVersion and a resourceVersion it has caught up to.

        apiserver/pkg/storage/cacher/cache_watcher.go: a bookmark promises every change up to its
        resourceVersion was sent; a store that delivers at commit has sent all up to its current revision.
        """
        with self._lock:
            res = self._stores[resource].res
            rev = watcher.progress
            if getattr(self.storage, "delivers_synchronously", False):
                rev = max(rev, self.storage.current_revision())
            if watcher.unsent and not self.faults.enabled("watch.bookmark-ahead"):
                # a change taken from the store is still on its way: promise only what comes before it
                rev = min(watcher.unsent) - 1
        return {"type": "BOOKMARK",
                "object": {"kind": res.kind, "apiVersion": res.api_version, "metadata": {"resourceVersion": str(rev)}}}

    def compact(self) -> None:
        """Compact the store at its current revision (nothing to do if that was already done)."""
        with self._lock:
            rev = self.storage.current_revision()
            try:
                self.storage.compact(rev)
            except Compacted:
                pass  # no write since the last compaction: nothing more to forget
