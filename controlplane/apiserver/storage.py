"""A revisioned key-value store interface shaped like etcd, and an in-memory implementation.

The registry talks only to :class:`Storage`: one global revision counter across
all keys, values are opaque bytes, writes are compare-and-swap on a key's
mod revision, and watches replay history from a revision until it is
compacted. A later backend puts etcd behind the same interface, so nothing
here may assume that a caller can see the store's internals.

Watches deliver through a *sink* callback so that, in process, every watcher
receives a change synchronously at commit time (the store calls sinks while
it still holds its lock, which keeps delivery in commit order even when
writers run on several threads).
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, Protocol


class StorageError(Exception):
    """Base of the errors a store raises."""


class KeyExists(StorageError):
    """A put with expected_mod_revision 0 found the key present."""

    def __init__(self, key: str) -> None:
        super().__init__(f"key exists: {key}")
        self.key = key


class KeyNotFound(StorageError):
    """A conditional write found no key."""

    def __init__(self, key: str) -> None:
        super().__init__(f"key not found: {key}")
        self.key = key


class RevisionConflict(StorageError):
    """A conditional write found the key at another mod revision (someone wrote first)."""

    def __init__(self, key: str, expected: int, actual: int) -> None:
        super().__init__(f"conflict on {key}: expected mod revision {expected}, found {actual}")
        self.key = key
        self.expected = expected
        self.actual = actual


class Compacted(StorageError):
    """The asked revision is older than the oldest one kept (etcd: ErrCompacted)."""

    def __init__(self, revision: int, compact_revision: int) -> None:
        super().__init__(f"required revision {revision} has been compacted (compacted at {compact_revision})")
        self.revision = revision
        self.compact_revision = compact_revision


class FutureRevision(StorageError):
    """A read at a revision the store has not reached yet (etcd: ErrFutureRev)."""

    def __init__(self, revision: int, current: int) -> None:
        super().__init__(f"required revision {revision} is a future revision (current {current})")
        self.revision = revision
        self.current = current


@dataclass(frozen=True)
class StorageEvent:
    """One committed change, as an etcd watch reports it (value None for deletes)."""

    type: Literal["put", "delete"]
    key: str
    value: bytes | None
    prev_value: bytes | None
    revision: int
    # the mod revision of prev_value (0 when there was none); not part of an event's identity
    prev_revision: int = field(default=0, compare=False)
    # a change or delete whose previous state is gone: etcd reads prev_kv at revision-1 and leaves it out when
    # that is compacted, which happens to the change at the compaction point
    # (server/etcdserver/api/v3rpc/watch.go: sendLoop)
    prev_lost: bool = field(default=False, compare=False)


Sink = Callable[[StorageEvent], None]


class StorageWatch(Protocol):
    def cancel(self) -> None: ...


class Storage(Protocol):
    """What the registry needs from a store (etcd v3 semantics)."""

    def get(self, key: str) -> tuple[bytes, int] | None:
        """The value and mod revision of a key, or None."""

    def range(self, prefix: str) -> tuple[list[tuple[str, bytes, int]], int]:
        """Every (key, value, mod_revision) under a prefix, in key order, and the revision read at."""

    def range_at(self, prefix: str, revision: int) -> list[tuple[str, bytes, int]]:
        """Every (key, value, mod_revision) under a prefix as it was at ``revision``, in key order.

        Raises Compacted for a revision older than the compaction point, FutureRevision past the current one.
        """

    def put(self, key: str, value: bytes, expected_mod_revision: int) -> int:
        """Write if the key is at that mod revision (0: must not exist); the new revision.

        Raises KeyExists, KeyNotFound or RevisionConflict.
        """

    def delete(self, key: str, expected_mod_revision: int) -> int:
        """Remove if the key is at that mod revision; the delete's revision."""

    def watch(self, prefix: str, from_revision: int, sink: Sink,
              on_error: Callable[[StorageError], None] | None = None) -> StorageWatch:
        """Send every change under prefix with revision >= from_revision (0: only future ones) to sink.

        Raises Compacted when from_revision is at or before the compaction point: etcd keeps the state at that
        point but not the one before it, so the change made there has lost its previous state (prev_kv), and
        etcd before 3.5.13 drops a delete made there altogether (a tombstone at the compaction revision is not
        kept: server/storage/mvcc/key_index.go, keep; fixed by etcd-io/etcd#17612). ``on_error`` hears of a watch
        the storage ends after it started (etcd compacted past it while it caught up, etcd lost for good).
        """

    def compact(self, revision: int) -> None:
        """Forget history before revision (watches may start only after it)."""

    def current_revision(self) -> int: ...


class _MemoryWatch:
    def __init__(self, store: MemoryStorage, prefix: str, sink: Sink) -> None:
        self.store = store
        self.prefix = prefix
        self.sink = sink

    def cancel(self) -> None:
        self.store._cancel(self)


class MemoryStorage:
    """An in-memory etcd: a dict of live keys, a sorted key index, and a history log for watches."""

    # sinks run inside the commit: once a revision is current, every watcher has been handed its changes
    delivers_synchronously = True

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._data: dict[str, tuple[bytes, int]] = {}
        self._keys: list[str] = []  # sorted, for prefix ranges without scanning every key
        # etcd starts a new cluster at revision 1; the first write is revision 2
        self._revision = 1
        self._compacted = 0
        self._history: list[StorageEvent] = []  # revision-ascending, from the compaction point on
        self._watches: list[_MemoryWatch] = []

    def current_revision(self) -> int:
        with self._lock:
            return self._revision

    def get(self, key: str) -> tuple[bytes, int] | None:
        with self._lock:
            return self._data.get(key)

    def range(self, prefix: str) -> tuple[list[tuple[str, bytes, int]], int]:
        with self._lock:
            start = bisect.bisect_left(self._keys, prefix)
            out: list[tuple[str, bytes, int]] = []
            for key in self._keys[start:]:
                if not key.startswith(prefix):
                    break
                value, rev = self._data[key]
                out.append((key, value, rev))
            return out, self._revision

    def range_at(self, prefix: str, revision: int) -> list[tuple[str, bytes, int]]:
        with self._lock:
            if revision > self._revision:
                raise FutureRevision(revision, self._revision)
            if revision < self._compacted:
                raise Compacted(revision, self._compacted)
            rows, _ = self.range(prefix)
            state = {key: (value, mod) for key, value, mod in rows}
            # undo, newest first, every change made after the asked revision (all of them are still kept)
            start = bisect.bisect_right(self._history, revision, key=lambda e: e.revision)
            for event in reversed(self._history[start:]):
                if not event.key.startswith(prefix):
                    continue
                if event.prev_value is None:
                    state.pop(event.key, None)
                else:
                    state[event.key] = (event.prev_value, event.prev_revision)
            return [(key, *state[key]) for key in sorted(state)]

    def put(self, key: str, value: bytes, expected_mod_revision: int) -> int:
        with self._lock:
            current = self._data.get(key)
            if expected_mod_revision == 0:
                if current is not None:
                    raise KeyExists(key)
            elif current is None:
                raise KeyNotFound(key)
            elif current[1] != expected_mod_revision:
                raise RevisionConflict(key, expected_mod_revision, current[1])
            self._revision += 1
            rev = self._revision
            if current is None:
                bisect.insort(self._keys, key)
            self._data[key] = (value, rev)
            self._commit(StorageEvent("put", key, value, None if current is None else current[0], rev,
                                      0 if current is None else current[1]))
            return rev

    def delete(self, key: str, expected_mod_revision: int) -> int:
        with self._lock:
            current = self._data.get(key)
            if current is None:
                raise KeyNotFound(key)
            if current[1] != expected_mod_revision:
                raise RevisionConflict(key, expected_mod_revision, current[1])
            self._revision += 1
            rev = self._revision
            del self._data[key]
            del self._keys[bisect.bisect_left(self._keys, key)]
            self._commit(StorageEvent("delete", key, None, current[0], rev, current[1]))
            return rev

    def _commit(self, event: StorageEvent) -> None:
        self._history.append(event)
        for w in list(self._watches):
            if event.key.startswith(w.prefix):
                w.sink(event)

    def watch(self, prefix: str, from_revision: int, sink: Sink,
              on_error: Callable[[StorageError], None] | None = None) -> StorageWatch:
        # memory never ends a watch after it started: on_error is never called
        with self._lock:
            if 0 < from_revision <= self._compacted:  # as EtcdStorage: the compaction point is no start
                raise Compacted(from_revision, self._compacted)
            w = _MemoryWatch(self, prefix, sink)
            if from_revision > 0:
                # replay the kept history first, under the lock, so no live change slips in between
                start = bisect.bisect_left(self._history, from_revision, key=lambda e: e.revision)
                for event in self._history[start:]:
                    if event.key.startswith(prefix):
                        sink(event)
            self._watches.append(w)
            return w

    def _cancel(self, w: _MemoryWatch) -> None:
        with self._lock:
            if w in self._watches:
                self._watches.remove(w)

    def compact(self, revision: int) -> None:
        with self._lock:
            if revision > self._revision:
                raise ValueError(f"cannot compact at future revision {revision} (current {self._revision})")
            if revision <= self._compacted:
                raise Compacted(revision, self._compacted)
            self._compacted = revision
            start = bisect.bisect_left(self._history, revision, key=lambda e: e.revision)
            del self._history[:start]


class DryRunStorage:
    """A storage for one dry run: reads go to ``inner``; a write is checked as ``inner`` would check it (the key
    exists or not, the expected revision) and kept nowhere, and reports the revision the key has now (0 for a
    key that does not exist), as apiserver/pkg/registry/generic/registry/dryrun.go: DryRunnableStorage answers
    with the stored object's resourceVersion and writes nothing."""

    def __init__(self, inner: Storage) -> None:
        self.inner = inner

    def current_revision(self) -> int:
        return self.inner.current_revision()

    def get(self, key: str) -> tuple[bytes, int] | None:
        return self.inner.get(key)

    def range(self, prefix: str) -> tuple[list[tuple[str, bytes, int]], int]:
        return self.inner.range(prefix)

    def range_at(self, prefix: str, revision: int) -> list[tuple[str, bytes, int]]:
        return self.inner.range_at(prefix, revision)

    def _check(self, key: str, expected_mod_revision: int, creating: bool) -> int:
        got = self.inner.get(key)
        rev = got[1] if got is not None else 0
        if creating and got is not None:
            raise KeyExists(key)
        if not creating and got is None:
            raise KeyNotFound(key)
        if not creating and rev != expected_mod_revision:
            raise RevisionConflict(key, expected_mod_revision, rev)
        return rev

    def put(self, key: str, value: bytes, expected_mod_revision: int) -> int:
        return self._check(key, expected_mod_revision, creating=expected_mod_revision == 0)

    def delete(self, key: str, expected_mod_revision: int) -> int:
        return self._check(key, expected_mod_revision, creating=False)

    def watch(self, prefix: str, from_revision: int, sink: Sink,
              on_error: Callable[[StorageError], None] | None = None) -> StorageWatch:
        raise TypeError("a dry run opens no watch")

    def compact(self, revision: int) -> None:
        raise TypeError("a dry run compacts nothing")
