"""The one protocol every target implements.

A target answers each API call with what an HTTP client would see: a status
code and a parsed JSON body (an object, a list, or a ``Status``). The in-process
adapter produces the same shapes without a socket, so the conformance suite is
written once for every target.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

JSON = dict[str, Any]


@dataclass(frozen=True)
class Response:
    """One API answer: the HTTP status code and the decoded JSON body."""

    code: int
    body: Any

    @property
    def ok(self) -> bool:
        return 200 <= self.code < 300


class TargetError(Exception):
    """A target could not be reached or answered outside the API contract."""


@runtime_checkable
class Watch(Protocol):
    """An open watch stream.

    ``drain`` returns the events received since the previous call, each
    ``{"type": ..., "object": ...}``. With ``until_rv`` it waits (at most
    ``timeout`` seconds) until an event whose object carries that
    resourceVersion has arrived, or the stream has ended.
    """

    def drain(self, *, until_rv: str | None = None, timeout: float = 0.0) -> list[JSON]: ...

    @property
    def ended(self) -> bool: ...

    def close(self) -> None: ...


#: the URLs a watch may be asked at (Target.watch ``form``): the collection with ?watch=true, or the deprecated
#: watch/ prefix
WATCH_FORMS = ("", "path")

#: the URLs a list may be asked at (Target.list ``form``): "" the collection; each other names the resource's group
#: version and a special verb with nothing after it, a URL that serves nothing (404): "watch" (``/api/v1/watch``),
#: "watch/" (the same with a trailing slash), "proxy" (``/api/v1/proxy``). The resource only chooses the group
#: version; the namespace, selector and resourceVersion are ignored (apiserver/pkg/endpoints/request/
#: requestinfo.go: NewRequestInfo takes watch and proxy after a group version as verbs that need a resource after
#: them)
LIST_FORMS = ("", "watch", "watch/", "proxy")


@runtime_checkable
class Controls(Protocol):
    """What only a simulated target lets the harness do: move its clock, compact its history."""

    def now(self) -> str:
        """The target's current time, RFC 3339 with whole seconds (``2026-01-01T00:00:00Z``)."""

    def advance_clock(self, seconds: int) -> None: ...

    def compact(self) -> None:
        """Drop the change history up to the current revision (as etcd compaction does)."""


@runtime_checkable
class Target(Protocol):
    """The Kubernetes API as kubeprop uses it.

    ``resource`` is the plural URL name (``pods``, ``nodes``, ``namespaces``,
    ``leases``); ``namespace`` is ``None`` for cluster-scoped resources and for
    lists or watches across all namespaces.
    """

    name: str
    controls: Controls | None

    def create(self, resource: str, namespace: str | None, body: JSON, *, dry_run: list[str] | None = None
               ) -> Response:
        """A create; every write takes ``dry_run``, the values of the ``dryRun`` query parameter (None sends
        none; "All" asks for every check and no change, apimachinery/pkg/apis/meta/v1/types.go: CreateOptions)."""

    def get(self, resource: str, namespace: str | None, name: str, *, resource_version: str = "",
            subresource: str = "") -> Response:
        """A get; ``resource_version`` "0" lets the server answer from its cache, any other value asks for an
        object no older than that revision (apimachinery/pkg/apis/meta/v1/types.go: GetOptions). ``subresource``
        "status" reads ``{plural}/{name}/status`` (pods and nodes), "" the object's own URL; the same for update
        and patch."""

    def list(
        self, resource: str, namespace: str | None = None, *, label_selector: str | None = None, limit: int = 0,
        continue_: str = "", resource_version: str = "", resource_version_match: str = "", form: str = ""
    ) -> Response:
        """A list; ``limit`` > 0 asks for one page, ``continue_`` for the next (the token of the page before);
        ``resource_version`` and ``resource_version_match`` (Exact, NotOlderThan) choose the revision read.
        ``form`` is the URL asked (one of LIST_FORMS): "" the collection, any other a URL with no resource in it."""

    def update(self, resource: str, namespace: str | None, name: str, body: JSON, *,
               dry_run: list[str] | None = None, subresource: str = "") -> Response: ...

    def patch(
        self, resource: str, namespace: str | None, name: str, patch: Any, *, patch_type: str = "merge",
        dry_run: list[str] | None = None, subresource: str = ""
    ) -> Response:
        """PATCH with ``patch_type`` "merge" (RFC 7386), "json" (RFC 6902) or "strategic"."""

    def delete(
        self, resource: str, namespace: str | None, name: str, *, options: JSON | None = None,
        dry_run: list[str] | None = None
    ) -> Response:
        """``options`` is a DeleteOptions body (gracePeriodSeconds, preconditions)."""

    def bind(self, namespace: str, name: str, body: JSON, *, dry_run: list[str] | None = None,
             legacy: bool = False) -> Response:
        """POST a Binding to ``pods/{name}/binding``; ``legacy``: to the older ``namespaces/{ns}/bindings``, which
        takes the pod's name from the Binding's metadata.name (``name`` is then not sent)."""

    def watch(
        self,
        resource: str,
        namespace: str | None = None,
        *,
        resource_version: str | None = None,
        label_selector: str | None = None,
        bookmarks: bool = False,
        timeout_seconds: int = 0,
        name: str | None = None,
        form: str = "",
    ) -> Watch:
        """A watch; ``bookmarks`` asks for BOOKMARK events (allowWatchBookmarks), ``timeout_seconds`` > 0 ends
        the stream after that long (a server sends a bookmark shortly before: apiserver/pkg/storage/cacher/
        cache_watcher.go, nextBookmarkTime). ``name`` watches that one object. ``form`` is the URL asked (one of
        WATCH_FORMS): "" the collection with ``?watch=true`` (a name as ``fieldSelector=metadata.name=NAME``),
        "path" the deprecated ``watch/`` prefix before the collection or, for a name, the object
        (apiserver/pkg/endpoints/installer.go: WATCHLIST, WATCH)."""

    def close(self) -> None: ...


@runtime_checkable
class Schedulers(Protocol):
    """Scheduler replicas the harness drives one step at a time (only a simulated target has them).

    Every call returns a plain dict describing what the replica did, or None
    when it had nothing to do; the replicas reach the API server through the
    client the harness handed to :meth:`~InProcessTarget.start_schedulers`.
    """

    count: int

    def tick(self, i: int) -> JSON: ...

    def cycle(self, i: int) -> JSON | None: ...

    def bind(self, i: int) -> JSON | None: ...

    def leading(self, i: int) -> bool: ...

    def elector_due(self, i: int) -> bool:
        """Whether replica i's elector would attempt now: a retry period has passed on its own clock."""

    def pending_binds(self, i: int) -> list[JSON]: ...

    def break_next_bind(self, i: int, how: str) -> None:
        """Replica i's next bind fails: ``refused`` (never reaches the server) or ``lost`` (done, answer lost)."""

    def crash(self, i: int) -> None: ...

    def restart(self, i: int) -> None: ...

    def stop(self, i: int) -> None: ...

    def alive(self, i: int) -> bool: ...

    def now(self, i: int) -> float:
        """Replica ``i``'s own clock, in seconds since the epoch."""

    def advance(self, seconds: int, rates: list[float]) -> None:
        """Move true time by ``seconds`` (the API server's clock too); replica i's clock by ``seconds * rates[i]``."""
