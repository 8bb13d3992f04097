"""The resources the model knows, declared as data (group, version, kind, plural, scope, name rule)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Resource:
    plural: str
    kind: str
    group: str
    version: str
    namespaced: bool
    # "label" or "subdomain": the DNS-1123 rule names must follow
    # (pkg/apis/core/validation/validation.go: ValidateNamespaceName, ValidatePodName, ValidateNodeName;
    # pkg/apis/coordination/validation/validation.go: ValidateLease)
    name_rule: str
    # store.go: Update -- a PUT of a missing object creates it (the strategy's AllowCreateOnUpdate), and a PUT
    # without resourceVersion overwrites (AllowUnconditionalUpdate); pkg/registry/*/strategy.go of each resource
    create_on_update: bool = False
    unconditional_update: bool = True
    # whether the API serves the object's status subresource, "{plural}/{name}/status" (GET, PUT, PATCH): pods and
    # nodes (pkg/registry/core/pod/storage/storage.go and node/storage/storage.go: StatusREST)
    status_subresource: bool = False

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def qualified_resource(self) -> str:
        # apimachinery/pkg/runtime/schema/group_version.go: GroupResource.String
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def qualified_kind(self) -> str:
        # apimachinery/pkg/runtime/schema/group_version.go: GroupKind.String
        return f"{self.kind}.{self.group}" if self.group else self.kind

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"


NAMESPACES = Resource("namespaces", "Namespace", "", "v1", False, "label")
PODS = Resource("pods", "Pod", "", "v1", True, "subdomain", status_subresource=True)
NODES = Resource("nodes", "Node", "", "v1", False, "subdomain", status_subresource=True)
# pkg/registry/coordination/lease/strategy.go: AllowCreateOnUpdate true, AllowUnconditionalUpdate false
LEASES = Resource("leases", "Lease", "coordination.k8s.io", "v1", True, "subdomain", create_on_update=True,
                  unconditional_update=False)

BY_PLURAL: dict[str, Resource] = {r.plural: r for r in (NAMESPACES, PODS, NODES, LEASES)}


def resource(plural: str) -> Resource:
    try:
        return BY_PLURAL[plural]
    except KeyError:
        raise ValueError(f"unknown resource {plural!r}; known: {', '.join(sorted(BY_PLURAL))}") from None
