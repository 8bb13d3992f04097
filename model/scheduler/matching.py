"""Node selector terms and taint tolerations as the scheduler evaluates them.

Node affinity follows component-helpers/scheduling/corev1/nodeaffinity; a
requirement upstream would fail to parse makes its term match nothing (the
API server's validation keeps such pods out in practice). Toleration matching
follows k8s.io/api/core/v1/toleration.go with the TaintTolerationComparisonOperators
gate off (its default in v1.37), so ``Lt``/``Gt`` tolerations tolerate nothing.
"""

from __future__ import annotations

from typing import Any

from model.scheduler.quantity import parse_int64

JSON = dict[str, Any]

# api/core/v1/well_known_taints.go: TaintNodeUnschedulable
TAINT_NODE_UNSCHEDULABLE = "node.kubernetes.io/unschedulable"
NO_SCHEDULE = "NoSchedule"
NO_EXECUTE = "NoExecute"
PREFER_NO_SCHEDULE = "PreferNoSchedule"

NODE_NAME_FIELD = "metadata.name"


def _labels(node: JSON) -> dict[str, str]:
    return (node.get("metadata") or {}).get("labels") or {}


def _name(node: JSON) -> str:
    return (node.get("metadata") or {}).get("name") or ""


def _expression_valid(expr: JSON) -> bool:
    # component-helpers/scheduling/corev1/nodeaffinity/nodeaffinity.go: nodeSelectorRequirementsAsSelector
    # apimachinery/pkg/labels/selector.go: NewRequirement (value counts; Gt/Lt need one integer)
    op, values = expr.get("operator"), expr.get("values") or []
    if op in ("In", "NotIn"):
        return len(values) > 0
    if op in ("Exists", "DoesNotExist"):
        return len(values) == 0
    if op in ("Gt", "Lt"):
        return len(values) == 1 and parse_int64(values[0]) is not None
    return False


def _expression_matches(expr: JSON, labels: dict[str, str]) -> bool:
    # apimachinery/pkg/labels/selector.go: Requirement.Matches
    key, op, values = expr.get("key") or "", expr.get("operator"), expr.get("values") or []
    if op == "In":
        return key in labels and labels[key] in values
    if op == "NotIn":
        return key not in labels or labels[key] not in values
    if op == "Exists":
        return key in labels
    if op == "DoesNotExist":
        return key not in labels
    if key not in labels:
        return False
    have, want = parse_int64(labels[key]), parse_int64(values[0])
    if have is None or want is None:
        return False
    return have > want if op == "Gt" else have < want


def _field_valid(req: JSON) -> bool:
    # component-helpers/scheduling/corev1/nodeaffinity/nodeaffinity.go: nodeSelectorRequirementsAsFieldSelector
    return req.get("operator") in ("In", "NotIn") and len(req.get("values") or []) == 1


def _field_matches(req: JSON, fields: dict[str, str]) -> bool:
    # apimachinery/pkg/fields/selector.go: hasTerm.Matches, notHasTerm.Matches (a missing field reads as "")
    have = fields.get(req.get("key") or "", "")
    want = (req.get("values") or [""])[0]
    return have == want if req.get("operator") == "In" else have != want


def term_is_empty(term: JSON) -> bool:
    # component-helpers/scheduling/corev1/nodeaffinity/nodeaffinity.go: isEmptyNodeSelectorTerm
    return not term.get("matchExpressions") and not term.get("matchFields")


def term_matches(term: JSON, node: JSON) -> bool:
    """One nodeSelectorTerm: its expressions ANDed over labels, its fields ANDed over metadata.name."""
    # component-helpers/scheduling/corev1/nodeaffinity/nodeaffinity.go: nodeSelectorTerm.match
    exprs = term.get("matchExpressions") or []
    fields_reqs = term.get("matchFields") or []
    if not all(_expression_valid(e) for e in exprs) or not all(_field_valid(f) for f in fields_reqs):
        return False
    labels = _labels(node)
    if exprs and not all(_expression_matches(e, labels) for e in exprs):
        return False
    fields = {NODE_NAME_FIELD: _name(node)} if _name(node) else {}
    if fields_reqs and fields and not all(_field_matches(f, fields) for f in fields_reqs):
        return False
    return True


def node_selector_matches(selector: JSON, node: JSON) -> bool:
    """A NodeSelector: its non-empty terms ORed; no non-empty term means no node matches."""
    # component-helpers/scheduling/corev1/nodeaffinity/nodeaffinity.go: LazyErrorNodeSelector.Match
    terms = [t for t in selector.get("nodeSelectorTerms") or [] if not term_is_empty(t)]
    return any(term_matches(t, node) for t in terms)


def _node_affinity(pod: JSON) -> JSON:
    return (((pod.get("spec") or {}).get("affinity") or {}).get("nodeAffinity")) or {}


def required_node_affinity(pod: JSON) -> JSON | None:
    """requiredDuringSchedulingIgnoredDuringExecution, or None when the pod has none."""
    return _node_affinity(pod).get("requiredDuringSchedulingIgnoredDuringExecution")


def preferred_terms(pod: JSON) -> list[JSON]:
    """preferredDuringSchedulingIgnoredDuringExecution entries that count: non-zero weight, non-empty term."""
    # component-helpers/scheduling/corev1/nodeaffinity/nodeaffinity.go: NewPreferredSchedulingTerms
    return [t for t in _node_affinity(pod).get("preferredDuringSchedulingIgnoredDuringExecution") or []
            if t.get("weight") and not term_is_empty(t.get("preference") or {})]


def matches_required_affinity(pod: JSON, node: JSON) -> bool:
    """spec.nodeSelector (every label equal) and the required node affinity (if any) both hold."""
    # component-helpers/scheduling/corev1/nodeaffinity/nodeaffinity.go: RequiredNodeAffinity.Match
    labels = _labels(node)
    selector = (pod.get("spec") or {}).get("nodeSelector") or {}
    if any(labels.get(k) != v for k, v in selector.items()):
        return False
    required = required_node_affinity(pod)
    return required is None or node_selector_matches(required, node)


def preferred_score(pod: JSON, node: JSON) -> int:
    """Sum of the weights of the preferred terms the node matches."""
    # component-helpers/scheduling/corev1/nodeaffinity/nodeaffinity.go: PreferredSchedulingTerms.Score
    return sum(int(t["weight"]) for t in preferred_terms(pod) if term_matches(t.get("preference") or {}, node))


def tolerates(toleration: JSON, taint: JSON) -> bool:
    """Whether one toleration tolerates one taint."""
    # api/core/v1/toleration.go: Toleration.ToleratesTaint (comparison operators disabled)
    effect, key = toleration.get("effect") or "", toleration.get("key") or ""
    if effect and effect != (taint.get("effect") or ""):
        return False
    if key and key != (taint.get("key") or ""):
        return False
    op = toleration.get("operator") or "Equal"
    if op == "Equal":
        return (toleration.get("value") or "") == (taint.get("value") or "")
    return op == "Exists"


def tolerated(tolerations: list[JSON], taint: JSON) -> bool:
    # component-helpers/scheduling/corev1/helpers.go: TolerationsTolerateTaint
    return any(tolerates(t, taint) for t in tolerations)


def pod_tolerations(pod: JSON) -> list[JSON]:
    return (pod.get("spec") or {}).get("tolerations") or []


def node_taints(node: JSON) -> list[JSON]:
    return (node.get("spec") or {}).get("taints") or []


def first_untolerated(pod: JSON, node: JSON) -> JSON | None:
    """The first NoSchedule/NoExecute taint of the node that no toleration of the pod tolerates."""
    # component-helpers/scheduling/corev1/helpers.go: FindMatchingUntoleratedTaint
    # pkg/scheduler/framework/plugins/helper/taint.go: DoNotScheduleTaintsFilterFunc
    tolerations = pod_tolerations(pod)
    for taint in node_taints(node):
        if taint.get("effect") in (NO_SCHEDULE, NO_EXECUTE) and not tolerated(tolerations, taint):
            return taint
    return None
