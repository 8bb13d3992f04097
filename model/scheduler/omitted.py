"""Score plugins of the default profile the model does not compute, and when each of them scores no node at all.

The v1.37 default profile also scores with PodTopologySpread (weight 2),
InterPodAffinity (weight 2), VolumeBinding and, with DynamicResourceAllocation,
DynamicResources. Each of them adds nothing to any node (its PreScore answers
Skip, or its Score 0 everywhere) unless the pod or the cluster gives it
something to score. :func:`omitted_scores` answers, from the pod and the state of the
cluster, which of them may score this pod; when it answers nothing, the model's
top-score set is upstream's.

OpportunisticBatching (beta, on by default since v1.35) is not among them: it
reuses a previous cycle's ranking only for pods with a signature
(pkg/scheduler/framework/runtime/batch.go), and under the default profile
PodTopologySpread's system default constraints leave every pod without one
(pkg/scheduler/framework/plugins/podtopologyspread/plugin.go: SignPod).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

JSON = dict[str, Any]

# pkg/scheduler/framework/plugins/helper/spread.go: DefaultSelector (the controller kinds it looks up)
SPREAD_OWNER_KINDS = frozenset({("v1", "ReplicationController"), ("apps/v1", "ReplicaSet"),
                                ("apps/v1", "StatefulSet")})


def _has_pod_affinity(pod: JSON) -> bool:
    # pkg/scheduler/framework/types.go: podWithAffinity
    affinity = (pod.get("spec") or {}).get("affinity") or {}
    return affinity.get("podAffinity") is not None or affinity.get("podAntiAffinity") is not None


def _selected_by(pod: JSON, services: Iterable[JSON]) -> list[str]:
    """Names of the services of the pod's namespace whose (non-nil) selector matches the pod's labels."""
    # pkg/scheduler/framework/plugins/helper/spread.go: GetPodServices
    meta = pod.get("metadata") or {}
    labels = meta.get("labels") or {}
    out = []
    for svc in services:
        smeta = svc.get("metadata") or {}
        selector = (svc.get("spec") or {}).get("selector")
        if selector is None or smeta.get("namespace", meta.get("namespace")) != meta.get("namespace"):
            continue
        if all(labels.get(k) == v for k, v in selector.items()):
            out.append(smeta.get("name") or "")
    return out


def _spread_owner(pod: JSON) -> str | None:
    for ref in (pod.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller") and (ref.get("apiVersion"), ref.get("kind")) in SPREAD_OWNER_KINDS:
            return f"{ref.get('kind')} {ref.get('name')}"
    return None


def omitted_scores(pod: JSON, bound_pods: Iterable[JSON] = (), services: Iterable[JSON] = ()) -> list[str]:
    """The omitted score plugins that may score nodes for ``pod``, each with why; empty when none of them scores.

    ``bound_pods`` are every pod on every node of the scheduler's snapshot (not
    only the nodes the pod may go to); ``services`` the Services of the pod's
    namespace. A controller owner of a kind the spread defaulting looks up
    counts whether or not that object exists.
    """
    spec = pod.get("spec") or {}
    out = []
    # pkg/scheduler/framework/plugins/podtopologyspread/scoring.go: PreScore (Skip without constraints);
    # common.go: buildDefaultConstraints (the system defaults apply only with a non-empty default selector)
    if spec.get("topologySpreadConstraints"):
        out.append("PodTopologySpread: the pod has topologySpreadConstraints")
    else:
        selecting = _selected_by(pod, services)
        owner = _spread_owner(pod)
        if selecting or owner:
            what = ", ".join([*(f"Service {s}" for s in selecting), *([owner] if owner else [])])
            out.append(f"PodTopologySpread: the system default constraints apply ({what} selects the pod)")
    # pkg/scheduler/framework/plugins/interpodaffinity/scoring.go: PreScore (Skip when nothing was counted)
    affinity = spec.get("affinity") or {}
    preferred = any((affinity.get(kind) or {}).get("preferredDuringSchedulingIgnoredDuringExecution")
                    for kind in ("podAffinity", "podAntiAffinity"))
    if preferred:
        out.append("InterPodAffinity: the pod has preferred pod (anti-)affinity terms")
    holders = sorted((p.get("metadata") or {}).get("name") or "" for p in bound_pods if _has_pod_affinity(p))
    if holders:
        out.append(f"InterPodAffinity: pods with pod (anti-)affinity are on nodes: {holders}")
    # pkg/scheduler/framework/plugins/volumebinding/volume_binding.go: PreFilter, Score (0 everywhere without claims)
    if any(v.get("persistentVolumeClaim") or v.get("ephemeral") for v in spec.get("volumes") or []):
        out.append("VolumeBinding: the pod has persistent volume claims")
    # pkg/scheduler/framework/plugins/dynamicresources/dynamicresources.go: Score (nothing without claims)
    if spec.get("resourceClaims"):
        out.append("DynamicResources: the pod has resource claims")
    return out
