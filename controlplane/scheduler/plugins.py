"""The scheduling algorithm: PreFilter, Filter, Score and host selection with the default plugin set.

Filters run in the default profile's order (apis/config/v1/default_plugins.go:
NodeName, NodeUnschedulable, TaintToleration, NodeAffinity, NodePorts,
NodeResourcesFit) and stop at the first rejection, as
framework/runtime/framework.go: RunFilterPlugins does. Scores use the default
weights and Go int64 arithmetic. Seeded faults switch parts off exactly where
the rule lives.
"""

from __future__ import annotations

import functools
import random
from collections import Counter
from dataclasses import dataclass, field

from ..faults import FaultSet
from .cache import Cache, NodeInfo
from .objects import UNSCHEDULABLE_TAINT_KEY, PodInfo, tolerated

MAX_NODE_SCORE = 100  # kube-scheduler/framework/interface.go: MaxNodeScore
MIN_FEASIBLE_NODES = 100  # schedule_one.go: minFeasibleNodesToFind
MIN_FEASIBLE_PERCENTAGE = 5  # schedule_one.go: minFeasibleNodesPercentageToFind

# default_plugins.go: score weights
W_TAINT, W_AFFINITY, W_LEAST, W_BALANCED, W_IMAGE = 3, 2, 1, 1, 1

# the filters' reasons (each plugin file's ErrReason constants)
R_NODE_NAME = "node(s) didn't match the requested node name"  # nodename/node_name.go
R_UNSCHEDULABLE = "node(s) were unschedulable"  # nodeunschedulable/node_unschedulable.go
R_TAINT = "node(s) had untolerated taint(s)"  # tainttoleration/taint_toleration.go: Filter
R_AFFINITY = "node(s) didn't match Pod's node affinity/selector"  # nodeaffinity/node_affinity.go
R_AFFINITY_CONFLICT = "pod affinity terms conflict"  # nodeaffinity/node_affinity.go: PreFilter
R_PORTS = "node(s) didn't have free ports for the requested pod ports"  # nodeports/node_ports.go
R_PODS, R_CPU, R_MEM, R_EPH = ("Too many pods", "Insufficient cpu", "Insufficient memory",
                               "Insufficient ephemeral-storage")  # noderesources/fit.go: fitsRequest
R_PREFILTER_NODES = "node(s) didn't satisfy plugin(s) [NodeAffinity]"  # schedule_one.go: findNodesThatFitPod
NO_NODES = "no nodes available to schedule pods"  # scheduler.go: ErrNoNodesAvailable

# imagelocality/image_locality.go thresholds
_MB = 1024 * 1024
_MIN_IMAGE_THRESHOLD = 23 * _MB
_MAX_CONTAINER_THRESHOLD = 1000 * _MB


def go_div(a: int, b: int) -> int:
    """Go integer division: truncates toward zero."""
    if a >= 0 and b > 0:
        return a // b  # the common case, where floor and truncation agree
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


@dataclass
class Result:
    """The outcome of one scheduling attempt (schedule_one.go: ScheduleResult or a FitError)."""

    node: str | None
    message: str | None = None
    error: bool = False  # True: an error (no nodes), not a filter rejection
    evaluated: int = 0
    feasible: int = 0
    scores: dict[str, int] = field(default_factory=dict)


def num_feasible_nodes_to_find(num_all: int, percentage: int) -> int:
    """schedule_one.go: numFeasibleNodesToFind."""
    if num_all < MIN_FEASIBLE_NODES:
        return num_all
    if percentage == 0:
        percentage = max(50 - go_div(num_all, 125), MIN_FEASIBLE_PERCENTAGE)
    n = go_div(num_all * percentage, 100)
    return max(n, MIN_FEASIBLE_NODES)


def fit_error_message(num_all: int, statuses: list[tuple[str, ...]], absent_reason: str | None) -> str:
    """framework/types.go: FitError.Error -- a sorted histogram of every rejecting node's reasons."""
    counts: Counter[str] = Counter()
    for reasons in statuses:
        counts.update(reasons)
    if absent_reason is not None and len(statuses) < num_all:
        counts[absent_reason] += num_all - len(statuses)
    msg = f"0/{num_all} nodes are available:"
    parts = sorted(f"{n} {r}" for r, n in counts.items())
    if parts:
        msg += f" {', '.join(parts)}."
    return msg


class Algorithm:
    """One replica's scheduling algorithm; it keeps the rotating start index between cycles."""

    def __init__(self, faults: FaultSet, rng: random.Random, percentage_of_nodes_to_score: int = 0) -> None:
        self.rng = rng
        self.percentage = percentage_of_nodes_to_score
        self.next_start = 0
        self.ignores_taints = faults.enabled("scheduler.ignores-taints")
        self.slack = 1 if faults.enabled("scheduler.resources-off-by-one") else 0
        self.first_feasible = faults.enabled("scheduler.picks-first-feasible")

    # ---- the cycle ----

    def schedule(self, pod: PodInfo, cache: Cache) -> Result:
        """schedule_one.go: schedulePod -- filter (from the rotating start), score, pick."""
        nodes = cache.node_list()
        num_all = len(nodes)
        if num_all == 0:
            return Result(None, NO_NODES, error=True)
        if pod.required_conflict:
            # a PreFilter rejection: its message alone, no per-node histogram
            return Result(None, f"0/{num_all} nodes are available: {R_AFFINITY_CONFLICT}.")
        subset, absent = nodes, None
        if pod.required_names is not None:
            subset = [cache.nodes[n] for n in sorted(pod.required_names)
                      if n in cache.nodes and cache.nodes[n].node is not None]
            absent = R_PREFILTER_NODES
        feasible, statuses = self._find_feasible(pod, subset)
        # schedule_one.go: findNodesThatFitPod -- the start index moves on by the nodes processed
        self.next_start = (self.next_start + len(feasible) + len(statuses)) % num_all
        evaluated = len(feasible) + len(statuses)
        if not feasible:
            return Result(None, fit_error_message(num_all, statuses, absent), evaluated=evaluated)
        if self.first_feasible:
            return Result(min(n.name for n in feasible), evaluated=evaluated, feasible=len(feasible))
        if len(feasible) == 1:
            return Result(feasible[0].name, evaluated=evaluated, feasible=1)
        scores = self._score(pod, feasible, num_all)
        return Result(self._select(feasible, scores), evaluated=evaluated, feasible=len(feasible),
                      scores={n.name: s for n, s in zip(feasible, scores, strict=True)})

    def _find_feasible(self, pod: PodInfo, nodes: list[NodeInfo]) -> tuple[list[NodeInfo], list[tuple[str, ...]]]:
        """schedule_one.go: findNodesThatPassFilters -- stops once enough feasible nodes are found."""
        m = len(nodes)
        want = num_feasible_nodes_to_find(m, self.percentage)
        feasible: list[NodeInfo] = []
        statuses: list[tuple[str, ...]] = []
        if m == 0:
            return feasible, statuses
        start = self.next_start
        for i in range(m):
            ni = nodes[(start + i) % m]
            reasons = self.filter(pod, ni)
            if reasons:
                statuses.append(reasons)
            else:
                feasible.append(ni)
                if len(feasible) >= want:
                    break
        return feasible, statuses

    def _select(self, feasible: list[NodeInfo], scores: list[int]) -> str:
        """schedule_one.go: selectHost -- the highest total; ties by reservoir sampling with the replica's rng."""
        best = scores[0]
        chosen = feasible[0].name
        ties = 1
        for ni, s in zip(feasible[1:], scores[1:], strict=True):
            if s > best:
                best, chosen, ties = s, ni.name, 1
            elif s == best:
                ties += 1
                if self.rng.randrange(ties) == 0:
                    chosen = ni.name
        return chosen

    # ---- filters ----

    def filter(self, pod: PodInfo, ni: NodeInfo) -> tuple[str, ...]:
        """framework.go: RunFilterPlugins -- the first rejecting plugin's reasons; empty when the node fits."""
        node = ni.node
        assert node is not None
        # nodename/node_name.go: Fits
        if pod.node_name and pod.node_name != ni.name:
            return (R_NODE_NAME,)
        # nodeunschedulable/node_unschedulable.go: Filter
        if node.unschedulable and not tolerated(pod.tolerations, (UNSCHEDULABLE_TAINT_KEY, "", "NoSchedule")):
            return (R_UNSCHEDULABLE,)
        # tainttoleration/taint_toleration.go: Filter (NoSchedule and NoExecute only)
        if node.taints and not self.ignores_taints:
            for t in node.taints:
                if t[2] in ("NoSchedule", "NoExecute") and not tolerated(pod.tolerations, t):
                    return (R_TAINT,)
        # nodeaffinity/node_affinity.go: Filter (nodeSelector and required terms)
        if pod.node_selector or pod.required is not None:
            if not _required_match(pod, node.labels, ni.name):
                return (R_AFFINITY,)
        # nodeports/node_ports.go: fitsPorts
        if pod.ports and ni.ports:
            if any(ni.port_conflict(p) for p in pod.ports):
                return (R_PORTS,)
        return self._fits_resources(pod, ni)

    def _fits_resources(self, pod: PodInfo, ni: NodeInfo) -> tuple[str, ...]:
        """noderesources/fit.go: fitsRequest -- every insufficient resource is a reason."""
        node = ni.node
        assert node is not None
        slack = self.slack
        out: list[str] = []
        if len(ni.pods) + 1 > node.alloc_pods + slack:
            out.append(R_PODS)
        if pod.milli_cpu == 0 and pod.memory == 0 and pod.ephemeral == 0:
            return tuple(out)
        if pod.milli_cpu > 0 and pod.milli_cpu > node.alloc_cpu - ni.req_cpu + slack:
            out.append(R_CPU)
        if pod.memory > 0 and pod.memory > node.alloc_mem - ni.req_mem + slack:
            out.append(R_MEM)
        if pod.ephemeral > 0 and pod.ephemeral > node.alloc_eph - ni.req_eph + slack:
            out.append(R_EPH)
        return tuple(out)

    # ---- scores ----

    def _score(self, pod: PodInfo, nodes: list[NodeInfo], num_all: int) -> list[int]:
        """framework.go: RunScorePlugins -- raw scores, each plugin's normalisation, then the weighted sum."""
        taint = _normalize([_taint_count(pod, ni) for ni in nodes], reverse=True)
        totals = [W_TAINT * t for t in taint]
        if pod.preferred:  # node_affinity.go: PreScore skips the plugin when there are no preferred terms
            affinity = _normalize([_affinity_score(pod, ni) for ni in nodes], reverse=False)
            totals = [t + W_AFFINITY * a for t, a in zip(totals, affinity, strict=True)]
        balanced_skip = pod.milli_cpu == 0 and pod.memory == 0  # balanced_allocation.go: isBestEffortPod
        no_images = W_IMAGE * _image_locality(pod, None, num_all)  # a node with none of the pod's images
        # the two resource scores depend on the node's spec and sums and on the pod's requests alone: a node
        # keeps them for the last pod shape scored on it until its pods or spec change (NodeInfo.version)
        shape = (pod.milli_cpu, pod.memory, pod.non0_cpu, pod.non0_mem)
        for i, ni in enumerate(nodes):
            memo = ni.memo
            if memo is not None and memo[0] is ni.node and memo[1] == ni.version and memo[2] == shape:
                s = memo[3]
            else:
                s = W_LEAST * _least_allocated(pod, ni)
                if not balanced_skip:
                    s += W_BALANCED * _balanced(pod, ni)
                ni.memo = (ni.node, ni.version, shape, s)
            s += W_IMAGE * _image_locality(pod, ni, num_all) if ni.images else no_images
            totals[i] += s
        return totals


def _required_match(pod: PodInfo, labels: dict[str, str], name: str) -> bool:
    """component-helpers/.../nodeaffinity.go: RequiredNodeAffinity.Match."""
    for k, v in pod.node_selector.items():
        if labels.get(k) != v:
            return False
    if pod.required is not None:
        return any(t.matches(labels, name) for t in pod.required)
    return True


def _normalize(scores: list[int], *, reverse: bool) -> list[int]:
    """plugins/helper/normalize_score.go: DefaultNormalizeScore."""
    top = max(max(scores), 0)
    if top == 0:
        return [MAX_NODE_SCORE] * len(scores) if reverse else scores
    out = [go_div(MAX_NODE_SCORE * s, top) for s in scores]
    return [MAX_NODE_SCORE - s for s in out] if reverse else out


def _taint_count(pod: PodInfo, ni: NodeInfo) -> int:
    """taint_toleration.go: countIntolerableTaintsPreferNoSchedule, with the pod's PreferNoSchedule tolerations."""
    node = ni.node
    assert node is not None
    if not node.taints:
        return 0
    tols = tuple(t for t in pod.tolerations if t[3] in ("", "PreferNoSchedule"))
    return sum(1 for t in node.taints if t[2] == "PreferNoSchedule" and not tolerated(tols, t))


def _affinity_score(pod: PodInfo, ni: NodeInfo) -> int:
    """nodeaffinity.go: PreferredSchedulingTerms.Score -- the weights of the matching preferred terms."""
    node = ni.node
    assert node is not None
    return sum(w for w, t in pod.preferred if t.matches(node.labels, ni.name))


def _least_requested(requested: int, capacity: int) -> int:
    """noderesources/least_allocated.go: leastRequestedScore."""
    if capacity == 0 or requested > capacity:
        return 0
    return go_div((capacity - requested) * MAX_NODE_SCORE, capacity)


def _least_allocated(pod: PodInfo, ni: NodeInfo) -> int:
    """least_allocated.go: leastResourceScorer over cpu and memory (weight 1 each), non-zero requests."""
    node = ni.node
    assert node is not None
    total = weights = 0
    if node.alloc_cpu:
        total += _least_requested(ni.non0_cpu + pod.non0_cpu, node.alloc_cpu)
        weights += 1
    if node.alloc_mem:
        total += _least_requested(ni.non0_mem + pod.non0_mem, node.alloc_mem)
        weights += 1
    return go_div(total, weights) if weights else 0


@functools.lru_cache(maxsize=8192)
def _balance(cpu: int, mem: int, alloc_cpu: int, alloc_mem: int) -> int:
    """balanced_allocation.go: balancedResourceScore for cpu and memory."""
    fractions = []
    if alloc_cpu:
        fractions.append(min(cpu / alloc_cpu, 1.0))
    if alloc_mem:
        fractions.append(min(mem / alloc_mem, 1.0))
    std = abs((fractions[0] - fractions[1]) / 2) if len(fractions) == 2 else 0.0
    return int((1 - std) * float(MAX_NODE_SCORE))


def _balanced(pod: PodInfo, ni: NodeInfo) -> int:
    """balanced_allocation.go: balancedResourceScorer -- how much the pod improves the node's balance."""
    node = ni.node
    assert node is not None
    with_pod = _balance(ni.req_cpu + pod.milli_cpu, ni.req_mem + pod.memory, node.alloc_cpu, node.alloc_mem)
    without = _balance(ni.req_cpu, ni.req_mem, node.alloc_cpu, node.alloc_mem)
    half = MAX_NODE_SCORE // 2
    return half + go_div(half + with_pod - without, 2)


def _image_locality(pod: PodInfo, ni: NodeInfo | None, num_all: int) -> int:
    """imagelocality/image_locality.go: sumImageScores and calculatePriority (``ni`` None: a node holding none of
    the pod's images)."""
    total = 0
    if ni is not None and ni.images:
        for name in pod.images:
            st = ni.images.get(name)
            if st is not None:
                total += int(float(st.size) * (float(len(st.nodes)) / float(num_all)))
    top = _MAX_CONTAINER_THRESHOLD * pod.image_count
    if total < _MIN_IMAGE_THRESHOLD:
        total = _MIN_IMAGE_THRESHOLD
    elif total > top:
        total = top
    if top == _MIN_IMAGE_THRESHOLD:
        return 0
    return go_div(MAX_NODE_SCORE * (total - _MIN_IMAGE_THRESHOLD), top - _MIN_IMAGE_THRESHOLD)
