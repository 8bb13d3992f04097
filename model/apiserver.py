"""The reference model of the Kubernetes API server: pure state, one method per API call.

Each call returns an :class:`Expect`: the answer the model requires (status
code, exact Status or object, which resourceVersion), the invariant id a
disagreement is reported under, and a ``commit`` that applies the call to the
model once the target's answer is known. Values the server is free to choose
(uid, resourceVersion, creationTimestamp) are learned from the target's answer
at commit; everything else is computed here.

Time is a value: ``now`` is set by the caller. Nothing here does I/O. Against a
target whose clock the caller cannot read exactly (over HTTP), ``time_skew``
states how many seconds a server-set timestamp may differ from the model's.

``admission`` names the mutating admission plugins of a real kube-apiserver the
model applies (see :data:`ADMISSION_PLUGINS`); the bundled server runs none, a
kube-apiserver with its default configuration runs them all.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jsonpatch
import jsonpointer

from model import releases
from model import status as st
from model.names import (
    go_quote,
    go_strings,
    go_time,
    go_time_syntax,
    label_errors,
    label_key_errors,
    label_value_errors,
    subdomain_errors,
)
from model.resources import BY_PLURAL, LEASES, NAMESPACES, NODES, PODS, Resource, resource
from model.scheduler.quantity import quantity
from model.selectors import Selector

JSON = dict[str, Any]
Key = tuple[str, str, str]  # (plural, namespace or "", name)

# invariant ids used by the model's expectations
MATCHES = "api.matches-model"
READ_YOUR_WRITES = "api.read-your-writes"
OPTIMISTIC = "api.optimistic-concurrency"
RV_CHANGES = "api.rv-changes"
FINALIZERS = "api.finalizers"
LIST_SELECTOR = "api.list-selector"
AT_MOST_ONCE = "binding.at-most-once"
BINDING_PRECONDITIONS = "binding.preconditions"
DRY_RUN = "api.dry-run"

DEFAULT_GRACE = 30  # pkg/apis/core/v1/defaults.go: SetDefaults_PodSpec (TerminationGracePeriodSeconds)

# pkg/kubeapiserver/options/plugins.go: DefaultOffAdmissionPlugins (both are on by default)
DEFAULT_TOLERATION_SECONDS = "DefaultTolerationSeconds"
TAINT_NODES_BY_CONDITION = "TaintNodesByCondition"
PRIORITY = "Priority"
#: not an admission plugin: the v1 API's defaulting functions (pkg/apis/core/v1/defaults.go) and the fields
#: the pod strategy derives (status.qosClass), which a kube-apiserver applies to every pod it decodes
V1_DEFAULTS = "V1Defaults"
#: what a real kube-apiserver does to the objects kubeprop writes beyond what the bundled server does: its
#: default-on admission plugins and the v1 defaulting (conformance/deviations.py lists each)
ADMISSION_PLUGINS = frozenset({DEFAULT_TOLERATION_SECONDS, TAINT_NODES_BY_CONDITION, PRIORITY, V1_DEFAULTS})
NOT_READY = "node.kubernetes.io/not-ready"
UNREACHABLE = "node.kubernetes.io/unreachable"
DEFAULT_NOT_READY_TOLERATION_SECONDS = 300  # defaulttolerationseconds/admission.go: defaultNotReadyTolerationSeconds


@dataclass
class Expect:
    """What the model requires of one answer.

    ``obj`` is compared field by field (see conformance/compare.py); ``status``
    exactly (a compiled pattern may stand for a message). ``rv`` is the
    resourceVersion the returned object must carry, or ``None`` for "a
    resourceVersion never seen before" when ``fresh_rv`` is set.
    """

    op: str
    code: int
    rule: str = MATCHES
    status: JSON | None = None
    obj: JSON | None = None
    items: list[JSON] | None = None
    rv: str | None = None
    fresh_rv: bool = False
    new_uid: bool = False
    why: str = ""
    commit: Callable[[Any], None] | None = None


@dataclass
class Change:
    """One entry of the model's change log (what a watch must deliver)."""

    plural: str
    type: str  # ADDED, MODIFIED, DELETED
    obj: JSON
    position: int  # 1-based index in the global log


@dataclass
class WatchPlan:
    """What a watch opened now must deliver: an initial list plus every later change (of one name, if given)."""

    plural: str
    namespace: str | None
    start_position: int
    initial: list[Change]
    expired: bool
    may_expire: bool = False
    name: str | None = None

    def covers(self, plural: str, obj: JSON) -> bool:
        """Whether a change of ``obj`` is one this watch delivers."""
        meta = obj["metadata"]
        return (plural == self.plural and (self.namespace is None or meta.get("namespace") == self.namespace)
                and (self.name is None or meta.get("name") == self.name))


def _ts(s: str) -> dt.datetime:
    return dt.datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)


def _fmt(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 section 2: MergePatch(Target, Patch)."""
    if not isinstance(patch, dict):
        return patch
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = _merge_patch(out.get(key), value)
    return out


def _default_toleration_seconds(spec: JSON) -> None:
    """Tolerate the not-ready and unreachable NoExecute taints for 300 s unless the pod already does."""
    # plugin/pkg/admission/defaulttolerationseconds/admission.go: Admit (a toleration with an empty key or
    # effect covers the taint too); it runs on create and update
    tolerations = spec.get("tolerations") or []
    for key in (NOT_READY, UNREACHABLE):
        if not any(t.get("key", "") in (key, "") and t.get("effect", "") in ("NoExecute", "") for t in tolerations):
            tolerations = [*tolerations, {"key": key, "operator": "Exists", "effect": "NoExecute",
                                          "tolerationSeconds": DEFAULT_NOT_READY_TOLERATION_SECONDS}]
    if tolerations:
        spec["tolerations"] = tolerations


def _image_tag(image: str) -> str:
    # the tag of an image reference ("latest" when it names none and has no digest)
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    if "@" in image and ":" not in last:
        return ""
    return last.split(":", 1)[1] if ":" in last else "latest"


def _v1_pod_defaults(spec: JSON) -> None:
    """What decoding a v1 Pod fills in (applied to the body of every create and update)."""
    # pkg/apis/core/v1/defaults.go: SetDefaults_PodSpec
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("securityContext", {})
    spec.setdefault("terminationGracePeriodSeconds", DEFAULT_GRACE)
    # (schedulerName "default-scheduler" too: against a real server the harness always sends its own, and the
    # scoped adapter takes it out of answers -- conformance/deviations.py, harness.unscheduled-pods)
    # defaults.go: SetDefaults_Pod -- a negative grace period becomes 1; limits stand in for missing requests
    if isinstance(spec.get("terminationGracePeriodSeconds"), int) and spec["terminationGracePeriodSeconds"] < 0:
        spec["terminationGracePeriodSeconds"] = 1
    spec.setdefault("enableServiceLinks", True)
    for c in spec.get("containers") or []:
        resources = c.get("resources") or {}
        if resources.get("limits"):
            requests = resources.setdefault("requests", {})
            for k, v in resources["limits"].items():
                requests.setdefault(k, v)
        # defaults.go: SetDefaults_Container
        if not c.get("imagePullPolicy"):
            c["imagePullPolicy"] = "Always" if _image_tag(c.get("image", "")) == "latest" else "IfNotPresent"
        c.setdefault("terminationMessagePath", "/dev/termination-log")
        c.setdefault("terminationMessagePolicy", "File")
        for port in c.get("ports") or []:
            port.setdefault("protocol", "TCP")  # defaults.go: SetDefaults_ContainerPort


def _qos_class(spec: JSON) -> str:
    """pkg/apis/core/helper/qos/qos.go: ComputePodQOS, for pods without pod-level resources."""
    def shape(resources: JSON) -> str:
        requests, limits = resources.get("requests") or {}, resources.get("limits") or {}
        if not requests and not limits:
            return "BestEffort"
        out = ""
        for r in ("cpu", "memory"):
            req, lim = quantity(requests.get(r, "0")), quantity(limits.get(r, "0"))
            one = "Burstable" if req != lim else "BestEffort" if req == 0 else "Guaranteed"
            if one == "Burstable" or out and out != one:
                return "Burstable"
            out = one
        return out

    pod = ""
    for c in (spec.get("initContainers") or []) + (spec.get("containers") or []):
        one = shape(c.get("resources") or {})
        if one == "Burstable" or pod and pod != one:
            return "Burstable"
        pod = one
    return pod or "BestEffort"


def _value_errors(res: Resource, meta: JSON, spec: Any,
                  release: releases.Release = releases.PINNED) -> list[tuple[str, str, str]]:
    """Labels, annotation keys and a Lease's spec numbers the API refuses, as their causes, in the texts of
    ``release`` (model/releases.py: LABEL_KEY_TEXTS, FIELD_VALUES_AS_JSON, TOLERATION_VALUE_CAUSE).

    apimachinery/pkg/apis/meta/v1/validation/validation.go: ValidateLabels (each key, then its value);
    apimachinery/pkg/api/validation/objectmeta.go: ValidateAnnotations (each key, lowercased, shown as sent);
    pkg/apis/coordination/validation/validation.go: ValidateLeaseSpec. Go walks the maps in no set order, so
    which of two invalid labels comes first is not defined: the machine sends one at a time.
    """
    legacy = release < releases.LABEL_KEY_TEXTS
    errs = []
    for key, value in (meta.get("labels") or {}).items():
        errs += [("FieldValueInvalid", "metadata.labels", f"Invalid value: {go_quote(key)}: {m}")
                 for m in label_key_errors(key, legacy)]
        errs += [("FieldValueInvalid", "metadata.labels", f"Invalid value: {go_quote(str(value))}: {m}")
                 for m in label_value_errors(str(value), legacy)]
    for key in meta.get("annotations") or {}:
        errs += [("FieldValueInvalid", "metadata.annotations", f"Invalid value: {go_quote(key)}: {m}")
                 for m in label_key_errors(key.lower(), legacy)]
    if res is NODES and isinstance(spec, dict):
        errs += _taint_errors(spec.get("taints") or [], release)
    if res is PODS and isinstance(spec, dict):
        errs += _pod_spec_errors(spec, release)
    if res is LEASES and isinstance(spec, dict):
        duration, transitions = spec.get("leaseDurationSeconds"), spec.get("leaseTransitions")
        if isinstance(duration, int) and duration <= 0:
            errs.append(("FieldValueInvalid", "spec.leaseDurationSeconds",
                         f"Invalid value: {duration}: must be greater than 0"))
        if isinstance(transitions, int) and transitions < 0:
            errs.append(("FieldValueInvalid", "spec.leaseTransitions",
                         f"Invalid value: {transitions}: must be greater than or equal to 0"))
    return errs


TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")


def _taint_errors(taints: list[Any], release: releases.Release = releases.PINNED) -> list[tuple[str, str, str]]:
    """A node's taints the API refuses, as causes (pkg/apis/core/validation/validation.go: validateNodeTaints).

    ValidateNode hands it the metadata's path, so the causes name ``metadata.taints[i]``; per taint: the key's
    qualified-name messages (one cause each), the value's label-value messages (one cause, joined by ";"), the
    effect (Required when empty, else one of three), then a second taint with the same key and effect, shown
    as the internal Taint struct in JSON (in Go syntax before 1.34). ValidateNodeUpdate repeats the check; an
    update's answer holds each cause once (measured on v1.37.2)."""
    legacy = release < releases.LABEL_KEY_TEXTS
    errs: list[tuple[str, str, str]] = []
    seen: set[tuple[str, str]] = set()
    for i, taint in enumerate(taints):
        if not isinstance(taint, dict):
            continue
        at = f"metadata.taints[{i}]"
        key, value, effect = str(taint.get("key") or ""), str(taint.get("value") or ""), str(taint.get("effect") or "")
        errs += [("FieldValueInvalid", f"{at}.key", f"Invalid value: {go_quote(key)}: {m}")
                 for m in label_key_errors(key, legacy)]
        bad = label_value_errors(value, legacy)
        if bad:
            errs.append(("FieldValueInvalid", f"{at}.value", f"Invalid value: {go_quote(value)}: {';'.join(bad)}"))
        if not effect:
            errs.append(("FieldValueRequired", f"{at}.effect", "Required value"))
        elif effect not in TAINT_EFFECTS:
            errs.append(_unsupported_effect(at, effect))
        if (key, effect) in seen:
            added = taint.get("timeAdded")
            if release < releases.FIELD_VALUES_AS_JSON:  # field/errors.go: %#v; a nil *metav1.Time shows <nil>
                shown = (f"core.Taint{{Key:{go_quote(key)}, Value:{go_quote(value)}, Effect:{go_quote(effect)}, "
                         f"TimeAdded:{go_time_syntax(added) if added else '<nil>'}}}")
            else:
                shown = json.dumps({"Key": key, "Value": value, "Effect": effect, "TimeAdded": added},
                                   separators=(",", ":"))
            errs.append(("FieldValueDuplicate", at,
                         f"Duplicate value: {shown}: taints must be unique by key and effect pair"))
            continue
        seen.add((key, effect))
    return errs


def _pod_spec_errors(spec: JSON, release: releases.Release = releases.PINNED) -> list[tuple[str, str, str]]:
    """What the API refuses in the parts of a pod's spec the machine sends invalid, in ValidatePodSpec's order
    (pkg/apis/core/validation/validation.go): each container's name (a DNS-1123 label), the host ports used twice
    (checkHostPortConflicts, at the end of validateContainers), the nodeSelector as labels (one cause per message,
    on ``spec.nodeSelector``), then the tolerations (ValidateTolerations: the key, if any, as a label key; an empty
    key needs Exists; tolerationSeconds needs NoExecute; the value as a label value for Equal, empty for Exists,
    other operators unsupported; the effect, if any, one of the three taint effects). A toleration's value errors
    name its ``operator``, as upstream does; before 1.32 the cause of a value beside Exists shows the whole
    toleration (model/releases.py: TOLERATION_VALUE_CAUSE). The operators Lt and Gt (their own rules since v1.37)
    are not sent."""
    legacy = release < releases.LABEL_KEY_TEXTS
    errs: list[tuple[str, str, str]] = []
    for i, c in enumerate(spec.get("containers") or []):
        name = c.get("name") if isinstance(c, dict) else None
        if isinstance(name, str) and name:
            errs += [("FieldValueInvalid", f"spec.containers[{i}].name", f"Invalid value: {go_quote(name)}: {m}")
                     for m in label_errors(name)]
    errs += _host_port_errors(spec)
    selector = spec.get("nodeSelector") or {}
    for key, value in selector.items() if isinstance(selector, dict) else ():
        errs += [("FieldValueInvalid", "spec.nodeSelector", f"Invalid value: {go_quote(key)}: {m}")
                 for m in label_key_errors(key, legacy)]
        errs += [("FieldValueInvalid", "spec.nodeSelector", f"Invalid value: {go_quote(str(value))}: {m}")
                 for m in label_value_errors(str(value), legacy)]
    for i, tol in enumerate(spec.get("tolerations") or []):
        if not isinstance(tol, dict):
            continue
        at = f"spec.tolerations[{i}]"
        key, op, value = str(tol.get("key") or ""), str(tol.get("operator") or ""), str(tol.get("value") or "")
        effect = str(tol.get("effect") or "")
        if key:
            errs += [("FieldValueInvalid", f"{at}.key", f"Invalid value: {go_quote(key)}: {m}")
                     for m in label_key_errors(key, legacy)]
        if not key and op != "Exists":
            errs.append(("FieldValueInvalid", f"{at}.operator", f"Invalid value: {go_quote(op)}: operator must be "
                         "Exists when `key` is empty, which means \"match all values and all keys\""))
        if tol.get("tolerationSeconds") is not None and effect != "NoExecute":
            errs.append(("FieldValueInvalid", f"{at}.effect", f"Invalid value: {go_quote(effect)}: effect must be "
                         "'NoExecute' when `tolerationSeconds` is set"))
        if op in ("Equal", ""):
            bad = label_value_errors(value, legacy)
            if bad:
                errs.append(("FieldValueInvalid", f"{at}.operator",
                             f"Invalid value: {go_quote(value)}: {';'.join(bad)}"))
        elif op == "Exists":
            if value:
                shown = go_quote(value)
                if release < releases.TOLERATION_VALUE_CAUSE:
                    # the core.Toleration in Go syntax (%#v); a tolerationSeconds would show as a pointer's address,
                    # which no model can say: the machine sends none beside a value
                    shown = (f"core.Toleration{{Key:{go_quote(key)}, Operator:{go_quote(op)}, Value:{shown}, "
                             f"Effect:{go_quote(effect)}, TolerationSeconds:(*int64)(nil)}}")
                errs.append(("FieldValueInvalid", f"{at}.operator", f"Invalid value: {shown}: value must be "
                             "empty when `operator` is 'Exists'"))
        else:
            errs.append(("FieldValueNotSupported", f"{at}.operator",
                         f"Unsupported value: {go_quote(op)}: supported values: \"Equal\", \"Exists\""))
        if effect and effect not in TAINT_EFFECTS:
            errs.append(_unsupported_effect(at, effect))
    return errs


def _unsupported_effect(at: str, effect: str) -> tuple[str, str, str]:
    """A taint's or toleration's effect outside the three the API knows (validation.go: validateTaintEffect)."""
    supported = ", ".join(go_quote(e) for e in TAINT_EFFECTS)
    return "FieldValueNotSupported", f"{at}.effect", f"Unsupported value: {go_quote(effect)}: supported values: " \
        + supported


def _host_port_errors(spec: JSON) -> list[tuple[str, str, str]]:
    """A protocol/hostIP/hostPort triple used twice among the containers is a Duplicate value."""
    # pkg/apis/core/validation/validation.go: AccumulateUniqueHostPorts (after the metadata errors)
    errs, seen = [], set()
    for i, c in enumerate(spec.get("containers") or []):
        for j, port in enumerate(c.get("ports") or []):
            if not port.get("hostPort"):
                continue
            triple = f"{port.get('protocol') or 'TCP'}/{port.get('hostIP') or ''}/{port['hostPort']}"
            if triple in seen:
                errs.append(("FieldValueDuplicate", f"spec.containers[{i}].ports[{j}].hostPort",
                             f"Duplicate value: {go_quote(triple)}"))
            seen.add(triple)
    return errs


_SCALARS = (str, int, float, bool, type(None))


def clone(value: Any) -> Any:
    """A deep copy of a JSON value: what ``copy.deepcopy`` gives for maps, lists and scalars, at a fraction of
    its cost (the model copies every object it stores, records or hands out). Anything else is deep-copied."""
    kind = type(value)
    if kind is dict:
        return {k: clone(v) for k, v in value.items()}
    if kind is list:
        return [clone(v) for v in value]
    if kind in _SCALARS:
        return value
    return copy.deepcopy(value)


def _prune_meta(meta: JSON) -> None:
    # Go's omitempty: an empty map or list is the same as an absent one on the wire.
    for k in ("labels", "annotations", "finalizers"):
        if k in meta and not meta[k]:
            del meta[k]


class APIModel:
    """The model's view of one server: objects, change log, observed versions, the clock."""

    def __init__(self, now: str = "2026-01-01T00:00:00Z", time_skew: int = 0,
                 admission: frozenset[str] = frozenset(), release: releases.Release = releases.PINNED,
                 keeps_promises: bool = True) -> None:
        self.now = now
        #: the release whose answers the model gives (model/releases.py)
        self.release = release
        #: where every release so far breaks a promise of the API (a finding, conformance/findings.py), whether
        #: the model expects the promise kept (the bundled server) or what releases do (a real kube-apiserver,
        #: whose broken promise the checks of conformance/checks/api.py report)
        self.keeps_promises = keeps_promises
        self.time_skew = time_skew  # 0: the target's clock is the model's, timestamps compare exactly
        self.admission = frozenset(admission)
        self.objects: dict[Key, JSON] = {}
        self.log: list[Change] = []
        self.rv_position: dict[str, int] = {}
        self.rvs_by_resource: dict[str, set[str]] = {p: set() for p in BY_PLURAL}
        self.observed_rvs: dict[str, list[str]] = {p: [] for p in BY_PLURAL}
        self.uids: set[str] = set()
        self.compacted_at = 0  # log length at the last compaction
        self.compactions = 0

    # ----- helpers -------------------------------------------------------------------------

    @property
    def legacy_texts(self) -> bool:
        """Whether this release refuses label keys and values in the texts before 1.35 (model/releases.py:
        LABEL_KEY_TEXTS)."""
        return self.release < releases.LABEL_KEY_TEXTS

    @property
    def go_values(self) -> bool:
        """Whether this release shows a refused value that is not a string or a number in Go syntax or by its
        String() rather than as JSON (model/releases.py: FIELD_VALUES_AS_JSON)."""
        return self.release < releases.FIELD_VALUES_AS_JSON

    def _meta_causes(self, causes: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
        """The causes of an update refused for its metadata as this release reports them: twice before 1.37
        (model/releases.py: SINGLE_META_UPDATE_CAUSES)."""
        return causes if self.release >= releases.SINGLE_META_UPDATE_CAUSES else causes * 2

    def _immutable_update_causes(self, values: list[tuple[str, str, str]],
                                 immutable: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
        """The causes of an update that changes server-owned metadata of an object whose metadata also holds
        invalid values (``values``; only a pod can: binding-stores-invalid-annotations): each once from 1.37 on;
        before, the values and the immutable fields twice, then the values twice more (measured on v1.36.3 by
        PUT and merge patch of deletionTimestamp, deletionGracePeriodSeconds and uid; model/releases.py:
        SINGLE_META_UPDATE_CAUSES)."""
        if self.release >= releases.SINGLE_META_UPDATE_CAUSES:
            return values + immutable
        return (values + immutable) * 2 + values * 2

    def _invalid_update_causes(self, res: Resource, causes: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
        """The causes of an update refused for invalid values as this release reports them: each once from 1.37
        on; before, the label and annotation causes three times for a Lease and four times for the rest, a node's
        taint causes twice (model/releases.py: SINGLE_META_UPDATE_CAUSES, measured on v1.36.3)."""
        if self.release >= releases.SINGLE_META_UPDATE_CAUSES:
            return causes
        meta = [c for c in causes if c[1] in ("metadata.labels", "metadata.annotations")]
        rest = [c for c in causes if c not in meta]
        if res is LEASES:
            return meta * 3 + rest
        if res is NODES:
            return meta * 3 + rest + meta + rest  # ValidateNode, then ValidateNodeUpdate
        return meta * 4 + rest

    @staticmethod
    def key(plural: str, namespace: str | None, name: str) -> Key:
        return (plural, (namespace or "") if resource(plural).namespaced else "", name)

    def lookup(self, plural: str, namespace: str | None, name: str) -> JSON | None:
        return self.objects.get(self.key(plural, namespace, name))

    def advance(self, seconds: int) -> None:
        self.now = _fmt(_ts(self.now) + dt.timedelta(seconds=seconds))

    def compact(self) -> None:
        self.compacted_at = len(self.log)
        self.compactions += 1

    def learn_rv(self, plural: str, rv: str | None, position: int | None = None) -> None:
        if not rv:
            return
        if rv not in self.rv_position:
            self.rv_position[rv] = len(self.log) if position is None else position
        self.rvs_by_resource[plural].add(rv)
        if rv not in self.observed_rvs[plural]:
            self.observed_rvs[plural].append(rv)

    def is_fresh_rv(self, plural: str, rv: str | None) -> bool:
        return bool(rv) and rv not in self.rvs_by_resource[plural]

    def _record(self, plural: str, type_: str, obj: JSON) -> Change:
        change = Change(plural, type_, clone(obj), len(self.log) + 1)
        self.log.append(change)
        rv = obj.get("metadata", {}).get("resourceVersion")
        if rv:
            self.learn_rv(plural, rv, change.position)
        return change

    def _validate_name(self, res: Resource, name: str) -> list[tuple[str, str, str]]:
        # apimachinery/pkg/api/validation/objectmeta.go: ValidateObjectMeta
        if not name:
            return [("FieldValueRequired", "metadata.name", "Required value: name or generateName is required")]
        errs = label_errors(name) if res.name_rule == "label" else subdomain_errors(name)
        return [("FieldValueInvalid", "metadata.name", f"Invalid value: {go_quote(name)}: {m}") for m in errs]

    @staticmethod
    def _learn_server_fields(obj: JSON, body: Any) -> None:
        meta = obj.setdefault("metadata", {})
        got = body.get("metadata", {}) if isinstance(body, dict) else {}
        for f in ("uid", "resourceVersion", "creationTimestamp"):
            if got.get(f):
                meta[f] = got[f]
        if got.get("deletionTimestamp") and meta.get("deletionTimestamp"):
            # the server's stamp, where the model's own may be a second off (time_skew): a later update that
            # sends another one is not a no-op (see update), so the model must send the server's
            meta["deletionTimestamp"] = got["deletionTimestamp"]

    # ----- create ----------------------------------------------------------------------------

    def create(self, plural: str, namespace: str | None, body: JSON) -> Expect:
        res = resource(plural)
        meta = body.get("metadata") or {}
        name = meta.get("name", "")
        ns = namespace if res.namespaced else None
        if res.namespaced:
            if meta.get("namespace") and meta["namespace"] != ns:
                # apiserver/pkg/registry/rest/meta.go: EnsureObjectNamespaceMatchesRequestNamespace
                return Expect("create", 400, status=st.bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request"))
            if self.lookup("namespaces", None, ns or "") is None:
                # plugin/pkg/admission/namespace/lifecycle/admission.go: Admit
                return Expect("create", 404, status=st.not_found(NAMESPACES, ns or ""))
        errs = self._validate_name(res, name)
        if res is NAMESPACES and name:
            # pkg/apis/core/v1/defaults.go: SetDefaults_Namespace puts the name in the kubernetes.io/metadata.name
            # label before validation, so ValidateObjectMeta checks it as a label value too
            errs += [("FieldValueInvalid", "metadata.labels", f"Invalid value: {go_quote(name)}: {m}")
                     for m in label_value_errors(name, self.legacy_texts)]
        errs += _value_errors(res, meta, body.get("spec"), self.release)
        any_order = sum(f in ("metadata.labels", "metadata.annotations", "spec.nodeSelector")
                        for _, f, _ in errs) > 1
        if errs:
            return Expect("create", 422, status=st.invalid(res, name, errs, any_order=any_order))
        if meta.get("resourceVersion"):
            # apiserver/pkg/storage/etcd3/store.go: Create refuses it (ErrResourceVersionSetOnCreate). Releases
            # answer that plain error 500, which breaks api.no-5xx-for-client-errors (conformance/checks/api.py)
            # and is reported as a known finding before this answer is compared; the client's error gets 400
            return Expect("create", 400, status=st.bad_request(
                "resourceVersion should not be set on objects to be created"))
        existing = self.lookup(plural, ns, name)
        if existing is not None:
            status = st.already_exists(res, name)
            if existing["metadata"].get("deletionTimestamp"):
                # apiserver/pkg/registry/generic/registry/store.go: Create prefixes the message for an object
                # that is being deleted
                status["message"] = f"object is being deleted: {status['message']}"
            return Expect("create", 409, status=status)

        obj = clone(body)
        obj["apiVersion"], obj["kind"] = res.api_version, res.kind
        m = obj.setdefault("metadata", {})
        # apiserver/pkg/registry/rest/create.go: BeforeCreate drops what only the server may set
        for f in ("uid", "resourceVersion", "creationTimestamp", "deletionTimestamp",
                  "deletionGracePeriodSeconds"):
            m.pop(f, None)
        if ns:
            m["namespace"] = ns
        m["creationTimestamp"] = self.now
        if res is PODS:
            spec = obj.setdefault("spec", {})
            if V1_DEFAULTS in self.admission:
                _v1_pod_defaults(spec)
            # pkg/registry/core/pod/strategy.go: PrepareForCreate (model/releases.py: POD_GENERATION)
            if self.release >= releases.POD_GENERATION:
                m["generation"] = 1
            obj["status"] = {"phase": "Pending"}
            if V1_DEFAULTS in self.admission:
                obj["status"]["qosClass"] = _qos_class(spec)
            if DEFAULT_TOLERATION_SECONDS in self.admission:
                _default_toleration_seconds(spec)
            if PRIORITY in self.admission and not spec.get("priorityClassName"):
                # plugin/pkg/admission/priority/admission.go: admitPod -- no class and no global default class
                spec["priority"] = 0
                spec["preemptionPolicy"] = "PreemptLowerPriority"
        elif res is NODES and TAINT_NODES_BY_CONDITION in self.admission:
            # plugin/pkg/admission/nodetaint/admission.go: Admit (on create only)
            spec = obj.setdefault("spec", {})
            if not any(t.get("key") == NOT_READY and t.get("effect") == "NoSchedule" for t in spec.get("taints") or []):
                spec["taints"] = [*(spec.get("taints") or []), {"key": NOT_READY, "effect": "NoSchedule"}]
        elif res is NAMESPACES:
            # pkg/registry/core/namespace/strategy.go: PrepareForCreate
            obj.setdefault("spec", {})["finalizers"] = ["kubernetes"]
            obj["status"] = {"phase": "Active"}
            m.setdefault("labels", {})["kubernetes.io/metadata.name"] = name
        _prune_meta(m)
        key = self.key(plural, ns, name)

        def commit(resp_body: Any) -> None:
            self._learn_server_fields(obj, resp_body)
            if obj["metadata"].get("uid"):
                self.uids.add(obj["metadata"]["uid"])
            self.objects[key] = obj
            self._record(plural, "ADDED", obj)

        return Expect("create", 201, obj=obj, fresh_rv=True, new_uid=True, commit=commit)

    # ----- get / list -------------------------------------------------------------------------

    @staticmethod
    def malformed_resource_version(verb: str, rv: str) -> Expect | None:
        """A read whose resourceVersion is not one the storage can parse is refused before anything is read.

        apiserver/pkg/storage/api_object_versioner.go: ParseResourceVersion takes "" and "0" as 0, anything else
        through strconv.ParseUint, whose failure becomes a field error on ``resourceVersion``; for a list
        apiserver/pkg/storage/interfaces.go: ValidateListOptions wraps it in a BadRequest. The API's contract is
        a client error for a malformed parameter whatever the verb, so a get is held to the same 400 (a
        release that answers a get 500 breaks ``api.no-5xx-for-client-errors``: kubernetes#139485)."""
        if rv in ("", "0") or (rv.isascii() and rv.isdigit() and int(rv) < 2**64):
            return None
        reason = "value out of range" if rv.isascii() and rv.isdigit() else "invalid syntax"
        detail = f"strconv.ParseUint: parsing {go_quote(rv)}: {reason}"
        return Expect(verb, 400, status=st.bad_request(
            f"invalid resource version: resourceVersion: Invalid value: {go_quote(rv)}: {detail}"))

    def get(self, plural: str, namespace: str | None, name: str, resource_version: str = "",
            subresource: str = "") -> Expect:
        """GET the object; ``subresource="status"`` reads the same whole object at ``.../status``
        (pkg/registry/core/pod/storage/storage.go and node/storage/storage.go: StatusREST.Get is the store's Get)."""
        res = resource(plural)
        _served_subresource(res, subresource)
        refused = self.malformed_resource_version("get", resource_version)
        if refused is not None:
            return refused
        obj = self.lookup(plural, namespace, name)
        if obj is None:
            return Expect("get", 404, rule=READ_YOUR_WRITES, status=st.not_found(res, name))
        meta = obj["metadata"]
        rule = FINALIZERS if meta.get("deletionTimestamp") and meta.get("finalizers") else READ_YOUR_WRITES
        if meta.get("resourceVersion"):
            return Expect("get", 200, rule=rule, obj=obj, rv=meta["resourceVersion"])

        def learn(resp_body: Any) -> None:
            # the last write (a binding) answered without the object: its resourceVersion is learned here
            rv = (resp_body.get("metadata") or {}).get("resourceVersion") if isinstance(resp_body, dict) else None
            if rv:
                self.bind_rv(self.key(plural, namespace, name), rv)

        return Expect("get", 200, rule=rule, obj=obj, fresh_rv=True, commit=learn)

    def bind_rv(self, key: Key, rv: str) -> None:
        """Attach a resourceVersion learned late to the object and to its last change without one."""
        obj = self.objects.get(key)
        if obj is not None and not obj["metadata"].get("resourceVersion"):
            obj["metadata"]["resourceVersion"] = rv
        for change in reversed(self.log):
            m = change.obj["metadata"]
            if (change.plural, m.get("namespace", ""), m["name"]) == key:
                if not m.get("resourceVersion"):
                    m["resourceVersion"] = rv
                    self.learn_rv(change.plural, rv, change.position)
                break

    def learn_event_rv(self, change: Change, rv: str) -> None:
        """A watch event showed the resourceVersion of a change no answer had shown (a marking write, a bind)."""
        meta = change.obj["metadata"]
        meta["resourceVersion"] = rv
        self.learn_rv(change.plural, rv, change.position or None)
        if change.type != "DELETED":
            self.bind_rv((change.plural, meta.get("namespace", ""), meta["name"]), rv)

    def list(self, plural: str, namespace: str | None, selector: Selector | None = None,
             resource_version: str = "") -> Expect:
        res = resource(plural)
        refused = self.malformed_resource_version("list", resource_version)
        if refused is not None:
            return refused
        ns = namespace if res.namespaced else None
        items = [
            o for (p, ons, _), o in sorted(self.objects.items())
            if p == plural and (ns is None or ons == ns)
            and (selector is None or selector.matches(o["metadata"].get("labels")))
        ]
        rule = LIST_SELECTOR if selector else READ_YOUR_WRITES

        def commit(resp_body: Any) -> None:
            rv = (resp_body.get("metadata") or {}).get("resourceVersion") if isinstance(resp_body, dict) else None
            self.learn_rv(plural, rv)

        return Expect("list", 200, rule=rule, items=items, commit=commit)

    @staticmethod
    def resourceless(form: str) -> Expect:
        """A GET of a group version's watch/ or proxy/ prefix with nothing after it (``/api/v1/watch``,
        ``/api/v1/watch/``, ``/apis/coordination.k8s.io/v1/watch``, ``/api/v1/proxy``): the URL names no resource
        and no object, so nothing serves it and the answer is the 404 of a URL nothing serves, as for
        ``/api/v1/foo``. The special verbs need a resource after them (apiserver/pkg/endpoints/request/
        requestinfo.go: NewRequestInfo, "/{specialVerb}/*"); a release that answers 500 instead breaks
        ``api.no-5xx-for-client-errors`` (conformance/findings.py: watch-without-resource-500)."""
        return Expect("list", 404, status=st.path_not_found(), why=f"the URL names no resource ({form!r})")

    # ----- update -----------------------------------------------------------------------------

    def update(self, plural: str, namespace: str | None, name: str, body: JSON, patched: bool = False,
               subresource: str = "") -> Expect:
        """PUT ``body``; ``patched``: the object a PATCH made of the stored one (its uid is no precondition);
        ``subresource="status"``: the write goes to the object's status subresource, through the same store
        (GuaranteedUpdate, preconditions, no create on update) with the status strategy of pods or nodes."""
        res = resource(plural)
        status_write = _served_subresource(res, subresource)
        stored = self.lookup(plural, namespace, name)
        meta = body.get("metadata") or {}
        if meta.get("name") != name:
            # apiserver/pkg/endpoints/handlers/update.go: name mismatch
            return Expect("update", 400, status=st.bad_request(
                f"the name of the object ({meta.get('name')}) does not match the name on the URL ({name})"))
        if stored is None and meta.get("uid") and (
                res.create_on_update or self.release < releases.UPDATE_MISSING_NOT_FOUND):
            # store.go: Update -- where a PUT may create (and for every resource before 1.34, model/releases.py:
            # UPDATE_MISSING_NOT_FOUND), a missing object is read as an empty one, and the body's uid, a storage
            # precondition (rest/update.go), fails against its empty uid
            return Expect("update", 409, rule=OPTIMISTIC,
                          status=_precondition_failed(res, namespace, name, "UID", meta["uid"], ""),
                          why="the uid in the body is a precondition no missing object meets")
        if stored is None:
            if res.create_on_update and not meta.get("uid"):
                # store.go: Update -- the missing object is created (metadata system fields wiped, so a
                # resourceVersion in the body does not matter); admission runs as for a create
                fresh = clone(body)
                fresh["metadata"] = {k: v for k, v in meta.items() if k not in (
                    "uid", "resourceVersion", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds")}
                expect = self.create(plural, namespace, fresh)
                kept = {k: clone(meta[k]) for k in ("deletionTimestamp", "deletionGracePeriodSeconds") if k in meta}
                if kept and self.release < releases.CREATE_ON_UPDATE_WIPES_DELETION and expect.obj is not None:
                    # before 1.37 the created object keeps them (model/releases.py): a finding of
                    # api.server-owned-fields, and what such a release stores
                    expect.obj["metadata"].update(kept)
                expect.op = "update"
                return expect
            return Expect("update", 404, status=st.not_found(res, name))
        smeta = stored["metadata"]
        if not patched and meta.get("uid") and meta["uid"] != smeta.get("uid"):
            # apiserver/pkg/registry/rest/update.go: DefaultUpdatedObjectInfo.Preconditions -- a PUT's uid is a
            # storage precondition, checked on the stored object before anything else (interfaces.go:
            # Preconditions.Check)
            return Expect("update", 409, rule=OPTIMISTIC,
                          status=_precondition_failed(res, namespace, name, "UID", meta["uid"], smeta.get("uid", "")),
                          why="the uid in the body is not the stored object's")
        rv = meta.get("resourceVersion")
        if not rv and not res.unconditional_update:
            # store.go: Update -- the strategy does not allow an update without a resourceVersion
            return Expect("update", 422, rule=OPTIMISTIC, status=st.rv_required(res, name, self.go_values),
                          why="this resource needs a resourceVersion on update")
        if rv and rv != smeta.get("resourceVersion"):
            # apiserver/pkg/registry/generic/registry/store.go: Update (OptimisticLockErrorMsg)
            return Expect("update", 409, rule=OPTIMISTIC, status=st.stale_update(res, name),
                          why="resourceVersion in the body is not the stored one")

        if status_write and res is PODS:
            # pkg/registry/core/pod/strategy.go: podStatusStrategy.PrepareForUpdate clears the deletionTimestamp
            # sent before rest/update.go BeforeUpdate puts the stored one back: whatever is sent is no change
            # (measured on v1.37.2: 200 and no write, for a pod being deleted and for one that is not)
            meta = {k: v for k, v in meta.items() if k != "deletionTimestamp"}
        immutable = _immutable_meta_errors(meta, smeta, self.go_values)
        if immutable:
            # the metadata's own values are validated before the immutable fields are compared: a pod carrying an
            # annotation a binding stored unvalidated (binding-stores-invalid-annotations) is refused for both,
            # the annotation first (measured on v1.37.2: a merge patch of the uid)
            causes = [c for c in _value_errors(res, meta, None, self.release)
                      if c[1].startswith("metadata.")]
            status = st.invalid(res, name, self._immutable_update_causes(causes, immutable), any_order=len(causes) > 1)
            return Expect("update", 422, rule=MATCHES, status=status,
                          why="server-owned metadata cannot be changed by an update")
        new = clone(body)
        new["apiVersion"], new["kind"] = res.api_version, res.kind
        nm = new.setdefault("metadata", {})
        # rest/update.go: BeforeUpdate keeps the server-owned metadata
        for f in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation",
                  "namespace"):
            if f in smeta:
                nm[f] = clone(smeta[f])
            else:
                nm.pop(f, None)
        nm["resourceVersion"] = smeta.get("resourceVersion")
        if status_write:
            self._prepare_status_write(res, new, stored)
        elif res is PODS:
            # pkg/registry/core/pod/strategy.go: PrepareForUpdate keeps status; nodeName is set only by binding
            new["status"] = clone(stored.get("status", {}))
            spec = new.setdefault("spec", {})
            if V1_DEFAULTS in self.admission:
                _v1_pod_defaults(spec)
            if PRIORITY in self.admission:
                # priority/admission.go: admitPod keeps the priority set at create when an update leaves it out
                for f in ("priority", "preemptionPolicy"):
                    if f not in spec and f in stored.get("spec", {}):
                        spec[f] = stored["spec"][f]
            if "nodeName" in stored.get("spec", {}):
                spec["nodeName"] = stored["spec"]["nodeName"]
            else:
                spec.pop("nodeName", None)
            if DEFAULT_TOLERATION_SECONDS in self.admission:
                _default_toleration_seconds(spec)
            if new.get("spec") != stored.get("spec") and self.release >= releases.POD_GENERATION:
                nm["generation"] = smeta.get("generation", 0) + 1
        elif res is NODES:
            # pkg/registry/core/node/strategy.go: PrepareForUpdate keeps status
            if "status" in stored:
                new["status"] = clone(stored["status"])
            else:
                new.pop("status", None)
        elif res is NAMESPACES:
            # pkg/registry/core/namespace/strategy.go: PrepareForUpdate
            new["spec"] = clone(stored.get("spec", {}))
            new["status"] = clone(stored.get("status", {}))
            nm.setdefault("labels", {})["kubernetes.io/metadata.name"] = name
        _prune_meta(nm)
        invalid = _value_errors(res, nm, new.get("spec"), self.release)
        # apimachinery/pkg/api/validation/objectmeta.go: ValidateObjectMetaUpdate validates the labels and
        # annotations as on create, and the strategy's ValidateUpdate the spec (one cause each: v1.37.2). A
        # release stores invalid annotations a binding brought (binding-stores-invalid-annotations), so several
        # may be refused at once, in the order Go walks the map
        any_order = True
        if status_write:
            invalid = self._status_write_causes(res, invalid, new, stored)
            any_order = sum(c[1] in ("metadata.labels", "metadata.annotations") for c in invalid) > 1
        elif invalid:
            invalid = self._invalid_update_causes(res, invalid)
        if invalid:
            return Expect("update", 422, status=st.invalid(res, name, invalid, any_order=any_order),
                          why="an invalid value is refused")

        if smeta.get("deletionTimestamp"):
            added = sorted(set(nm.get("finalizers", [])) - set(smeta.get("finalizers", [])))
            if added:
                # apimachinery/pkg/api/validation/objectmeta.go: ValidateNoNewFinalizers
                found = go_strings(added)
                cause = ("FieldValueForbidden", "metadata.finalizers",
                         f"Forbidden: no new finalizers can be added if the object is being deleted, "
                         f"found new finalizers {found}")
                return Expect("update", 422, rule=FINALIZERS, status=st.invalid(res, name, self._meta_causes([cause])))
            if not nm.get("finalizers") and not smeta.get("deletionGracePeriodSeconds"):
                # registry/generic/registry/store.go: ShouldDeleteDuringUpdate, then deleteWithoutFinalizers --
                # the stored object is deleted (watchers see its last stored state go), and the PUT is answered
                # 200 with the object as the update made it, at the resourceVersion it was checked against
                removal = self._removal("update", res, stored, rule=FINALIZERS)
                assert removal.commit is not None

                def commit(resp_body: Any) -> None:
                    # the answer is not the deleted state: its resourceVersion is the one checked against, and
                    # the delete's own revision is taught by the watch that sees the DELETED event
                    removal.commit(None)

                return Expect("update", 200, rule=FINALIZERS, obj=new, rv=smeta.get("resourceVersion"),
                              commit=commit, why="the last finalizer removed: the object is deleted")

        key = self.key(plural, namespace, name)
        sent_deletion = meta.get("deletionTimestamp")
        if new == stored and not (sent_deletion and sent_deletion != smeta.get("deletionTimestamp")):
            # apiserver/pkg/storage/etcd3/store.go: GuaranteedUpdate writes nothing for identical bytes. A body
            # that names another deletionTimestamp for an object being deleted is written although nothing shown
            # changes (rest/update.go BeforeUpdate puts the stored one back): measured on kube-apiserver v1.36.3
            # and v1.37.2, a new resourceVersion and a MODIFIED event
            return Expect("update", 200, rule=RV_CHANGES, obj=stored, rv=smeta.get("resourceVersion"),
                          why="a no-op update keeps the resourceVersion and emits no event")

        def commit(resp_body: Any) -> None:
            nm.pop("resourceVersion", None)
            self._learn_server_fields(new, resp_body)
            self.objects[key] = new
            self._record(plural, "MODIFIED", new)

        return Expect("update", 200, rule=MATCHES, obj=new, fresh_rv=True, commit=commit)

    def _prepare_status_write(self, res: Resource, new: JSON, stored: JSON) -> None:
        """What a status write keeps of the stored object besides the server-owned metadata: the spec (so the
        generation does not move), a pod's ownerReferences, and a pod's QoS class where the write leaves it out.
        Labels, annotations and finalizers are taken from the body as on the main resource (measured on v1.37.2:
        a status PUT that changes a pod's labels stores them)."""
        # pkg/registry/core/pod/strategy.go: podStatusStrategy.PrepareForUpdate;
        # pkg/registry/core/node/strategy.go: nodeStatusStrategy.PrepareForUpdate
        if "spec" in stored:
            new["spec"] = clone(stored["spec"])
        else:
            new.pop("spec", None)
        if res is not PODS:
            if not isinstance(new.get("status"), dict):
                new.pop("status", None)
            return
        nm, smeta = new["metadata"], stored["metadata"]
        if "ownerReferences" in smeta:
            nm["ownerReferences"] = clone(smeta["ownerReferences"])
        else:
            nm.pop("ownerReferences", None)
        status = new.get("status")
        if not isinstance(status, dict):
            status = new["status"] = {}
        kept = (stored.get("status") or {}).get("qosClass")
        if not status.get("qosClass") and kept and self.release >= releases.POD_QOS_CLASS_KEPT:
            status["qosClass"] = kept  # model/releases.py: POD_QOS_CLASS_KEPT

    def _status_write_causes(self, res: Resource, meta_causes: list[tuple[str, str, str]], new: JSON,
                             stored: JSON) -> list[tuple[str, str, str]]:
        """Why a status write is refused, in the order of the answer: the metadata's values (rest/update.go:
        validateCommonFields, then the status strategy's ValidateObjectMetaUpdate: three times before 1.37, once
        from 1.37 on, model/releases.py SINGLE_META_UPDATE_CAUSES), then what the status strategy checks of the
        status (measured on v1.37.2: a label cause first, then the status causes)."""
        if res is PODS:
            status_causes = _pod_status_errors(new, stored, self.release)
        else:
            status_causes = _node_status_errors(new, self.go_values)
        if self.release < releases.SINGLE_META_UPDATE_CAUSES:
            meta_causes = meta_causes * 3
        return meta_causes + status_causes

    # ----- patch ------------------------------------------------------------------------------

    def patch(self, plural: str, namespace: str | None, name: str, patch_type: str, body: Any,
              subresource: str = "") -> Expect:
        """PATCH with a JSON merge patch ("merge", RFC 7386) or a JSON patch ("json", RFC 6902).

        apiserver/pkg/endpoints/handlers/patch.go: the patch is applied to the stored object as a client reads
        it (resourceVersion included), and the result goes through update (store.go: Update); at
        ``subresource="status"`` the patch is applied to the whole object too, and the update is a status write.
        """
        res = resource(plural)
        _served_subresource(res, subresource)
        stored = self.lookup(plural, namespace, name)
        if stored is None:
            # store.go: Update -- GuaranteedUpdate finds nothing before any patch is applied
            return Expect("patch", 404, status=st.not_found(res, name))
        current = clone(stored)
        if patch_type == "merge":
            patched = _merge_patch(current, body)
        elif patch_type == "json":
            try:
                patched = jsonpatch.JsonPatch(body).apply(current)
            except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException):
                return Expect("patch", 422, status=st.patch_not_applicable(), why="the JSON patch does not apply")
        else:
            raise ValueError(f"the model knows merge and json patches, not {patch_type!r}")
        expect = self.update(plural, namespace, name, patched, patched=True, subresource=subresource)
        expect.op = "patch"
        return expect

    # ----- delete -----------------------------------------------------------------------------

    def _removal(self, op: str, res: Resource, last: JSON, rule: str = MATCHES,
                 modified_first: bool = False) -> Expect:
        """The object goes: DELETED with its last state and a new resourceVersion."""
        key = self.key(res.plural, last["metadata"].get("namespace"), last["metadata"]["name"])
        gone = clone(last)
        gone["metadata"].pop("resourceVersion", None)

        marked = clone(last)
        # the marking write's resourceVersion is not in any answer: the watch that sees it teaches it
        marked["metadata"].pop("resourceVersion", None)

        def commit(resp_body: Any) -> None:
            if modified_first:
                self._record(res.plural, "MODIFIED", marked)
            if res in (PODS, NAMESPACES) and isinstance(resp_body, dict):
                self._learn_server_fields(gone, resp_body)
            self.objects.pop(key, None)
            self._record(res.plural, "DELETED", gone)

        if res in (PODS, NAMESPACES):
            # store.go: ReturnDeletedObject
            return Expect(op, 200, rule=rule, obj=gone, fresh_rv=True, commit=commit, why="object removed")
        return Expect(op, 200, rule=rule, status=st.success_deleted(res, last["metadata"]["name"],
                                                                    last["metadata"].get("uid")),
                      commit=commit, why="object removed")

    def _rewrite(self, op: str, res: Resource, new: JSON, rule: str, why: str,
                 then_remove: bool = False) -> Expect:
        key = self.key(res.plural, new["metadata"].get("namespace"), new["metadata"]["name"])
        if then_remove:
            return self._removal(op, res, new, rule=rule, modified_first=True)

        def commit(resp_body: Any) -> None:
            new["metadata"].pop("resourceVersion", None)
            self._learn_server_fields(new, resp_body)
            self.objects[key] = new
            self._record(res.plural, "MODIFIED", new)

        return Expect(op, 200, rule=rule, obj=new, fresh_rv=True, commit=commit, why=why)

    def delete(self, plural: str, namespace: str | None, name: str, options: JSON | None = None) -> Expect:
        res = resource(plural)
        options = options or {}
        stored = self.lookup(plural, namespace, name)
        if stored is None:
            return Expect("delete", 404, status=st.not_found(res, name))
        smeta = stored["metadata"]
        pre = options.get("preconditions") or {}
        # apiserver/pkg/registry/rest/delete.go: BeforeDelete (preconditions, on the kind)
        if pre.get("uid") is not None and pre["uid"] != smeta.get("uid"):
            return Expect("delete", 409, rule=OPTIMISTIC, status=st.conflict(
                res.group, res.kind, name,
                f"the UID in the precondition ({pre['uid']}) does not match the UID in record "
                f"({smeta.get('uid')}). The object might have been deleted and then recreated"))
        if pre.get("resourceVersion") is not None and pre["resourceVersion"] != smeta.get("resourceVersion"):
            return Expect("delete", 409, rule=OPTIMISTIC, status=st.conflict(
                res.group, res.kind, name,
                f"the ResourceVersion in the precondition ({pre['resourceVersion']}) does not match the "
                f"ResourceVersion in record ({smeta.get('resourceVersion')}). The object might have been modified"))
        finalizers = bool(smeta.get("finalizers"))
        now = _ts(self.now)
        unchanged = Expect("delete", 200, rule=FINALIZERS if finalizers else MATCHES, obj=stored,
                           rv=smeta.get("resourceVersion"), why="delete changes nothing")

        if res is not PODS:
            if not finalizers:
                return self._removal("delete", res, stored)
            # store.go: markAsDeleting
            new = clone(stored)
            nm = new["metadata"]
            if not nm.get("deletionTimestamp") or _ts(nm["deletionTimestamp"]) > now:
                nm["deletionTimestamp"] = self.now
            nm["deletionGracePeriodSeconds"] = 0
            if new == stored:
                return unchanged
            return self._rewrite("delete", res, new, FINALIZERS, "finalizers hold the object")

        asked = options.get("gracePeriodSeconds")
        if smeta.get("deletionTimestamp"):
            stored_grace = smeta.get("deletionGracePeriodSeconds") or 0
            if stored_grace == 0:
                if not finalizers:
                    return self._removal("delete", res, stored)
                new = clone(stored)
                if _ts(new["metadata"]["deletionTimestamp"]) > now:
                    new["metadata"]["deletionTimestamp"] = self.now
                if new == stored:
                    return unchanged
                return self._rewrite("delete", res, new, FINALIZERS, "finalizers hold the pod")
            if asked is None or asked >= stored_grace:
                # rest/delete.go: BeforeDelete returns gracefulPending
                return unchanged
            deadline = _ts(smeta["deletionTimestamp"]) - dt.timedelta(seconds=stored_grace) \
                + dt.timedelta(seconds=asked)
            period = asked
            if deadline < now:
                deadline = now
                if period != 0:
                    period = 1
            new = clone(stored)
            new["metadata"]["deletionTimestamp"] = _fmt(deadline)
            new["metadata"]["deletionGracePeriodSeconds"] = period
            return self._rewrite("delete", res, new, FINALIZERS if finalizers else MATCHES,
                                 "grace period shortened", then_remove=(asked == 0 and not finalizers))

        # pkg/registry/core/pod/strategy.go: CheckGracefulDelete
        grace = asked if asked is not None else stored.get("spec", {}).get(
            "terminationGracePeriodSeconds", DEFAULT_GRACE)
        if not stored.get("spec", {}).get("nodeName") or stored.get("status", {}).get("phase") in (
                "Succeeded", "Failed"):
            grace = 0
        new = clone(stored)
        nm = new["metadata"]
        nm["deletionTimestamp"] = _fmt(now + dt.timedelta(seconds=grace))
        nm["deletionGracePeriodSeconds"] = grace
        if nm.get("generation", 0) > 0:  # rest/delete.go: BeforeDelete bumps a generation that is set
            nm["generation"] += 1
        return self._rewrite("delete", res, new, FINALIZERS if finalizers else MATCHES,
                             "graceful deletion starts", then_remove=(grace == 0 and not finalizers))

    # ----- dryRun ----------------------------------------------------------------------------

    def dry_run_refused(self, verb: str, values: list[str]) -> Expect | None:
        """A write whose dryRun values are not all "All" is refused before anything else is read.

        apimachinery/pkg/apis/meta/v1/validation/validation.go: ValidateDryRun, called by ValidateCreateOptions,
        ValidateUpdateOptions, ValidatePatchOptions and ValidateDeleteOptions, which the handlers
        (apiserver/pkg/endpoints/handlers/create.go, update.go, patch.go, delete.go) run on the options before the
        body is decoded; the Invalid names the options kind in meta.k8s.io and shows the values as JSON (in Go
        syntax before 1.34, model/releases.py: FIELD_VALUES_AS_JSON). A binding is a create of the
        pods/binding subresource. The API's reference says of dryRun: an unrecognised directive is an error and
        the request goes no further.
        """
        if all(v == "All" for v in values):
            return None
        kind = {"create": "CreateOptions", "bind": "CreateOptions", "update": "UpdateOptions",
                "patch": "PatchOptions", "delete": "DeleteOptions"}[verb]
        # field/errors.go: ErrorBody
        shown = go_strings(values) if self.go_values else json.dumps(values, separators=(",", ":"), ensure_ascii=False)
        body = f'Unsupported value: {shown}: supported values: "All"'
        return Expect(verb, 422, rule=DRY_RUN, status=st.invalid_kind(
            f"{kind}.meta.k8s.io", "meta.k8s.io", kind, "", [("FieldValueNotSupported", "dryRun", body)]),
            why="an unsupported dryRun value is refused")

    def dry_run(self, expect: Expect, plural: str, namespace: str | None, name: str | None) -> Expect:
        """``expect`` (the answer to the same write carried out) as a dry run answers it: the same decision and
        the same object, nothing stored (no commit, no event), and the object's resourceVersion as it is stored,
        none for an object that is not (apiserver/pkg/registry/generic/registry/dryrun.go: DryRunnableStorage
        runs every check of Create, GuaranteedUpdate and Delete against the stored object, then copies the
        would-be object into the answer instead of writing it). Measured on kube-apiserver v1.37.2: a dry create
        (by POST, or a PUT that would create a Lease) answers 201 without a resourceVersion, an update, a patch
        and a graceful delete answer the stored resourceVersion, a binding answers its Success Status."""
        expect.commit = None
        if expect.code == 409 and expect.status is not None and isinstance(expect.status.get("message"), str):
            # a storage precondition a dry run checks names the key without the storage prefix: dryrun.go checks
            # the preconditions itself, on the key the registry passes, which etcd3/store.go alone prefixes with
            # /registry (measured: v1.37.2, a dry-run PUT of a Lease with another uid)
            expect.status = {**expect.status,
                             "message": expect.status["message"].replace("Key: /registry/", "Key: /")}
        if expect.code >= 300:
            return expect
        expect.rule = DRY_RUN if expect.rule == MATCHES else expect.rule
        if expect.obj is not None:
            stored = self.lookup(plural, namespace, name or "") if expect.code != 201 else None
            expect.obj = clone(expect.obj)
            expect.fresh_rv = False
            expect.rv = ((stored or {}).get("metadata") or {}).get("resourceVersion") if stored else ""
        return expect

    # ----- binding ----------------------------------------------------------------------------

    def bind(self, namespace: str, name: str, body: JSON) -> Expect:
        # pkg/registry/core/pod/storage/storage.go: BindingREST.Create, setPodNodeAndMetadata, assignPod
        meta = body.get("metadata") or {}
        if self.lookup("namespaces", None, namespace) is None:
            # apiserver/pkg/admission/plugin/namespace/lifecycle/admission.go: Admit refuses every create
            # (pods/binding included) in a namespace that does not exist, before the registry runs
            return Expect("bind", 404, rule=BINDING_PRECONDITIONS, status=st.not_found(NAMESPACES, namespace))
        if meta.get("name") != name:
            return Expect("bind", 400, status=st.bad_request("name in URL does not match name in Binding object"))
        # pkg/apis/core/validation/validation.go: ValidatePodBinding, before the pod is read. Releases answer
        # these 500 (kubernetes#139488), which api.no-5xx-for-client-errors reports before this answer is
        # compared; the answer the API owes is Invalid on kind Binding (the fix in kubernetes#139581)
        target = body.get("target") or {}
        causes = []
        if target.get("kind") and target["kind"] != "Node":
            causes.append(("FieldValueNotSupported", "target.kind",
                           f'Unsupported value: {go_quote(target["kind"])}: supported values: "Node", "<empty>"'))
        if not target.get("name"):
            causes.append(("FieldValueRequired", "target.name", "Required value"))
        if causes:
            return Expect("bind", 422, status=st.invalid_kind("Binding", "", "Binding", name, causes))
        pod = self.lookup("pods", namespace, name)
        if pod is None:
            return Expect("bind", 404, rule=BINDING_PRECONDITIONS, status=st.not_found(PODS, name))
        pmeta = pod["metadata"]
        if meta.get("uid") and meta["uid"] != pmeta.get("uid"):
            return Expect("bind", 409, rule=BINDING_PRECONDITIONS, status=_precondition_failed(
                PODS, namespace, name, "UID", meta["uid"], pmeta.get("uid")),
                why="the Binding's uid precondition does not match the pod")
        if meta.get("resourceVersion") and meta["resourceVersion"] != pmeta.get("resourceVersion"):
            return Expect("bind", 409, rule=BINDING_PRECONDITIONS, status=_precondition_failed(
                PODS, namespace, name, "ResourceVersion", meta["resourceVersion"], pmeta.get("resourceVersion")),
                why="the Binding's resourceVersion precondition does not match the pod")
        if pmeta.get("deletionTimestamp"):
            return Expect("bind", 409, rule=BINDING_PRECONDITIONS, status=st.conflict(
                "", "pods/binding", name, f"pod {name} is being deleted, cannot be assigned to a host"),
                why="the pod is being deleted")
        node = pod.get("spec", {}).get("nodeName")
        if node:
            return Expect("bind", 409, rule=AT_MOST_ONCE, status=st.conflict(
                "", "pods/binding", name, f"pod {name} is already assigned to node {go_quote(node)}"),
                why="the pod is already bound")
        if pod.get("spec", {}).get("schedulingGates"):
            return Expect("bind", 409, rule=BINDING_PRECONDITIONS, status=st.conflict(
                "", "pods/binding", name, f"pod {name} has non-empty .spec.schedulingGates"))
        annotation_errs = _value_errors(PODS, {"annotations": meta.get("annotations") or {}}, None,
                                        self.release)
        if annotation_errs and self.keeps_promises:
            # the pod as the binding would leave it (setPodNodeAndMetadata copies the annotations) must pass the
            # rules any write of a pod does; releases copy them unvalidated (conformance/findings.py:
            # binding-stores-invalid-annotations)
            return Expect("bind", 422, status=st.invalid(PODS, name, annotation_errs, any_order=True),
                          why="an annotation key the pod may not carry")
        new = clone(pod)
        new["spec"]["nodeName"] = (body.get("target") or {}).get("name", "")
        if meta.get("annotations"):
            new["metadata"].setdefault("annotations", {}).update(meta["annotations"])
        new.setdefault("status", {})["conditions"] = _scheduled(new["status"].get("conditions") or [], self.now)
        pkey = self.key("pods", namespace, name)

        def commit(resp_body: Any) -> None:
            new["metadata"].pop("resourceVersion", None)
            self.objects[pkey] = new
            self._record("pods", "MODIFIED", new)

        # the Success status carries no object: the pod's new resourceVersion is learned on the next read
        return Expect("bind", 201, rule=MATCHES, status=st.success_created(), commit=commit)

    # ----- status written by another client ---------------------------------------------------

    def status_written(self, plural: str, namespace: str | None, name: str, status: JSON) -> Expect:
        """Another client (a scheduler reporting a pod unschedulable) wrote ``status`` through the status
        subresource. Only the status changes: the pod and node status strategies keep the stored spec and
        reset the metadata a status write may not touch (pkg/registry/core/pod/strategy.go and
        pkg/registry/core/node/strategy.go: the status strategies' PrepareForUpdate;
        apimachinery/pkg/apis/meta/v1/helpers.go: ResetObjectMetaForStatus)."""
        res = resource(plural)
        stored = self.lookup(plural, namespace, name)
        if stored is None:
            return Expect("update", 404, rule=READ_YOUR_WRITES, status=st.not_found(res, name),
                          why="a status write reached an object the model does not hold")
        new = clone(stored)
        new["status"] = clone(status)
        key = self.key(plural, namespace, name)

        def commit(resp_body: Any) -> None:
            new["metadata"].pop("resourceVersion", None)  # learned on the next read
            self.objects[key] = new
            self._record(plural, "MODIFIED", new)

        return Expect("update", 200, rule=MATCHES, obj=new, fresh_rv=True, commit=commit)

    # ----- watch ------------------------------------------------------------------------------

    def plan_watch(self, plural: str, namespace: str | None, resource_version: str | None,
                   name: str | None = None) -> WatchPlan:
        """What a watch must deliver; ``name``: a watch of that name only, which a field selector
        metadata.name=NAME or the object's URL under watch/ asks for (apiserver/pkg/endpoints/handlers/get.go:
        ListResource turns the URL's name into that selector). Every change of an object keeps its name, so such
        a watch delivers the log's changes of that name, nothing moving in or out of its selection."""
        res = resource(plural)
        ns = namespace if res.namespaced else None
        if resource_version in (None, "0"):
            plan = WatchPlan(plural, ns, len(self.log), [], expired=False, name=name)
            plan.initial = [Change(plural, "ADDED", clone(o), 0) for (p, _, _), o in sorted(self.objects.items())
                            if plan.covers(p, o)]
            return plan
        pos = self.rv_position.get(resource_version)
        if pos is None:
            raise ValueError(f"resourceVersion {resource_version!r} was never observed")
        # etcd keeps the compaction revision itself, so a watch from the revision just before it may
        # still start (apiserver/pkg/storage/etcd3/watcher.go); older ones must get 410.
        expired = pos < self.compacted_at - 1
        may = pos == self.compacted_at - 1 and self.compactions > 0
        return WatchPlan(plural, ns, pos, [], expired=expired, may_expire=may, name=name)

    def changes_after(self, plan: WatchPlan) -> list[Change]:
        return [c for c in self.log[plan.start_position:] if plan.covers(c.plural, c.obj)]


def _scheduled(conditions: list[Any], now: str) -> list[Any]:
    """A pod's conditions once a binding has placed it (pkg/api/pod/util.go: UpdatePodCondition): the PodScheduled
    condition, True, replaces the first one of that type where it stands (its reason, message and probe time go)
    or comes last; its lastTransitionTime is now unless the one replaced was True already, whose time it keeps
    (measured on v1.37.2: a status write that set PodScheduled True, then a binding)."""
    scheduled: JSON = {"type": "PodScheduled", "status": "True", "lastTransitionTime": now}
    out = list(conditions)
    for i, c in enumerate(out):
        if isinstance(c, dict) and c.get("type") == "PodScheduled":
            if c.get("status") == "True":
                scheduled.pop("lastTransitionTime")
                if c.get("lastTransitionTime"):
                    scheduled["lastTransitionTime"] = c["lastTransitionTime"]
            out[i] = scheduled
            return out
    return [*out, scheduled]


def _served_subresource(res: Resource, subresource: str) -> bool:
    """Whether a call names the status subresource; a subresource the model does not know is the caller's
    mistake (the machines send ``status`` of pods and nodes only)."""
    if subresource == "status" and res.status_subresource:
        return True
    if subresource:
        raise ValueError(f"the model knows the status subresource of pods and nodes, not {res.plural}/{subresource}")
    return False


#: the pod conditions whose types the system owns, which a status write may carry whatever rule a type follows
#: (pkg/apis/core/validation/validation.go: validatePodConditions)
SYSTEM_POD_CONDITIONS = ("PodScheduled", "Ready", "Initialized")


def _pod_status_errors(new: JSON, stored: JSON, release: releases.Release) -> list[tuple[str, str, str]]:
    """What a pods/status write may not store, as causes in pkg/apis/core/validation/validation.go
    ValidatePodStatusUpdate's order, for the fields the machine writes: each condition type outside the
    system's own a qualified name (on ``metadata.conditions`` before 1.33, model/releases.py
    POD_CONDITIONS_STATUS_PATH), the QoS class unchanged (from 1.32, POD_QOS_CLASS_KEPT), no terminated
    container running again where it would not be restarted (ValidateContainerStateTransition), and hostIP the
    first of hostIPs (validateHostIPs; the machine sends valid addresses, one or a dual-stack pair)."""
    status, old_status = new.get("status") or {}, stored.get("status") or {}
    legacy = release < releases.LABEL_KEY_TEXTS
    at = "status" if release >= releases.POD_CONDITIONS_STATUS_PATH else "metadata"
    errs: list[tuple[str, str, str]] = []
    for i, cond in enumerate(status.get("conditions") or []):
        kind = cond.get("type") if isinstance(cond, dict) else None
        if isinstance(kind, str) and kind not in SYSTEM_POD_CONDITIONS:
            # validation.go: ValidateQualifiedName (the field's name is spelled "Type" upstream)
            errs += [("FieldValueInvalid", f"{at}.conditions[{i}].Type", f"Invalid value: {go_quote(kind)}: {m}")
                     for m in label_key_errors(kind, legacy)]
    if release >= releases.POD_QOS_CLASS_KEPT:
        qos = str(status.get("qosClass") or "")
        if qos != (old_status.get("qosClass") or ""):
            errs.append(("FieldValueInvalid", "status.qosClass", f"Invalid value: {go_quote(qos)}: field is immutable"))
    errs += _container_transition_errors(stored.get("spec") or {}, status, old_status, release)
    ips = status.get("hostIPs")
    if isinstance(ips, list) and ips and isinstance(ips[0], dict):
        first = str(ips[0].get("ip") or "")
        if first != (status.get("hostIP") or ""):
            errs.append(("FieldValueInvalid", "status.hostIPs[0].ip",
                         f"Invalid value: {go_quote(first)}: must be equal to `hostIP`"))
    return errs


def _terminated(container_status: Any) -> JSON | None:
    state = container_status.get("state") if isinstance(container_status, dict) else None
    ended = state.get("terminated") if isinstance(state, dict) else None
    return ended if isinstance(ended, dict) else None


def _restarts(spec: JSON, name: Any, exit_code: int) -> bool:
    """pkg/api/v1/pod/util.go: ContainerShouldRestart for the container ``name`` of ``spec`` (no restart rules and
    no container-level policy are sent): the pod's restartPolicy decides, Always when it names none; a name the
    spec has no container for is never restarted (ValidateContainerStateTransition finds no container)."""
    if not any(isinstance(c, dict) and c.get("name") == name for c in spec.get("containers") or []):
        return False
    policy = spec.get("restartPolicy") or "Always"
    return policy == "Always" or policy == "OnFailure" and exit_code != 0


def _container_transition_errors(spec: JSON, status: JSON, old_status: JSON,
                                 release: releases.Release) -> list[tuple[str, str, str]]:
    """validation.go: ValidateContainerStateTransition -- a container the old status shows terminated may be shown
    running or waiting again only where it would be restarted; the cause indexes the old list. From 1.35 the
    container's own restart decision and one cause per old status, before the pod's restartPolicy alone and one
    cause per new status that names it (model/releases.py: CONTAINER_RESTART_RULES)."""
    cause = ("FieldValueForbidden", "", "Forbidden: may not be transitioned to non-terminated state")
    new_statuses = [c for c in status.get("containerStatuses") or [] if isinstance(c, dict)]
    policy = spec.get("restartPolicy") or ""
    if release < releases.CONTAINER_RESTART_RULES and policy == "Always":
        return []
    errs: list[tuple[str, str, str]] = []
    for i, old in enumerate(old_status.get("containerStatuses") or []):
        ended = _terminated(old)
        if ended is None:
            continue
        code = ended.get("exitCode") or 0
        again = [c for c in new_statuses if c.get("name") == old.get("name") and _terminated(c) is None]
        if release >= releases.CONTAINER_RESTART_RULES:
            refused = again[:1] if not _restarts(spec, old.get("name"), code) else []
        else:
            refused = [] if code != 0 and policy == "OnFailure" else again
        errs += [(cause[0], f"status.containerStatuses[{i}].state", cause[2]) for _ in refused]
    return errs


def _node_status_errors(new: JSON, go_values: bool = False) -> list[tuple[str, str, str]]:
    """What a nodes/status write may not store, for the fields the machine writes: an address listed twice
    (pkg/apis/core/validation/validation.go: ValidateNodeUpdate), shown as the internal NodeAddress in JSON, in Go
    syntax before 1.34 (model/releases.py: FIELD_VALUES_AS_JSON). The spec is the stored one, validated when it
    was written."""
    errs: list[tuple[str, str, str]] = []
    seen: set[tuple[str, str]] = set()
    for i, address in enumerate((new.get("status") or {}).get("addresses") or []):
        if not isinstance(address, dict):
            continue
        pair = (str(address.get("type") or ""), str(address.get("address") or ""))
        if pair in seen:
            shown = (f"core.NodeAddress{{Type:{go_quote(pair[0])}, Address:{go_quote(pair[1])}}}" if go_values
                     else json.dumps({"Type": pair[0], "Address": pair[1]}, separators=(",", ":")))
            errs.append(("FieldValueDuplicate", f"status.addresses[{i}]", f"Duplicate value: {shown}"))
        seen.add(pair)
    return errs


def _storage_key(res: Resource, namespace: str | None, name: str) -> str:
    """The object's etcd key as storage errors name it (pkg/registry/core/node/storage/storage.go keeps nodes
    under the old prefix "minions")."""
    prefix = "minions" if res is NODES else res.plural
    return f"/registry/{prefix}/{namespace}/{name}" if res.namespaced else f"/registry/{prefix}/{name}"


def _precondition_failed(res: Resource, namespace: str | None, name: str, what: str, asked: Any,
                         stored: Any) -> JSON:
    # apiserver/pkg/storage/interfaces.go: Preconditions.Check, wrapped as store.go wraps a storage error
    return st.conflict(res.group, res.plural, name, (
        f"StorageError: invalid object, Code: 4, Key: {_storage_key(res, namespace, name)}, ResourceVersion: 0, "
        f"AdditionalErrorMsg: Precondition failed: {what} in precondition: {asked}, {what} in object meta: {stored}"))


def _immutable_meta_errors(meta: JSON, smeta: JSON, go_values: bool = False) -> list[tuple[str, str, str]]:
    """What an update may not change of the server-owned metadata, as causes in upstream's order
    (apimachinery/pkg/api/validation/objectmeta.go: ValidateObjectMetaAccessorUpdate, ValidateImmutableField),
    after rest/update.go BeforeUpdate has put back what it keeps: an empty uid becomes the stored one, a
    deletionTimestamp is the stored one once there is one, an absent deletionGracePeriodSeconds the stored one.
    A deletionTimestamp shows as JSON, or (``go_values``, before 1.34) by time.Time's String()."""
    errs = []
    uid = meta.get("uid")
    if uid and uid != smeta.get("uid"):
        errs.append(("FieldValueInvalid", "metadata.uid", f"Invalid value: {go_quote(str(uid))}: field is immutable"))
    when = meta.get("deletionTimestamp")
    if when and not smeta.get("deletionTimestamp"):
        errs.append(("FieldValueInvalid", "metadata.deletionTimestamp",
                     f"Invalid value: {go_time(str(when)) if go_values else go_quote(str(when))}: field is immutable"))
    grace = meta.get("deletionGracePeriodSeconds")
    if grace is not None and grace != smeta.get("deletionGracePeriodSeconds"):
        errs.append(("FieldValueInvalid", "metadata.deletionGracePeriodSeconds",
                     f"Invalid value: {grace}: field is immutable"))
    return errs
