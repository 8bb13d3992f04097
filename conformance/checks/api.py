"""Promises of the API that hold whatever a release does: the second oracle, kept apart from the model.

The model (``model/apiserver.py``) says what a release answers; these checks say what any answer must respect.
Where a release breaks one of them the failure is a finding (``conformance/findings.py`` recognises the known
ones), never a model rule.

``api.no-5xx-for-client-errors``: a 5xx answer says the server failed, not the request
(apimachinery/pkg/api/errors/errors.go: NewInternalError is "an unexpected internal error"; the API conventions'
"HTTP Status codes" section keeps 4xx for what the client got wrong). The harness sends every request to a
healthy server and storage (the machines that disrupt etcd or a server do not hold answers to this check), so
any 5xx it gets is a request the server should have answered with a 4xx, or a server that failed on a request
it should have served: both are bugs. A 504 for a read at a resourceVersion the server has not reached is the
one 5xx the API documents for a healthy server ("Too large resource version"); the state machines never ask
for one, and it is not excused here.

``api.server-owned-fields``: uid, creationTimestamp, deletionTimestamp and deletionGracePeriodSeconds are
"populated by the system" and "read-only" (apimachinery/pkg/apis/meta/v1/types.go: ObjectMeta). A create's
answer carries the server's own uid and creationTimestamp and no deletion; an update's or a patch's answer
keeps all four as the object had them (only a delete starts or shortens a deletion). Judged from the request
sent, the answer and the object as the client last saw it in an answer, never from the model.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from conformance.checks import check


@check("api.no-5xx-for-client-errors")
def no_5xx(what: str | Callable[[], str], code: int, body: Any) -> list[str]:
    """``what`` (the request, rendered, or a function that renders it: called only for a problem) was answered
    ``code``; a 5xx is a problem."""
    if code < 500:
        return []
    message = body.get("message") if isinstance(body, dict) else body
    return [f"{what if isinstance(what, str) else what()} was answered {code}: {message!r}"]


#: the server-owned metadata a client might send
OWNED = ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds")
#: a sent creationTimestamp this far (seconds) from the harness clock cannot be the server's own stamp
FAR = 3600


def _seconds_from_now(stamp: Any, now: datetime) -> float:
    try:
        when = datetime.strptime(str(stamp), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        return float("inf")
    return abs((when - now).total_seconds())


@check("api.server-owned-fields")
def server_owned(what: str | Callable[[], str], verb: str, sent: Any, code: int, answer: Any, before: Any,
                 now: datetime | None = None) -> list[str]:
    """``verb`` (create, update, patch) sent ``sent`` (the body, or the patch) and was answered ``code`` with
    ``answer``; ``before`` is the object's metadata as the client last saw it in an answer (None: unseen)."""
    if code >= 300 or not isinstance(answer, dict) or not isinstance(answer.get("metadata"), dict) \
            or answer.get("kind") == "Status":
        return []
    got = answer["metadata"]
    sent_meta = (sent.get("metadata") if isinstance(sent, dict) else None) or {}
    problems: list[str] = []
    if verb == "create" or code == 201:  # a PUT that created the object is a create (store.go: Update)
        now = now or datetime.now(UTC)
        for f in OWNED:
            if f not in sent_meta:
                continue
            if f in ("deletionTimestamp", "deletionGracePeriodSeconds") and got.get(f) is not None:
                problems.append(f"a created object is being deleted: {f} {got.get(f)!r} (sent {sent_meta[f]!r})")
            elif f == "uid" and got.get(f) == sent_meta[f]:
                problems.append(f"the created object kept the uid the client sent ({sent_meta[f]!r})")
            elif f == "creationTimestamp" and got.get(f) == sent_meta[f] and _seconds_from_now(got.get(f), now) > FAR:
                problems.append(f"the created object kept the creationTimestamp the client sent ({sent_meta[f]!r})")
    elif verb in ("update", "patch") and isinstance(before, dict) and before.get("uid") == got.get("uid"):
        for f in OWNED:
            if got.get(f) != before.get(f):
                problems.append(f"{f} changed from {before.get(f)!r} to {got.get(f)!r}"
                                + (f" (sent {sent_meta[f]!r})" if f in sent_meta else ""))
    elif verb in ("update", "patch") and isinstance(before, dict) and sent_meta.get("uid") == got.get("uid"):
        problems.append(f"the uid changed from {before.get('uid')!r} to the {sent_meta['uid']!r} the client sent")
    if not problems:
        return []
    return [f"{what if isinstance(what, str) else what()} was answered {code}: " + "; ".join(problems)]
