"""The resources kubeprop drives, as the wire sees them: one record each, used by every adapter and rule.

Each record holds what a client needs to address a resource: its URL group
path, kind and scope. The order of :data:`RESOURCES` is the order cleanup
deletes in (dependants first: pods and leases, then nodes, then namespaces).
The model keeps its own declaration (``model/resources.py``) with the rules it
needs; the bundled server keeps another (``controlplane/apiserver/resources.py``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class WireResource:
    plural: str
    kind: str
    group: str
    version: str
    namespaced: bool

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def prefix(self) -> str:
        """The URL path of the resource's group version (``/api/v1``, ``/apis/<group>/<version>``)."""
        return f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"


RESOURCES: tuple[WireResource, ...] = (
    WireResource("pods", "Pod", "", "v1", True),
    WireResource("leases", "Lease", "coordination.k8s.io", "v1", True),
    WireResource("nodes", "Node", "", "v1", False),
    WireResource("namespaces", "Namespace", "", "v1", False),
)
BY_PLURAL: dict[str, WireResource] = {r.plural: r for r in RESOURCES}


def namespaced(plural: str) -> bool:
    return BY_PLURAL[plural].namespaced


def cluster_scoped(plural: str) -> bool:
    """Whether a resource lives outside namespaces (a Binding, posted in a namespace, does not)."""
    res = BY_PLURAL.get(plural)
    return res is not None and not res.namespaced
