"""What a pod asks of a node: effective requests and the non-zero requests used for scoring.

Follows component-helpers/resource/helpers.go (PodRequests) with the options the
scheduler uses for a pod that is not being resized: container requests from the
spec (not from status), pod-level requests (the PodLevelResources gate is on by
default), and the pod overhead. Quantities are summed exactly and rounded up
only when converted, as upstream keeps ``resource.Quantity`` values until then.
Extended resources and hugepages are not modelled.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from model.scheduler.quantity import milli_value, quantity, value

JSON = dict[str, Any]
ResourceList = dict[str, Decimal]

CPU = "cpu"
MEMORY = "memory"
EPHEMERAL_STORAGE = "ephemeral-storage"
PODS = "pods"

# pkg/scheduler/util/pod_resources.go: DefaultMilliCPURequest, DefaultMemoryRequest
DEFAULT_MILLI_CPU_REQUEST = 100
DEFAULT_MEMORY_REQUEST = 200 * 1024 * 1024

# the defaults as quantities, in the units ResourceList holds (cores and bytes)
_DEFAULTS: ResourceList = {CPU: Decimal(DEFAULT_MILLI_CPU_REQUEST) / 1000, MEMORY: Decimal(DEFAULT_MEMORY_REQUEST)}


@dataclass(frozen=True)
class Resources:
    """Integer amounts as the scheduler keeps them (framework/types.go: Resource).

    ``milli_cpu`` in millicores, ``memory`` and ``ephemeral_storage`` in bytes,
    ``pods`` a count (for a pod's request it is 1; for a node, the number of pods).
    """

    milli_cpu: int = 0
    memory: int = 0
    ephemeral_storage: int = 0
    pods: int = 0

    def __add__(self, other: Resources) -> Resources:
        return Resources(self.milli_cpu + other.milli_cpu, self.memory + other.memory,
                         self.ephemeral_storage + other.ephemeral_storage, self.pods + other.pods)

    def get(self, name: str) -> int:
        """The amount for a resource name as it appears in a ResourceList (``cpu`` is in millicores)."""
        return {CPU: self.milli_cpu, MEMORY: self.memory, EPHEMERAL_STORAGE: self.ephemeral_storage,
                PODS: self.pods}[name]


def resource_list(raw: Mapping[str, Any] | None) -> ResourceList:
    """A wire ResourceList (``{"cpu": "250m"}``) as exact Decimals."""
    return {name: quantity(q) for name, q in (raw or {}).items()}


def _add(into: ResourceList, more: Mapping[str, Decimal]) -> None:
    # component-helpers/resource/helpers.go: addResourceList
    for name, q in more.items():
        into[name] = into.get(name, Decimal(0)) + q


def _max_into(into: ResourceList, more: Mapping[str, Decimal]) -> None:
    # component-helpers/resource/helpers.go: maxResourceList
    for name, q in more.items():
        if name not in into or q > into[name]:
            into[name] = q


def _with_defaults(reqs: ResourceList, non_missing: Mapping[str, Decimal]) -> ResourceList:
    # component-helpers/resource/helpers.go: applyNonMissing (only names the container leaves out)
    out = dict(reqs)
    for name, q in non_missing.items():
        if name not in reqs:
            out[name] = q
    return out


def _container_requests(container: JSON, non_missing: Mapping[str, Decimal]) -> ResourceList:
    reqs = resource_list((container.get("resources") or {}).get("requests"))
    return _with_defaults(reqs, non_missing) if non_missing else reqs


def _is_sidecar(container: JSON) -> bool:
    # component-helpers/resource/helpers.go: isRestartableInitContainer
    return container.get("restartPolicy") == "Always"


def _spec(pod: JSON) -> JSON:
    return pod.get("spec") or {}


def aggregate_container_requests(pod: JSON, non_missing: Mapping[str, Decimal] | None = None) -> ResourceList:
    """Sum of regular containers and sidecars, raised to the peak of the init sequence.

    While init container *i* runs, the pod holds it plus every sidecar started
    before it; a sidecar's own step holds all sidecars up to and including it.
    """
    # component-helpers/resource/helpers.go: aggregateContainerResourcesByFn
    non_missing = non_missing or {}
    spec = _spec(pod)
    result: ResourceList = {}
    for c in spec.get("containers") or []:
        _add(result, _container_requests(c, non_missing))
    sidecars: ResourceList = {}
    init_peak: ResourceList = {}
    for c in spec.get("initContainers") or []:
        reqs = _container_requests(c, non_missing)
        if _is_sidecar(c):
            _add(result, reqs)
            _add(sidecars, reqs)
            step = dict(sidecars)
        else:
            step = dict(reqs)
            _add(step, sidecars)
        _max_into(init_peak, step)
    _max_into(result, init_peak)
    return result


def _is_pod_level_resource(name: str) -> bool:
    # component-helpers/resource/helpers.go: IsSupportedPodLevelResource
    return name in (CPU, MEMORY) or name.startswith("hugepages-")


def pod_level_requests(pod: JSON) -> ResourceList:
    """spec.resources.requests restricted to the names pod-level resources support."""
    raw = (_spec(pod).get("resources") or {}).get("requests") or {}
    return {n: q for n, q in resource_list(raw).items() if _is_pod_level_resource(n)}


def pod_requests(pod: JSON, non_missing: Mapping[str, Decimal] | None = None) -> ResourceList:
    """The pod's effective requests as a ResourceList: containers, then pod-level, then overhead."""
    # component-helpers/resource/helpers.go: PodRequests
    reqs = aggregate_container_requests(pod, non_missing)
    reqs.update(pod_level_requests(pod))  # applyPodLevelResources overrides the supported names
    _add(reqs, resource_list(_spec(pod).get("overhead")))
    return reqs


def _to_resources(reqs: Mapping[str, Decimal]) -> Resources:
    # pkg/scheduler/framework/types.go: Resource.Add (cpu via MilliValue, the rest via Value)
    zero = Decimal(0)
    return Resources(milli_value(reqs.get(CPU, zero)), value(reqs.get(MEMORY, zero)),
                     value(reqs.get(EPHEMERAL_STORAGE, zero)), 1)


def requests(pod: JSON) -> Resources:
    """The effective requests NodeResourcesFit checks and a node's ``Requested`` sums (``pods`` is 1)."""
    # pkg/scheduler/framework/plugins/noderesources/fit.go: computePodResourceRequest
    return _to_resources(pod_requests(pod))


def non_zero_requests(pod: JSON) -> Resources:
    """Requests with 100m cpu / 200Mi memory standing in for each container's missing request.

    This is what a node's ``NonZeroRequested`` sums for the pods on it. With
    pod-level requests set, a default applies only to a resource that neither the
    pod nor any container names. ``ephemeral_storage`` is the plain request.
    """
    # pkg/scheduler/framework/types.go: PodInfo.CalculateResource, getNonMissingContainerRequests
    reqs = pod_requests(pod)
    if pod_level_requests(pod):
        non_missing = {n: q for n, q in _DEFAULTS.items() if n not in reqs}
    else:
        non_missing = dict(_DEFAULTS)
    non0 = pod_requests(pod, non_missing) if non_missing else reqs
    r = _to_resources(reqs)
    return Resources(milli_value(non0.get(CPU, Decimal(0))), value(non0.get(MEMORY, Decimal(0))),
                     r.ephemeral_storage, 1)


def scoring_requests(pod: JSON) -> Resources:
    """The incoming pod's cpu/memory as LeastAllocated scoring adds them to a node.

    Unlike :func:`non_zero_requests`, the defaults here apply per container
    whatever the pod-level requests say (pod-level values still override).
    """
    # pkg/scheduler/framework/plugins/noderesources/resource_allocation.go: calculatePodResourceRequest
    non0 = pod_requests(pod, _DEFAULTS)
    return Resources(milli_value(non0.get(CPU, Decimal(0))), value(non0.get(MEMORY, Decimal(0))), 0, 1)


def total(items: Iterable[Resources]) -> Resources:
    out = Resources()
    for r in items:
        out = out + r
    return out
