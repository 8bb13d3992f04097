"""One scheduler replica: informers, cache, queue, algorithm, asynchronous binding and leader election.

Follows pkg/scheduler/schedule_one.go (ScheduleOne: schedulingCycle, assume,
bindingCycle, handleBindingCycleError, handleSchedulingFailure) and
eventhandlers.go (which informer events reach the cache and which the queue).
Every step is taken when the caller says; the replica never calls the API on
its own and keeps no wall clock.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from ..faults import FaultSet
from ..leaderelection import ElectorStep, LeaderElector
from .cache import Cache
from .informer import Event, Informer
from .objects import DEFAULT_SCHEDULER, JSON, NodeSpec, PodInfo, parse_node, parse_pod
from .plugins import Algorithm
from .queue import QueuedPod, SchedulingQueue


class PendingBind(NamedTuple):
    """A pod assumed on a node whose Binding has not been posted yet."""

    namespace: str
    name: str
    uid: str
    node: str


@dataclass(frozen=True)
class Cycle:
    """One scheduling cycle: the pod popped and where it goes (node None: unschedulable, message says why)."""

    namespace: str
    name: str
    uid: str
    node: str | None
    message: str | None
    evaluated: int  # nodes the filters ran on
    feasible: int  # nodes that passed them
    scores: dict[str, int]  # total weighted score per feasible node (empty when not scored)


@dataclass(frozen=True)
class BindStep:
    """One binding: the request posted and the answer."""

    namespace: str
    name: str
    uid: str
    node: str
    body: JSON
    code: int
    response: Any


@dataclass
class _InFlight:
    bind: PendingBind
    queued: QueuedPod
    generation: int = 0  # the replica incarnation that took it to bind


class Scheduler:
    """One replica of the scheduler; see the package docstring for the step-by-step contract."""

    def __init__(
        self,
        client: Any,
        *,
        identity: str,
        clock: Callable[[], datetime],
        faults: FaultSet | Iterable[str] = (),
        seed: int = 0,
        lease_namespace: str = "kube-system",
        lease_name: str = "kube-scheduler",
        lease_duration: float = 15.0,
        renew_deadline: float = 10.0,
        retry_period: float = 2.0,
        percentage_of_nodes_to_score: int = 0,
        leader_elect: bool = True,
        scheduler_name: str = DEFAULT_SCHEDULER,
    ) -> None:
        self.client = client
        self.scheduler_name = scheduler_name  # the profile's schedulerName: other pods are not this replica's
        self.identity = identity
        self.clock = clock
        self.faults = faults if isinstance(faults, FaultSet) else FaultSet(faults)
        self.seed = seed
        self.leader_elect = leader_elect
        self.percentage_of_nodes_to_score = percentage_of_nodes_to_score
        self._elector_args = dict(identity=identity, clock=clock, namespace=lease_namespace, name=lease_name,
                                  lease_duration=lease_duration, renew_deadline=renew_deadline,
                                  retry_period=retry_period, faults=self.faults)
        # NewLeaderElector validates at construction; a bad configuration fails here, not at start
        self.elector = LeaderElector(client, **self._elector_args)  # type: ignore[arg-type]
        self._epoch = clock()
        self.up = False
        self._generation = 0  # counts incarnations: a crash or restart starts a new one
        self._reset_state()

    # ---- lifecycle ----

    def _reset_state(self) -> None:
        self._generation += 1
        self.cache = Cache()
        self.queue = SchedulingQueue()
        self.algorithm = Algorithm(self.faults, random.Random(self.seed), self.percentage_of_nodes_to_score)
        self._pending: deque[_InFlight] = deque()
        self._nodes: Informer | None = None
        self._pods: Informer | None = None

    def start(self) -> None:
        """Informers list nodes and pods (all namespaces) and watch from the lists; a fresh elector."""
        if self.up:
            raise RuntimeError(f"scheduler {self.identity} is already running")
        self._reset_state()
        self.elector = LeaderElector(self.client, **self._elector_args)  # type: ignore[arg-type]
        self.up = True
        self._nodes = Informer(self.client, "nodes")
        self._pods = Informer(self.client, "pods")
        for e in self._nodes.start():
            self._on_node(e)
        for e in self._pods.start():
            self._on_pod(e)

    def crash(self) -> None:
        """Lose everything in memory (cache, queue, assumed pods, pending binds, elector); no API call."""
        if self._nodes is not None:
            self._nodes.close()
        if self._pods is not None:
            self._pods.close()
        self._reset_state()
        self.elector.reset()
        self.up = False

    def restart(self) -> None:
        """Come back from nothing, as a new process would."""
        if self.up:
            self.crash()
        self.start()

    def stop(self) -> ElectorStep | None:
        """Graceful stop: release the lease if leading (ReleaseOnCancel), then go down."""
        step = None
        if self.up and self.leader_elect and self.elector.leading():
            step = self.elector.release()
        self.crash()
        return step

    # ---- time ----

    def _now(self) -> float:
        """Seconds since construction on this replica's own clock (the queue's time base)."""
        return (self.clock() - self._epoch).total_seconds()

    def next_wakeup(self) -> float | None:
        """Seconds on its own clock until a waiting pod becomes ready or the elector should try again."""
        if not self.up:
            return None
        waits = []
        q = self.queue.next_ready(self._now())
        if q is not None:
            waits.append(q)
        if self.leader_elect:
            waits.append(self.elector.next_attempt_in())
        return min(waits) if waits else None

    # ---- leader election ----

    def tick(self) -> ElectorStep:
        """One tryAcquireOrRenew by this replica's elector on its own clock."""
        now = self.clock()
        if not self.up:
            return ElectorStep(self.identity, now, "down", False, None)
        if not self.leader_elect:
            return ElectorStep(self.identity, now, "disabled", True, None)
        self._check_leadership()
        was = self.elector.leading()
        step = self.elector.try_acquire_or_renew()
        if was and not step.leading:
            self._step_down()
        return step

    def leading(self) -> bool:
        """Acts as leader now (always, with leader election off)."""
        if not self.up:
            return False
        if not self.leader_elect:
            return True
        self._check_leadership()
        return self.elector.leading()

    def term(self) -> tuple[str, int] | None:
        """(holderIdentity, leaseTransitions) of the term it leads, if leading."""
        return self.elector.term() if self.up and self.leader_elect else None

    def _check_leadership(self) -> None:
        """A leader past its renew deadline stops leading: in-flight work is dropped and it is a candidate again."""
        if self.elector.deadline_passed():
            self._step_down()

    def _step_down(self) -> None:
        """Upstream the process exits on lost leadership; here the in-flight state goes and the elector forgets."""
        self.elector.reset()
        now = self._now()
        while self._pending:
            f = self._pending.popleft()
            self.cache.forget(f.bind.uid, f.bind.node)
            current = self._current_pod(f.bind.namespace, f.bind.name)
            if current is not None and current.uid == f.bind.uid and not current.node_name:
                self.queue.requeue_fresh(current, now)

    def may_act(self) -> bool:
        """Whether the replica schedules and binds now: it is up and leads (or, under a seeded fault, acts as if)."""
        if not self.up:
            return False
        if self.faults.enabled("scheduler.acts-without-lease"):
            return True
        return self.leading()

    # ---- informers ----

    def sync(self) -> int:
        """Drain both informers into the cache and the queue; the number of events applied."""
        if not self.up or self._nodes is None or self._pods is None:
            return 0
        n = 0
        for e in self._nodes.poll():
            self._on_node(e)
            n += 1
        for e in self._pods.poll():
            self._on_pod(e)
            n += 1
        return n

    def _on_node(self, e: Event) -> None:
        """eventhandlers.go: addNodeToCache, updateNodeInCache, deleteNodeFromCache."""
        now = self._now()
        if e.type == "ADDED":
            assert e.new is not None
            self.cache.add_node(parse_node(e.new))
            self.queue.move_all(now)
        elif e.type == "MODIFIED":
            assert e.old is not None and e.new is not None
            if self.faults.enabled("scheduler.stale-cache"):
                return
            old, new = parse_node(e.old), parse_node(e.new)
            self.cache.update_node(new)
            if _node_change_may_help(old, new):
                self.queue.move_all(now)
        else:
            assert e.old is not None
            self.cache.remove_node(str((e.old.get("metadata") or {}).get("name") or ""))

    def _on_pod(self, e: Event) -> None:
        """eventhandlers.go: assigned pods go to the cache, pending ones this scheduler owns to the queue."""
        now = self._now()
        old = parse_pod(e.old) if e.old is not None else None
        new = parse_pod(e.new) if e.new is not None else None
        if old is not None and (new is None or new.uid != old.uid):
            self._pod_gone(old, now)
            old = None
        if new is None:
            return
        if new.node_name:
            if old is not None and not old.node_name:
                self.queue.delete(old.uid)
            self.cache.add_pod(new)
        elif self.cache.is_assumed(new.uid):
            return  # eventhandlers.go: updates to an assumed pod do not reach the queue
        elif new.deleting or new.scheduler_name != self.scheduler_name:
            self.queue.delete(new.uid)
        elif old is None:
            self.queue.add(new, now)
        else:
            self.queue.update(new, now)

    def _pod_gone(self, old: PodInfo, now: float) -> None:
        """A deleted pod: out of the queue; an assigned one leaves the cache and may make room for others."""
        self.queue.delete(old.uid)
        if old.node_name:
            self.cache.remove_pod(old.uid)
            self.queue.move_all(now)  # framework.EventAssignedPodDelete
        elif self.cache.is_assumed(old.uid):
            # its Binding can only fail now, and upstream the failure forgets the pod and moves every unschedulable
            # pod on (pkg/scheduler/schedule_one.go: handleBindingCycleError, EventAssignedPodDelete); the room
            # is freed here, so the pods it kept out are moved here too, or they wait for the periodic flush
            self.cache.remove_pod(old.uid)
            self.queue.move_all(now)

    def _current_pod(self, namespace: str, name: str) -> PodInfo | None:
        if self._pods is None:
            return None
        obj = self._pods.store.get((namespace, name))
        return parse_pod(obj) if obj is not None else None

    # ---- scheduling ----

    def schedule_one(self) -> Cycle | None:
        """If it may act: sync, pop the next ready pod, filter, score, pick, assume, queue a pending bind."""
        if not self.may_act():
            return None
        self.sync()
        now = self._now()
        q = self.queue.pop(now)
        if q is None:
            return None
        pod = q.info
        result = self.algorithm.schedule(pod, self.cache)
        if result.node is None:
            self._requeue_failed(q, now, error=result.error)
            return Cycle(pod.namespace, pod.name, pod.uid, None, result.message, result.evaluated,
                         result.feasible, result.scores)
        # schedule_one.go: assume -- the pod counts on the node before the binding lands
        if not self.faults.enabled("scheduler.no-assume"):
            self.cache.assume(pod, result.node)
        self._pending.append(_InFlight(PendingBind(pod.namespace, pod.name, pod.uid, result.node), q))
        return Cycle(pod.namespace, pod.name, pod.uid, result.node, None, result.evaluated, result.feasible,
                     result.scores)

    def _requeue_failed(self, q: QueuedPod, now: float, *, error: bool) -> None:
        """schedule_one.go: handleSchedulingFailure -- requeued only if the informer still has it pending."""
        current = self._current_pod(q.info.namespace, q.info.name)
        if current is None or current.uid != q.uid or current.node_name:
            return
        if error:
            self.queue.requeue_error(q, current, now)
        else:
            self.queue.requeue_unschedulable(q, current, now)

    def pending_binds(self) -> list[PendingBind]:
        """(namespace, name, uid, node) of the pods awaiting bind_one, oldest first."""
        return [f.bind for f in self._pending]

    def bind_one(self) -> BindStep | None:
        """Post the oldest pending Binding (uid precondition); on failure forget the pod and requeue it."""
        f = self.take_bind()
        if f is None:
            return None
        step = self.post_bind(f)
        self.finish_bind(f, step)
        return step

    def take_bind(self) -> _InFlight | None:
        """The binding cycle's start: the oldest pending bind, off the queue, for :meth:`post_bind`.

        A runner on the wall clock posts it on another thread while this replica goes on scheduling, as
        schedule_one.go runs bindingCycle in its own goroutine; the pod stays assumed meanwhile."""
        if not self.may_act() or not self._pending:
            return None
        f = self._pending.popleft()
        f.generation = self._generation
        return f

    def post_bind(self, f: _InFlight) -> BindStep:
        """POST the Binding for ``f``; touches none of the replica's state, so it may run on any thread."""
        b = f.bind
        meta: JSON = {"name": b.name, "namespace": b.namespace}
        if not self.faults.enabled("scheduler.binds-without-uid"):
            meta["uid"] = b.uid
        body: JSON = {"apiVersion": "v1", "kind": "Binding", "metadata": meta,
                      "target": {"kind": "Node", "name": b.node}}
        r = self.client.bind(b.namespace, b.name, body)
        return BindStep(b.namespace, b.name, b.uid, b.node, body, r.code, r.body)

    def finish_bind(self, f: _InFlight, step: BindStep) -> None:
        """The binding cycle's end: a refused Binding is forgotten and its pod requeued. A bind taken before a
        crash or restart ends with that incarnation: its cache and queue are gone."""
        if f.generation == self._generation and not 200 <= step.code < 300:
            self._bind_failed(f)

    def _bind_failed(self, f: _InFlight) -> None:
        """schedule_one.go: handleBindingCycleError -- forget, let others retry, requeue with backoff."""
        if self.faults.enabled("scheduler.no-forget"):
            return
        now = self._now()
        if self.cache.forget(f.bind.uid, f.bind.node):
            self.queue.move_all(now)  # the forgotten pod's room is free again (EventAssignedPodDelete)
        self._requeue_failed(f.queued, now, error=True)


def _node_change_may_help(old: NodeSpec, new: NodeSpec) -> bool:
    """A node update that may make a rejected pod fit (the filter plugins' node-update queueing hints)."""
    return ((old.unschedulable and not new.unschedulable)
            or old.taints != new.taints
            or old.labels != new.labels
            or new.alloc_cpu > old.alloc_cpu or new.alloc_mem > old.alloc_mem
            or new.alloc_eph > old.alloc_eph or new.alloc_pods > old.alloc_pods)
