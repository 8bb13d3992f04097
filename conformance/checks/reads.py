"""Reads that need not be linearizable: a get or list with resourceVersion "0", or a list with
``resourceVersionMatch`` NotOlderThan or Exact. Each must still show the store as it was at one revision.

The API's contract (apimachinery/pkg/apis/meta/v1/types.go: ListOptions, resourceVersionMatch; documented as
"Resource versions" in the API concepts): "0" is any state the server holds (a watch cache may answer older
than the newest write), NotOlderThan r is a state at r or later, Exact r is the state at r. Whatever is older,
the answer is a *snapshot*: the items of one revision, each at the resourceVersion it had then, and the list's
own resourceVersion is that revision (apiserver/pkg/storage/cacher/cacher.go: GetList answers from the cache at
the cache's revision; apiserver/pkg/storage/etcd3/store.go: GetList reads etcd at one revision).

The store's history is taken from a watch opened before the reads and checked beforehand on its own guarantees
(``conformance/checks/watch.py``): the state at revision r is the list the watch started from with every event
up to r applied. A revision older than that list cannot be rebuilt and is not judged.

A read is :class:`ReadAt`: what was asked and what came back, items as name -> (resourceVersion, value).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from conformance.checks import check
from conformance.checks.watch import replay

JSON = dict[str, Any]


@dataclass(frozen=True)
class ReadAt:
    """One read. ``verb`` get or list; ``asked`` the resourceVersion sent ("0" or a revision); ``match`` the
    resourceVersionMatch sent ("", NotOlderThan, Exact); ``group`` a list's label selection (values "<group>.…"),
    "" for all; ``key`` a get's name. The answer: ``code``, the list's ``rv`` and ``items``, or a get's ``item``."""

    client: int
    verb: str
    asked: str
    match: str = ""
    group: str = ""
    key: str = ""
    code: int = 200
    rv: str = ""
    items: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    item: tuple[str, str] | None = None

    def __str__(self) -> str:
        what = f"get {self.key}" if self.verb == "get" else "list" + (f" of group {self.group}" if self.group else "")
        how = f"resourceVersion={self.asked!r}" + (f" resourceVersionMatch={self.match}" if self.match else "")
        return f"client {self.client}'s {what} with {how}"


class Timeline:
    """The store's states by revision: a list at ``start`` and the events after it, in order."""

    def __init__(self, start_rv: str, start: Mapping[str, tuple[str, str]], events: Sequence[JSON]) -> None:
        self.start = int(start_rv)
        self.initial = dict(start)
        self.events = [e for e in events if e.get("type") in ("ADDED", "MODIFIED", "DELETED")]

    def known(self, rv: int) -> bool:
        return rv >= self.start

    def at(self, rv: int) -> dict[str, tuple[str, str]]:
        upto = [e for e in self.events if int(e["object"]["metadata"]["resourceVersion"]) <= rv]
        return replay(self.initial, upto)

    def versions(self, key: str, since: int = 0) -> list[tuple[str, str] | None]:
        """Every state ``key`` had at a revision ``since`` or later, from the start on (None: absent)."""
        out = [self.at(since).get(key) if since > self.start else self.initial.get(key)]
        for e in self.events:
            if e["object"]["metadata"].get("name") == key and int(e["object"]["metadata"]["resourceVersion"]) > since:
                out.append(None if e["type"] == "DELETED" else replay({}, [e])[key])
        return out


def _selected(state: Mapping[str, tuple[str, str]], group: str) -> dict[str, tuple[str, str]]:
    return {k: v for k, v in state.items() if not group or v[1].startswith(group + ".")}


@check("api.read-at-revision")
def read_at_revision(reads: Sequence[ReadAt], timeline: Timeline) -> list[str]:
    """Each read is the store at one revision: the one it names (Exact), one no older than asked (NotOlderThan),
    any (resourceVersion "0"); a get with "0" shows a state its object had, or its absence."""
    problems = []
    for r in reads:
        since = int(r.asked) if r.match == "NotOlderThan" else 0
        if r.code != 200:
            if r.verb == "get" and r.code == 404 and None in timeline.versions(r.key, since):
                continue
            problems.append(f"{r} was answered {r.code}")
            continue
        if r.verb == "get":
            if r.item not in timeline.versions(r.key, since):
                problems.append(f"{r} answered {r.item}, a state {r.key} did not have at any revision from "
                                f"{max(since, timeline.start)} on: {timeline.versions(r.key, since)}")
            continue
        rv = int(r.rv)
        if r.match == "Exact" and rv != int(r.asked):
            problems.append(f"{r} answered resourceVersion {r.rv}")
            continue
        if r.match == "NotOlderThan" and rv < int(r.asked):
            problems.append(f"{r} answered an older resourceVersion, {r.rv}")
            continue
        if not timeline.known(rv):
            continue  # older than the watch's start: nothing to compare with
        want = _selected(timeline.at(rv), r.group)
        if dict(r.items) != want:
            diff = sorted(k for k in set(want) | set(r.items) if want.get(k) != r.items.get(k))
            problems.append(f"{r} answered resourceVersion {r.rv} with {[(k, r.items.get(k)) for k in diff]}, but "
                            f"at {r.rv} the store held {[(k, want.get(k)) for k in diff]}")
    return problems
