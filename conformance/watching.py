"""Checks a watch stream against the model's change log.

A stream is judged on everything it has delivered so far, in this order:
410 handling, duplicates (``watch.unique``), replay of the start revision
(``watch.resumable``), order (``watch.ordered``), then gaps and contents
(``watch.reliable``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from adapters.base import Watch
from conformance.compare import object_diffs, short, status_diffs
from conformance.invariants import violation
from model import status as st
from model.apiserver import APIModel, Change, WatchPlan


@dataclass
class WatchCheck:
    """One open watch: its plan, what it has delivered, what it must deliver."""

    label: str
    plan: WatchPlan
    stream: Watch
    start_rv: str | None
    received: list[dict[str, Any]] = field(default_factory=list)
    expected: list[Change] = field(default_factory=list)
    expired_seen: bool = False
    #: how many of ``received`` the API's promises were judged on (conformance/client.py)
    promised: int = 0

    def _rv(self, event: dict[str, Any]) -> str | None:
        obj = event.get("object")
        return (obj.get("metadata") or {}).get("resourceVersion") if isinstance(obj, dict) else None

    def check(self, model: APIModel, timeout: float = 0.0,
              promises: Callable[[WatchCheck], None] | None = None) -> list[tuple[Change, str]]:
        """Drain the stream and judge it; return the resourceVersions it taught (a change whose version no
        answer showed, paired with the version its event carried) for the caller to hand to the model.
        ``promises`` judges what was delivered against the API's own promises first, before the model."""
        if self.expired_seen:
            return []
        self.expected = list(self.plan.initial) + model.changes_after(self.plan)
        last_rv = self.expected[-1].obj["metadata"].get("resourceVersion") if self.expected else None
        # with no version to wait for, waiting is the loop's job below (it stops when nothing more is due)
        self.received += self.stream.drain(until_rv=last_rv, timeout=timeout if last_rv else 0.0)
        if timeout > 0:
            # over a network, events whose resourceVersion no answer gave (a delete answered by a Status)
            # may still be on their way: wait, within the same bound, for as many as the model expects
            # (an expired start expects one: the ERROR 410 Expired)
            deadline = time.monotonic() + timeout
            due = 1 if self.plan.expired and not self.expected else len(self.expected)
            while len(self.received) < due and not self.stream.ended:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self.received += self.stream.drain(timeout=left)
            if self.stream.ended:
                self.received += self.stream.drain()  # what arrived just before the stream ended
        if promises is not None:
            promises(self)
        got = self.received
        errors = [e for e in got if e.get("type") == "ERROR"]
        if self.plan.expired or (self.plan.may_expire and errors):
            if not errors:
                raise violation("watch.expired-410", f"{self.label}: started at compacted resourceVersion "
                                f"{self.start_rv!r} but delivered {short(got)} instead of ERROR 410 Expired")
            diffs = status_diffs(st.expired(), errors[0].get("object"))
            if len(got) != 1 or diffs:
                raise violation("watch.expired-410", f"{self.label}: expected exactly one ERROR 410 Expired, got "
                                f"{short(got)}" + ("; " + "; ".join(diffs) if diffs else ""))
            self.expired_seen = True
            return []
        if errors:
            raise violation("watch.expired-410", f"{self.label}: unexpected ERROR event {short(errors[0])} "
                            f"(start {self.start_rv!r} was not compacted)")
        rvs = [self._rv(e) for e in got]
        seen: set[str] = set()
        for rv in rvs:
            if rv in seen:
                raise violation("watch.unique", f"{self.label}: resourceVersion {rv} delivered twice: "
                                f"{[e.get('type') + '@' + str(self._rv(e)) for e in got]}")
            if rv:
                seen.add(rv)
        exp_rvs = self._expected_rvs()
        if self.start_rv is not None and self.start_rv != "0":
            expected_set = set(exp_rvs)
            for e, rv in zip(got, rvs, strict=True):
                pos = model.rv_position.get(rv) if rv else None
                if rv == self.start_rv or (pos is not None and pos <= self.plan.start_position
                                           and rv not in expected_set):
                    raise violation("watch.resumable", f"{self.label}: a watch from resourceVersion "
                                    f"{self.start_rv} delivered {e.get('type')} at {rv}, which is not after it")
        index = {rv: i for i, rv in enumerate(exp_rvs) if rv}
        known = [index[rv] for rv in rvs if rv in index]
        if known != sorted(known):
            raise violation("watch.ordered", f"{self.label}: delivered out of commit order: got "
                            f"{[str(rv) for rv in rvs]}, commit order {[str(r) for r in exp_rvs]}")
        if len(got) < len(self.expected):
            missing = self.expected[len(got)]
            raise violation("watch.reliable", f"{self.label}: missing {missing.type} of "
                            f"{missing.obj['metadata']['name']} (resourceVersion "
                            f"{missing.obj['metadata'].get('resourceVersion')}); delivered "
                            f"{[e.get('type') + '@' + str(self._rv(e)) for e in got]}")
        if len(got) > len(self.expected):
            extra = got[len(self.expected)]
            raise violation("watch.reliable", f"{self.label}: unexpected event {extra.get('type')} at "
                            f"{self._rv(extra)}: {short(extra.get('object'))}")
        learned: list[tuple[Change, str]] = []
        for i, (change, event) in enumerate(zip(self.expected, got, strict=True)):
            rv = self._check_event(model, i, change, event, {r for _, r in learned})
            if rv is not None:
                learned.append((change, rv))
        return learned

    def _expected_rvs(self) -> list[str | None]:
        return [c.obj["metadata"].get("resourceVersion") for c in self.expected]

    def _check_event(self, model: APIModel, i: int, change: Change, event: dict[str, Any],
                     taught: set[str]) -> str | None:
        obj = event.get("object")
        if event.get("type") != change.type:
            raise violation("watch.reliable", f"{self.label}: event {i} should be {change.type} of "
                            f"{change.obj['metadata']['name']}, got {event.get('type')} {short(obj)}")
        rv = self._rv(event)
        want_rv = change.obj["metadata"].get("resourceVersion")
        learned = None
        if want_rv is None:
            # a list answered after the write may already have shown this revision as its own
            fresh = model.is_fresh_rv(change.plural, rv) and rv not in taught
            if not (fresh or model.rv_position.get(rv) == change.position):
                raise violation("watch.reliable", f"{self.label}: event {i} ({change.type}) should carry a new "
                                f"resourceVersion, got {rv!r}")
            learned = rv
        elif rv != want_rv:
            raise violation("watch.reliable", f"{self.label}: event {i} ({change.type} of "
                            f"{change.obj['metadata']['name']}) should carry resourceVersion {want_rv}, got {rv}")
        diffs = object_diffs(change.obj, obj, check_kind=False, time_skew=model.time_skew)
        if diffs:
            raise violation("watch.reliable", f"{self.label}: event {i} ({change.type} of "
                            f"{change.obj['metadata']['name']}) differs: " + "; ".join(diffs))
        return learned
