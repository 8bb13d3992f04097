"""Filter plugins of the default profile that the model covers, in the profile's order.

Each filter answers the failure reasons upstream records for a node (empty when
the node passes). Upstream stops at the first failing plugin, so a node's
recorded reasons are those of that plugin alone: :func:`fits` answers that, and
:func:`all_reasons` every plugin's reasons for diagnosis.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from model.scheduler.matching import (
    NO_SCHEDULE,
    TAINT_NODE_UNSCHEDULABLE,
    first_untolerated,
    matches_required_affinity,
    pod_tolerations,
    tolerated,
)
from model.scheduler.nodeinfo import BIND_ALL, NodeInfo, host_ports
from model.scheduler.requests import requests

JSON = dict[str, Any]
Filter = Callable[[JSON, NodeInfo], tuple[str, ...]]

# pkg/scheduler/framework/plugins/nodename/node_name.go: ErrReason
ERR_NODE_NAME = "node(s) didn't match the requested node name"
# pkg/scheduler/framework/plugins/nodeunschedulable/node_unschedulable.go: ErrReasonUnschedulable
ERR_UNSCHEDULABLE = "node(s) were unschedulable"
# pkg/scheduler/framework/plugins/tainttoleration/taint_toleration.go: Filter (the status it returns)
ERR_TAINTS = "node(s) had untolerated taint(s)"
# pkg/scheduler/framework/plugins/nodeaffinity/node_affinity.go: ErrReasonPod
ERR_AFFINITY = "node(s) didn't match Pod's node affinity/selector"
# pkg/scheduler/framework/plugins/nodeports/node_ports.go: ErrReason
ERR_PORTS = "node(s) didn't have free ports for the requested pod ports"
# pkg/scheduler/framework/plugins/noderesources/fit.go: fitsRequest
ERR_TOO_MANY_PODS = "Too many pods"
ERR_CPU = "Insufficient cpu"
ERR_MEMORY = "Insufficient memory"
ERR_EPHEMERAL = "Insufficient ephemeral-storage"


def node_name(pod: JSON, info: NodeInfo) -> tuple[str, ...]:
    """spec.nodeName, when set, must be this node."""
    # pkg/scheduler/framework/plugins/nodename/node_name.go: Fits
    wanted = (pod.get("spec") or {}).get("nodeName") or ""
    return () if not wanted or wanted == info.name else (ERR_NODE_NAME,)


def node_unschedulable(pod: JSON, info: NodeInfo) -> tuple[str, ...]:
    """A cordoned node takes only pods tolerating the unschedulable NoSchedule taint."""
    # pkg/scheduler/framework/plugins/nodeunschedulable/node_unschedulable.go: Filter
    if not (info.node.get("spec") or {}).get("unschedulable"):
        return ()
    taint = {"key": TAINT_NODE_UNSCHEDULABLE, "effect": NO_SCHEDULE}
    return () if tolerated(pod_tolerations(pod), taint) else (ERR_UNSCHEDULABLE,)


def taint_toleration(pod: JSON, info: NodeInfo) -> tuple[str, ...]:
    """Every NoSchedule and NoExecute taint must be tolerated; PreferNoSchedule only scores."""
    # pkg/scheduler/framework/plugins/tainttoleration/taint_toleration.go: Filter
    return () if first_untolerated(pod, info.node) is None else (ERR_TAINTS,)


def node_affinity(pod: JSON, info: NodeInfo) -> tuple[str, ...]:
    """spec.nodeSelector and required node affinity."""
    # pkg/scheduler/framework/plugins/nodeaffinity/node_affinity.go: Filter
    return () if matches_required_affinity(pod, info.node) else (ERR_AFFINITY,)


def port_conflict(used: frozenset[tuple[str, str, int]], want: tuple[str, str, int]) -> bool:
    """A wildcard address clashes with the same protocol/port on any address; a specific one with itself or 0.0.0.0."""
    # kube-scheduler/framework/types.go: HostPortInfo.CheckConflict
    ip, protocol, port = want
    if ip == BIND_ALL:
        return any((p, n) == (protocol, port) for _, p, n in used)
    return (BIND_ALL, protocol, port) in used or (ip, protocol, port) in used


def node_ports(pod: JSON, info: NodeInfo) -> tuple[str, ...]:
    """No host port of the pod may clash with one the node's pods hold."""
    # pkg/scheduler/framework/plugins/nodeports/node_ports.go: fitsPorts
    clash = any(port_conflict(info.used_ports, hp) for hp in host_ports(pod))
    return (ERR_PORTS,) if clash else ()


def node_resources_fit(pod: JSON, info: NodeInfo) -> tuple[str, ...]:
    """Pod count first, then cpu, memory, ephemeral-storage; a resource the pod requests 0 of is not checked."""
    # pkg/scheduler/framework/plugins/noderesources/fit.go: fitsRequest
    req, used, alloc = requests(pod), info.requested, info.allocatable
    out: list[str] = []
    if len(info.pods) + 1 > alloc.pods:
        out.append(ERR_TOO_MANY_PODS)
    if req.milli_cpu == 0 and req.memory == 0 and req.ephemeral_storage == 0:
        return tuple(out)
    if req.milli_cpu > 0 and req.milli_cpu > alloc.milli_cpu - used.milli_cpu:
        out.append(ERR_CPU)
    if req.memory > 0 and req.memory > alloc.memory - used.memory:
        out.append(ERR_MEMORY)
    if req.ephemeral_storage > 0 and req.ephemeral_storage > alloc.ephemeral_storage - used.ephemeral_storage:
        out.append(ERR_EPHEMERAL)
    return tuple(out)


# pkg/scheduler/apis/config/v1/default_plugins.go: getDefaultPlugins (filter order)
FILTERS: tuple[tuple[str, Filter], ...] = (
    ("NodeName", node_name),
    ("NodeUnschedulable", node_unschedulable),
    ("TaintToleration", taint_toleration),
    ("NodeAffinity", node_affinity),
    ("NodePorts", node_ports),
    ("NodeResourcesFit", node_resources_fit),
)


def fits(pod: JSON, info: NodeInfo) -> tuple[str, ...]:
    """The reasons upstream records for this node: those of the first failing filter; empty means feasible."""
    # pkg/scheduler/framework/runtime/framework.go: RunFilterPlugins
    for _, check in FILTERS:
        reasons = check(pod, info)
        if reasons:
            return reasons
    return ()


def all_reasons(pod: JSON, info: NodeInfo) -> dict[str, tuple[str, ...]]:
    """Every failing filter's reasons, by plugin name (for diagnosis; upstream records only the first)."""
    out = {}
    for name, check in FILTERS:
        reasons = check(pod, info)
        if reasons:
            out[name] = reasons
    return out
