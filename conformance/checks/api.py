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

``api.validation``: an invalid value is never stored, by any verb or subresource. Every object an answer shows
(a write's, a get's, each list item) must carry only label keys and values and annotation keys the API accepts
(apimachinery/pkg/apis/meta/v1/validation/validation.go: ValidateLabels; apimachinery/pkg/api/validation/
objectmeta.go: ValidateAnnotations, keys lowercased first) and, for a Lease, a positive leaseDurationSeconds and
a non-negative leaseTransitions (pkg/apis/coordination/validation/validation.go: ValidateLeaseSpec); of what a
status write stores (the Pod and Node API's reference; pkg/apis/core/validation/validation.go:
ValidatePodStatusUpdate, ValidateNodeUpdate): pod condition types other than the system's own are qualified names,
a pod's hostIP is the first of its hostIPs, and no node address is listed twice. The rules are written here
again, apart from the model and the bundled server.

``api.dry-run``: a write that asks ``dryRun=All`` stores nothing, and one whose dryRun value is not "All" is an
error and goes no further (apimachinery/pkg/apis/meta/v1/types.go: CreateOptions, UpdateOptions, PatchOptions and
DeleteOptions, DryRun: "modifications should not be persisted", "an invalid or unrecognized dryRun directive will
result in an error response and no further processing of the request"). Judged from every dryRun value the
request carried (its URL's and a delete's DeleteOptions'), the answer, the object's resourceVersion as the client
last saw it in an answer, and a read of the object made right after.
"""

from __future__ import annotations

import re
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


@check("binding.preconditions")
def binding_uid(what: str | Callable[[], str], sent: Any, code: int, pod_uid: Any) -> list[str]:
    """A Binding that names a uid (metadata.uid, a precondition: pkg/registry/core/pod/storage/storage.go,
    BindingREST.Create) other than the uid of the pod as answers last showed it (``pod_uid``; None: not seen)
    binds nothing: it is refused, whatever URL it was posted to."""
    meta = (sent.get("metadata") if isinstance(sent, dict) else None) or {}
    uid = meta.get("uid")
    if code >= 300 or not uid or not isinstance(pod_uid, str) or not pod_uid or uid == pod_uid:
        return []
    return [f"{what if isinstance(what, str) else what()} was answered {code}, though the Binding names uid "
            f"{uid!r} and the pod's uid is {pod_uid!r}"]


@check("api.dry-run")
def dry_run(what: str | Callable[[], str], values: list[str], code: int, answer: Any, before_rv: str | None,
            read_code: int, read_body: Any) -> list[str]:
    """A write carrying the dryRun ``values`` was answered ``code`` with ``answer``; ``before_rv`` is the object's
    resourceVersion as an answer last showed it ("" for an answer that showed it absent, None if none did);
    a read right after answered ``read_code`` with ``read_body``."""
    problems: list[str] = []
    message = answer.get("message") if isinstance(answer, dict) and answer.get("kind") == "Status" else None
    if not all(v == "All" for v in values) and (code < 400 or "dryRun" not in str(message or "")):
        problems.append(f"the unsupported dryRun {values!r} was answered {code}"
                        + (f" ({message!r}), not refused for it" if code >= 400 else ", not refused"))
    shown = answer.get("metadata") if isinstance(answer, dict) and answer.get("kind") != "Status" else None
    answer_rv = shown.get("resourceVersion") if isinstance(shown, dict) else None
    if code == 201 and answer_rv:
        problems.append(f"the answer to a create carries resourceVersion {answer_rv!r}: a stored object's, or one "
                        "the client sent, which a create refuses")
    elif code < 300 and answer_rv and before_rv and answer_rv != before_rv:
        problems.append(f"the answer shows resourceVersion {answer_rv!r}; the object had {before_rv!r}")
    read = read_body.get("metadata") if read_code == 200 and isinstance(read_body, dict) else None
    now_rv = (read or {}).get("resourceVersion", "") if read_code == 200 else ("" if read_code == 404 else None)
    if before_rv is not None and now_rv is not None and now_rv != before_rv:
        problems.append("a read right after finds " + (f"resourceVersion {now_rv!r}" if now_rv else "no object")
                        + " where the object " + (f"had {before_rv!r}" if before_rv else "did not exist"))
    elif before_rv is None and code == 201 and now_rv:
        problems.append(f"a read right after finds the object it would have created (resourceVersion {now_rv!r})")
    if not problems:
        return []
    return [f"{what if isinstance(what, str) else what()} (dryRun {values!r}) was answered {code}: "
            + "; ".join(problems)]


_NAME_PART = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


def _qualified_name(key: str) -> bool:
    """A label or annotation key: an optional DNS subdomain prefix (at most 253 bytes) and '/', then a name part
    of at most 63 bytes (apimachinery/pkg/util/validation/validation.go: IsQualifiedName)."""
    parts = key.split("/")
    if len(parts) > 2:
        return False
    if len(parts) == 2 and not (parts[0] and len(parts[0].encode()) <= 253 and _SUBDOMAIN.fullmatch(parts[0])):
        return False
    return len(parts[-1].encode()) <= 63 and _NAME_PART.fullmatch(parts[-1]) is not None


def _label_value(value: Any) -> bool:
    return isinstance(value, str) and len(value.encode()) <= 63 \
        and (not value or _NAME_PART.fullmatch(value) is not None)


def _invalid_taints(spec: Any) -> list[str]:
    """A node's taints the API refuses: each key a qualified name, each value a label value, each effect one of
    NoSchedule, PreferNoSchedule, NoExecute, and no key and effect pair twice (the Node API's reference;
    pkg/apis/core/validation/validation.go: validateNodeTaints). Only nodes have ``spec.taints``."""
    taints = spec.get("taints") if isinstance(spec, dict) else None
    found, pairs = [], set()
    for taint in taints if isinstance(taints, list) else []:
        if not isinstance(taint, dict):
            continue
        key, value, effect = taint.get("key"), taint.get("value", ""), taint.get("effect")
        if not isinstance(key, str) or not _qualified_name(key):
            found.append(f"taint key {key!r}")
        if not _label_value(value):
            found.append(f"taint value {value!r} (key {key!r})")
        if effect not in ("NoSchedule", "PreferNoSchedule", "NoExecute"):
            found.append(f"taint effect {effect!r} (key {key!r})")
        if (key, effect) in pairs:
            found.append(f"taint {key!r} with effect {effect!r} twice")
        pairs.add((key, effect))
    return found


_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")


def _invalid_pod_spec(spec: Any) -> list[str]:
    """In a pod's spec (the Pod API's reference; pkg/apis/core/validation/validation.go: ValidatePodSpec): each
    container's name a DNS-1123 label of at most 63 characters, the nodeSelector's keys and values as labels', and
    each toleration's key a label key, an empty key only with Exists, the operator Equal (or empty) with a label
    value or Exists with none (Lt and Gt are left alone: newer releases accept them), tolerationSeconds only with
    NoExecute, the effect empty or a taint effect."""
    if not isinstance(spec, dict) or not isinstance(spec.get("containers"), list):
        return []
    found = [f"container name {c.get('name')!r}" for c in spec["containers"] if isinstance(c, dict)
             and isinstance(c.get("name"), str) and not (len(c["name"]) <= 63 and _DNS_LABEL.fullmatch(c["name"]))]
    selector = spec.get("nodeSelector")
    for key, value in selector.items() if isinstance(selector, dict) else ():
        if not _qualified_name(str(key)) or not _label_value(value):
            found.append(f"nodeSelector {key!r}: {value!r}")
    for tol in spec.get("tolerations") or []:
        if not isinstance(tol, dict):
            continue
        key, op, value, effect = tol.get("key") or "", tol.get("operator") or "", tol.get("value") or "", \
            tol.get("effect") or ""
        bad = (key and not _qualified_name(str(key))) or (not key and op != "Exists") \
            or (op in ("", "Equal") and not _label_value(value)) or (op == "Exists" and value) \
            or op not in ("", "Equal", "Exists", "Lt", "Gt") \
            or (tol.get("tolerationSeconds") is not None and effect != "NoExecute") \
            or effect not in ("", "NoSchedule", "PreferNoSchedule", "NoExecute")
        if bad:
            found.append(f"toleration {tol!r}")
    return found


def _invalid_status(obj: dict) -> list[str]:
    """What a pod's or node's stored status may not hold (see ``api.validation`` above)."""
    status = obj.get("status") if isinstance(obj.get("status"), dict) else {}
    found: list[str] = []
    if obj.get("kind") == "Pod":
        for cond in status.get("conditions") or []:
            kind = cond.get("type") if isinstance(cond, dict) else None
            if isinstance(kind, str) and kind not in ("PodScheduled", "Ready", "Initialized") \
                    and not _qualified_name(kind):
                found.append(f"condition type {kind!r}")
        ips = status.get("hostIPs")
        if isinstance(ips, list) and ips and isinstance(ips[0], dict) and ips[0].get("ip") != status.get("hostIP"):
            found.append(f"hostIPs[0] {ips[0].get('ip')!r} beside hostIP {status.get('hostIP')!r}")
    elif obj.get("kind") == "Node":
        pairs = [(a.get("type"), a.get("address")) for a in status.get("addresses") or [] if isinstance(a, dict)]
        found += [f"address {a!r} twice" for i, a in enumerate(pairs) if a in pairs[:i]]
    return found


def invalid_values(obj: Any) -> list[str]:
    """What in ``obj`` (an object as an answer shows it) the API never accepts."""
    if not isinstance(obj, dict) or obj.get("kind") == "Status":
        return []
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    found = [f"label key {k!r}" for k in (meta.get("labels") or {}) if not _qualified_name(str(k))]
    found += [f"label value {v!r} (key {k!r})" for k, v in (meta.get("labels") or {}).items() if not _label_value(v)]
    found += [f"annotation key {k!r}" for k in (meta.get("annotations") or {}) if not _qualified_name(str(k).lower())]
    found += _invalid_taints(obj.get("spec"))
    found += _invalid_pod_spec(obj.get("spec"))
    found += _invalid_status(obj)
    spec = obj.get("spec") if obj.get("kind") == "Lease" and isinstance(obj.get("spec"), dict) else {}
    duration, transitions = spec.get("leaseDurationSeconds"), spec.get("leaseTransitions")
    if isinstance(duration, int) and duration <= 0:
        found.append(f"spec.leaseDurationSeconds {duration}")
    if isinstance(transitions, int) and transitions < 0:
        found.append(f"spec.leaseTransitions {transitions}")
    return found


@check("api.validation")
def validation(what: str | Callable[[], str], verb: str, code: int, body: Any) -> list[str]:
    """``what`` was answered ``code`` with ``body``: every object it shows holds only values the API accepts."""
    if code >= 300 or not isinstance(body, dict):
        return []
    objects = body.get("items") if verb == "list" else [body]
    problems = []
    for obj in objects if isinstance(objects, list) else []:
        bad = invalid_values(obj)
        if bad:
            name = ((obj.get("metadata") or {}).get("name")) if isinstance(obj, dict) else None
            problems.append(f"{obj.get('kind')} {name!r} is stored with " + ", ".join(bad))
    if not problems:
        return []
    return [f"{what if isinstance(what, str) else what()} was answered {code}: " + "; ".join(problems)]
