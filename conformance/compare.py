"""Comparing a target's answer with the model's expectation.

Objects are compared whole: every field of the answer must be one the model
predicts, with the value it predicts, and every field the model predicts must
be there. The few fields the model does not predict are named, each with its
reason, in :data:`UNPREDICTED`; nothing else is skipped. A mismatch raises the
invariant the expectation names, except that a wrong Status body for the right
error code is ``api.status-shape`` and a wrong resourceVersion is
``api.rv-changes``.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from adapters.base import Response
from conformance.invariants import violation
from model import status as st
from model.apiserver import APIModel, Expect

#: fields of a returned object that the comparison does not hold to the model's value, and why
UNPREDICTED: dict[str, str] = {
    "metadata.managedFields": "server-side apply bookkeeping (one entry per field manager, with its own "
                              "timestamp); kubeprop sends no apply requests and does not model field ownership",
    "metadata.resourceVersion": "opaque and chosen by the server: checked on its own, exactly where the model "
                                "knows the value (reads, list items, watch events) and as never-seen-before "
                                "where it does not (a write's answer)",
    "metadata.uid": "chosen by the server: checked on its own, as never given to another object (api.uid-unique), "
                    "then exactly once learned",
}
#: timestamps the server writes from its own clock: equal in process, within the model's time_skew over HTTP
TIMESTAMPS = frozenset({"creationTimestamp", "deletionTimestamp", "lastTransitionTime", "lastProbeTime",
                        "lastHeartbeatTime"})


def short(value: Any, limit: int = 400) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= limit else text[:limit] + "…"


def _zero(value: Any) -> bool:
    return value is None or value in ("", 0, False) and not isinstance(value, float) or (
        isinstance(value, dict | list) and all(_zero(v) for v in (value.values() if isinstance(value, dict)
                                                                  else value)))


def _empty(value: Any) -> bool:
    # Go's encoders omit some empty fields and not others (omitempty is per field, and a struct that is not a
    # pointer is written out even when all its fields are zero: a Node's status.nodeInfo of empty strings):
    # null, an empty map or list, and a map or list made only of zero values say the same as an absent field
    return value is None or isinstance(value, dict | list) and _zero(value)


def _close_in_time(ev: Any, av: Any, skew: int) -> bool:
    """Whether two RFC 3339 timestamps are at most ``skew`` seconds apart (the stated bound over HTTP)."""
    try:
        a = datetime.fromisoformat(str(ev).replace("Z", "+00:00"))
        b = datetime.fromisoformat(str(av).replace("Z", "+00:00"))
    except ValueError:
        return False
    return abs((a - b).total_seconds()) <= skew


def exact_diffs(expected: Any, actual: Any, path: str, time_skew: int = 0) -> list[str]:
    """Every place where ``actual`` differs from ``expected``: missing, extra or different fields."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{path}: expected an object {short(expected)}, got {short(actual)}"]
        out: list[str] = []
        for k in sorted(set(expected) | set(actual)):
            sub = f"{path}.{k}" if path else k
            if sub in UNPREDICTED:
                continue
            ev, av = expected.get(k), actual.get(k)
            if _empty(ev) and _empty(av):
                continue
            if k not in actual or _empty(av) and not _empty(ev):
                out.append(f"{sub}: missing (expected {short(ev)})")
            elif k not in expected or _empty(ev):
                out.append(f"{sub}: not expected, got {short(av)}")
            elif k in TIMESTAMPS and time_skew and ev and av:
                if not _close_in_time(ev, av, time_skew):
                    out.append(f"{sub}: expected {short(ev)} (within {time_skew}s), got {short(av)}")
            else:
                out += exact_diffs(ev, av, sub, time_skew)
        return out
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            return [f"{path}: expected {short(expected)}, got {short(actual)}"]
        if path.endswith(".conditions") and _typed(expected) and _typed(actual):
            # conditions are keyed by type: compared per type, whatever order the server keeps them in
            want = {c["type"]: c for c in expected}
            got = {c["type"]: c for c in actual}
            if sorted(want, key=str) != sorted(got, key=str):
                return [f"{path}: expected types {sorted(want, key=str)}, got {sorted(got, key=str)}"]
            return [d for t, c in want.items() for d in exact_diffs(c, got[t], f"{path}[{t}]", time_skew)]
        return [d for i, (e, a) in enumerate(zip(expected, actual, strict=True))
                for d in exact_diffs(e, a, f"{path}[{i}]", time_skew)]
    if expected != actual:
        return [f"{path}: expected {short(expected)}, got {short(actual)}"]
    return []


def identical(expected: Any, actual: Any) -> bool:
    """Whether two JSON values are the same value of the same type at every place (``0`` is not ``0.0`` nor
    ``False`` here). Identical values have no :func:`exact_diffs`, which is what makes this a shortcut: it
    costs a fraction of the walk that names each difference, and most answers agree with the model."""
    kind = type(expected)
    if kind is not type(actual):
        return False
    if kind is dict:
        return len(expected) == len(actual) and all(
            k in actual and identical(v, actual[k]) for k, v in expected.items())
    if kind is list:
        return len(expected) == len(actual) and all(identical(e, a) for e, a in zip(expected, actual, strict=True))
    return bool(expected == actual)


#: the fields of UNPREDICTED inside metadata: the only ones (checked at import) so the shortcut can drop them
_UNPREDICTED_META = frozenset(path.removeprefix("metadata.") for path in UNPREDICTED)
assert all(path.startswith("metadata.") and "." not in path.removeprefix("metadata.") for path in UNPREDICTED)


def object_diffs(expected: dict, actual: Any, *, check_kind: bool = True, time_skew: int = 0) -> list[str]:
    """The whole object compared (see :func:`exact_diffs`); kind and apiVersion only when ``check_kind``
    (list items and watch events carry none on some servers). A uid the model has not learned yet is the
    caller's to check (``api.uid-unique``)."""
    if not isinstance(actual, dict):
        return [f"expected an object, got {short(actual)}"]
    expected = dict(expected)
    actual = dict(actual)
    if not check_kind:
        for f in ("kind", "apiVersion"):
            expected.pop(f, None)
            actual.pop(f, None)
    em, am = dict(expected.get("metadata") or {}), dict(actual.get("metadata") or {})
    if em.get("uid") is not None and em.get("uid") != am.get("uid"):
        return [f"metadata.uid: expected {em.get('uid')!r}, got {am.get('uid')!r}"] + exact_diffs(
            {**expected, "metadata": em}, {**actual, "metadata": am}, "", time_skew)
    if not time_skew and isinstance(expected.get("metadata"), dict) and isinstance(actual.get("metadata"), dict) \
            and not _empty(expected["metadata"]) and not _empty(actual["metadata"]):
        # the shortcut: identical once the unpredicted fields are set aside means no difference to name. Not with
        # a time skew (a timestamp field is parsed even when both sides agree, and one that does not parse
        # differs), nor when a metadata is empty (it would be judged whole, unpredicted fields included)
        for f in _UNPREDICTED_META:
            em.pop(f, None)
            am.pop(f, None)
        if identical({**expected, "metadata": em}, {**actual, "metadata": am}):
            return []
    return exact_diffs(expected, actual, "", time_skew)


def _causes_sorted(details: dict) -> dict:
    causes = details.get("causes")
    if not isinstance(causes, list):
        return details
    return {**details, "causes": sorted(causes, key=lambda c: json.dumps(c, sort_keys=True))}


def status_diffs(expected: dict, actual: Any) -> list[str]:
    if not isinstance(actual, dict):
        return [f"expected a Status, got {short(actual)}"]
    diffs = []
    any_order = bool(expected.get(st.ANY_ORDER))
    for k in sorted((set(expected) | set(actual)) - {st.ANY_ORDER}):
        ev, av = expected.get(k), actual.get(k)
        if any_order and k == "details" and isinstance(ev, dict) and isinstance(av, dict):
            ev, av = _causes_sorted(ev), _causes_sorted(av)
        if isinstance(ev, re.Pattern):
            if not isinstance(av, str) or not ev.fullmatch(av):
                diffs.append(f"{k}: expected to match /{ev.pattern}/, got {short(av)}")
        elif ev != av:
            diffs.append(f"{k}: expected {short(ev)}, got {short(av)}")
    return diffs


def check_answer(model: APIModel, plural: str, expect: Expect, resp: Response) -> None:
    """Raise the expectation's invariant if ``resp`` is not what the model requires."""
    chosen = expect
    if resp.code != expect.code:
        msg = resp.body.get("message") if isinstance(resp.body, dict) else None
        raise violation(expect.rule, f"{expect.op}: expected HTTP {expect.code}"
                        f"{' (' + expect.why + ')' if expect.why else ''}, got {resp.code}"
                        f"{': ' + msg if msg else ''}; body {short(resp.body)}")
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
            want_rv = e["metadata"].get("resourceVersion")
            got_rv = (a.get("metadata") or {}).get("resourceVersion") if isinstance(a, dict) else None
            if want_rv is not None and got_rv != want_rv:
                # a list is a read: every item is the stored object, resourceVersion included
                diffs.insert(0, f"metadata.resourceVersion: expected {want_rv!r}, got {got_rv!r}")
            if diffs:
                # the right items with the wrong contents: a stale read, whatever the selector
                raise violation("api.read-your-writes", f"list item {e['metadata']['name']}: " + "; ".join(diffs))


def _check_object(model: APIModel, plural: str, expect: Expect, body: Any) -> None:
    if not isinstance(body, dict) or body.get("kind") != expect.obj.get("kind"):
        raise violation(expect.rule, f"{expect.op}: expected a {expect.obj.get('kind')} object"
                        f"{' (' + expect.why + ')' if expect.why else ''}, got {short(body)}")
    rv = (body.get("metadata") or {}).get("resourceVersion")
    if expect.rv is not None and (rv or "") != expect.rv:  # "": the object must carry none (a dry-run create)
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


def _typed(items: list[Any]) -> bool:
    """Whether a list is conditions as the API has them: maps, each with its own string ``type``; anything else
    is compared item by item."""
    types = [c.get("type") for c in items if isinstance(c, dict)]
    return len(types) == len(items) and all(isinstance(t, str) for t in types) and len(set(types)) == len(types)
