"""The node machine: hollow kubelets, their runtimes and the node lifecycle controller, stepped by Hypothesis.

Every interleaving is a rule: a kubelet syncs its pods, heartbeats, crashes,
pauses, comes back; pods are created, bound to a node (the machine plays the
scheduler) and deleted, gracefully or by force; ``advance`` moves true time
one second at a time, in which every working kubelet heartbeats every renew
interval, reposts its node status and syncs its pods every ten seconds, and
the controller looks every monitor period (the fair schedule that bounded-time
promises assume).

After every step the promises of model/kubelet.py are checked
(conformance/checks/kubelet.py) on what watches of pods, nodes and node
Leases showed, each event stamped with the true time it was seen, and on what
the nodes' runtimes ran. The harness knows only what it did itself: which
kubelets it stopped and which pods it force-deleted.

Every call goes through the one checked client: the machine's own writes
(create, bind, delete) as calls of their own, and every get and write a
kubelet or the controller makes inside its step, held to the API model like
any other (two oracles: the model says what the API answers, the node contract
what the nodes do). A kubelet's pod source and the controller's lists are
their informers' reads, unchecked; a kubelet's field selector on
``spec.nodeName`` is applied to the list it gets.
"""

from __future__ import annotations

from typing import Any, ClassVar

from hypothesis import strategies as st
from hypothesis.stateful import initialize, invariant, precondition, rule

from conformance.checks import kubelet as checks
from conformance.checks.kubelet import Seen
from conformance.invariants import violation
from conformance.machines import CheckedMachine
from conformance.ops import Op
from model import kubelet as contract

NODES = 3
NS = "kp-nodes"
POD_NAMES = ("p0", "p1", "p2")
#: node 0 most of the time, so a few steps make one node do a whole piece of work (start, stop, restart)
NODE = st.sampled_from((0, 0, 1, 2))
POLICY = st.sampled_from(("Never", "Always", "OnFailure"))
#: a hollow container's run time: None runs until stopped
RUN = st.sampled_from((None, None, 3, 15))
POD_GRACE = st.sampled_from((None, 0, 2, 10))
#: how far a kubelet's clock may be off true time (seconds): the promises are judged on true time, and a
#: controller must date heartbeats by its own observation, not by the times a kubelet writes
OFFSETS = st.sampled_from((0.0, 0.0, -30.0, 15.0))
#: pods already running when an example starts: (name, restart policy, run time, grace period, node)
START_PODS = st.lists(st.tuples(st.sampled_from(POD_NAMES), POLICY, RUN, POD_GRACE, NODE), max_size=3,
                      unique_by=lambda p: p[0])
#: a small grace period keeps examples short; the promises scale with it
GRACE = 20.0
#: how a pod is deleted: the grace period asked (None: the pod's own), 0 being a force delete for a bound pod
DELETE_GRACE = st.sampled_from((None, None, 1, 5, 0))


class NodeClient:
    """The API client of one kubelet or of the controller: every get and write goes through the machine's checked
    client, inside the step the history already holds (``via``)."""

    def __init__(self, machine: KubeletMachine, target: Any) -> None:
        self._m = machine
        self._t = target

    def _call(self, op: Op) -> Any:
        return self._m.client.call(op, via=self._t)

    def get(self, resource: str, namespace: str | None, name: str) -> Any:
        return self._call(Op.get(resource, namespace, name))

    def list(self, resource: str, namespace: str | None = None, *, field_selector: str | None = None) -> Any:
        got = self._t.list(resource, namespace)
        if field_selector and got.code == 200:
            # the kubelet's pod source selects spec.nodeName=NODE (pkg/kubelet/config/apiserver.go)
            key, _, value = field_selector.partition("=")
            assert key == "spec.nodeName", field_selector
            items = [p for p in got.body.get("items") or [] if (p.get("spec") or {}).get("nodeName") == value]
            got = type(got)(got.code, {**got.body, "items": items})
        return got

    def create(self, resource: str, namespace: str | None, body: Any) -> Any:
        return self._call(Op.create(resource, namespace, body))

    def update(self, resource: str, namespace: str | None, name: str, body: Any, *, subresource: str = "") -> Any:
        return self._call(Op.update(resource, namespace, name, body, subresource=subresource))

    def delete(self, resource: str, namespace: str | None, name: str, options: Any = None) -> Any:
        return self._call(Op.delete(resource, namespace, name, options))


class KubeletMachine(CheckedMachine):
    """Hollow nodes under the state machine's control, judged by the node contract."""

    steps: ClassVar[int] = 0
    timing: ClassVar[contract.NodeTiming] = contract.NodeTiming(grace=GRACE)

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[Seen] = []
        self.live: dict[str, float | None] = {}
        self.crashed: set[int] = set()
        self.forced: set[str] = set()
        self.kubelets: Any = None
        self.watches: list[Any] = []
        self.last_beat: dict[int, float] = {}
        self.last_sync: dict[int, float] = {}
        self.controller_since: float | None = None
        self.last_monitor = 0.0

    # ----- plumbing ---------------------------------------------------------------------------


    def _node_step(self, method: str, *args: Any) -> Any:
        call = self.history.record(method, *args, receiver="kubelets")
        result = getattr(self.kubelets, method)(*args)
        call.body = result
        if method == "advance":
            self.client.time_passed(args[0])
        self._observe()
        return result

    def _observe(self) -> None:
        now = self.kubelets.now()
        for resource, w in zip(("pods", "nodes", "leases"), self.watches, strict=True):
            for e in w.drain():
                if e.get("type") in ("ADDED", "MODIFIED", "DELETED"):
                    self.seen.append(Seen(now, resource, e["type"], e["object"]))

    def _pod(self, name: str) -> dict[str, Any] | None:
        got = self.client.call(Op.get("pods", NS, name))
        return got.body if got.code == 200 else None

    # ----- set-up -----------------------------------------------------------------------------

    @initialize(pods=START_PODS, offsets=st.lists(OFFSETS, min_size=NODES, max_size=NODES))
    def start_nodes(self, pods: list[tuple[str, str, int | None, int | None, int]], offsets: list[float]) -> None:
        """Two namespaces (the pods', and kube-node-lease), watches, then every node registers and heartbeats;
        and, drawn, pods already bound and started (so that the rules which stop, delete or restart meet running
        pods from the first step)."""
        start = getattr(self.target, "start_kubelets", None)
        if start is None:
            raise NotImplementedError(f"the {self.target.name} target has no hollow kubelets to drive")
        for ns in (NS, contract.NODE_LEASE_NAMESPACE):
            self.client.write(Op.create("namespaces", None, {"apiVersion": "v1", "kind": "Namespace",
                                                             "metadata": {"name": ns}}))
        self.watches = [self.target.watch("pods"), self.target.watch("nodes"),
                        self.target.watch("leases", contract.NODE_LEASE_NAMESPACE)]
        self.history.record("start_kubelets", NODES, grace=GRACE, offsets=offsets, assign="kubelets")
        self.kubelets = start(NODES, grace=GRACE, offsets=offsets,
                              client=lambda who, server: NodeClient(self, self.target))
        now = self.kubelets.now()
        self.controller_since = self.last_monitor = now
        for i in range(NODES):
            self._node_step("register", i)
            self._node_step("heartbeat", i)
            self.live[self._node(i)] = self.last_beat[i] = self.last_sync[i] = now
        for name, policy, run, grace, node in pods:
            self.create_pod(name, policy, run, grace, node)
        for i in sorted({p[4] for p in pods}):
            self._node_step("sync", i)

    @staticmethod
    def _node(i: int) -> str:
        return f"node-{i}"

    # ----- pods -------------------------------------------------------------------------------

    @rule(name=st.sampled_from(POD_NAMES), policy=POLICY, run=RUN, grace=POD_GRACE, node=st.none() | NODE)
    def create_pod(self, name: str, policy: str, run: int | None, grace: int | None, node: int | None) -> None:
        """A pod with one hollow container that runs ``run`` seconds (None: until stopped), bound at once to
        ``node`` when one is given (a scheduler's work done in the same step)."""
        meta: dict[str, Any] = {"name": name, "namespace": NS}
        if run is not None:
            meta["annotations"] = {"kubeprop.io/run-seconds": str(run)}
        spec: dict[str, Any] = {"restartPolicy": policy, "containers": [{"name": "c0", "image": "hollow"}]}
        if grace is not None:
            spec["terminationGracePeriodSeconds"] = grace
        self.client.write(Op.create("pods", NS, {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}))
        self._observe()
        if node is not None:
            self.bind_pod(name, node)

    @rule(name=st.sampled_from(POD_NAMES), node=NODE)
    def bind_pod(self, name: str, node: int) -> None:
        pod = self._pod(name)
        uid = (pod or {}).get("metadata", {}).get("uid")
        body = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": name, "uid": uid},
                "target": {"apiVersion": "v1", "kind": "Node", "name": self._node(node)}}
        self.client.write(Op.bind(NS, name, body))
        self._observe()

    @rule(name=st.sampled_from(POD_NAMES), grace=DELETE_GRACE)
    def delete_pod(self, name: str, grace: int | None) -> None:
        """A client's delete; with grace 0 (or a pod whose own grace is 0) a bound pod goes at once, a force
        delete: the ordering promises no longer cover that incarnation."""
        pod = self._pod(name)
        options = {"gracePeriodSeconds": grace} if grace is not None else None
        got = self.client.write(Op.delete("pods", NS, name, options))
        self._observe()
        if pod is not None and got.code == 200 and self._pod(name) is None:
            self.forced.add(pod["metadata"]["uid"])

    # ----- the nodes --------------------------------------------------------------------------

    @rule(i=NODE)
    def sync(self, i: int) -> None:
        if self.live[self._node(i)] is not None:
            self._node_step("sync", i)
            self.last_sync[i] = self.kubelets.now()

    @rule(i=NODE)
    def heartbeat(self, i: int) -> None:
        if self.live[self._node(i)] is not None:
            self._node_step("heartbeat", i)
            self.last_beat[i] = self.kubelets.now()

    @precondition(lambda self: any(v is not None for v in self.live.values()))
    @rule(i=NODE, crash=st.booleans())
    def stop_kubelet(self, i: int, crash: bool) -> None:
        """SIGKILL (its memory is lost) or SIGSTOP (it takes no steps) of one kubelet; its containers run on."""
        node = self._node(i)
        if self.live[node] is None:
            return
        if crash:
            self._node_step("crash", i)
            self.crashed.add(i)
        else:
            self.history.record("pause", i, receiver="kubelets")  # no call: the process just stops
        self.live[node] = None

    @precondition(lambda self: any(v is None for v in self.live.values()))
    @rule(i=NODE)
    def resume_kubelet(self, i: int) -> None:
        """SIGCONT, or a restart after a crash (which registers the node again)."""
        node = self._node(i)
        if self.live[node] is not None:
            return
        if i in self.crashed:
            self.crashed.discard(i)
            self._node_step("restart", i)
        now = self.kubelets.now()
        self.live[node] = now

    #: one sync period first: a failing example shrinks toward whole periods, in which every due step is taken
    @rule(seconds=st.sampled_from((10, 1, 5, 30, 60)))
    def advance(self, seconds: int) -> None:
        """True time moves ``seconds``, one at a time; every working kubelet and the controller take the steps
        their periods say are due."""
        for _ in range(seconds):
            self._node_step("advance", 1)
            now = self.kubelets.now()
            for i in range(NODES):
                if self.live[self._node(i)] is None:
                    continue
                if now - self.last_beat[i] >= self.timing.renew_interval:
                    self._node_step("heartbeat", i)
                    self.last_beat[i] = now
                if now - self.last_sync[i] >= self.timing.sync:
                    self._node_step("node_status", i)
                    self._node_step("sync", i)
                    self.last_sync[i] = now
            if now - self.last_monitor >= self.timing.monitor_period:
                self._node_step("monitor")
                self.last_monitor = now
            self._check()

    # ----- the promises -----------------------------------------------------------------------

    def _check(self) -> None:
        now = self.kubelets.now()
        containers = self.kubelets.containers()
        found = [
            (checks.runs_only_bound, checks.runs_only_bound(self.seen, containers)),
            (checks.runs_at_most_once, checks.runs_at_most_once(containers, self.forced)),
            (checks.stops_before_delete, checks.stops_before_delete(self.seen, containers, self.forced)),
            (checks.graceful_delete_bounded,
             checks.graceful_delete_bounded(self.seen, self.live, self.forced, now, self.timing)),
            (checks.stops_removed, checks.stops_removed(self.seen, containers, self.live, now, self.timing)),
            (checks.phase_monotonic, checks.phase_monotonic(self.seen)),
            (checks.ready_consistent, checks.ready_consistent(self.seen)),
            (checks.heartbeat_renews, checks.heartbeat_renews(self.seen, self.live, now, self.timing)),
            (checks.unknown_in_time, checks.unknown_in_time(self.seen, self.timing, self.controller_since, now)),
            (checks.unknown_not_early, checks.unknown_not_early(self.seen, self.timing)),
        ]
        for chk, problems in found:
            if problems:
                self._fail(violation(chk.invariant, "; ".join(problems[:3])))

    @invariant()
    def node_contract(self) -> None:
        self._steps_done += 1
        KubeletMachine.steps += 1
        if self.kubelets is None:
            return
        self._in_invariant = True
        try:
            self._observe()
            self._check()
        finally:
            self._in_invariant = False

    def teardown(self) -> None:
        for w in self.watches:
            w.close()
        self.target.close()
