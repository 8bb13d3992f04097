"""Score plugins of the default profile that the model covers, with upstream's integer arithmetic.

Each raw score is computed per feasible node, normalised where the plugin
normalises, then multiplied by the plugin's default weight. Go's int64 ``/``
truncates toward zero; :func:`go_div` stands in for it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from model.scheduler.matching import PREFER_NO_SCHEDULE, node_taints, pod_tolerations, preferred_score, tolerated
from model.scheduler.nodeinfo import NodeInfo
from model.scheduler.quantity import go_div
from model.scheduler.requests import requests, scoring_requests

JSON = dict[str, Any]

# kube-scheduler/framework/interface.go: MaxNodeScore
MAX_NODE_SCORE = 100

# pkg/scheduler/apis/config/v1/default_plugins.go: getDefaultPlugins (weights of the modelled score plugins)
WEIGHTS: dict[str, int] = {
    "TaintToleration": 3,
    "NodeAffinity": 2,
    "NodeResourcesFit": 1,
    "NodeResourcesBalancedAllocation": 1,
    "ImageLocality": 1,
}

# pkg/scheduler/framework/plugins/imagelocality/image_locality.go: mb, minThreshold, maxContainerThreshold
MB = 1024 * 1024
IMAGE_MIN_THRESHOLD = 23 * MB
IMAGE_MAX_CONTAINER_THRESHOLD = 1000 * MB


def default_normalize(scores: Mapping[str, int], reverse: bool = False) -> dict[str, int]:
    """Scale [0, max] onto [0, 100]; with ``reverse``, 100 minus that. All zero: 0 (or 100 reversed)."""
    # pkg/scheduler/framework/plugins/helper/normalize_score.go: DefaultNormalizeScore
    top = max([0, *scores.values()])
    if top == 0:
        return {n: (MAX_NODE_SCORE if reverse else s) for n, s in scores.items()}
    out = {}
    for n, s in scores.items():
        v = go_div(MAX_NODE_SCORE * s, top)
        out[n] = MAX_NODE_SCORE - v if reverse else v
    return out


def taint_toleration_raw(pod: JSON, info: NodeInfo) -> int:
    """How many PreferNoSchedule taints the pod's (empty-effect or PreferNoSchedule) tolerations leave untolerated."""
    # pkg/scheduler/framework/plugins/tainttoleration/taint_toleration.go: countIntolerableTaintsPreferNoSchedule,
    # getAllTolerationPreferNoSchedule
    tolerations = [t for t in pod_tolerations(pod) if (t.get("effect") or "") in ("", PREFER_NO_SCHEDULE)]
    return sum(1 for taint in node_taints(info.node)
               if taint.get("effect") == PREFER_NO_SCHEDULE and not tolerated(tolerations, taint))


def node_affinity_raw(pod: JSON, info: NodeInfo) -> int:
    """Sum of the weights of the preferred node affinity terms the node matches."""
    # pkg/scheduler/framework/plugins/nodeaffinity/node_affinity.go: Score
    return preferred_score(pod, info.node)


def least_requested_score(requested: int, capacity: int) -> int:
    # pkg/scheduler/framework/plugins/noderesources/least_allocated.go: leastRequestedScore
    if capacity == 0 or requested > capacity:
        return 0
    return go_div((capacity - requested) * MAX_NODE_SCORE, capacity)


def least_allocated(pod: JSON, info: NodeInfo) -> int:
    """Mean (weights 1) over cpu and memory of the free share left after the pod, using non-zero requests.

    A resource the node has no allocatable of is left out of the mean.
    """
    # pkg/scheduler/framework/plugins/noderesources/least_allocated.go: leastResourceScorer
    # pkg/scheduler/framework/plugins/noderesources/resource_allocation.go: calculateNodeAllocatableRequest
    pod_req = scoring_requests(pod)
    pairs = [
        (info.non_zero_requested.milli_cpu + pod_req.milli_cpu, info.allocatable.milli_cpu),
        (info.non_zero_requested.memory + pod_req.memory, info.allocatable.memory),
    ]
    node_score = weight_sum = 0
    for requested, capacity in pairs:
        if capacity == 0:
            continue
        node_score += least_requested_score(requested, capacity) * 1
        weight_sum += 1
    return go_div(node_score, weight_sum) if weight_sum else 0


def balanced_resource_score(requested: Sequence[int], allocatable: Sequence[int]) -> int:
    """100 × (1 − standard deviation of the requested/allocatable fractions, each capped at 1)."""
    # pkg/scheduler/framework/plugins/noderesources/balanced_allocation.go: balancedResourceScore
    fractions: list[float] = []
    total = 0.0
    for req, alloc in zip(requested, allocatable, strict=True):
        if alloc == 0:
            continue
        fraction = min(float(req) / float(alloc), 1.0)
        total += fraction
        fractions.append(fraction)
    std = 0.0
    if len(fractions) == 2:
        std = math.fabs((fractions[0] - fractions[1]) / 2)
    elif len(fractions) > 2:
        mean = total / float(len(fractions))
        acc = 0.0
        for f in fractions:
            acc = acc + (f - mean) * (f - mean)
        std = math.sqrt(acc / float(len(fractions)))
    return int((1 - std) * float(MAX_NODE_SCORE))


def balanced_allocation(pod: JSON, info: NodeInfo) -> int:
    """50 plus half the change in balance the pod brings, on plain (not non-zero) cpu and memory requests.

    A pod requesting neither cpu nor memory is not scored (0 on every node).
    """
    # pkg/scheduler/framework/plugins/noderesources/balanced_allocation.go: balancedResourceScorer, PreScore
    # (useRequested is true for this plugin: node Requested and the pod's plain requests)
    pod_req = requests(pod)
    if pod_req.milli_cpu == 0 and pod_req.memory == 0:
        return 0
    alloc = [info.allocatable.milli_cpu, info.allocatable.memory]
    allocated = [info.requested.milli_cpu if alloc[0] else 0, info.requested.memory if alloc[1] else 0]
    requested = [allocated[0] + (pod_req.milli_cpu if alloc[0] else 0),
                 allocated[1] + (pod_req.memory if alloc[1] else 0)]
    with_pod = balanced_resource_score(requested, alloc)
    without_pod = balanced_resource_score(allocated, alloc)
    half = MAX_NODE_SCORE // 2
    return half + go_div(half + with_pod - without_pod, 2)


def normalized_image_name(name: str) -> str:
    """An image reference without a tag gets ``:latest``."""
    # pkg/scheduler/framework/plugins/imagelocality/image_locality.go: normalizedImageName
    return name if name.rfind(":") > name.rfind("/") else name + ":latest"


ImageStates = dict[str, tuple[int, int]]  # image name -> (size in bytes, number of nodes having it)


def image_states(infos: Sequence[NodeInfo]) -> ImageStates:
    """Per image name, its size (as first reported, in the given node order) and how many nodes have it."""
    # pkg/scheduler/backend/cache/cache.go: addNodeImageStates; pkg/scheduler/backend/cache/snapshot.go
    out: ImageStates = {}
    for info in infos:
        for name, size in info.images.items():
            first_size, count = out.get(name, (size, 0))
            out[name] = (first_size, count + 1)
    return out


def _pod_images(pod: JSON) -> tuple[list[str], int]:
    spec = pod.get("spec") or {}
    containers = (spec.get("initContainers") or []) + (spec.get("containers") or [])
    names = [c.get("image") or "" for c in containers]
    count = len(containers)
    for volume in spec.get("volumes") or []:
        if volume.get("image") is not None:
            names.append((volume.get("image") or {}).get("reference") or "")
            count += 1
    return names, count


def image_locality(pod: JSON, info: NodeInfo, states: ImageStates, total_nodes: int) -> int:
    """Size of the pod's images already on the node, each scaled by its spread, mapped onto 0..100.

    The sum is clamped to [23 MiB, 1000 MiB × number of images] before scaling.
    """
    # pkg/scheduler/framework/plugins/imagelocality/image_locality.go: sumImageScores, scaledImageScore,
    # calculatePriority
    names, count = _pod_images(pod)
    total = 0
    for image in names:
        name = normalized_image_name(image)
        if name in info.images and name in states:
            size, num_nodes = states[name]
            if info.image_nodes is not None:
                num_nodes = info.image_nodes.get(name, num_nodes)
            spread = float(num_nodes) / float(total_nodes)
            total += int(float(size) * spread)
    max_threshold = IMAGE_MAX_CONTAINER_THRESHOLD * count
    total = min(max(total, IMAGE_MIN_THRESHOLD), max_threshold)
    return go_div(MAX_NODE_SCORE * (total - IMAGE_MIN_THRESHOLD), max_threshold - IMAGE_MIN_THRESHOLD)


def plugin_scores(pod: JSON, feasible: Sequence[NodeInfo], all_nodes: Sequence[NodeInfo]) -> dict[str, dict[str, int]]:
    """Per plugin, per feasible node: the final (normalised, weighted) score.

    ``all_nodes`` is every node of the snapshot: ImageLocality's spread counts them all.
    """
    # pkg/scheduler/framework/runtime/framework.go: RunScorePlugins (score, normalise, multiply by weight)
    taints = default_normalize({i.name: taint_toleration_raw(pod, i) for i in feasible}, reverse=True)
    affinity = default_normalize({i.name: node_affinity_raw(pod, i) for i in feasible})
    states = image_states(all_nodes)
    unweighted = {
        "TaintToleration": taints,
        "NodeAffinity": affinity,
        "NodeResourcesFit": {i.name: least_allocated(pod, i) for i in feasible},
        "NodeResourcesBalancedAllocation": {i.name: balanced_allocation(pod, i) for i in feasible},
        "ImageLocality": {i.name: image_locality(pod, i, states, len(all_nodes)) for i in feasible},
    }
    return {plugin: {n: s * WEIGHTS[plugin] for n, s in by_node.items()} for plugin, by_node in unweighted.items()}


def total_scores(per_plugin: Mapping[str, Mapping[str, int]]) -> dict[str, int]:
    """Sum of the weighted plugin scores per node."""
    out: dict[str, int] = {}
    for by_node in per_plugin.values():
        for n, s in by_node.items():
            out[n] = out.get(n, 0) + s
    return out
