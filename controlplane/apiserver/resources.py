"""The resources this API server serves, declared as small frozen records (lightkube style).

A record carries what the generic registry needs to know about a resource:
its group/version/kind, its URL plural, whether it lives in a namespace, its
name rule and where its objects live in storage (the upstream etcd keys).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from . import validation


@dataclass(frozen=True)
class Resource:
    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool
    name_rule: Callable[[str], list[str]]
    storage_name: str  # the etcd key segment: /registry/<storage_name>/...

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def qualified_resource(self) -> str:
        # apimachinery/pkg/runtime/schema/group_version.go: GroupResource.String
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def qualified_kind(self) -> str:
        # group_version.go: GroupKind.String
        return f"{self.kind}.{self.group}" if self.group else self.kind

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    def prefix(self, namespace: str | None = None) -> str:
        """The key prefix of every object of this resource (in one namespace if given)."""
        base = f"/registry/{self.storage_name}/"
        return f"{base}{namespace}/" if self.namespaced and namespace is not None else base

    def key(self, namespace: str | None, name: str) -> str:
        # apiserver/pkg/registry/generic/registry/store.go: NamespaceKeyFunc / NoNamespaceKeyFunc
        if self.namespaced:
            return f"/registry/{self.storage_name}/{namespace}/{name}"
        return f"/registry/{self.storage_name}/{name}"

    def split_key(self, key: str) -> tuple[str, str]:
        """(namespace, name) of a key; namespace is "" for cluster-scoped objects."""
        rest = key[len(self.prefix()) :]
        if self.namespaced:
            ns, _, name = rest.partition("/")
            return ns, name
        return "", rest


NAMESPACES = Resource("", "v1", "Namespace", "namespaces", False, validation.dns1123_label, "namespaces")
PODS = Resource("", "v1", "Pod", "pods", True, validation.dns1123_subdomain, "pods")
# pkg/registry/core/node/storage/storage.go: nodes are stored under the historical "minions" prefix
NODES = Resource("", "v1", "Node", "nodes", False, validation.dns1123_subdomain, "minions")
LEASES = Resource(
    "coordination.k8s.io", "v1", "Lease", "leases", True, validation.dns1123_subdomain, "leases"
)

BY_PLURAL: dict[str, Resource] = {r.plural: r for r in (NAMESPACES, PODS, NODES, LEASES)}
