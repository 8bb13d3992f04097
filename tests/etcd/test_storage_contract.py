"""The Storage contract, run against MemoryStorage and EtcdStorage alike (and what only etcd can do: fail)."""

from __future__ import annotations

import threading

import pytest

from controlplane.apiserver.etcd import EtcdStorage, EtcdUnavailable, _EtcdWatch
from controlplane.apiserver.storage import (
    Compacted,
    FutureRevision,
    KeyExists,
    KeyNotFound,
    RevisionConflict,
    Storage,
    StorageError,
    StorageEvent,
)
from controlplane.etcdproc import EtcdProcess

from .conftest import Collector


def test_get_put_range(store: Storage) -> None:
    start = store.current_revision()
    assert store.get("/registry/pods/ns/a") is None
    r1 = store.put("/registry/pods/ns/b", b"B", 0)
    r2 = store.put("/registry/pods/ns/a", b"A", 0)
    r3 = store.put("/registry/pods/nsx/c", b"C", 0)
    assert start < r1 < r2 < r3 == store.current_revision()
    assert store.get("/registry/pods/ns/a") == (b"A", r2)
    items, rev = store.range("/registry/pods/ns/")
    assert items == [("/registry/pods/ns/a", b"A", r2), ("/registry/pods/ns/b", b"B", r1)]
    assert rev == r3
    items, _ = store.range("/registry/pods/")
    assert [k for k, _, _ in items] == ["/registry/pods/ns/a", "/registry/pods/ns/b", "/registry/pods/nsx/c"]
    assert store.range("/registry/nodes/") == ([], r3)
    # a value is opaque bytes, kept exactly
    raw = bytes(range(256))
    r4 = store.put("/registry/pods/ns/a", raw, r2)
    assert store.get("/registry/pods/ns/a") == (raw, r4)


def test_put_compare_and_swap(store: Storage) -> None:
    r1 = store.put("/k", b"1", 0)
    with pytest.raises(KeyExists) as exists:
        store.put("/k", b"x", 0)
    assert exists.value.key == "/k"
    with pytest.raises(KeyNotFound) as missing:
        store.put("/missing", b"x", r1)
    assert missing.value.key == "/missing"
    r2 = store.put("/k", b"2", r1)
    with pytest.raises(RevisionConflict) as conflict:
        store.put("/k", b"3", r1)
    assert (conflict.value.key, conflict.value.expected, conflict.value.actual) == ("/k", r1, r2)
    # failed writes change nothing, not even the revision
    assert store.current_revision() == r2
    assert store.get("/k") == (b"2", r2)
    assert store.get("/missing") is None


def test_delete_compare_and_swap(store: Storage) -> None:
    r1 = store.put("/k", b"1", 0)
    with pytest.raises(KeyNotFound):
        store.delete("/missing", 0)
    with pytest.raises(KeyNotFound):
        store.delete("/missing", r1)
    with pytest.raises(RevisionConflict) as conflict:
        store.delete("/k", r1 - 1 if r1 > 1 else 99)
    assert conflict.value.actual == r1
    with pytest.raises(RevisionConflict):
        store.delete("/k", 0)
    assert store.current_revision() == r1
    r2 = store.delete("/k", r1)
    assert r2 == r1 + 1 == store.current_revision()
    assert store.get("/k") is None
    with pytest.raises(KeyNotFound):
        store.delete("/k", r1)
    # a deleted key can be created again
    r3 = store.put("/k", b"again", 0)
    assert store.get("/k") == (b"again", r3)


def test_watch_sees_future_changes_in_order(store: Storage) -> None:
    got = Collector()
    w = store.watch("/w/", 0, got)
    r1 = store.put("/w/a", b"1", 0)
    store.put("/other", b"x", 0)  # outside the prefix
    r2 = store.put("/w/a", b"2", r1)
    r3 = store.delete("/w/a", r2)
    assert got.wait_for(3) == [
        StorageEvent("put", "/w/a", b"1", None, r1),
        StorageEvent("put", "/w/a", b"2", b"1", r2),
        StorageEvent("delete", "/w/a", None, b"2", r3),
    ]
    w.cancel()
    store.put("/w/b", b"after", 0)
    assert got.settle() == got.events[:3]


def test_watch_from_a_revision_is_inclusive_then_live(store: Storage) -> None:
    r1 = store.put("/w/a", b"1", 0)
    r2 = store.put("/w/b", b"1", 0)
    r3 = store.put("/w/a", b"2", r1)
    got = Collector()
    w = store.watch("/w/", r2, got)
    r4 = store.delete("/w/b", r2)
    events = got.wait_for(3)
    assert [(e.type, e.key, e.revision) for e in events] == [("put", "/w/b", r2), ("put", "/w/a", r3),
                                                             ("delete", "/w/b", r4)]
    assert events[1].prev_value == b"1" and events[2].prev_value == b"1"
    assert got.settle() == events
    w.cancel()


def test_concurrent_writers_are_seen_once_each_in_revision_order(store: Storage) -> None:
    got = Collector()
    w = store.watch("/c/", store.current_revision() + 1, got)
    written: list[int] = []
    lock = threading.Lock()

    def write(k: int) -> None:
        rev = 0
        for i in range(25):
            r = store.put(f"/c/{k}", str(i).encode(), rev)
            rev = r
            with lock:
                written.append(r)

    threads = [threading.Thread(target=write, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    revs = [e.revision for e in got.wait_for(100)]
    assert revs == sorted(written)
    assert got.settle() == got.events[:100]
    w.cancel()


def test_compaction(store: Storage) -> None:
    r1 = store.put("/z/a", b"1", 0)
    r2 = store.put("/z/a", b"2", r1)
    r3 = store.put("/z/b", b"1", 0)
    store.compact(r2)
    with pytest.raises(Compacted) as old:
        store.watch("/z/", r1, Collector())
    assert (old.value.revision, old.value.compact_revision) == (r1, r2)
    # the compaction point itself is no start either: the change made there has lost its previous state
    with pytest.raises(Compacted):
        store.watch("/z/", r2, Collector())
    # the revision after it is
    got = Collector()
    w = store.watch("/z/", r2 + 1, got)
    assert [(e.key, e.revision, e.prev_lost) for e in got.wait_for(1)] == [("/z/b", r3, False)]
    w.cancel()
    # compacting again at or before the point is Compacted; in the future, a ValueError
    with pytest.raises(Compacted):
        store.compact(r2)
    with pytest.raises(Compacted):
        store.compact(r1)
    with pytest.raises(ValueError):
        store.compact(store.current_revision() + 10)
    # the live keys keep their values and revisions
    assert store.get("/z/a") == (b"2", r2)
    store.compact(r3)
    with pytest.raises(Compacted) as later:
        store.watch("/z/", r2, Collector())
    assert later.value.compact_revision == r3


def test_range_at_is_a_snapshot(store: Storage) -> None:
    r1 = store.put("/s/a", b"a1", 0)
    r2 = store.put("/s/b", b"b1", 0)
    r3 = store.put("/s/a", b"a2", r1)
    r4 = store.delete("/s/b", r2)
    r5 = store.put("/s/c", b"c1", 0)
    store.put("/t/x", b"outside", 0)  # another prefix: never in the answer
    assert store.range_at("/s/", r1) == [("/s/a", b"a1", r1)]
    assert store.range_at("/s/", r2) == [("/s/a", b"a1", r1), ("/s/b", b"b1", r2)]
    assert store.range_at("/s/", r3) == [("/s/a", b"a2", r3), ("/s/b", b"b1", r2)]
    assert store.range_at("/s/", r4) == [("/s/a", b"a2", r3)]
    assert store.range_at("/s/", r5) == [("/s/a", b"a2", r3), ("/s/c", b"c1", r5)]
    # the current revision reads what range reads
    rows, rev = store.range("/s/")
    assert store.range_at("/s/", rev) == rows
    with pytest.raises(FutureRevision) as future:
        store.range_at("/s/", rev + 5)
    assert (future.value.revision, future.value.current) == (rev + 5, rev)
    # compacted history is gone; the compaction point itself is still readable
    store.compact(r3)
    with pytest.raises(Compacted) as old:
        store.range_at("/s/", r2)
    assert (old.value.revision, old.value.compact_revision) == (r2, r3)
    assert store.range_at("/s/", r3) == [("/s/a", b"a2", r3), ("/s/b", b"b1", r2)]


def test_etcd_watch_reports_a_lost_etcd(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_EtcdWatch, "RESUME_ATTEMPTS", 1)
    errors: list[StorageError] = []
    reported = threading.Event()

    def on_error(err: StorageError) -> None:
        errors.append(err)
        reported.set()

    with EtcdProcess(unsafe_no_fsync=True) as proc, EtcdStorage(proc.endpoint, timeout=2) as store:
        got = Collector()
        store.watch("/w/", 0, got, on_error=on_error)
        r1 = store.put("/w/a", b"1", 0)
        assert [e.revision for e in got.wait_for(1)] == [r1]
        proc.stop()
        assert reported.wait(15)
        assert isinstance(errors[0], EtcdUnavailable)
        with pytest.raises(EtcdUnavailable):
            store.get("/w/a")
