"""The scheduler state machine: replicas of a scheduler and their leader election, stepped by Hypothesis.

Every interleaving is a rule: replica i runs one scheduling cycle, completes
one pending bind, ticks its elector, crashes, restarts or stops; true time
moves with each replica's clock at a slightly different rate. Alongside run the
API rules that change what the scheduler sees (nodes created, deleted,
cordoned, tainted, relabelled; pods created and deleted), and ``settle``, which
runs every replica fairly until nothing changes.

Every API call a replica makes goes through :class:`ReplicaClient`, which
checks it against the API model like the harness's own calls, and then against
the promises of scheduling and leader election:

- each cycle's choice against the scheduler model (model/scheduler) on the
  state the replica must have seen: the API's bound pods plus the replica's own
  assumed, not yet bound, pods;
- each lease write against the leader-election model (model/leaderelection) on
  that replica's own clock;
- each successful bind against the lease and the cycle that chose it.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from hypothesis import strategies as st
from hypothesis.stateful import Bundle, consumes, initialize, invariant, multiple, precondition, rule

from adapters.base import JSON, Response, Target
from conformance import strategies as gen
from conformance.checks import lease as lease_checks
from conformance.checks import scheduling as sched_checks
from conformance.compare import short
from conformance.invariants import InvariantViolation, violation
from conformance.machines import CheckedMachine
from conformance.ops import Op
from model import scheduler as sched
from model.leaderelection import Candidate, Config, Record

REPLICAS = 2
LEASE_NS = "kube-system"
LEASE_NAME = "kube-scheduler"
NS = gen.NAMESPACES[0]
#: how far each replica's clock may start from true time (seconds)
OFFSETS = (-40.0, -7.5, 0.0, 3.0, 20.0, 40.0)
#: clock-rate skew bound: each replica's clock runs at 1 +- 5 % of true time
RATES = (0.95, 1.0, 1.05)
#: replica 0 most of the time, so a few steps make one replica do a whole piece of work
REPLICA = st.sampled_from((0, 0, 0, 1))
PICK = st.integers(0, 7)
#: (name, uid) of pods a scheduling cycle chose a node for: a bind is on its way
CHOSEN = Bundle("chosen")


@dataclass(frozen=True)
class Choice:
    """A scheduling cycle's decision: which replica put which pod incarnation on which node."""

    replica: int
    uid: str
    node: str
    # the node as the cycle saw it: a Binding names a node, not an incarnation, so a node deleted and created
    # again (smaller) between the decision and the bind still takes it; room is judged on what was decided on
    node_obj: JSON | None = None


class ReplicaClient:
    """The API client of one replica: every call it makes goes through the machine's checked client.

    Watches are the replica's informers' own: what they deliver is checked by what the replica does with it
    (its cycles, binds and lease writes), not event by event.
    """

    def __init__(self, machine: SchedulerMachine, index: int, target: Target) -> None:
        self._m = machine
        self._i = index
        self._t = target

    def get(self, resource: str, namespace: str | None, name: str) -> Response:
        return self._m.replica_call(self._i, Op.get(resource, namespace, name), self._t)

    def list(self, resource: str, namespace: str | None = None, *, label_selector: str | None = None) -> Response:
        return self._t.list(resource, namespace, label_selector=label_selector)

    def watch(self, resource: str, namespace: str | None = None, *, resource_version: str | None = None,
              label_selector: str | None = None) -> Any:
        return self._t.watch(resource, namespace, resource_version=resource_version, label_selector=label_selector)

    def create(self, resource: str, namespace: str | None, body: JSON) -> Response:
        return self._m.replica_call(self._i, Op.create(resource, namespace, body), self._t)

    def update(self, resource: str, namespace: str | None, name: str, body: JSON) -> Response:
        return self._m.replica_call(self._i, Op.update(resource, namespace, name, body), self._t)

    def bind(self, namespace: str, name: str, body: JSON) -> Response:
        return self._m.replica_call(self._i, Op.bind(namespace, name, body), self._t)


class SchedulerMachine(CheckedMachine):
    """Scheduler replicas with Lease leader election against the API, under the state machine's control."""

    steps: ClassVar[int] = 0
    config: ClassVar[Config] = Config()

    def __init__(self) -> None:
        super().__init__()
        self.candidates = [Candidate(f"replica-{i}") for i in range(REPLICAS)]
        self.choices: dict[tuple[int, str, str], Choice] = {}  # (replica, namespace, name) -> its last choice
        self.terms: dict[int, str] = {}  # leaseTransitions -> the one holder of that term
        self.deferred: InvariantViolation | None = None
        self.schedulers: Any = None

    # ----- set-up -----------------------------------------------------------------------------

    @initialize(offsets=st.lists(st.sampled_from(OFFSETS), min_size=REPLICAS, max_size=REPLICAS),
                node=gen.sched_node_parts(plain=True), others=st.lists(gen.sched_node_parts(), max_size=2))
    def start_replicas(self, offsets: list[float], node: dict[str, Any], others: list[dict[str, Any]]) -> None:
        """A cluster coming up: kube-system, one roomy untainted node and up to two of any shape, the replicas,
        replica 0's first election.

        With one node every choice is the same choice; a second node from the start makes most examples
        spend their steps on decisions that can go wrong (which node, which pod incarnation).
        """
        body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": LEASE_NS}}
        self.client.write(Op.create("namespaces", None, body))
        start = getattr(self.target, "start_schedulers", None)
        if start is None:
            raise NotImplementedError(f"the {self.target.name} target has no scheduler replicas to drive")
        self.history.record("start_schedulers", REPLICAS, offsets=offsets, assign="schedulers")
        self.schedulers = self._replica_op(lambda: start(REPLICAS, offsets=offsets,
                                                         client=lambda i, t: ReplicaClient(self, i, t)))
        self.create_node(gen.SCHED_NODE_NAMES[0], node)
        for name, parts in zip(gen.SCHED_NODE_NAMES[1:], others, strict=False):
            self.create_node(name, parts)
        self.tick(0)

    # ----- API rules that change what the scheduler sees --------------------------------------

    @rule(name=st.sampled_from(gen.SCHED_NODE_NAMES), parts=gen.sched_node_parts())
    def create_node(self, name: str, parts: dict[str, Any]) -> None:
        body = gen.node_body(name, parts)
        self.client.write(Op.create("nodes", None, body))

    def _node(self, index: int) -> tuple[str, JSON] | None:
        names = sorted(n for (p, _, n) in self.model.objects if p == "nodes")
        if not names:
            return None
        name = names[index % len(names)]
        stored = self.model.lookup("nodes", None, name)
        assert stored is not None
        return name, copy.deepcopy(stored)

    def _update_node(self, name: str, body: JSON) -> None:
        self.client.write(Op.update("nodes", None, name, body))

    @rule(index=PICK, change=st.one_of(
        st.tuples(st.just("delete"), st.none()),
        st.tuples(st.just("cordon"), st.booleans()),
        st.tuples(st.just("taints"), gen.sched_taints()),
        st.tuples(st.just("labels"), st.tuples(st.sampled_from(gen.ZONES), st.sampled_from(gen.RANKS)))))
    def change_node(self, index: int, change: tuple[str, Any]) -> None:
        """Delete a node, cordon or uncordon it, replace its taints, or relabel its zone and rank."""
        found = self._node(index)
        if not found:
            return
        name, body = found
        what, value = change
        if what == "delete":
            self.client.write(Op.delete("nodes", None, name))
            return
        spec = body.setdefault("spec", {})
        if what == "cordon":
            spec["unschedulable"] = value
            if not value:
                spec.pop("unschedulable")
        elif what == "taints":
            spec["taints"] = value
            if not value:
                spec.pop("taints")
        else:
            zone, rank = value
            body["metadata"]["labels"] = {**body["metadata"].get("labels", {}), "zone": zone, "rank": rank}
        self._update_node(name, body)

    def create_pod(self, name: str, spec: dict[str, Any]) -> None:
        body = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}
        self.client.write(Op.create("pods", NS, body))

    @rule(pods=st.lists(st.tuples(st.sampled_from(gen.SCHED_POD_NAMES), gen.sched_pod_specs()), min_size=1,
                        max_size=3, unique_by=lambda t: t[0]))
    def create_pods(self, pods: list[tuple[str, dict[str, Any]]]) -> None:
        """One to three pods at once: pods often arrive faster than binds land."""
        for name, spec in pods:
            self.create_pod(name, spec)

    @rule(index=PICK, spec=gen.sched_pod_specs())
    def replace_pod(self, index: int, spec: dict[str, Any]) -> None:
        """Delete a pod at once and create another of the same name (a new uid), as a controller would.

        Mostly a pod some replica has chosen a node for but not bound yet: the race of kubernetes#102761.
        """
        names = sorted(n for (p, ns, n) in self.model.objects if p == "pods" and ns == NS)
        if not names:
            return
        in_flight = sorted({pb["name"] for i in range(REPLICAS) for pb in self.schedulers.pending_binds(i)
                            if pb["namespace"] == NS and pb["name"] in names})
        pool = in_flight if in_flight and index < 6 else names
        name = pool[index % len(pool)]
        options = {"kind": "DeleteOptions", "apiVersion": "v1", "gracePeriodSeconds": 0}
        self.client.write(Op.delete("pods", NS, name, options))
        self.create_pod(name, spec)

    @rule(chosen=consumes(CHOSEN), spec=gen.sched_pod_specs())
    def replace_chosen_pod(self, chosen: tuple[str, str], spec: dict[str, Any]) -> None:
        """Replace a pod a cycle chose a node for, if it is still that pod and still unbound: the bind on its way
        now meets a new pod of the same name (kubernetes#102761)."""
        name, uid = chosen
        pod = self.model.lookup("pods", NS, name)
        if pod is None or pod["metadata"].get("uid") != uid or (pod.get("spec") or {}).get("nodeName"):
            return
        options = {"kind": "DeleteOptions", "apiVersion": "v1", "gracePeriodSeconds": 0}
        self.client.write(Op.delete("pods", NS, name, options))
        self.create_pod(name, spec)

    @rule(index=PICK, grace=st.sampled_from((None, 0)))
    def delete_pod(self, index: int, grace: int | None) -> None:
        names = sorted(n for (p, ns, n) in self.model.objects if p == "pods" and ns == NS)
        if not names:
            return
        name = names[index % len(names)]
        options: dict[str, Any] = {"kind": "DeleteOptions", "apiVersion": "v1"}
        if grace is not None:
            options["gracePeriodSeconds"] = grace
        self.client.write(Op.delete("pods", NS, name, options))

    # ----- replica rules ----------------------------------------------------------------------

    def _replica_op(self, fn: Any) -> Any:
        """Run a replica step; a violation found inside it is raised here even if the replica swallowed it."""
        try:
            result = fn()
        except Exception:
            if self.deferred is not None:
                raise self.deferred from None
            raise
        if self.deferred is not None:
            raise self.deferred
        return result

    def _step(self, method: str, i: int) -> Any:
        call = self.history.record(method, i, receiver="schedulers")
        result = self._replica_op(lambda: getattr(self.schedulers, method)(i))
        call.body = result
        return result

    def tick(self, i: int) -> None:
        self._step("tick", i)

    def cycle(self, i: int) -> JSON | None:
        result = self._step("cycle", i)
        if result is not None:
            self._check_cycle(i, result)
        return result

    def bind(self, i: int) -> None:
        self._step("bind", i)

    # Three rules, not one: a scheduler's own steps are what every scheduling check judges, so they get three
    # shares of the rule draw against the API rules' one each.
    def _elector_first(self, i: int) -> None:
        """The elector runs beside the scheduling loop: when its retry period is up, it attempts first."""
        if self.schedulers.elector_due(i):
            self.tick(i)

    # cycles outnumber binds, so chosen-but-unbound pods pile up for the races on them
    @rule(target=CHOSEN, i=REPLICA, cycles=st.sampled_from((1, 1, 2, 3)))
    def schedule(self, i: int, cycles: int) -> Any:
        """Replica i runs up to ``cycles`` scheduling cycles; the pods it chose a node for go to ``chosen``."""
        self._elector_first(i)
        chosen = []
        for _ in range(cycles):
            result = self.cycle(i)
            if result is None:
                break
            if result.get("node") and result["namespace"] == NS:
                chosen.append((result["name"], result["uid"]))
        return multiple(*chosen)

    @rule(i=REPLICA, how=st.sampled_from(("sent", "sent", "sent", "refused", "lost")))
    def bind_pending(self, i: int, how: str) -> None:
        """Replica i posts its oldest pending Binding. ``refused`` and ``lost`` break the link first: the
        request never reaches the server, or the server binds but the answer never comes back."""
        self._elector_first(i)
        if how != "sent":
            self.history.record("break_next_bind", i, how, receiver="schedulers")
            self.schedulers.break_next_bind(i, how)
        self.bind(i)

    @rule(i=REPLICA)
    def elect(self, i: int) -> None:
        """Replica i's elector attempts to acquire or renew the lease."""
        self.tick(i)

    @rule(i=REPLICA, how=st.sampled_from(("crash", "crash", "stop", "restart")))
    def disrupt(self, i: int, how: str) -> None:
        """Replica i crashes (loses everything, holds the lease until it expires), stops (releases it) or restarts."""
        if how == "restart" and self.schedulers.alive(i):
            return
        self._step(how, i)
        self.candidates[i] = Candidate(self.candidates[i].identity)

    # mostly short moves; the long ones starve electors past their deadlines
    @rule(seconds=st.sampled_from((1, 1, 2, 2, 3, 5, 11, 16)),
          rates=st.lists(st.sampled_from(RATES), min_size=REPLICAS, max_size=REPLICAS))
    def advance(self, seconds: int, rates: list[float]) -> None:
        self.history.record("advance", seconds, rates, receiver="schedulers")
        self.schedulers.advance(seconds, rates)
        self.client.time_passed(seconds)

    def _pending_pods(self) -> bool:
        return any(p == "pods" and not (o.get("spec") or {}).get("nodeName")
                   and not o["metadata"].get("deletionTimestamp") for (p, _, _), o in self.model.objects.items())

    @precondition(lambda self: self._pending_pods())
    @rule()
    def settle(self) -> None:
        call = self.history.record("settle", receiver="schedulers")

        def on_step(kind: str, i: int, result: Any) -> None:
            if self.deferred is not None:
                raise self.deferred
            if kind == "cycle":
                self._check_cycle(i, result)
            elif kind == "advance":
                self.client.time_passed(result)
            elif kind == "restart":
                self.candidates[i] = Candidate(self.candidates[i].identity)
            self._check_leaders()

        outcome = self._replica_op(lambda: self.schedulers.settle(on_step=on_step))
        call.body = outcome
        self._check_settled(outcome)

    # ----- what replicas do through their client ----------------------------------------------

    def _now(self, i: int) -> float:
        return float(self.schedulers.now(i)) if self.schedulers is not None else 0.0

    def _raise(self, invariant_id: str, message: str) -> None:
        try:
            self._fail(violation(invariant_id, message))
        except InvariantViolation as err:
            if self.deferred is None:
                self.deferred = err
            raise

    def _lease(self) -> Record | None:
        stored = self.model.lookup("leases", LEASE_NS, LEASE_NAME)
        return Record.from_lease(stored) if stored is not None else None

    def _guard(self, fn: Callable[[], Response]) -> Response:
        try:
            return fn()
        except InvariantViolation as err:
            if self.deferred is None:
                self.deferred = err
            raise

    def replica_call(self, i: int, op: Op, via: Target) -> Response:
        """Replica i's API call, through the checked client; then what it means for the lease and the binding."""
        lease_before = self._lease()
        resp = self._guard(lambda: self.client.call(op, via=via))
        is_lease = op.resource == "leases" and op.namespace == LEASE_NS and resp.ok \
            and resp.body["metadata"]["name"] == LEASE_NAME
        if is_lease and op.verb == "get":
            self.candidates[i] = self.candidates[i].observe(Record.from_lease(resp.body), self._now(i))
        elif is_lease:
            self._lease_written(i, lease_before, Record.from_lease(resp.body))
        elif resp.ok and op.verb == "bind":
            self._bound(i, op.namespace or "", op.name or "", op.body)
        return resp

    def _require(self, chk: Any, *args: Any, context: str = "", **kwargs: Any) -> None:
        """Run a pure check (conformance/checks); its problems fail the example under the check's invariant id."""
        problems = chk(*args, **kwargs)
        if problems:
            self._raise(chk.invariant, context + "; ".join(problems))

    def _lease_written(self, i: int, before: Record | None, written: Record) -> None:
        now = self._now(i)
        cand = self.candidates[i]
        self._require(lease_checks.write, cand, before, written, now)
        self.candidates[i] = cand.wrote(written, now)
        self._require(lease_checks.one_holder_per_term, self.terms, written)
        if written.holder:
            self.terms.setdefault(written.transitions, written.holder)

    def _bound(self, i: int, ns: str, name: str, body: JSON) -> None:
        cand = self.candidates[i]
        self._require(lease_checks.only_leader_acts, cand, self._lease(), self._now(i), self.config,
                      f"bound {ns}/{name}")
        pod = self.model.lookup("pods", ns, name)
        uid = pod["metadata"].get("uid") if pod else None
        node = (body.get("target") or {}).get("name")
        choice = self.choices.pop((i, ns, name), None)
        chosen = (choice.replica, choice.uid, choice.node) if choice is not None else None
        self._require(sched_checks.bound_as_chosen, (i, uid, node), chosen, context=f"{cand.identity}: ")
        # the bind added this pod to the node: that must not push the node, as the cycle saw it, past its
        # allocatable (pkg/scheduler/schedule_one.go: the bind is sent by name whatever became of the node since)
        info = {ni.name: ni for ni in self._infos([])}.get(node or "")
        if pod is not None and info is not None:
            decided_on = choice.node_obj if choice is not None and choice.node_obj is not None else info.node
            self._require(sched_checks.no_overcommit, pod, decided_on, info.pods,
                          context=f"{cand.identity} bound {ns}/{name}: ")

    # ----- checks of scheduling decisions ----------------------------------------------------

    def _bound_pods(self) -> list[JSON]:
        return [o for (p, _, _), o in self.model.objects.items()
                if p == "pods" and (o.get("spec") or {}).get("nodeName")]

    def _infos(self, extra: list[JSON]) -> list[Any]:
        nodes = [o for (p, _, _), o in sorted(self.model.objects.items()) if p == "nodes"]
        pods = self._bound_pods() + extra
        by_node: dict[str, list[JSON]] = {}
        for pod in pods:
            by_node.setdefault(pod["spec"]["nodeName"], []).append(pod)
        return [sched.node_info(n, by_node.get(n["metadata"]["name"], [])) for n in nodes]

    def _assumed(self, i: int, skip_uid: str | None) -> list[JSON]:
        """Replica i's pods chosen but not bound yet, as if bound (the scheduler counts them: assume)."""
        bound_uids = {p["metadata"].get("uid") for p in self._bound_pods()}
        out = []
        for pb in self.schedulers.pending_binds(i):
            if pb["uid"] == skip_uid or pb["uid"] in bound_uids:
                continue
            pod = self.model.lookup("pods", pb["namespace"], pb["name"])
            if pod is None or pod["metadata"].get("uid") != pb["uid"]:
                continue  # the pod is gone; its assumed requests are the replica's business until the bind fails
            pod = copy.deepcopy(pod)
            pod["spec"]["nodeName"] = pb["node"]
            out.append(pod)
        return out

    def _check_cycle(self, i: int, c: JSON) -> None:
        ns, name, uid, node = c["namespace"], c["name"], c["uid"], c.get("node")
        pod = self.model.lookup("pods", ns, name)
        if node:
            self.choices[(i, ns, name)] = Choice(i, uid, node,
                                                 copy.deepcopy(self.model.lookup("nodes", None, node)))
        if pod is None or pod["metadata"].get("uid") != uid or (pod.get("spec") or {}).get("nodeName") \
                or pod["metadata"].get("deletionTimestamp"):
            return  # not pending any more: the bind must fail, which the bind check sees
        me = f"{self.candidates[i].identity}: "
        assumed = self._assumed(i, uid)
        infos = self._infos(assumed)
        view = sched.schedule(pod, infos)
        if node is None:
            self._require(sched_checks.fit_error, pod, view, c.get("message"), context=me)
            return
        self._require(sched_checks.fits, pod, node, self._infos([]), context=me)
        # with the pods it already assumed there (not bound yet) the node must still have room
        on_node = next(ni for ni in infos if ni.name == node)
        self._require(sched_checks.no_overcommit, pod, on_node.node, on_node.pods, context=me)
        self._require(sched_checks.best_score, pod, node, view, context=me)

    def _check_settled(self, outcome: JSON) -> None:
        pending = [pod for (p, _, _), pod in sorted(self.model.objects.items())
                   if p == "pods" and not (pod.get("spec") or {}).get("nodeName")
                   and not pod["metadata"].get("deletionTimestamp")]
        unsettled = None if outcome.get("settled") else f"the replicas did not settle: {short(outcome)}"
        self._require(sched_checks.exactly_once_after_settle, pending, self._infos([]), unsettled)

    # ----- checked after every step -----------------------------------------------------------

    def _check_leaders(self) -> None:
        if self.schedulers is None:
            return
        leading = [(self.candidates[i], self._now(i)) for i in range(REPLICAS) if self.schedulers.leading(i)]
        self._require(lease_checks.acting_leaders, leading, self.config)

    @invariant()
    def leases(self) -> None:
        self._steps_done += 1
        SchedulerMachine.steps += 1
        self._in_invariant = True
        if self.deferred is not None:
            raise self.deferred
        self._check_leaders()
        self._in_invariant = False
