"""Watch streams: one queue per watcher, filled synchronously when a change commits.

A :class:`Watcher` turns storage events into API events (ADDED, MODIFIED,
DELETED, ERROR), filters them by the watch's selectors and applies the watch faults.
Delivery happens in the store's commit path; a lock per watcher keeps the
queue safe for a reader on another thread (the HTTP server serves watches
from threads).
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from ..faults import FaultSet
from .errors import Expired, InternalError
from .meta import decode
from .storage import Compacted, StorageError, StorageEvent, StorageWatch

JSON = dict[str, Any]


#: the watch.racy-fanout fault: events the current request's commits produced, held back until it lets other
#: requests in (a context variable: one per thread, and one per greenlet for the deterministic harness)
_held: contextvars.ContextVar[list[tuple[Watcher, str, JSON]] | None] = contextvars.ContextVar("held", default=None)


#: the watch.bookmark-ahead fault: events of every request, in commit order, not yet sent to their watchers
_queued: list[tuple[Watcher, str, JSON]] = []
_queued_lock = threading.Lock()
#: whether the current request's commits are queued (a watch's own replay is not: it goes out as it is read)
_queueing: contextvars.ContextVar[bool] = contextvars.ContextVar("queueing", default=False)


@contextmanager
def queued_fanout(window: Callable[[str], None]) -> Iterator[None]:
    """The watch.bookmark-ahead fault around one request: once it has run, other requests are let in, then every
    event queued so far (its own and theirs) goes out in commit order, as from a cache fed after commit."""
    token = _queueing.set(True)
    try:
        yield
    finally:
        _queueing.reset(token)
        window("fan-out: committed, queued for watchers")
        with _queued_lock:
            out = list(_queued)
            _queued.clear()
        for watcher, event_type, obj in out:
            watcher.release(event_type, obj)


@contextmanager
def held_fanout(window: Callable[[str], None]) -> Iterator[None]:
    """The watch.racy-fanout fault around one request: its events reach watchers only after ``window`` has let
    other requests run. Without the fault, delivery is part of the commit (etcd3/watcher.go: one ordered stream
    per watch), so overlapping writes can never be delivered out of commit order."""
    token = _held.set([])
    try:
        yield
    finally:
        held = _held.get() or []
        _held.reset(token)
    if held:
        window("fan-out: committed, not yet delivered to watchers")
        for watcher, event_type, obj in held:
            watcher.release(event_type, obj)


class Watcher:
    """An open watch; read it with :meth:`drain` (or :meth:`wait` then drain) until :attr:`ended`."""

    def __init__(self, selects: Callable[[JSON], bool] | None, faults: FaultSet, after_revision: int = 0) -> None:
        """``selects`` says whether an object is one the watch asked for (its label and field selectors); None:
        every object is."""
        self._cond = threading.Condition(threading.Lock())
        self._queue: list[JSON] = []
        self._ended = False
        self._handle: StorageWatch | None = None
        self._selects = selects
        self._faults = faults
        # apiserver/pkg/storage/etcd3/watcher.go: a watch from RV R starts at R+1; the store replays from R
        # inclusive, so the change at R itself is dropped here
        self._after = after_revision
        self._backlog: list[JSON] | None = None
        # the newest revision this watch has seen from the store (a bookmark may not promise less)
        self.progress = after_revision
        # revisions of changes taken from the store and not yet sent (held by a seeded fault's window)
        self.unsent: list[int] = []
        self._listener: Callable[[], None] | None = None

    def listen(self, callback: Callable[[], None] | None) -> None:
        """Call ``callback`` whenever an event is queued or the stream ends, from the thread that does it, after
        this watcher's lock is released: for a reader that serves many watchers from one thread instead of
        blocking in :meth:`wait` on each. Called at once if something is already there."""
        with self._cond:
            self._listener = callback
            ready = bool(self._queue) or self._ended
        if callback is not None and ready:
            callback()

    # ---- fed by the server ----

    def push(self, event_type: str, obj: JSON) -> None:
        with self._cond:
            if self._ended:
                return
            if self._backlog is not None:
                self._backlog.append({"type": event_type, "object": obj})
                return
            self._queue.append({"type": event_type, "object": obj})
            self._cond.notify_all()
            listener = self._listener
        if listener is not None:
            listener()

    def release(self, event_type: str, obj: JSON) -> None:
        """Send a change a seeded fault held back."""
        rev = int(obj["metadata"]["resourceVersion"])
        with self._cond:
            if rev in self.unsent:
                self.unsent.remove(rev)
        self.push(event_type, obj)

    def on_storage_event(self, event: StorageEvent) -> None:
        """The storage sink: called once per committed change under the watched prefix."""
        self.progress = max(self.progress, event.revision)
        if event.revision <= self._after and not self._faults.enabled("watch.resume-duplicates"):
            return
        if event.prev_lost:
            # the change at the compaction point, its previous state compacted away: it cannot be told from a
            # creation, nor a delete given its last state, nor a selector judged on what it was. Upstream refuses
            # such an event too (apiserver/pkg/storage/etcd3/watcher.go: parseEvent) but answers 500, which a
            # client resuming from its last resourceVersion meets again and again; 410 sends it to relist.
            self.fail(Expired(f"The resourceVersion for the provided watch is too old: the state before "
                              f"revision {event.revision} of {event.key} has been compacted").status())
            return
        if event.type == "delete":
            if self._faults.enabled("watch.drops-event"):
                return
            assert event.prev_value is not None
            # etcd3/watcher.go: a DELETED event carries the last state at the delete's revision
            event_type, obj = "DELETED", decode(event.prev_value, event.revision)
            if self._selects is not None and not self._selects(obj):
                return
        else:
            assert event.value is not None
            event_type = "ADDED" if event.prev_value is None else "MODIFIED"
            obj = decode(event.value, event.revision)
            if self._selects is not None:
                now = self._selects(obj)
                before = event.prev_value is not None and self._selects(decode(event.prev_value, event.revision))
                # apiserver/pkg/storage/cacher/cache_watcher.go: convertToWatchEvent -- a change that brings an
                # object into the selection is ADDED; one that takes it out is DELETED, with the state before the
                # change at the change's resourceVersion
                if not now and not before:
                    return
                if now and not before:
                    event_type = "ADDED"
                elif before and not now:
                    event_type, obj = "DELETED", decode(event.prev_value or b"", event.revision)
        if self._faults.enabled("watch.bookmark-ahead") and _queueing.get():
            with _queued_lock:
                _queued.append((self, event_type, obj))
                self.unsent.append(event.revision)
            return
        held = _held.get() if self._faults.enabled("watch.racy-fanout") else None
        if held is not None:
            held.append((self, event_type, obj))
            self.unsent.append(event.revision)
            return
        if event_type == "MODIFIED" and self._faults.enabled("watch.duplicates-event"):
            self.push(event_type, decode(event.value or b"", event.revision))
        self.push(event_type, obj)

    def begin_replay(self) -> None:
        """Hold events back while the store replays history, so the backlog can be delivered as a unit."""
        with self._cond:
            self._backlog = []

    def end_replay(self) -> None:
        with self._cond:
            backlog, self._backlog = self._backlog or [], None
            if self._faults.enabled("watch.reorders"):
                backlog.reverse()
            self._queue.extend(backlog)
            self._cond.notify_all()
            listener = self._listener
        if listener is not None:
            listener()

    def attach(self, handle: StorageWatch) -> None:
        with self._cond:
            closed = self._ended
            self._handle = handle
        if closed:
            handle.cancel()

    def storage_failed(self, err: StorageError) -> None:
        """The storage ended this watch after it started: the client's stream ends with an ERROR event, not in
        silence. Compacted past while catching up: 410 (apiserver/pkg/storage/etcd3/watcher.go:
        interpretWatchError turns etcd's ErrCompacted into NewResourceExpired); anything else: 500."""
        if isinstance(err, Compacted):
            self.fail(Expired(f"The resourceVersion for the provided watch is too old: {err}").status())
        else:
            self.fail(InternalError(f"{err}").status())

    def fail(self, status: JSON) -> None:
        """Send one ERROR event carrying a Status and end the stream."""
        with self._cond:
            if self._ended:
                return
            if self._backlog is not None:  # ended while replaying: what was replayed goes first
                self._queue.extend(self._backlog)
                self._backlog = None
            self._queue.append({"type": "ERROR", "object": status})
            self._ended = True
            handle, self._handle = self._handle, None
            self._cond.notify_all()
            listener = self._listener
        if handle is not None:
            handle.cancel()
        if listener is not None:
            listener()

    # ---- read by the client ----

    def drain(self) -> list[JSON]:
        """Every event queued since the last drain."""
        with self._cond:
            out, self._queue = self._queue, []
            return out

    def wait(self, timeout: float) -> bool:
        """Block until an event is queued or the stream ended; whether one is there."""
        with self._cond:
            self._cond.wait_for(lambda: self._queue or self._ended, timeout=timeout)
            return bool(self._queue)

    @property
    def ended(self) -> bool:
        with self._cond:
            return self._ended

    def close(self) -> None:
        with self._cond:
            ended, self._ended = self._ended, True
            handle, self._handle = self._handle, None
            self._cond.notify_all()
            listener = None if ended else self._listener
        if handle is not None:
            handle.cancel()
        if listener is not None:
            listener()
