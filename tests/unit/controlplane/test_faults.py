"""Every seeded fault changes behaviour in the way it describes, and only when it is on."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from adapters.inprocess import InProcessTarget
from controlplane.faults import BY_NAME, FAULTS, FaultSet

JSON = dict[str, Any]
Make = Callable[..., InProcessTarget]
ROOT = Path(__file__).resolve().parents[3]


def pod(name: str, *, node: str | None = None, labels: dict[str, str] | None = None,
        finalizers: list[str] | None = None) -> JSON:
    body: JSON = {"metadata": {"name": name, "labels": labels or {}}, "spec": {}}
    if node:
        body["spec"]["nodeName"] = node
    if finalizers:
        body["metadata"]["finalizers"] = finalizers
    return body


def binding(name: str, node: str, **meta: Any) -> JSON:
    return {"metadata": {"name": name, **meta}, "target": {"kind": "Node", "name": node}}


def relabel(obj: JSON, **labels: str) -> JSON:
    return {**obj, "metadata": {**obj["metadata"], "labels": labels}}


def types(events: list[JSON]) -> list[str]:
    return [e["type"] for e in events]


# ---- the registry of faults ----


def test_registry_and_faultset() -> None:
    assert len(FAULTS) == len(BY_NAME) == 56
    fs = FaultSet(["watch.reorders"])
    assert fs.enabled("watch.reorders") and not fs.enabled("binding.overwrites")
    assert "watch.reorders" in fs and isinstance(fs, frozenset)
    assert FaultSet("binding.overwrites") == {"binding.overwrites"}
    with pytest.raises(ValueError, match="known faults: .*binding.overwrites"):
        FaultSet(["no.such-fault"])
    with pytest.raises(ValueError, match="unknown fault"):
        fs.enabled("typo")
    with pytest.raises(ValueError):
        InProcessTarget(["typo"])


def test_cli_lists_faults() -> None:
    out = subprocess.run([sys.executable, "-m", "controlplane.faults"], cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout
    lines = out.splitlines()
    assert lines == [f"{f.name}\t{f.invariant}\t{f.description}" for f in FAULTS]
    assert lines[0].split("\t")[:2] == ["binding.overwrites", "binding.at-most-once"]


# ---- each fault: behaviour off vs on ----


def test_binding_overwrites(make_target: Make) -> None:
    for fault, code, node in (((), 409, "n1"), (("binding.overwrites",), 201, "n2")):
        t = make_target(*fault)
        t.create("pods", "ns", pod("p"))
        assert t.bind("ns", "p", binding("p", "n1")).code == 201
        assert t.bind("ns", "p", binding("p", "n2")).code == code
        assert t.get("pods", "ns", "p").body["spec"]["nodeName"] == node


def test_binding_ignores_deleting(make_target: Make) -> None:
    for fault, code in (((), 409), (("binding.ignores-deleting",), 201)):
        t = make_target(*fault)
        t.create("pods", "ns", pod("p", finalizers=["f/x"]))
        t.delete("pods", "ns", "p")
        assert t.bind("ns", "p", binding("p", "n1")).code == code


def test_binding_ignores_uid(make_target: Make) -> None:
    for fault, code in (((), 409), (("binding.ignores-uid",), 201)):
        t = make_target(*fault)
        t.create("pods", "ns", pod("p"))
        assert t.bind("ns", "p", binding("p", "n1", uid="stale")).code == code


def test_update_ignores_rv(make_target: Make) -> None:
    for fault, code in (((), 409), (("update.ignores-rv",), 200)):
        t = make_target(*fault)
        p = t.create("pods", "ns", pod("p")).body
        assert t.update("pods", "ns", "p", relabel(p, a="1")).code == 200
        r = t.update("pods", "ns", "p", relabel(p, a="2"))
        assert r.code == code
        if code == 409:
            assert r.body["reason"] == "Conflict"


def test_update_noop_bumps_rv(make_target: Make) -> None:
    for fault, bumped in (((), False), (("update.noop-bumps-rv",), True)):
        t = make_target(*fault)
        p = t.create("pods", "ns", pod("p")).body
        w = t.watch("pods", "ns", resource_version=p["metadata"]["resourceVersion"])
        r = t.update("pods", "ns", "p", p)
        assert (r.body["metadata"]["resourceVersion"] != p["metadata"]["resourceVersion"]) is bumped
        assert types(w.drain()) == (["MODIFIED"] if bumped else [])


def test_update_keeps_dropped_field(make_target: Make) -> None:
    for fault, kept in (((), False), (("update.keeps-dropped-field",), True)):
        t = make_target(*fault)
        spec = {"holderIdentity": "a", "leaseDurationSeconds": 15, "renewTime": "2026-01-01T00:00:00.000000Z"}
        lease = t.create("leases", "ns", {"metadata": {"name": "l"}, "spec": spec}).body
        lease["spec"] = {"holderIdentity": "a", "leaseDurationSeconds": 15}
        r = t.update("leases", "ns", "l", lease)
        assert r.code == 200
        assert ("renewTime" in r.body["spec"]) is kept
        assert ("renewTime" in t.get("leases", "ns", "l").body["spec"]) is kept


def test_list_stale_item_rv(make_target: Make) -> None:
    for fault, stale in (((), False), (("list.stale-item-rv",), True)):
        t = make_target(*fault)
        p = t.create("pods", "ns", pod("p")).body
        now = t.update("pods", "ns", "p", relabel(p, a="1")).body["metadata"]["resourceVersion"]
        item = t.list("pods", "ns").body["items"][0]
        assert (item["metadata"]["resourceVersion"] != now) is stale
        assert item["metadata"]["resourceVersion"] == (p["metadata"]["resourceVersion"] if stale else now)
        assert t.get("pods", "ns", "p").body["metadata"]["resourceVersion"] == now


def test_create_keeps_status(make_target: Make) -> None:
    for fault, status in (((), {"phase": "Pending"}),
                          (("create.keeps-status",), {"phase": "Pending", "hostIP": "10.0.0.7"})):
        t = make_target(*fault)
        body = {**pod("p"), "status": {"phase": "Running", "hostIP": "10.0.0.7"}}
        assert t.create("pods", "ns", body).body["status"] == status


def test_delete_ignores_finalizers(make_target: Make) -> None:
    for fault, code in (((), 200), (("delete.ignores-finalizers",), 404)):
        t = make_target(*fault)
        t.create("nodes", None, {"metadata": {"name": "n", "finalizers": ["f/x"]}})
        assert t.delete("nodes", None, "n").code == 200
        assert t.get("nodes", None, "n").code == code


def test_list_ignores_selector(make_target: Make) -> None:
    for fault, ignored in (((), False), (("list.ignores-selector",), True)):
        t = make_target(*fault)
        t.create("pods", "ns", pod("a", labels={"app": "web"}))
        t.create("pods", "ns", pod("b", labels={"app": "db"}))

        def names(sel: str, t: InProcessTarget = t) -> list[str]:
            return [p["metadata"]["name"] for p in t.list("pods", "ns", label_selector=sel).body["items"]]

        assert names("app=web") == ["a"]  # equality requirements still work
        assert names("app!=web") == ["b"]
        assert names("app in (web)") == (["a", "b"] if ignored else ["a"])
        assert names("app notin (web)") == (["a", "b"] if ignored else ["b"])
        assert names("tier") == (["a", "b"] if ignored else [])
        assert names("!app") == (["a", "b"] if ignored else [])
        assert names("app=db,tier") == (["b"] if ignored else [])


def test_status_wrong_reason(make_target: Make) -> None:
    for fault, reason in (((), "Conflict"), (("status.wrong-reason",), "AlreadyExists")):
        t = make_target(*fault)
        p = t.create("pods", "ns", pod("p")).body
        t.update("pods", "ns", "p", relabel(p, a="1"))
        r = t.update("pods", "ns", "p", relabel(p, a="2"))
        assert (r.code, r.body["reason"]) == (409, reason)
        assert r.body["message"].endswith("please apply your changes to the latest version and try again")


def test_create_reuses_uid(make_target: Make) -> None:
    for fault, same in (((), False), (("create.reuses-uid",), True)):
        t = make_target(*fault)
        first = t.create("pods", "ns", pod("p")).body["metadata"]["uid"]
        t.delete("pods", "ns", "p")
        second = t.create("pods", "ns", pod("p")).body["metadata"]["uid"]
        assert (first == second) is same


def test_get_stale_read(make_target: Make) -> None:
    for fault, stale in (((), False), (("get.stale-read",), True)):
        t = make_target(*fault)
        p = t.create("pods", "ns", pod("p", labels={"a": "1"})).body
        updated = t.update("pods", "ns", "p", relabel(p, a="2")).body
        got = t.get("pods", "ns", "p").body
        assert (got == p) is stale and (got == updated) is not stale
        # a change beyond labels reaches the cache
        t.bind("ns", "p", binding("p", "n1"))
        assert t.get("pods", "ns", "p").body["metadata"]["labels"] == {"a": "2"}
        assert t.list("pods", "ns").body["items"][0]["metadata"]["labels"] == {"a": "2"}


def test_watch_drops_event(make_target: Make) -> None:
    # an immediate pod delete is MODIFIED (marked) then DELETED; the fault loses only the DELETED
    for fault, expected in (((), ["ADDED", "MODIFIED", "DELETED"]), (("watch.drops-event",), ["ADDED", "MODIFIED"])):
        t = make_target(*fault)
        w = t.watch("pods", "ns")
        t.create("pods", "ns", pod("p"))
        gone = t.delete("pods", "ns", "p").body
        events = w.drain()
        assert types(events) == expected
        assert events[1]["object"]["metadata"]["deletionTimestamp"] == gone["metadata"]["deletionTimestamp"]
        assert t.get("pods", "ns", "p").code == 404


def test_watch_reorders(make_target: Make) -> None:
    for fault, reverse in (((), False), (("watch.reorders",), True)):
        t = make_target(*fault)
        start = t.list("pods", "ns").body["metadata"]["resourceVersion"]
        made = [t.create("pods", "ns", pod(n)).body["metadata"]["resourceVersion"] for n in ("a", "b", "c")]
        w = t.watch("pods", "ns", resource_version=start)
        got = [e["object"]["metadata"]["resourceVersion"] for e in w.drain()]
        assert got == (made[::-1] if reverse else made)
        # live events after the backlog are in order either way
        d = t.create("pods", "ns", pod("d")).body["metadata"]["resourceVersion"]
        assert [e["object"]["metadata"]["resourceVersion"] for e in w.drain()] == [d]
        # and a watch with no resourceVersion is not affected
        assert [e["object"]["metadata"]["name"] for e in t.watch("pods", "ns").drain()] == ["a", "b", "c", "d"]


def test_watch_resume_duplicates(make_target: Make) -> None:
    for fault, expected in (((), ["b"]), (("watch.resume-duplicates",), ["a", "b"])):
        t = make_target(*fault)
        a = t.create("pods", "ns", pod("a")).body
        t.create("pods", "ns", pod("b"))
        w = t.watch("pods", "ns", resource_version=a["metadata"]["resourceVersion"])
        assert [e["object"]["metadata"]["name"] for e in w.drain()] == expected


def test_watch_duplicates_event(make_target: Make) -> None:
    # relabel (MODIFIED), then an immediate pod delete: MODIFIED (marked) then DELETED
    for fault, expected in (((), ["ADDED", "MODIFIED", "MODIFIED", "DELETED"]),
                            (("watch.duplicates-event",),
                             ["ADDED", "MODIFIED", "MODIFIED", "MODIFIED", "MODIFIED", "DELETED"])):
        t = make_target(*fault)
        w = t.watch("pods", "ns")
        p = t.create("pods", "ns", pod("p")).body
        relabeled = t.update("pods", "ns", "p", relabel(p, a="1")).body
        gone = t.delete("pods", "ns", "p").body
        events = w.drain()
        assert types(events) == expected
        modified = [e["object"] for e in events if e["type"] == "MODIFIED"]
        if fault:
            for first, second in zip(modified[::2], modified[1::2], strict=True):
                assert first == second and first is not second
            modified = modified[::2]
        assert modified[0] == relabeled
        assert modified[1]["metadata"]["deletionTimestamp"] == gone["metadata"]["deletionTimestamp"]
        assert events[-1]["object"] == gone


def test_watch_no_expiry(make_target: Make) -> None:
    for fault in ((), ("watch.no-expiry",)):
        t = make_target(*fault)
        a = t.create("pods", "ns", pod("a")).body
        t.create("pods", "ns", pod("b"))
        c = t.create("pods", "ns", pod("c")).body
        t.controls.compact()
        w = t.watch("pods", "ns", resource_version=a["metadata"]["resourceVersion"])
        events = w.drain()
        if fault:
            # goes on after the compaction point (here c's write) as if nothing were missed
            assert events == [] and not w.ended
            d = t.create("pods", "ns", pod("d")).body
            assert [e["object"]["metadata"]["name"] for e in w.drain()] == ["d"]
            assert int(d["metadata"]["resourceVersion"]) > int(c["metadata"]["resourceVersion"])
        else:
            assert types(events) == ["ERROR"] and events[0]["object"]["code"] == 410 and w.ended


# ---- faults only concurrency reveals: a window in which another request runs ----


def _in_window(t: InProcessTarget, request: Callable[[], Any]) -> list[Any]:
    """Make ``request`` the request that gets in when a fault opens its window (once); return what it answered."""
    answers: list[Any] = []

    def pause(point: str) -> None:
        t.server.pause = lambda p: None
        answers.append(request())

    t.server.pause = pause
    return answers


@pytest.mark.parametrize("racy", [False, True])
def test_update_racy_precondition_loses_an_update(make_target: Make, racy: bool) -> None:
    t = make_target(*(["update.racy-precondition"] if racy else []))
    rv = t.create("pods", "ns", pod("p")).body["metadata"]["resourceVersion"]
    other = _in_window(t, lambda: t.update("pods", "ns", "p", relabel(pod("p"), v="b") | {
        "metadata": {"name": "p", "labels": {"v": "b"}, "resourceVersion": rv}}))
    mine = t.update("pods", "ns", "p", {**pod("p"), "metadata": {"name": "p", "labels": {"v": "a"},
                                                                 "resourceVersion": rv}})
    if racy:  # both were checked against rv and both were written: b's update is lost
        assert [o.code for o in other] == [200] and mine.code == 200
        assert t.get("pods", "ns", "p").body["metadata"]["labels"] == {"v": "a"}
    else:  # no window: nothing else ran inside the update
        assert other == [] and mine.code == 200


@pytest.mark.parametrize("racy", [False, True])
def test_create_racy_exists_overwrites(make_target: Make, racy: bool) -> None:
    t = make_target(*(["create.racy-exists"] if racy else []))
    other = _in_window(t, lambda: t.create("pods", "ns", relabel(pod("p"), v="b")))
    mine = t.create("pods", "ns", relabel(pod("p"), v="a"))
    assert mine.code == 201
    assert [o.code for o in other] == ([201] if racy else [])


@pytest.mark.parametrize("racy", [False, True])
def test_delete_racy_precondition_deletes_a_newer_object(make_target: Make, racy: bool) -> None:
    t = make_target(*(["delete.racy-precondition"] if racy else []))
    rv = t.create("pods", "ns", pod("p")).body["metadata"]["resourceVersion"]
    other = _in_window(t, lambda: t.update("pods", "ns", "p", relabel(pod("p"), v="b")))
    mine = t.delete("pods", "ns", "p", options={"preconditions": {"resourceVersion": rv}})
    assert mine.code == 200
    assert [o.code for o in other] == ([200] if racy else [])
    assert t.get("pods", "ns", "p").code == 404


@pytest.mark.parametrize("racy", [False, True])
def test_list_torn_read_shows_a_state_never_held(make_target: Make, racy: bool) -> None:
    t = make_target(*(["list.torn-read"] if racy else []))
    for name in ("a", "b"):
        t.create("pods", "ns", pod(name))
    # inside the window before the first item is read, a is deleted and c created
    other = _in_window(t, lambda: (t.delete("pods", "ns", "a"), t.create("pods", "ns", pod("c"))))
    names = [o["metadata"]["name"] for o in t.list("pods", "ns").body["items"]]
    if racy:
        # c is missing, though the list's resourceVersion is that of c's create: at that revision the store held b, c
        assert len(other) == 1 and names == ["b"]
        assert t.list("pods", "ns").body["metadata"]["resourceVersion"] == other[0][1].body["metadata"][
            "resourceVersion"]
    else:
        assert other == [] and names == ["a", "b"]


@pytest.mark.parametrize("racy", [False, True])
def test_watch_racy_fanout_delivers_out_of_commit_order(make_target: Make, racy: bool) -> None:
    t = make_target(*(["watch.racy-fanout"] if racy else []))
    w = t.watch("pods", "ns")
    # the create of b gets in after a's commit, before a's event went out
    other = _in_window(t, lambda: t.create("pods", "ns", pod("b")))
    t.create("pods", "ns", pod("a"))
    names = [e["object"]["metadata"]["name"] for e in w.drain()]
    assert names == (["b", "a"] if racy else ["a"])
    assert [o.code for o in other] == ([201] if racy else [])


@pytest.mark.parametrize("racy", [False, True])
def test_watch_racy_start_loses_a_change(make_target: Make, racy: bool) -> None:
    t = make_target(*(["watch.racy-start"] if racy else []))
    rv = t.create("pods", "ns", pod("a")).body["metadata"]["resourceVersion"]
    other = _in_window(t, lambda: t.create("pods", "ns", pod("b")))
    w = t.watch("pods", "ns", resource_version=rv)
    t.create("pods", "ns", pod("c"))
    names = [e["object"]["metadata"]["name"] for e in w.drain()]
    assert [o.code for o in other] == ([201] if racy else [])
    # with the fault b committed between the replay and the live stream, and no event ever tells of it
    assert names == ["c"]
    assert t.get("pods", "ns", "b").code == (200 if racy else 404)


@pytest.mark.parametrize("racy", [False, True])
def test_list_page_at_latest_mixes_moments(make_target: Make, racy: bool) -> None:
    t = make_target(*(["list.page-at-latest"] if racy else []))
    for name in ("a", "b"):
        t.create("pods", "ns", pod(name))
    first = t.list("pods", "ns", limit=1).body
    t.create("pods", "ns", pod("ab"))  # sorts between a and b: only a page read at the latest state sees it
    rest = t.list("pods", "ns", limit=5, continue_=first["metadata"]["continue"]).body
    names = [o["metadata"]["name"] for o in first["items"] + rest["items"]]
    assert names == (["a", "ab", "b"] if racy else ["a", "b"])


@pytest.mark.parametrize("faulty", [False, True])
def test_list_cache_skips_wait_claims_a_revision_its_items_are_not_from(make_target: Make, faulty: bool) -> None:
    t = make_target(*(["list.cache-skips-wait"] if faulty else []))
    t.create("pods", "ns", pod("a"))
    cached = t.list("pods", "ns").body["metadata"]["resourceVersion"]  # what the faulty cache then holds
    made = t.create("pods", "ns", pod("b")).body["metadata"]["resourceVersion"]
    newer = t.list("pods", "ns", resource_version=made, resource_version_match="NotOlderThan").body
    any_ = t.list("pods", "ns", resource_version="0").body
    assert newer["metadata"]["resourceVersion"] == made
    assert [o["metadata"]["name"] for o in newer["items"]] == (["a"] if faulty else ["a", "b"])
    # "0" may be old, and is: but then it says so
    assert any_["metadata"]["resourceVersion"] == (cached if faulty else made)
    assert [o["metadata"]["name"] for o in any_["items"]] == (["a"] if faulty else ["a", "b"])


@pytest.mark.parametrize("faulty", [False, True])
def test_watch_bookmark_ahead_promises_what_is_still_queued(make_target: Make, faulty: bool) -> None:
    t = make_target(*(["watch.bookmark-ahead"] if faulty else []))
    start = t.list("pods", "ns").body["metadata"]["resourceVersion"]
    w = t.watch("pods", "ns", resource_version=start, bookmarks=True)
    # a bookmark timer that fires while a write's request lets other requests in
    t.server.pause = lambda point: w.tick()
    made = t.create("pods", "ns", pod("a")).body["metadata"]["resourceVersion"]
    got = [(e["type"], e["object"]["metadata"]["resourceVersion"]) for e in w.drain()]
    if faulty:
        assert got == [("BOOKMARK", made), ("ADDED", made)]  # the bookmark promised the change it came before
    else:
        assert got == [("ADDED", made)]  # no request window: nothing is queued, and no tick came
