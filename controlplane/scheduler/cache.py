"""The scheduler cache: per-node aggregates of the pods that count there, including assumed ones.

Follows pkg/scheduler/backend/cache/cache.go (AssumePod, ForgetPod, AddPod,
UpdatePod, RemovePod, AddNode, UpdateNode, RemoveNode), node_tree.go (the
zone-interleaved node order) and framework/types.go (NodeInfo.update). Pods
are keyed by uid, so a recreated pod of the same name is a different pod.
Aggregates are updated incrementally, so a cycle reads them in O(1) per node.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .objects import HostPort, NodeSpec, PodInfo


@dataclass
class ImageState:
    """cache.go: imageStates entry -- size as first seen, and the nodes that have the image."""

    size: int
    nodes: set[str] = field(default_factory=set)


class NodeInfo:
    """framework/types.go: NodeInfo -- a node and the sums over the pods counted on it."""

    __slots__ = ("name", "node", "pods", "req_cpu", "req_mem", "req_eph", "non0_cpu", "non0_mem", "ports",
                 "images", "version", "memo")

    def __init__(self, name: str) -> None:
        self.name = name
        self.node: NodeSpec | None = None
        self.pods: dict[str, PodInfo] = {}
        self.req_cpu = self.req_mem = self.req_eph = 0
        self.non0_cpu = self.non0_mem = 0
        self.ports: dict[HostPort, int] = {}
        self.images: dict[str, ImageState] = {}
        # bumped by every change of the pods counted here; with the node spec's identity (a new NodeSpec per
        # node event) it says whether ``memo``, a score the framework kept for one pod shape, still holds
        self.version = 0
        self.memo: tuple[object, ...] | None = None

    def add_pod(self, p: PodInfo) -> None:
        """types.go: NodeInfo.AddPodInfo / update with sign +1."""
        self.pods[p.uid] = p
        self._update(p, 1)

    def remove_pod(self, uid: str) -> PodInfo | None:
        """types.go: NodeInfo.RemovePod / update with sign -1."""
        p = self.pods.pop(uid, None)
        if p is not None:
            self._update(p, -1)
        return p

    def _update(self, p: PodInfo, sign: int) -> None:
        self.version += 1
        self.req_cpu += sign * p.milli_cpu
        self.req_mem += sign * p.memory
        self.req_eph += sign * p.ephemeral
        self.non0_cpu += sign * p.non0_cpu
        self.non0_mem += sign * p.non0_mem
        for port in p.ports:
            n = self.ports.get(port, 0) + sign
            if n > 0:
                self.ports[port] = n
            else:
                self.ports.pop(port, None)

    def port_conflict(self, want: HostPort) -> bool:
        """kube-scheduler/framework/types.go: HostPortInfo.CheckConflict (0.0.0.0 conflicts with every IP)."""
        ip, proto, port = want
        if ip == "0.0.0.0":
            return any(p[1] == proto and p[2] == port for p in self.ports)
        return ("0.0.0.0", proto, port) in self.ports or (ip, proto, port) in self.ports


class Cache:
    """Nodes from the node informer, assigned pods from the pod informer, and the pods this replica assumed."""

    def __init__(self) -> None:
        self.nodes: dict[str, NodeInfo] = {}
        self.pod_node: dict[str, str] = {}  # uid -> node the pod counts on
        self.assumed: set[str] = set()
        self.images: dict[str, ImageState] = {}
        # node_tree.go: zones in first-seen order, node names per zone in insertion order
        self._zones: list[str] = []
        self._tree: dict[str, list[str]] = {}
        self._list: list[NodeInfo] | None = None

    # ---- nodes ----

    def add_node(self, spec: NodeSpec) -> None:
        """cache.go: AddNode (an existing entry is updated)."""
        info = self.nodes.get(spec.name)
        if info is None:
            info = self.nodes[spec.name] = NodeInfo(spec.name)
        if info.node is not None:
            self.update_node(spec)
            return
        info.node = spec
        self._tree_add(spec)
        self._add_images(info)

    def update_node(self, spec: NodeSpec) -> None:
        """cache.go: UpdateNode -- node tree moves on a zone change, image states are rebuilt for the node."""
        info = self.nodes.get(spec.name)
        if info is None or info.node is None:
            self.add_node(spec)
            return
        old = info.node
        self._remove_images(old)
        info.node = spec
        if old.zone != spec.zone:
            self._tree_remove(old)
            self._tree_add(spec)
        self._add_images(info)

    def remove_node(self, name: str) -> None:
        """cache.go: RemoveNode -- the entry stays (without a node) while pods still count on it."""
        info = self.nodes.get(name)
        if info is None or info.node is None:
            return
        self._remove_images(info.node)
        self._tree_remove(info.node)
        info.node = None
        info.images = {}
        if not info.pods:
            del self.nodes[name]

    def node_list(self) -> list[NodeInfo]:
        """node_tree.go: list -- one node per zone in turn; only entries that have a node."""
        if self._list is None:
            out: list[NodeInfo] = []
            longest = max((len(v) for v in self._tree.values()), default=0)
            for i in range(longest):
                for z in self._zones:
                    names = self._tree[z]
                    if i < len(names):
                        out.append(self.nodes[names[i]])
            self._list = out
        return self._list

    def _tree_add(self, spec: NodeSpec) -> None:
        names = self._tree.get(spec.zone)
        if names is None:
            self._zones.append(spec.zone)
            names = self._tree[spec.zone] = []
        if spec.name not in names:
            names.append(spec.name)
        self._list = None

    def _tree_remove(self, spec: NodeSpec) -> None:
        names = self._tree.get(spec.zone)
        if names is not None and spec.name in names:
            names.remove(spec.name)
            if not names:
                del self._tree[spec.zone]
                self._zones.remove(spec.zone)
        self._list = None

    def _add_images(self, info: NodeInfo) -> None:
        """cache.go: addNodeImageStates."""
        assert info.node is not None
        own: dict[str, ImageState] = {}
        for names, size in info.node.images:
            for n in names:
                st = self.images.get(n)
                if st is None:
                    st = self.images[n] = ImageState(size)
                st.nodes.add(info.name)
                own.setdefault(n, st)
        info.images = own

    def _remove_images(self, spec: NodeSpec) -> None:
        """cache.go: removeNodeImageStates."""
        for names, _size in spec.images:
            for n in names:
                st = self.images.get(n)
                if st is not None:
                    st.nodes.discard(spec.name)
                    if not st.nodes:
                        del self.images[n]

    # ---- pods ----

    def _place(self, p: PodInfo, node: str) -> None:
        info = self.nodes.get(node)
        if info is None:
            info = self.nodes[node] = NodeInfo(node)
        info.add_pod(p)
        self.pod_node[p.uid] = node

    def _unplace(self, uid: str) -> PodInfo | None:
        node = self.pod_node.pop(uid, None)
        if node is None:
            return None
        info = self.nodes.get(node)
        if info is None:
            return None
        p = info.remove_pod(uid)
        if info.node is None and not info.pods:
            del self.nodes[node]
        return p

    def assume(self, p: PodInfo, node: str) -> None:
        """cache.go: AssumePod -- the pod counts on the node from now on, before its binding lands."""
        if p.uid in self.pod_node:
            return
        self._place(p, node)
        self.assumed.add(p.uid)

    def forget(self, uid: str, node: str) -> bool:
        """cache.go: ForgetPod -- only a still-assumed pod on that node is removed; whether it was."""
        if uid not in self.assumed or self.pod_node.get(uid) != node:
            return False
        self.assumed.discard(uid)
        self._unplace(uid)
        return True

    def add_pod(self, p: PodInfo) -> None:
        """cache.go: AddPod -- confirms an assumed pod (moving it if it landed elsewhere) or adds a new one."""
        if p.uid in self.pod_node:
            self.assumed.discard(p.uid)
            self._unplace(p.uid)
        self._place(p, p.node_name)

    def remove_pod(self, uid: str) -> None:
        """cache.go: RemovePod."""
        self.assumed.discard(uid)
        self._unplace(uid)

    def is_assumed(self, uid: str) -> bool:
        return uid in self.assumed
