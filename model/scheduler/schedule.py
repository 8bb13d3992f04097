"""One scheduling cycle for one pod: PreFilter, Filter over (a part of) the nodes, Score, and the answer.

The answer is a :class:`Decision`: the nodes found feasible, their scores, the
set of nodes with the top score (upstream picks one of them at random, so any is
correct), and for infeasible nodes the reasons that make up the FitError
message when nothing fits.

How many nodes are examined: with fewer than 100 nodes, all of them. With more,
upstream stops once :func:`num_feasible_nodes_to_find` feasible nodes are found,
starting at an index that rotates from cycle to cycle. Given ``start_index``
the model walks the nodes from there one at a time, as a scheduler with
parallelism 1 does (with the default 16 workers the nodes examined past the
quota can differ), and says which nodes it checked and where the next cycle
starts. Without ``start_index`` it examines every node and marks the decision
``exact=False``: feasibility per node is then still exact, but the scheduler's
choice may lie outside ``top`` because it scored only a subset.

The caller must pass the nodes in the order of the scheduler's snapshot for
``start_index`` to mean the same thing as upstream's index.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from model.scheduler.filters import fits
from model.scheduler.matching import required_node_affinity
from model.scheduler.nodeinfo import NodeInfo
from model.scheduler.scores import plugin_scores, total_scores

JSON = dict[str, Any]

# pkg/scheduler/schedule_one.go: minFeasibleNodesToFind, minFeasibleNodesPercentageToFind
MIN_FEASIBLE_NODES_TO_FIND = 100
MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND = 5

# pkg/scheduler/scheduler.go: ErrNoNodesAvailable
NO_NODES_AVAILABLE = "no nodes available to schedule pods"
# pkg/scheduler/framework/plugins/nodeaffinity/node_affinity.go: errReasonConflict
ERR_AFFINITY_CONFLICT = "pod affinity terms conflict"
# pkg/scheduler/schedule_one.go: findNodesThatFitPod (status of nodes a PreFilterResult left out)
ERR_PREFILTER_NODE_AFFINITY = "node(s) didn't satisfy plugin(s) [NodeAffinity]"


def num_feasible_nodes_to_find(num_all_nodes: int, percentage: int = 0) -> int:
    """How many feasible nodes end the search: all below 100 nodes, else a share of at least 100 nodes.

    ``percentage`` 0 means adaptive: 50% minus 1% per 125 nodes, never below 5%.
    """
    # pkg/scheduler/schedule_one.go: numFeasibleNodesToFind
    if num_all_nodes < MIN_FEASIBLE_NODES_TO_FIND:
        return num_all_nodes
    if percentage == 0:
        percentage = max(50 - num_all_nodes // 125, MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND)
    return max(num_all_nodes * percentage // 100, MIN_FEASIBLE_NODES_TO_FIND)


@dataclass(frozen=True)
class Decision:
    """What the model requires of one scheduling attempt.

    ``feasible``: nodes that passed every filter (among those examined).
    ``scores``: total weighted score per feasible node; ``plugin_scores`` the
    weighted score per plugin. ``top``: feasible nodes with the highest total,
    any of which is a correct choice (a single feasible node is chosen without
    scoring). ``reasons``: per infeasible node, the reasons upstream records.
    ``checked``: the nodes the filters ran on, in order. ``exact``: whether the
    model examined the same nodes upstream does. ``next_start_index``: where the
    following cycle starts when ``start_index`` was given. ``nominated``: the
    pod's nominated node passed the filters and was taken without looking
    further. ``prefilter_message``: set when PreFilter rejected the pod outright.
    """

    feasible: frozenset[str]
    scores: dict[str, int]
    top: frozenset[str]
    reasons: dict[str, tuple[str, ...]]
    num_all_nodes: int
    checked: tuple[str, ...] = ()
    exact: bool = True
    plugin_scores: dict[str, dict[str, int]] = field(default_factory=dict)
    next_start_index: int | None = None
    nominated: bool = False
    prefilter_message: str = ""

    @property
    def schedulable(self) -> bool:
        return bool(self.feasible)

    @property
    def fit_error(self) -> str | None:
        """The scheduler's message when no node fits (without the preemption suffix), else ``None``.

        ``0/N nodes are available: <count> <reason>, ... .`` with the "count reason"
        strings sorted as strings; a PreFilter rejection replaces the histogram.
        """
        # pkg/scheduler/framework/types.go: FitError.Error
        if self.feasible:
            return None
        if self.num_all_nodes == 0:
            return NO_NODES_AVAILABLE
        msg = f"0/{self.num_all_nodes} nodes are available:"
        if self.prefilter_message:
            return msg + f" {self.prefilter_message}."
        histogram = Counter(r for reasons in self.reasons.values() for r in reasons)
        parts = sorted(f"{count} {reason}" for reason, count in histogram.items())
        return msg + (f" {', '.join(parts)}." if parts else "")


def _prefilter_node_names(pod: JSON) -> set[str] | None:
    """Node names NodeAffinity's PreFilter narrows the search to, or None for all nodes.

    Every term must name nodes through a ``metadata.name In`` field requirement
    (intersected within a term, united across terms); one term without it keeps
    every node.
    """
    # pkg/scheduler/framework/plugins/nodeaffinity/node_affinity.go: PreFilter
    required = required_node_affinity(pod)
    if required is None:
        return None
    terms = required.get("nodeSelectorTerms") or []
    if not terms:
        return None
    names: set[str] = set()
    for term in terms:
        term_names: set[str] | None = None
        for req in term.get("matchFields") or []:
            if req.get("key") == "metadata.name" and req.get("operator") == "In":
                values = set(req.get("values") or [])
                term_names = values if term_names is None else term_names & values
        if term_names is None:
            return None
        names |= term_names
    return names


def _search(pod: JSON, nodes: Sequence[NodeInfo], start: int, quota: int) -> tuple[list[NodeInfo], dict, list[str]]:
    """Walk ``nodes`` from ``start``: keep feasible ones up to ``quota``; stop at the first feasible one past it."""
    # pkg/scheduler/schedule_one.go: findNodesThatPassFilters (one worker)
    feasible: list[NodeInfo] = []
    reasons: dict[str, tuple[str, ...]] = {}
    checked: list[str] = []
    for i in range(len(nodes)):
        info = nodes[(start + i) % len(nodes)]
        checked.append(info.name)
        why = fits(pod, info)
        if why:
            reasons[info.name] = why
        elif len(feasible) < quota:
            feasible.append(info)
        else:
            break
    return feasible, reasons, checked


def schedule(pod: JSON, node_infos: Sequence[NodeInfo], *, start_index: int | None = None) -> Decision:
    """The model's answer for scheduling ``pod`` onto the snapshot ``node_infos``.

    Models the default profile's NodeName, NodeUnschedulable, TaintToleration,
    NodeAffinity, NodePorts and NodeResourcesFit filters and its TaintToleration,
    NodeAffinity, NodeResourcesFit (LeastAllocated), NodeResourcesBalancedAllocation
    and ImageLocality scores. Plugins the default profile also runs (volume
    plugins, PodTopologySpread, InterPodAffinity, DynamicResources, ...) are
    assumed to pass and to score every node alike, which holds for pods without
    volumes, claims, topology spread constraints or pod (anti-)affinity, not
    selected by any Service/ReplicaSet/StatefulSet/ReplicationController, and
    with no pods on the nodes carrying pod affinity.

    A pod whose status.nominatedNodeName names a node that passes the filters
    gets that node alone, as upstream tries it first and stops there.
    """
    # pkg/scheduler/schedule_one.go: schedulePod, findNodesThatFitPod
    infos = list(node_infos)
    n_all = len(infos)
    if not infos:
        return Decision(frozenset(), {}, frozenset(), {}, 0, next_start_index=start_index)
    narrowed = _prefilter_node_names(pod)
    if narrowed is not None and not narrowed:
        reasons = {i.name: (ERR_AFFINITY_CONFLICT,) for i in infos}
        return Decision(frozenset(), {}, frozenset(), reasons, n_all, next_start_index=start_index,
                        prefilter_message=ERR_AFFINITY_CONFLICT)

    explicit: dict[str, tuple[str, ...]] = {}
    wanted = (pod.get("status") or {}).get("nominatedNodeName") or ""
    for info in infos:
        if wanted and info.name == wanted:
            why = fits(pod, info)
            if not why:
                one = frozenset({info.name})
                return Decision(one, {}, one, {}, n_all, checked=(info.name,), nominated=True,
                                next_start_index=start_index)
            explicit[info.name] = why

    nodes = infos if narrowed is None else [i for i in infos if i.name in narrowed]
    quota = num_feasible_nodes_to_find(len(nodes))
    if start_index is None:
        feasible, found, checked = _search(pod, nodes, 0, len(nodes))
        exact, next_start = quota >= len(nodes), None
    else:
        feasible, found, checked = _search(pod, nodes, start_index, quota)
        exact, next_start = True, (start_index + len(feasible) + len({**explicit, **found})) % n_all
    explicit.update(found)
    absent = {} if narrowed is None else {i.name: (ERR_PREFILTER_NODE_AFFINITY,) for i in infos
                                          if i.name not in narrowed}
    reasons = {**absent, **explicit}
    names = frozenset(i.name for i in feasible)
    if not feasible:
        return Decision(names, {}, frozenset(), reasons, n_all, tuple(checked), exact, {}, next_start)
    per_plugin = plugin_scores(pod, feasible, infos)
    scores = total_scores(per_plugin)
    if len(feasible) == 1:
        top = names  # one feasible node is taken without scoring
    else:
        best = max(scores.values())
        top = frozenset(n for n, s in scores.items() if s == best)
    return Decision(names, scores, top, reasons, n_all, tuple(checked), exact, per_plugin, next_start)
