"""Parsed views of pods and nodes: everything a scheduling cycle reads, computed once per object version.

Quantities are parsed with the official client's ``parse_quantity`` and
rounded up the way Go's ``Quantity.MilliValue``/``Value`` do; the results are
cached per quantity text, so a cluster of identical nodes parses each string
once.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from typing import Any

from kubernetes.utils.quantity import parse_quantity

JSON = dict[str, Any]

CPU, MEMORY, EPHEMERAL = "cpu", "memory", "ephemeral-storage"
# pkg/scheduler/util/pod_resources.go: DefaultMilliCPURequest, DefaultMemoryRequest (the non-zero defaults)
DEFAULT_MILLI_CPU = 100
DEFAULT_MEMORY = 200 * 1024 * 1024
NON_MISSING: dict[str, Decimal] = {CPU: Decimal("0.1"), MEMORY: Decimal(DEFAULT_MEMORY)}

UNSCHEDULABLE_TAINT_KEY = "node.kubernetes.io/unschedulable"
DEFAULT_SCHEDULER = "default-scheduler"
_INT64 = re.compile(r"^[+-]?[0-9]+$")


@lru_cache(maxsize=4096)
def _quantity(value: Any) -> Decimal | None:
    try:
        return Decimal(parse_quantity(value))
    except (ValueError, TypeError, ArithmeticError):
        return None


def quantity(value: Any) -> Decimal:
    """A parsed quantity; an unparsable one counts as zero (the API server would have refused it)."""
    if value is None or isinstance(value, bool):
        return Decimal(0)
    q = _quantity(value)
    return q if q is not None else Decimal(0)


def milli_value(q: Decimal) -> int:
    """Go resource.Quantity.MilliValue: thousandths, rounded up."""
    return math.ceil(q * 1000)


def value(q: Decimal) -> int:
    """Go resource.Quantity.Value: whole units, rounded up."""
    return math.ceil(q)


def go_int64(text: Any) -> int | None:
    """strconv.ParseInt(text, 10, 64), or None when it would fail."""
    if not isinstance(text, str) or not _INT64.match(text):
        return None
    n = int(text)
    return n if -(2**63) <= n < 2**63 else None


# ---- resource requests ----


def _resource_list(raw: Any) -> dict[str, Decimal]:
    if not isinstance(raw, dict):
        return {}
    return {str(k): quantity(v) for k, v in raw.items()}


def _container_requests(c: Any) -> dict[str, Decimal]:
    if not isinstance(c, dict):
        return {}
    return _resource_list((c.get("resources") or {}).get("requests"))


def _add(into: dict[str, Decimal], more: dict[str, Decimal]) -> None:
    for k, v in more.items():
        into[k] = into.get(k, Decimal(0)) + v


def _max(into: dict[str, Decimal], more: dict[str, Decimal]) -> None:
    for k, v in more.items():
        if k not in into or v > into[k]:
            into[k] = v


def _with_defaults(reqs: dict[str, Decimal], non_missing: dict[str, Decimal] | None) -> dict[str, Decimal]:
    # component-helpers/resource/helpers.go: applyNonMissing -- a default only where the container names nothing
    if not non_missing:
        return reqs
    out = dict(reqs)
    for k, v in non_missing.items():
        if k not in reqs:
            out[k] = out.get(k, Decimal(0)) + v
    return out


def _restartable(c: Any) -> bool:
    return isinstance(c, dict) and c.get("restartPolicy") == "Always"


def pod_requests(spec: JSON, non_missing: dict[str, Decimal] | None = None) -> dict[str, Decimal]:
    """Effective pod requests (component-helpers/resource/helpers.go: PodRequests, aggregateContainerResourcesByFn).

    Sum of the app containers and the restartable (sidecar) init containers, raised to the largest init-time
    need (each regular init container plus the sidecars started before it), plus spec.overhead.
    """
    result: dict[str, Decimal] = {}
    for c in spec.get("containers") or []:
        _add(result, _with_defaults(_container_requests(c), non_missing))
    sidecars: dict[str, Decimal] = {}
    init_max: dict[str, Decimal] = {}
    for c in spec.get("initContainers") or []:
        reqs = _with_defaults(_container_requests(c), non_missing)
        if _restartable(c):
            _add(result, reqs)
            _add(sidecars, reqs)
            at_start = dict(sidecars)
        else:
            at_start = dict(reqs)
            _add(at_start, sidecars)
        _max(init_max, at_start)
    _max(result, init_max)
    _add(result, _resource_list(spec.get("overhead")))
    return result


# ---- tolerations and taints ----

Taint = tuple[str, str, str]  # key, value, effect
Toleration = tuple[str, str, str, str]  # key, operator, value, effect


def _taints(spec: JSON) -> tuple[Taint, ...]:
    out = []
    for t in spec.get("taints") or []:
        if isinstance(t, dict):
            out.append((str(t.get("key") or ""), str(t.get("value") or ""), str(t.get("effect") or "")))
    return tuple(out)


def _tolerations(spec: JSON) -> tuple[Toleration, ...]:
    out = []
    for t in spec.get("tolerations") or []:
        if isinstance(t, dict):
            out.append((str(t.get("key") or ""), str(t.get("operator") or ""), str(t.get("value") or ""),
                        str(t.get("effect") or "")))
    return tuple(out)


def tolerates(tol: Toleration, taint: Taint) -> bool:
    """api/core/v1/toleration.go: ToleratesTaint (comparison operators are behind an alpha gate: never match)."""
    key, op, val, effect = tol
    if effect and effect != taint[2]:
        return False
    if key and key != taint[0]:
        return False
    if op in ("", "Equal"):
        return val == taint[1]
    return op == "Exists"


def tolerated(tolerations: tuple[Toleration, ...], taint: Taint) -> bool:
    """component-helpers/scheduling/corev1/helpers.go: TolerationsTolerateTaint."""
    return any(tolerates(t, taint) for t in tolerations)


# ---- node selector terms ----

LabelReq = tuple[str, str, tuple[str, ...], int | None]  # key, operator, values, integer operand for Gt/Lt


@dataclass(frozen=True)
class Term:
    """One parsed nodeSelectorTerm; ``valid`` False when it cannot be parsed (it then matches nothing)."""

    labels: tuple[LabelReq, ...] | None
    fields: tuple[tuple[str, bool, str], ...] | None  # key, equal?, value
    valid: bool = True

    def matches(self, node_labels: dict[str, str], node_name: str) -> bool:
        """component-helpers/.../nodeaffinity/nodeaffinity.go: nodeSelectorTerm.match."""
        if not self.valid:
            return False
        if self.labels is not None and not all(_label_req_matches(r, node_labels) for r in self.labels):
            return False
        if self.fields is not None and node_name:
            got = {"metadata.name": node_name}
            for key, equal, val in self.fields:
                if (got.get(key, "") == val) != equal:
                    return False
        return True


def _label_req_matches(req: LabelReq, labels: dict[str, str]) -> bool:
    """apimachinery/pkg/labels/selector.go: Requirement.Matches for the node-selector operators."""
    key, op, values, operand = req
    has = key in labels
    if op == "In":
        return has and labels[key] in values
    if op == "NotIn":
        return not has or labels[key] not in values
    if op == "Exists":
        return has
    if op == "DoesNotExist":
        return not has
    if not has or operand is None:
        return False
    got = go_int64(labels[key])
    if got is None:
        return False
    return got > operand if op == "Gt" else got < operand


def _parse_term(raw: Any) -> Term | None:
    """nodeaffinity.go: newNodeSelectorTerm; None for an empty term (which is dropped)."""
    if not isinstance(raw, dict):
        return None
    exprs = raw.get("matchExpressions") or []
    fields = raw.get("matchFields") or []
    if not exprs and not fields:
        return None
    valid = True
    labels: tuple[LabelReq, ...] | None = None
    if exprs:
        reqs: list[LabelReq] = []
        for e in exprs:
            r = _parse_label_req(e)
            if r is None:
                valid = False
            else:
                reqs.append(r)
        labels = tuple(reqs)
    field_reqs: tuple[tuple[str, bool, str], ...] | None = None
    if fields:
        fr: list[tuple[str, bool, str]] = []
        for f in fields:
            # nodeaffinity.go: nodeSelectorRequirementsAsFieldSelector -- In/NotIn with exactly one value
            if not isinstance(f, dict) or f.get("operator") not in ("In", "NotIn") or len(f.get("values") or []) != 1:
                valid = False
                continue
            fr.append((str(f.get("key") or ""), f["operator"] == "In", str(f["values"][0])))
        field_reqs = tuple(fr)
    return Term(labels, field_reqs, valid)


def _parse_label_req(e: Any) -> LabelReq | None:
    """labels.NewRequirement's operand checks for the node-selector operators; None when invalid."""
    if not isinstance(e, dict):
        return None
    op, key = e.get("operator"), str(e.get("key") or "")
    values = tuple(str(v) for v in e.get("values") or [])
    if op in ("In", "NotIn"):
        return (key, op, values, None) if values else None
    if op in ("Exists", "DoesNotExist"):
        return (key, op, (), None) if not values else None
    if op in ("Gt", "Lt"):
        if len(values) != 1:
            return None
        n = go_int64(values[0])
        return (key, op, values, n) if n is not None else None
    return None


# ---- ports ----

HostPort = tuple[str, str, int]  # hostIP (sanitised), protocol (sanitised), port


def _host_ports(spec: JSON) -> tuple[HostPort, ...]:
    """pkg/scheduler/util/utils.go: GetHostPorts -- sidecar init containers and app containers, hostPort > 0."""
    containers = [c for c in spec.get("initContainers") or [] if _restartable(c)]
    containers += [c for c in spec.get("containers") or [] if isinstance(c, dict)]
    out = []
    for c in containers:
        for p in c.get("ports") or []:
            if not isinstance(p, dict):
                continue
            port = p.get("hostPort")
            if isinstance(port, int) and not isinstance(port, bool) and port > 0:
                # kube-scheduler/framework/types.go: HostPortInfo.sanitize
                out.append((str(p.get("hostIP") or "0.0.0.0"), str(p.get("protocol") or "TCP"), port))
    return tuple(out)


def _normalized_image(name: str) -> str:
    """imagelocality/image_locality.go: normalizedImageName -- a name without a tag gets ':latest'."""
    if name.rfind(":") <= name.rfind("/"):
        return name + ":latest"
    return name


# ---- the parsed pod ----


@dataclass
class PodInfo:
    """What scheduling needs from one pod version."""

    namespace: str
    name: str
    uid: str
    node_name: str
    priority: int
    deleting: bool
    gated: bool
    scheduler_name: str
    milli_cpu: int
    memory: int
    ephemeral: int
    non0_cpu: int
    non0_mem: int
    ports: tuple[HostPort, ...]
    tolerations: tuple[Toleration, ...]
    node_selector: dict[str, str]
    required: tuple[Term, ...] | None  # None: no required node affinity
    required_names: frozenset[str] | None  # PreFilter node names from matchFields metadata.name In
    required_conflict: bool
    preferred: tuple[tuple[int, Term], ...]
    images: tuple[str, ...]
    image_count: int
    raw: JSON = field(repr=False)

    @property
    def key(self) -> tuple[str, str]:
        return (self.namespace, self.name)


def _affinity(spec: JSON) -> tuple[tuple[Term, ...] | None, frozenset[str] | None, bool,
                                   tuple[tuple[int, Term], ...]]:
    na = ((spec.get("affinity") or {}).get("nodeAffinity")) or {}
    required: tuple[Term, ...] | None = None
    names: set[str] | None = None
    conflict = False
    req = na.get("requiredDuringSchedulingIgnoredDuringExecution")
    if isinstance(req, dict):
        raw_terms = [t for t in req.get("nodeSelectorTerms") or [] if isinstance(t, dict)]
        required = tuple(t for t in (_parse_term(r) for r in raw_terms) if t is not None)
        names, conflict = _prefilter_names(raw_terms)
    preferred = []
    for p in na.get("preferredDuringSchedulingIgnoredDuringExecution") or []:
        if not isinstance(p, dict):
            continue
        w = p.get("weight") or 0
        term = _parse_term(p.get("preference"))
        # nodeaffinity.go: NewPreferredSchedulingTerms skips weight-0 and empty terms
        if isinstance(w, int) and w != 0 and term is not None and term.valid:
            preferred.append((w, term))
    return required, (frozenset(names) if names is not None else None), conflict, tuple(preferred)


def _prefilter_names(raw_terms: list[JSON]) -> tuple[set[str] | None, bool]:
    """nodeaffinity/node_affinity.go: NodeAffinity.PreFilter -- node names a required affinity pins the pod to."""
    if not raw_terms:
        return None, False
    names: set[str] = set()
    for t in raw_terms:
        term_names: set[str] | None = None
        for r in t.get("matchFields") or []:
            if isinstance(r, dict) and r.get("key") == "metadata.name" and r.get("operator") == "In":
                s = {str(v) for v in r.get("values") or []}
                term_names = s if term_names is None else term_names & s
        if term_names is None:
            return None, False
        names |= term_names
    if not names:
        return None, True
    return names, False


def parse_pod(pod: JSON) -> PodInfo:
    """Parse a pod object once; every cycle then reads the fields directly."""
    meta = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    reqs = pod_requests(spec)
    non0 = pod_requests(spec, NON_MISSING)
    required, names, conflict, preferred = _affinity(spec)
    images = tuple(_normalized_image(str(c.get("image") or "")) for c in
                   list(spec.get("initContainers") or []) + list(spec.get("containers") or []) if isinstance(c, dict))
    prio = spec.get("priority")
    selector = spec.get("nodeSelector")
    return PodInfo(
        namespace=str(meta.get("namespace") or ""),
        name=str(meta.get("name") or ""),
        uid=str(meta.get("uid") or ""),
        node_name=str(spec.get("nodeName") or ""),
        priority=prio if isinstance(prio, int) and not isinstance(prio, bool) else 0,
        deleting=bool(meta.get("deletionTimestamp")),
        gated=bool(spec.get("schedulingGates")),
        scheduler_name=str(spec.get("schedulerName") or DEFAULT_SCHEDULER),
        milli_cpu=milli_value(reqs.get(CPU, Decimal(0))),
        memory=value(reqs.get(MEMORY, Decimal(0))),
        ephemeral=value(reqs.get(EPHEMERAL, Decimal(0))),
        non0_cpu=milli_value(non0.get(CPU, Decimal(0))),
        non0_mem=value(non0.get(MEMORY, Decimal(0))),
        ports=_host_ports(spec),
        tolerations=_tolerations(spec),
        node_selector={str(k): str(v) for k, v in selector.items()} if isinstance(selector, dict) else {},
        required=required,
        required_names=names,
        required_conflict=conflict,
        preferred=preferred,
        images=images,
        image_count=len(images),
        raw=pod,
    )


# ---- the parsed node ----


@dataclass
class NodeSpec:
    """What scheduling needs from one node version."""

    name: str
    labels: dict[str, str]
    unschedulable: bool
    taints: tuple[Taint, ...]
    alloc_cpu: int
    alloc_mem: int
    alloc_eph: int
    alloc_pods: int
    images: tuple[tuple[tuple[str, ...], int], ...]  # (names, sizeBytes)
    zone: str
    raw: JSON = field(repr=False)


def _zone_key(labels: dict[str, str]) -> str:
    """component-helpers/node/topology/helpers.go: GetZoneKey (beta labels first)."""
    zone = labels.get("failure-domain.beta.kubernetes.io/zone", labels.get("topology.kubernetes.io/zone", ""))
    region = labels.get("failure-domain.beta.kubernetes.io/region", labels.get("topology.kubernetes.io/region", ""))
    if not region and not zone:
        return ""
    return region + ":\x00:" + zone


def parse_node(node: JSON) -> NodeSpec:
    meta = node.get("metadata") or {}
    spec = node.get("spec") or {}
    status = node.get("status") or {}
    alloc = status.get("allocatable") or {}
    labels = {str(k): str(v) for k, v in (meta.get("labels") or {}).items()}
    images = []
    for img in status.get("images") or []:
        if isinstance(img, dict):
            size = img.get("sizeBytes")
            images.append((tuple(str(n) for n in img.get("names") or []),
                           size if isinstance(size, int) and not isinstance(size, bool) else 0))
    return NodeSpec(
        name=str(meta.get("name") or ""),
        labels=labels,
        unschedulable=bool(spec.get("unschedulable")),
        taints=_taints(spec),
        alloc_cpu=milli_value(quantity(alloc.get(CPU))),
        alloc_mem=value(quantity(alloc.get(MEMORY))),
        alloc_eph=value(quantity(alloc.get(EPHEMERAL))),
        alloc_pods=value(quantity(alloc.get("pods"))),
        images=tuple(images),
        zone=_zone_key(labels),
        raw=node,
    )
