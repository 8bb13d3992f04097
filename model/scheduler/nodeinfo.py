"""A node together with the pods the scheduler counts on it (framework/types.go: NodeInfo).

The caller decides which pods count (bound ones, assumed ones, ...); upstream's
cache holds every pod whose spec.nodeName is the node and that is neither
Succeeded nor Failed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from model.scheduler.quantity import milli_value, value
from model.scheduler.requests import (
    CPU,
    EPHEMERAL_STORAGE,
    MEMORY,
    PODS,
    Resources,
    non_zero_requests,
    requests,
    resource_list,
    total,
)

JSON = dict[str, Any]

# kube-scheduler/framework/types.go: DefaultBindAllHostIP
BIND_ALL = "0.0.0.0"

HostPort = tuple[str, str, int]  # (hostIP, protocol, hostPort) after defaulting


def host_ports(pod: JSON) -> tuple[HostPort, ...]:
    """The pod's host ports: sidecar init containers first, then containers; hostPort > 0 only.

    An empty hostIP means every address and an empty protocol means TCP.
    """
    # pkg/scheduler/util/utils.go: GetHostPorts; kube-scheduler/framework/types.go: HostPortInfo.sanitize
    spec = pod.get("spec") or {}
    containers = [c for c in spec.get("initContainers") or [] if c.get("restartPolicy") == "Always"]
    containers += spec.get("containers") or []
    out: list[HostPort] = []
    for c in containers:
        for p in c.get("ports") or []:
            port = p.get("hostPort") or 0
            if port > 0:
                out.append((p.get("hostIP") or BIND_ALL, p.get("protocol") or "TCP", port))
    return tuple(out)


def allocatable(node: JSON) -> Resources:
    """status.allocatable as integers; a missing entry is 0 (a node without ``pods`` takes no pod)."""
    # pkg/scheduler/framework/types.go: NodeInfo.SetNode, Resource.Add
    alloc = resource_list((node.get("status") or {}).get("allocatable"))
    zero = Decimal(0)
    return Resources(milli_value(alloc.get(CPU, zero)), value(alloc.get(MEMORY, zero)),
                     value(alloc.get(EPHEMERAL_STORAGE, zero)), value(alloc.get(PODS, zero)))


def node_images(node: JSON) -> dict[str, int]:
    """Image name -> size in bytes, from status.images (each name of an entry; first entry wins)."""
    # pkg/scheduler/backend/cache/cache.go: addNodeImageStates
    out: dict[str, int] = {}
    for image in (node.get("status") or {}).get("images") or []:
        for name in image.get("names") or []:
            out.setdefault(name, int(image.get("sizeBytes") or 0))
    return out


@dataclass(frozen=True)
class NodeInfo:
    """Plain data the filters and scores read.

    ``requested`` sums :func:`requests` of the pods (``pods`` is their count);
    ``non_zero_requested`` sums :func:`non_zero_requests`; ``used_ports`` is the
    set of host ports the pods hold; ``images`` maps image names on the node to
    their size.
    """

    node: JSON
    pods: tuple[JSON, ...]
    requested: Resources
    non_zero_requested: Resources
    allocatable: Resources
    used_ports: frozenset[HostPort]
    images: dict[str, int] = field(default_factory=dict)
    #: per image name, how many nodes have it as the scheduler's copy of this node counts them; None: as all the
    #: nodes now do. kube-scheduler counts when it copies the node into its snapshot, and copies only the nodes
    #: whose own state changed since (pkg/scheduler/backend/cache/cache.go: UpdateSnapshot skips a node whose
    #: generation did not move; kube-scheduler/framework/types.go: ImageStateSummary.Snapshot counts Nodes), so a
    #: node added with an image leaves the other nodes having it at the older count until they change
    image_nodes: Mapping[str, int] | None = None

    @property
    def name(self) -> str:
        return (self.node.get("metadata") or {}).get("name") or ""


def node_info(node: JSON, pods: Iterable[JSON] = ()) -> NodeInfo:
    """Build the NodeInfo for ``node`` holding ``pods`` (the caller chose which pods count)."""
    # pkg/scheduler/framework/types.go: NewNodeInfo, NodeInfo.update, NodeInfo.updateUsedPorts
    pods = tuple(pods)
    return NodeInfo(
        node=node,
        pods=pods,
        requested=total(requests(p) for p in pods),
        non_zero_requested=total(non_zero_requests(p) for p in pods),
        allocatable=allocatable(node),
        used_ports=frozenset(hp for p in pods for hp in host_ports(p)),
        images=node_images(node),
    )


def overcommitted(info: NodeInfo) -> tuple[str, ...]:
    """Resource names whose summed requests exceed allocatable, in the order fit.go checks them.

    The scheduler never places a pod that would make this non-empty, so a
    non-empty answer for a node built from bound pods means something bypassed it
    (or allocatable shrank afterwards).
    """
    # pkg/scheduler/framework/plugins/noderesources/fit.go: fitsRequest (the same comparisons, after the fact)
    req, alloc = info.requested, info.allocatable
    out = []
    if req.pods > alloc.pods:
        out.append(PODS)
    if req.milli_cpu > alloc.milli_cpu:
        out.append(CPU)
    if req.memory > alloc.memory:
        out.append(MEMORY)
    if req.ephemeral_storage > alloc.ephemeral_storage:
        out.append(EPHEMERAL_STORAGE)
    return tuple(out)
