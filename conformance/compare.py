"""Comparing a target's answer with the model's expectation.

Objects are compared on the fields kubeprop controls or the contract fixes:
tracked metadata exactly, ``spec`` and ``status`` as "what the model expects
is present" (a server may add defaults). A mismatch raises the invariant the
expectation names, except that a wrong Status body for the right error code is
``api.status-shape`` and a wrong resourceVersion is ``api.rv-changes``.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from adapters.base import Response
from conformance.invariants import violation
from model.apiserver import APIModel, Expect

TRACKED_META = ("name", "namespace", "labels", "annotations", "finalizers", "deletionTimestamp",
                "deletionGracePeriodSeconds", "uid", "creationTimestamp")
EMPTY_IS_ABSENT = ("labels", "annotations", "finalizers")


def short(value: Any, limit: int = 400) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= limit else text[:limit] + "…"


def subset_diffs(expected: Any, actual: Any, path: str) -> list[str]:
    """Where ``actual`` lacks or contradicts what ``expected`` holds."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{path}: expected an object, got {short(actual)}"]
        out: list[str] = []
        for k, v in expected.items():
            if k not in actual:
                if v in ({}, [], None, ""):
                    continue
                out.append(f"{path}.{k}: missing (expected {short(v)})")
            else:
                out += subset_diffs(v, actual[k], f"{path}.{k}")
        return out
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            return [f"{path}: expected {short(expected)}, got {short(actual)}"]
        if path.endswith(".conditions"):
            by_type = {c.get("type"): c for c in actual if isinstance(c, dict)}
            return [d for c in expected
                    for d in subset_diffs(c, by_type.get(c.get("type")), f"{path}[{c.get('type')}]")]
        return [d for i, (e, a) in enumerate(zip(expected, actual, strict=True))
                for d in subset_diffs(e, a, f"{path}[{i}]")]
    if expected != actual:
        return [f"{path}: expected {short(expected)}, got {short(actual)}"]
    return []


TIMESTAMPS = ("creationTimestamp", "deletionTimestamp")


def _close_in_time(ev: Any, av: Any, skew: int) -> bool:
    """Whether two RFC 3339 timestamps are at most ``skew`` seconds apart (the stated bound over HTTP)."""
    try:
        a = datetime.fromisoformat(str(ev).replace("Z", "+00:00"))
        b = datetime.fromisoformat(str(av).replace("Z", "+00:00"))
    except ValueError:
        return False
    return abs((a - b).total_seconds()) <= skew


def object_diffs(expected: dict, actual: Any, *, check_kind: bool = True, time_skew: int = 0) -> list[str]:
    if not isinstance(actual, dict):
        return [f"expected an object, got {short(actual)}"]
    diffs: list[str] = []
    if check_kind:
        for f in ("kind", "apiVersion"):
            if actual.get(f) != expected.get(f):
                diffs.append(f"{f}: expected {expected.get(f)!r}, got {actual.get(f)!r}")
    em, am = expected.get("metadata", {}), actual.get("metadata") or {}
    for f in TRACKED_META:
        ev, av = em.get(f), am.get(f)
        if f in EMPTY_IS_ABSENT:
            ev, av = ev or None, av or None
        if f in ("uid",) and ev is None:
            continue  # not learned yet: the caller checks freshness
        if ev != av and not (time_skew and f in TIMESTAMPS and ev and av and _close_in_time(ev, av, time_skew)):
            diffs.append(f"metadata.{f}: expected {short(ev)}, got {short(av)}")
    if expected.get("kind") == "Pod" and em.get("generation") != am.get("generation"):
        diffs.append(f"metadata.generation: expected {em.get('generation')}, got {am.get('generation')}")
    for part in expected:
        if part in ("metadata", "kind", "apiVersion"):
            continue
        diffs += subset_diffs(expected[part], actual.get(part), part)
    return diffs


def status_diffs(expected: dict, actual: Any) -> list[str]:
    if not isinstance(actual, dict):
        return [f"expected a Status, got {short(actual)}"]
    diffs = []
    for k in sorted(set(expected) | set(actual)):
        ev, av = expected.get(k), actual.get(k)
        if isinstance(ev, re.Pattern):
            if not isinstance(av, str) or not ev.fullmatch(av):
                diffs.append(f"{k}: expected to match /{ev.pattern}/, got {short(av)}")
        elif ev != av:
            diffs.append(f"{k}: expected {short(ev)}, got {short(av)}")
    return diffs


def check_answer(model: APIModel, plural: str, expect: Expect, resp: Response) -> None:
    """Raise the expectation's invariant if ``resp`` is not what the model requires."""
    candidates = [expect, *expect.alternatives]
    if not any(c.code == resp.code for c in candidates):
        msg = resp.body.get("message") if isinstance(resp.body, dict) else None
        raise violation(expect.rule, f"{expect.op}: expected HTTP {expect.code}"
                        f"{' (' + expect.why + ')' if expect.why else ''}, got {resp.code}"
                        f"{': ' + msg if msg else ''}; body {short(resp.body)}")
    chosen = next(c for c in candidates if c.code == resp.code)
    if chosen.status is not None:
        diffs = status_diffs(chosen.status, resp.body)
        if diffs:
            # a different message means the server took a different decision (the expectation's rule);
            # the same message in a different envelope (reason, details) is a shape error
            decided_otherwise = any(d.startswith("message:") for d in diffs)
            rule = "api.status-shape" if chosen.code >= 400 and not decided_otherwise else chosen.rule
            raise violation(rule, f"{chosen.op}: Status differs: " + "; ".join(diffs))
    if chosen.obj is not None:
        _check_object(model, plural, chosen, resp.body)
    if chosen.items is not None:
        body = resp.body if isinstance(resp.body, dict) else {}
        items = body.get("items")
        if not isinstance(items, list):
            raise violation(chosen.rule, f"list: no items in {short(resp.body)}")
        names = [(i.get("metadata", {}).get("namespace", ""), i.get("metadata", {}).get("name")) for i in items]
        want = [(i["metadata"].get("namespace", ""), i["metadata"]["name"]) for i in chosen.items]
        if names != want:
            raise violation(chosen.rule, f"list: expected items {want}, got {names}")
        for e, a in zip(chosen.items, items, strict=True):
            diffs = object_diffs(e, a, check_kind=False, time_skew=model.time_skew)
            if diffs:
                raise violation(chosen.rule, f"list item {e['metadata']['name']}: " + "; ".join(diffs))


def _check_object(model: APIModel, plural: str, expect: Expect, body: Any) -> None:
    if not isinstance(body, dict) or body.get("kind") != expect.obj.get("kind"):
        raise violation(expect.rule, f"{expect.op}: expected a {expect.obj.get('kind')} object"
                        f"{' (' + expect.why + ')' if expect.why else ''}, got {short(body)}")
    rv = (body.get("metadata") or {}).get("resourceVersion")
    if expect.rv is not None and rv != expect.rv:
        raise violation("api.rv-changes" if expect.rule in ("api.rv-changes", "api.matches-model") else expect.rule,
                        f"{expect.op}: expected resourceVersion {expect.rv!r}"
                        f"{' (' + expect.why + ')' if expect.why else ''}, got {rv!r}")
    if expect.fresh_rv and not model.is_fresh_rv(plural, rv):
        raise violation("api.rv-changes", f"{expect.op}: expected a new resourceVersion, got {rv!r} "
                        "which an earlier write already had")
    uid = (body.get("metadata") or {}).get("uid")
    if expect.new_uid and (not uid or uid in model.uids):
        raise violation("api.uid-unique", f"{expect.op}: uid {uid!r} was already given to another object")
    diffs = object_diffs(expect.obj, body, time_skew=model.time_skew)
    if diffs:
        raise violation(expect.rule, f"{expect.op}: object differs: " + "; ".join(diffs))
