"""The watch guarantees across writers (conformance/checks/watch.py), each on a stream that keeps it and one
that breaks it."""

from __future__ import annotations

from conformance.checks import watch as w


def ev(kind: str, name: str, rv: str, value: str = "") -> dict:
    return {"type": kind, "object": {"metadata": {"name": name, "resourceVersion": rv, "labels": {"v": value}}}}


STREAM = [ev("ADDED", "a", "5", "x"), ev("MODIFIED", "a", "6", "y"), ev("DELETED", "a", "7", "y")]
WRITES = [w.Written("a", "create", "x", "5"), w.Written("a", "update", "y", "6"), w.Written("a", "delete", None, None)]


def test_unique() -> None:
    assert w.unique(STREAM) == []
    assert "delivered twice" in w.unique([*STREAM, STREAM[1]])[0]
    assert w.unique.invariant == "watch.unique"


def test_ordered() -> None:
    assert w.ordered(STREAM) == []
    assert "not commit order" in w.ordered([STREAM[1], STREAM[0]])[0]
    assert w.ordered([ev("ADDED", "a", "opaque"), ev("ADDED", "b", "5")]) == []  # not numbers: not judged


def test_every_acknowledged_write_is_delivered_and_nothing_else() -> None:
    assert w.delivers_writes(STREAM, WRITES) == []
    missing = w.delivers_writes(STREAM[:2], WRITES)
    assert "acknowledged delete (DELETED a) was never delivered" in missing[0]
    wrong_value = w.delivers_writes([ev("ADDED", "a", "5", "z"), *STREAM[1:]], WRITES)
    assert "never delivered" in wrong_value[0]
    phantom = w.delivers_writes([*STREAM, ev("ADDED", "b", "8")], WRITES)
    assert "no acknowledged write" in phantom[0]
    # a write whose outcome its client never learned may or may not show
    assert w.delivers_writes([*STREAM, ev("ADDED", "b", "8")], WRITES, open_outcomes=frozenset({"b"})) == []


def test_resumes() -> None:
    assert w.resumes(STREAM, 0, STREAM[1:]) == []
    assert w.resumes(STREAM, 0, STREAM[0:]) != []  # the start revision replayed
    assert w.resumes(STREAM, 0, STREAM[2:]) != []  # a change skipped


def test_list_then_watch() -> None:
    before = {"b": ("3", "old")}
    after = {"b": ("3", "old")}
    assert w.list_then_watch(before, STREAM, after) == []
    assert w.list_then_watch(before, STREAM[:2], after) != []  # the delete never came: a stays
    # the last two changes of one object delivered the wrong way round leave the older state behind
    swapped = [STREAM[0], ev("MODIFIED", "a", "8", "z"), STREAM[1]]
    problems = w.list_then_watch({}, swapped, {"a": ("8", "z")})
    assert problems and "('a', ('6', 'y'))" in problems[0]


def test_starts_after() -> None:
    assert w.starts_after(STREAM, "4") == []
    assert "not after it" in w.starts_after(STREAM, "5")[0]  # the start revision itself
    assert w.starts_after(STREAM, "6") != []


def test_bookmarkable() -> None:
    # (events before it, resourceVersion): after every change up to it, before every later one
    assert w.bookmarkable(STREAM, [(0, "4"), (1, "5"), (3, "9")], WRITES, "4") == []
    assert "came before ['MODIFIED a@6']" in w.bookmarkable(STREAM, [(1, "6")], WRITES, "4")[0]
    # a write acknowledged at or below the bookmark and never delivered before it
    assert "['update a@6'] had not been delivered" in w.bookmarkable(STREAM[:1], [(1, "6")], WRITES, "4")[0]
    # writes from before the watch's start are not its to deliver
    assert w.bookmarkable(STREAM[1:], [(1, "6")], WRITES, "5") == []
    assert w.bookmarkable.invariant == "watch.bookmarkable"
