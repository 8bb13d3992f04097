"""The label selector parser and the in-memory revisioned store."""

from __future__ import annotations

import pytest

from controlplane.apiserver.selectors import SelectorError, parse
from controlplane.apiserver.storage import (
    Compacted,
    KeyExists,
    KeyNotFound,
    MemoryStorage,
    RevisionConflict,
    StorageEvent,
)


@pytest.mark.parametrize(
    ("text", "labels", "expected"),
    [
        ("a=1", {"a": "1"}, True),
        ("a=1", {}, False),
        ("a==1", {"a": "2"}, False),
        ("a!=1", {}, True),
        ("a!=1", {"a": "1"}, False),
        ("a in (1, 2)", {"a": "2"}, True),
        ("a in (1,2)", {}, False),
        ("a notin (1,2)", {}, True),
        ("a notin (1,2)", {"a": "1"}, False),
        ("a", {"a": ""}, True),
        ("!a", {"a": ""}, False),
        ("!a", {}, True),
        ("a=", {"a": ""}, True),
        ("example.com/a=x,b", {"example.com/a": "x", "b": "y"}, True),
        (" a = 1 , b ", {"a": "1"}, False),
        ("a>1", {"a": "2"}, True),
        ("a<1", {"a": "x"}, False),
        ("", {}, True),
    ],
)
def test_selector_matching(text: str, labels: dict[str, str], expected: bool) -> None:
    assert parse(text).matches(labels) is expected


@pytest.mark.parametrize("text", ["a in", "a in (1", "a in ()", ",", "a,,b", "!a=1", "a=(", "-a=1", "a b",
                                  "a=" + "x" * 64, "a>b", "in"])
def test_selector_errors(text: str) -> None:
    with pytest.raises(SelectorError):
        parse(text)


def test_equality_only_drops_set_requirements() -> None:
    sel = parse("a=1,b!=2,c in (3),d notin (4),e,!f").equality_only()
    assert [(r.key, r.op) for r in sel.requirements] == [("a", "="), ("b", "!=")]


def test_memory_storage_cas_and_revisions() -> None:
    s = MemoryStorage()
    assert s.current_revision() == 1
    r1 = s.put("/k/a", b"1", 0)
    with pytest.raises(KeyExists):
        s.put("/k/a", b"x", 0)
    with pytest.raises(RevisionConflict):
        s.put("/k/a", b"x", r1 + 5)
    with pytest.raises(KeyNotFound):
        s.put("/k/b", b"x", 3)
    r2 = s.put("/k/a", b"2", r1)
    r3 = s.put("/k/b", b"3", 0)
    s.put("/l/c", b"4", 0)
    assert s.get("/k/a") == (b"2", r2)
    assert s.range("/k/") == ([("/k/a", b"2", r2), ("/k/b", b"3", r3)], r3 + 1)
    with pytest.raises(RevisionConflict):
        s.delete("/k/a", r1)
    r5 = s.delete("/k/a", r2)
    assert r5 == s.current_revision() and s.get("/k/a") is None


def test_memory_storage_watch_and_compaction() -> None:
    s = MemoryStorage()
    r1 = s.put("/k/a", b"1", 0)
    r2 = s.put("/k/a", b"2", r1)
    s.put("/x/y", b"0", 0)
    got: list[StorageEvent] = []
    handle = s.watch("/k/", r2, got.append)
    assert got == [StorageEvent("put", "/k/a", b"2", b"1", r2)]
    r4 = s.delete("/k/a", r2)
    assert got[-1] == StorageEvent("delete", "/k/a", None, b"2", r4)
    handle.cancel()
    s.put("/k/z", b"", 0)
    assert len(got) == 2
    s.compact(r4)
    with pytest.raises(Compacted) as e:
        s.watch("/k/", r2, got.append)
    assert e.value.compact_revision == r4
    # the compaction point is no start: the delete made there has lost the state before it
    with pytest.raises(Compacted):
        s.watch("/k/", r4, got.append)
    s.watch("/k/", r4 + 1, got.append)
    assert [(e.type, e.revision) for e in got[-1:]] == [("put", r4 + 1)]
    with pytest.raises(Compacted):
        s.compact(r4)
    with pytest.raises(ValueError):
        s.compact(s.current_revision() + 1)


def test_a_change_whose_previous_state_is_lost_ends_the_watch_410() -> None:
    """etcd sends a change at the compaction point without prev_kv: MODIFIED cannot be told from ADDED, so the
    watch delivers what came before and ends with 410."""
    import json

    from controlplane.apiserver.watch import Watcher
    from controlplane.faults import FaultSet

    def pod(rv: int) -> bytes:
        return json.dumps({"kind": "Pod", "metadata": {"name": "a", "namespace": "ns",
                                                       "resourceVersion": str(rv)}}).encode()

    w = Watcher(None, FaultSet(()), after_revision=3)
    w.on_storage_event(StorageEvent("put", "/registry/pods/ns/a", pod(4), None, 4))
    w.on_storage_event(StorageEvent("put", "/registry/pods/ns/a", pod(5), None, 5, prev_lost=True))
    w.on_storage_event(StorageEvent("put", "/registry/pods/ns/a", pod(6), pod(5), 6))
    got = w.drain()
    assert [e["type"] for e in got] == ["ADDED", "ERROR"]
    assert got[1]["object"]["code"] == 410 and w.ended
