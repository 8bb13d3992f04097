"""Reference model of kube-scheduler's default profile for one pod (upstream v1.37.2), as pure functions.

Covered: the NodeName, NodeUnschedulable, TaintToleration, NodeAffinity,
NodePorts and NodeResourcesFit filters; the TaintToleration (weight 3),
NodeAffinity (2), NodeResourcesFit LeastAllocated (1),
NodeResourcesBalancedAllocation (1) and ImageLocality (1) scores; the
NodeAffinity PreFilter's narrowing by node name; the nominated-node shortcut;
numFeasibleNodesToFind and the FitError message. :func:`fits` answers the
reasons upstream records for a node (those of the first failing filter, as the
framework stops there); :func:`all_reasons` gives every failing filter's.

Deliberately not modelled, although the v1.37 default profile enables them:
PodTopologySpread (weight 2) and InterPodAffinity (weight 2), the volume
plugins, DynamicResources, NodeDeclaredFeatures, SchedulingGates, preemption,
extended resources and hugepages, requests taken from a resize in progress
(status resources), and nominated pods of other pods counted as running. See
:func:`model.scheduler.schedule.schedule` for when the ignored plugins cannot
change the answer, and :func:`omitted_scores` for the score plugins among them
that may score a given pod (the OpportunisticBatching hint never applies under
the default profile: see model/scheduler/omitted.py). ImageLocality counts an
image's nodes across the given nodes, unless a NodeInfo carries the count its
scheduler's snapshot of that node holds (``NodeInfo.image_nodes``:
kube-scheduler copies a node into its snapshot only when the node changed).
"""

from __future__ import annotations

from model.scheduler.filters import FILTERS, all_reasons, fits
from model.scheduler.nodeinfo import NodeInfo, allocatable, host_ports, node_images, node_info, overcommitted
from model.scheduler.omitted import omitted_scores
from model.scheduler.requests import Resources, non_zero_requests, requests, scoring_requests
from model.scheduler.schedule import Decision, num_feasible_nodes_to_find, schedule
from model.scheduler.scores import WEIGHTS, default_normalize, plugin_scores

__all__ = [
    "FILTERS",
    "WEIGHTS",
    "Decision",
    "NodeInfo",
    "Resources",
    "all_reasons",
    "allocatable",
    "default_normalize",
    "fits",
    "host_ports",
    "node_images",
    "node_info",
    "non_zero_requests",
    "num_feasible_nodes_to_find",
    "omitted_scores",
    "overcommitted",
    "plugin_scores",
    "requests",
    "schedule",
    "scoring_requests",
]
