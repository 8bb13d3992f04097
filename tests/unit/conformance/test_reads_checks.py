"""Reads at a resourceVersion (conformance/checks/reads.py): each a snapshot of one revision, on a timeline that
keeps them and on answers that break them."""

from __future__ import annotations

from conformance.checks.reads import ReadAt, Timeline, read_at_revision


def ev(kind: str, name: str, rv: str, value: str = "") -> dict:
    return {"type": kind, "object": {"metadata": {"name": name, "resourceVersion": rv, "labels": {"v": value}}}}


# at 10: a=x; 11: b=a.1 added; 12: a modified to y; 13: b deleted
TIMELINE = Timeline("10", {"a": ("10", "x")}, [ev("ADDED", "b", "11", "a.1"), ev("MODIFIED", "a", "12", "y"),
                                               ev("DELETED", "b", "13", "a.1")])


def lst(asked: str, match: str, rv: str, items: dict, group: str = "") -> ReadAt:
    return ReadAt(0, "list", asked, match, group, rv=rv, items=items)


def test_lists_are_snapshots_of_the_revision_they_name() -> None:
    assert read_at_revision([lst("11", "Exact", "11", {"a": ("10", "x"), "b": ("11", "a.1")})], TIMELINE) == []
    assert read_at_revision([lst("11", "NotOlderThan", "12", {"a": ("12", "y"), "b": ("11", "a.1")})], TIMELINE) == []
    assert read_at_revision([lst("0", "", "13", {"a": ("12", "y")})], TIMELINE) == []
    assert read_at_revision([lst("0", "", "12", {"b": ("11", "a.1")}, group="a")], TIMELINE) == []
    # older than the watch's start: nothing to compare with
    assert read_at_revision([lst("0", "", "9", {})], TIMELINE) == []


def test_a_list_that_is_no_snapshot_or_older_than_asked_breaks_it() -> None:
    assert "answered resourceVersion 12" in read_at_revision([lst("11", "Exact", "12", {})], TIMELINE)[0]
    assert "older resourceVersion" in read_at_revision([lst("12", "NotOlderThan", "11", {})], TIMELINE)[0]
    torn = read_at_revision([lst("0", "", "12", {"a": ("10", "x"), "b": ("11", "a.1")})], TIMELINE)
    assert "at 12 the store held [('a', ('12', 'y'))]" in torn[0]
    assert read_at_revision.invariant == "api.read-at-revision"


def test_gets_show_a_state_the_object_had_no_older_than_asked() -> None:
    assert read_at_revision([ReadAt(0, "get", "0", key="a", rv="10", item=("10", "x"))], TIMELINE) == []
    assert read_at_revision([ReadAt(0, "get", "0", key="b", code=404)], TIMELINE) == []
    newer = ReadAt(0, "get", "12", "NotOlderThan", key="a", rv="10", item=("10", "x"))
    assert "did not have at any revision from 12 on" in read_at_revision([newer], TIMELINE)[0]
    gone = ReadAt(0, "get", "11", "NotOlderThan", key="b", code=404)
    assert read_at_revision([gone], TIMELINE) == []  # deleted at 13, which is no older than 11
    made_up = ReadAt(0, "get", "0", key="a", rv="11", item=("11", "z"))
    assert "a state a did not have" in read_at_revision([made_up], TIMELINE)[0]
