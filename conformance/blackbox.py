"""The black-box scheduling machine: scheduling and leader election checked only from what the API shows.

:class:`BlackBoxMachine` drives a running control plane (the bundled server
with ``serve --schedulers N``, or a real kube-apiserver with real
kube-scheduler replicas) through its REST API and never looks inside a
scheduler: every invariant is computed from three watches (the example's pods,
the example's nodes, the Lease kube-system/kube-scheduler), the pods'
PodScheduled conditions and the resourceVersions and timestamps the server
wrote.

Rules: create nodes (allocatable cpu/memory/pods, labels, taints,
unschedulable), relabel, taint, cordon or delete them; create one pod or a
burst of several (requests, nodeSelector, required and preferred node
affinity, tolerations, priorities where the target runs no preemption), delete
a pod, replace one (delete and create again under the same name: a new uid);
a spread burst (alike small pods after new roomy nodes, whose choices are
judged together); ``settle``, which waits (bounded, real time) until every pod is bound, or
reported unschedulable (PodScheduled=False, reason Unschedulable) while the
model finds no node for it, and nothing has changed for a quiet period. No
other rule runs more than ``UNSETTLED_STEPS`` steps after a settle, so every
example is checked every few steps, and once more at its end (teardown settles
an example whose last steps came after its last settle).

Node and pod shapes are those of the scheduler differential
(``conformance/differential.py``): run-scoped names and label, the run taint on
every node and, on every pod, its toleration and a required node affinity to
the run's nodes (so a real cluster's own nodes are never considered), a Ready
condition, and the ``node.kubernetes.io/not-ready`` taint TaintNodesByCondition
adds at create (plugin/pkg/admission/nodetaint/admission.go) lifted as the
node-lifecycle controller would (and tolerated by every pod meanwhile, so a
node version that lives for milliseconds decides nothing). Each example has its own run id, namespace
and nodes, removed at teardown, so examples (and shrinking) start clean against
long-running processes.

Invariants (the pure checks of ``conformance/checks``, same ids):

- ``binding.at-most-once``, after every step: a pod uid's ``spec.nodeName``,
  once a watch event showed it, is the same in every later event.
- ``scheduler.fits`` and ``scheduler.no-overcommit``, for every binding, on the
  state the API held when it was written, rebuilt from the watch history up to
  the resourceVersion of the pod's first bound event. ``no-overcommit``: the
  node as of then and every pod bound to it then. ``fits``: every filter on a
  version of the node the scheduler may have seen (any from ``INFORMER_LAG``
  seconds before the pod was created up to the binding: a scheduler's node
  informer is its own watch and may lag its pod informer; the scheduler does
  not filter again at bind, pkg/scheduler/schedule_one.go: bindingCycle),
  counting only the pods bound before the pod was created (those any scheduler
  must have counted). A resource excess among pods bound together in a burst is
  ``no-overcommit``'s.
- ``scheduler.fit-error`` for a pod reported unschedulable: its condition's
  message starts with the model's FitError text in some view around the
  status write (:func:`views`, within ``INFORMER_LAG`` seconds either way: the
  scheduler decides on a snapshot taken before it writes, its node and pod
  informers each trail the API by their own lag, and it counts pods it
  assumed whose bindings the API shows only after); and a pod still neither
  bound nor reported when settle runs out of time, though it fits nowhere,
  breaks it too (it was never reported).
- ``scheduler.best-score``, for every binding: the node is among the model's
  top-score nodes in at least one view the scheduler may have decided on
  (:func:`check_best_score`): the nodes as of any revision from
  ``INFORMER_LAG`` seconds before the pod was created up to the binding, the
  bound pods as of any such revision (each informer lags on its own), and any
  choice of the pods it may have assumed and the API does not show bound yet:
  those bound at most ``INFORMER_LAG`` seconds after the binding arrived, on
  their node, and those deleted before they were ever bound, on any node.
  Against kube-scheduler each node's ImageLocality counts an image's nodes as
  its last snapshot copy did (:func:`_image_counts`). A binding with more than
  ``MAX_VIEWS`` views, or one a score plugin the model leaves out may score, is
  counted as unjudged.
- ``binding.exactly-once`` after settle: no pod is left pending, or reported
  unschedulable, while the model finds a node for it **on the settled state**
  (nodes and bound pods as the API shows them at the end of settle). A pod that
  was feasible when created and became unschedulable because a node was
  deleted, tainted or filled meanwhile is judged on the settled state, where it
  does not fit: that is not a failure.
- ``lease.single-holder-per-term``, after every step, over every Lease record
  the watch showed (:func:`conformance.checks.lease.records`; one host clock
  writes every time on both targets, so a takeover is also checked to come at
  least leaseDurationSeconds after the old holder's last renewTime).
- ``lease.only-leader-acts``, for every binding, as far as the API shows it:
  some replica held a live term of the Lease (a record's renewTime plus
  leaseDurationSeconds) at some moment between the pod's create being sent and
  its bound event arriving (:func:`conformance.checks.lease.bound_within_a_live_term`;
  the Lease's times and the harness's are one host's wall clock). A binding
  names no replica, so one acting without the Lease while another holds a live
  term is not seen; one acting while no term is live (the leader killed, the
  Lease not yet run out or taken) is.

With ``replicas`` (conformance/replicas.py: bundled scheduler processes, or
tools/kube's kube-scheduler replicas) three more rules act on the schedulers
and their Lease: ``kill_leader`` (SIGKILL the Lease's holder and start it
again, a new identity), ``pause_leader`` (SIGSTOP it for 0.3 to 2 lease
durations, then SIGCONT; past its renew deadline it has lost the Lease and
exits, as kube-scheduler does) and ``harness_holds_lease`` (the replicas stop
and release the Lease, the harness takes it as a candidate that never
schedules, for one lease duration and sometimes with a backdated renewTime,
the replicas start again and a pod is created: no binding may come during
that term, ``lease.only-leader-acts``, and nobody may take the Lease before
the term ran out by observation, ``lease.single-holder-per-term``). A replica
that exited is started again after every step, and every example starts from
freshly started replicas.

With a ``wire`` (conformance/wire.py: the replicas reach the server through
an HTTP proxy the harness runs, each under its own identity) a created pod's
Binding may meet one of its faults: held while the pod is replaced (a new uid
under the same name, whose node affinity excludes the node the held Binding
names), then let go: it must be refused, or the new pod lands where it does
not fit (``scheduler.fits``); or refused with a 500, and the scheduler must
forget the pod and bind it again (``binding.exactly-once`` after settle, which
comes as soon as the refusal did: a failover would hide a scheduler that kept
the refused pod assumed, its successor starting from an empty cache).
``starve_leader`` refuses every replica's Lease writes past the leader's renew
deadline while pods arrive: a Binding the wire attributes to a replica must
come from one the Lease showed as holder (``lease.only-leader-acts``) within
its renew deadline of its last renewal (``lease.single-holder-per-term``).
What the wire saw (when each Binding arrived and was answered, the node it
named) counts in ``scheduler.best-score`` and ``scheduler.fit-error``: a pod
whose Binding was in flight, or refused and not yet answered, may have been
counted on that node.

What the API does not show, and so is not checked here: which replica wrote a
binding (the bundled server writes no managedFields, and a binding carries no
identity), what a scheduler assumed and has not bound, its cache and its
queue, a binding refused by the server (no trace on the pod), and its clocks.
What a scheduler assumed is bounded from what the API shows later, as
``scheduler.best-score`` says above.

resourceVersions are compared for order across pods and nodes: both targets
write them from one global revision (etcd's; the bundled storage's counter),
and a non-integer one stops the run with a usage error.

A target that cannot be reached raises :class:`TransportFailure` (never an
invariant, never a Hypothesis flaky): ``conformance.client.transport``.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import itertools
import json
import math
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.errors import FlakyFailure, FlakyStrategyDefinition
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
    run_state_machine_as_test,
)

from adapters.base import Response, TargetError
from adapters.http import HTTPTarget
from adapters.scoped import RUN_LABEL, RUN_TAINT_EFFECT, RUN_TAINT_KEY, new_run_id
from conformance import strategies as gen
from conformance.checks import lease as lease_checks
from conformance.checks import scheduling as sched_checks
from conformance.client import transport
from conformance.disruption import ResumingWatch
from conformance.invariants import (
    TransportFailure,
    forget_first,
    seen_once,
    violation,
    violations_in,
)
from conformance.runner import without_local_constants
from conformance.wire import Wire, WireBind
from model import scheduler as sched
from model.leaderelection import Record
from model.scheduler.matching import TAINT_NODE_UNSCHEDULABLE

JSON = dict[str, Any]

NOT_READY = "node.kubernetes.io/not-ready"
#: every run pod tolerates the not-ready NoSchedule taint kube-apiserver puts on a node it creates (plugin/pkg/
#: admission/nodetaint/admission.go) until the machine lifts it just after: a scheduler that decides in that moment
#: would otherwise report a pod unschedulable on a node version that lived a few milliseconds, which the views
#: around the report (``INFORMER_LAG``) need not hold when its informers trail the API by more than that. Only the
#: generated taints test taint handling; this one is the fake nodes' artifact (no node-lifecycle controller runs).
NOT_READY_TOLERATION = {"key": NOT_READY, "operator": "Exists", "effect": "NoSchedule"}
LEASE_NS = "kube-system"
LEASE_NAME = "kube-scheduler"
#: seconds a scheduler's view of nodes may trail the API (its node informer is a watch of its own)
INFORMER_LAG = 1.0
#: seconds past INFORMER_LAG a probe pod waits after the node change it probes
PROBE_MARGIN = 0.3
#: seconds with no change before settle may end
QUIET = 1.0
#: seconds prefer_node waits at most for such a quiet moment
QUIET_WAIT = 5.0
#: characters of a violation's message `python -m conformance.blackbox` prints with a run's verdict
MESSAGE_CHARS = 1500
#: seconds settle waits at most for every pod to be decided
SETTLE_TIMEOUT = 30.0
#: seconds a watch may take to show what a consistent list showed
WATCH_CATCH_UP = 10.0
#: seconds allowed between the harness's wall clock and the one that wrote the Lease's times (the same host here)
CLOCK_TOLERANCE = 0.05
#: seconds a replica's Binding may reach the wire after the moment it last acted as leader (its bind threads post
#: what its last cycles decided)
ACT_TOLERANCE = 0.5
#: at most this many other steps between two settles
UNSETTLED_STEPS = 4
#: the first error (not a violation) that ended an example in this run: Hypothesis' flaky report of a replay that
#: did not repeat it carries no traceback of its own
_ERRORS: list[BaseException] = []
#: seconds the wire rules wait for a new pod's Binding (a scheduler cycles a new pod within a poll or so; a failover
#: under the short Lease takes a few seconds)
WIRE_WAIT = 5.0
GRACE0 = {"kind": "DeleteOptions", "apiVersion": "v1", "gracePeriodSeconds": 0}
#: the holderIdentity prefix of the harness when it holds the Lease itself (it never schedules)
HARNESS_HOLDER = "kubeprop-harness"

def _micro(epoch: float) -> str:
    """A Lease MicroTime (RFC 3339, microseconds, UTC)."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# --------------------------------------------------------------------------- what the watches showed


@dataclass(frozen=True)
class Seen:
    """One watch event: its resourceVersion as a revision, what kind of object, the event type, the object, and
    when (harness monotonic clock) it arrived."""

    rv: int
    kind: str  # "pod" or "node"
    type: str
    obj: JSON
    at: float

    @property
    def key(self) -> str:
        meta = self.obj["metadata"]
        return meta["uid"] if self.kind == "pod" else meta["name"]


class UnorderedRevisions(BaseException):
    """The server's resourceVersions cannot order pods against nodes: the machine cannot judge it (not a finding;
    a BaseException, so Hypothesis neither shrinks nor replays it)."""


def revision(rv: str | None) -> int:
    try:
        return int(rv or "")
    except ValueError:
        raise UnorderedRevisions(f"resourceVersion {rv!r} is not an integer revision: the black-box machine orders "
                                 "pods and nodes by one global revision, which this server does not expose") from None


@dataclass
class State:
    """The API's nodes (by name) and pods (by uid) as of one revision."""

    nodes: dict[str, JSON] = field(default_factory=dict)
    pods: dict[str, JSON] = field(default_factory=dict)

    def bound_on(self, node: str, leave_out: str | None = None) -> list[JSON]:
        return [p for u, p in self.pods.items() if p["spec"].get("nodeName") == node and u != leave_out]

    def infos(self, leave_out: str | None = None) -> list[sched.NodeInfo]:
        return [sched.node_info(n, self.bound_on(name, leave_out)) for name, n in sorted(self.nodes.items())]


#: seconds a watch the server ended may take to be opened again
RESUME_WITHIN = 10.0


class Observer:
    """The three watches of one example and everything they showed, stamped as it arrived."""

    def __init__(self, target: HTTPTarget, namespace: str, run_id: str) -> None:
        self.target = target
        self.lock = threading.Lock()
        self.events: list[Seen] = []
        self.leases: list[Record] = []
        #: when (harness clock) the watch showed the Lease's holder change, after the first record it showed
        self.transitions: list[float] = []
        self.ended: list[str] = []
        self._stop = threading.Event()
        # each watch is reopened from the last resourceVersion it delivered when the server ends it, as an
        # informer's reflector does (kube-apiserver closes a watcher that falls behind during a burst:
        # apiserver/pkg/storage/cacher/cache_watcher.go, add); one that cannot go on (410, or no server for
        # RESUME_WITHIN seconds) ends the example as a transport failure
        def opener(resource: str, ns: str | None, selector: str | None = None) -> Callable[[str], Any]:
            return lambda rv: target.watch(resource, ns, resource_version=rv or None, label_selector=selector)

        with transport("open the watches of pods, nodes and the Lease"):
            self._watches = [
                ("pod", ResumingWatch(opener("pods", namespace), "", RESUME_WITHIN, None)),
                ("node", ResumingWatch(opener("nodes", None, f"{RUN_LABEL}={run_id}"), "", RESUME_WITHIN, None)),
                ("lease", ResumingWatch(opener("leases", LEASE_NS), "", RESUME_WITHIN, None)),
            ]
            for kind, w in self._watches:
                if w.ended:
                    raise TargetError(f"the watch of {kind}s could not be opened: {w.segments[-1:]}")
        self._thread = threading.Thread(target=self._pump, name="kubeprop-blackbox-watch", daemon=True)
        self._thread.start()

    def _pump(self) -> None:
        while not self._stop.is_set():
            for kind, w in self._watches:
                for e in w.drain(timeout=0.02):
                    self._take(kind, e, time.monotonic())
                if w.ended and not self._stop.is_set():
                    with self.lock:
                        if not any(e.startswith(kind) for e in self.ended):
                            self.ended.append(f"{kind} ({'410 Expired' if w.expired else 'not reopened'}: "
                                              f"{w.record()[-1:]})")

    def _take(self, kind: str, event: JSON, at: float) -> None:
        obj = event.get("object") or {}
        if event.get("type") == "BOOKMARK":
            return
        if kind == "lease":
            if (obj.get("metadata") or {}).get("name") == LEASE_NAME and event.get("type") != "DELETED":
                rec = Record.from_lease(obj)
                with self.lock:
                    if self.leases and self.leases[-1].holder != rec.holder:
                        self.transitions.append(at)
                    if not self.leases or self.leases[-1] != rec:
                        self.leases.append(rec)
            return
        seen = Seen(revision(obj["metadata"].get("resourceVersion")), kind, event["type"], obj, at)
        with self.lock:
            self.events.append(seen)

    def snapshot(self) -> tuple[list[Seen], list[Record]]:
        with self.lock:
            if self.ended:
                raise TransportFailure(f"transport failure, not a finding: the watch of {self.ended[0]} ended")
            return sorted(self.events, key=lambda s: s.rv), list(self.leases)

    def holder_changes(self) -> list[float]:
        with self.lock:
            return list(self.transitions)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        for _, w in self._watches:
            w.close()


def state_at(events: Iterable[Seen], rv: int) -> State:
    """Nodes and pods as the API held them at revision ``rv`` (``events`` sorted by revision)."""
    out = State()
    for e in events:
        if e.rv > rv:
            break
        table = out.pods if e.kind == "pod" else out.nodes
        if e.type == "DELETED":
            table.pop(e.key, None)
        else:
            table[e.key] = e.obj
    return out


def _condition(pod: JSON) -> JSON | None:
    for c in (pod.get("status") or {}).get("conditions") or []:
        if c.get("type") == "PodScheduled":
            return c
    return None


def unschedulable(pod: JSON) -> bool:
    # pkg/scheduler/schedule_one.go: handleSchedulingFailure writes PodScheduled=False, reason Unschedulable
    c = _condition(pod)
    return bool(c and c.get("status") == "False" and c.get("reason") == "Unschedulable")


def _ref(pod: JSON) -> str:
    return f"{pod['metadata'].get('namespace')}/{pod['metadata']['name']} (uid {pod['metadata']['uid']})"


# --------------------------------------------------------------------------- checks over the history


def at_most_once(events: list[Seen]) -> list[str]:
    """``binding.at-most-once``: each pod uid shows one nodeName from the first event that has one."""
    first: dict[str, tuple[str, int]] = {}
    out = []
    for e in events:
        if e.kind != "pod":
            continue
        node = e.obj["spec"].get("nodeName")
        if not node:
            if e.key in first:
                out.append(f"{_ref(e.obj)} lost its node {first[e.key][0]!r} at resourceVersion {e.rv}")
            continue
        was = first.setdefault(e.key, (node, e.rv))
        if was[0] != node:
            out.append(f"{_ref(e.obj)} bound to {was[0]!r} at resourceVersion {was[1]}, then to {node!r} at {e.rv}")
    return out


def _window_start(events: list[Seen], at: float) -> int:
    """The revision the API had reached ``INFORMER_LAG`` seconds before ``at`` (as far as the watches showed)."""
    rv = 0
    for e in events:
        if e.at <= at - INFORMER_LAG:
            rv = max(rv, e.rv)
    return rv


#: a pause of a scheduler replica, harness monotonic clock: (stopped, resumed, stale_until). From ``resumed`` to
#: ``stale_until`` the replica may act on what its informers showed before ``stopped``: they catch up only once it
#: runs again, and its scheduling loop goes on meanwhile, until it finds its term over and steps down
Pause = tuple[float, float, float]


def _opened_by_pause(start: float, end: float, pauses: Iterable[Pause]) -> float:
    """When the window of a decision made between ``start`` and ``end`` opens: ``start``, or, when a paused replica
    may have made it on its stale view, the moment that replica stopped (the earliest such)."""
    return min([start, *(stopped for stopped, resumed, stale in pauses if resumed <= end and start <= stale)])


def _revisions(events: list[Seen], lo: int, hi: int) -> list[int]:
    return sorted({lo, hi, *(e.rv for e in events if lo < e.rv <= hi)})


def check_binding(events: list[Seen], bind: Seen) -> list[tuple[str, list[str]]]:
    """``scheduler.fits`` and ``scheduler.no-overcommit`` for one binding (see the module doc); (invariant,
    problems) pairs."""
    pod, node, uid = bind.obj, bind.obj["spec"]["nodeName"], bind.key
    added = next(e for e in events if e.kind == "pod" and e.key == uid)
    at_bind = state_at(events, bind.rv)
    bound_rv = {e.key: e.rv for e in reversed(events) if e.kind == "pod" and e.obj["spec"].get("nodeName")}
    counted = [p for u, p in at_bind.pods.items()
               if u != uid and p["spec"].get("nodeName") == node and bound_rv.get(u, bind.rv) < added.rv]
    versions: list[JSON] = []
    for rv in _revisions(events, _window_start(events, added.at), bind.rv):
        n = state_at(events, rv).nodes.get(node)
        if n is not None and n not in versions:
            versions.append(n)
    out: list[tuple[str, list[str]]] = []
    if not versions:
        out.append((sched_checks.fits.invariant,
                    sched_checks.fits(pod, node, [sched.node_info(n, []) for n in at_bind.nodes.values()])))
    else:
        tries = [sched_checks.fits(pod, node, [sched.node_info(n, counted)]) for n in versions]
        if all(tries):
            out.append((sched_checks.fits.invariant,
                        [f"{tries[-1][0]} (at resourceVersion {bind.rv}; no version of the node from "
                         f"{INFORMER_LAG:g}s before the pod was created fits it either)"]))
    if node in at_bind.nodes:
        problems = sched_checks.no_overcommit(pod, at_bind.nodes[node], at_bind.bound_on(node, uid))
        out.append((sched_checks.no_overcommit.invariant,
                    [f"{p} (binding at resourceVersion {bind.rv})" for p in problems]))
    return [(inv, ps) for inv, ps in out if ps]


#: views (node state x pod state x assumed pods) of one binding at most, before best-score leaves it unjudged
MAX_VIEWS = 4096
#: places tried in the search for an order of the scheduling cycles, at most, before it is left unjudged
MAX_ORDER_STEPS = 20000


@dataclass
class ScoreVerdict:
    """What a best-score check found: the problems (empty when it holds), how many views it scored, and why it
    did not judge (empty when it did)."""

    problems: list[str]
    views: int = 0
    unjudged: str = ""
    #: some node the pod fits on was not among the top-score nodes (in the first view): the choice mattered
    contested: bool = False


@dataclass(frozen=True)
class Life:
    """One pod uid as the watches showed it: its first event, the first that shows it bound, its DELETED."""

    created: Seen
    bound: Seen | None
    deleted: Seen | None


def lives(events: list[Seen]) -> dict[str, Life]:
    out: dict[str, list[Any]] = {}
    for e in events:
        if e.kind != "pod":
            continue
        life = out.setdefault(e.key, [e, None, None])
        if e.obj["spec"].get("nodeName") and life[1] is None:
            life[1] = e
        if e.type == "DELETED":
            life[2] = e
    return {u: Life(*life) for u, life in out.items()}


def _pending(bind: Seen) -> JSON:
    """The pod of a bound event as the scheduler saw it: pending (a nodeName would admit that node alone)."""
    pod = copy.deepcopy(bind.obj)
    del pod["spec"]["nodeName"]
    return pod


def _anywhere(pod: JSON, nodes: Iterable[str]) -> list[JSON | None]:
    """A pod the scheduler may have assumed on any of ``nodes``, or not at all (None, first)."""
    options: list[JSON | None] = [None]
    for n in nodes:
        placed = copy.deepcopy(pod)
        placed["spec"]["nodeName"] = n
        options.append(placed)
    return options


def _failed_binds(known: dict[str, Life], uid: str, bind: Seen, rv: int,
                  nodes: Iterable[str]) -> list[list[JSON | None]]:
    """Pods the scheduler may have assumed whose bind then failed: never bound, deleted after ``rv`` and at most
    ``INFORMER_LAG`` seconds after ``bind`` arrived (a bind is sent right after its cycle, pkg/scheduler/
    schedule_one.go: bindingCycle, and fails once the pod is gone), created before ``bind``; on any node, as the
    API shows nothing of where (pkg/scheduler/internal/cache/cache.go: AssumePod, then ForgetPod)."""
    return [_anywhere(life.deleted.obj, nodes) for u, life in known.items()
            if u != uid and life.bound is None and life.deleted is not None and life.deleted.rv > rv
            and life.created.rv < bind.rv and life.deleted.at <= bind.at + INFORMER_LAG]


def _wired(known: dict[str, Life], wire: Iterable[WireBind]) -> list[tuple[str, WireBind]]:
    """Each Binding the wire saw with the uid of the pod it was for: the one it names, or (a Binding without a uid)
    the pod of that name the API showed when it arrived."""
    out = []
    for r in wire:
        uid = r.uid
        if uid is None:
            alive = [u for u, life in known.items() if life.created.obj["metadata"]["name"] == r.pod
                     and life.created.at <= r.arrived and (life.deleted is None or life.deleted.at >= r.arrived)]
            uid = alive[-1] if alive else None
        if uid in known and r.node is not None:
            out.append((uid, r))
    return out


def _in_flight(known: dict[str, Life], wired: list[tuple[str, WireBind]], uid: str, since: float,
               until: float) -> tuple[set[str], list[list[JSON | None]]]:
    """What the wire adds to the pods a decision between ``since`` and ``until`` may have counted as assumed: those
    whose Binding arrived by ``until`` (plus ``INFORMER_LAG``) and went through (counted on their node however late
    the API showed them bound), and, on the node the Binding named, those whose Binding was refused or failed no
    earlier than ``since`` (a scheduler forgets a pod only once the answer is in: schedule_one.go,
    handleBindingCycleError). ``wired``: :func:`_wired`'s pairs."""
    through: set[str] = set()
    refused: list[list[JSON | None]] = []
    for u, r in wired:
        if u == uid or r.arrived > until + INFORMER_LAG:
            continue
        if r.code is not None and 200 <= r.code < 300:
            through.add(u)
        elif r.answered is None or r.answered >= since:
            placed = copy.deepcopy(known[u].created.obj)
            placed["spec"]["nodeName"] = r.node
            refused.append([None, placed])
    return through, refused


def _image_counts(events: list[Seen], lo: int, hi: int) -> dict[str, dict[str, tuple[int, int]]]:
    """Per node, per image name on it: the fewest and the most nodes having that image that a kube-scheduler's
    snapshot of the node may count in a decision between revisions ``lo`` and ``hi``.

    kube-scheduler counts an image's nodes when it copies a node into its snapshot, at the first cycle after the
    node's own state changed (the node, or a pod on it: pkg/scheduler/backend/cache/cache.go, UpdateSnapshot
    copies only nodes whose generation moved; kube-scheduler/framework/types.go, ImageStateSummary.Snapshot), and
    the other nodes keep the count their last copy made: a node added with an image raises the count on itself,
    not on the nodes that had the image before it (kubernetes#116938 made the count follow the cache, for nodes
    copied again). So the count may be any the API had from the node's last change before ``lo`` (less
    ``INFORMER_LAG``: the scheduler may have changed it, assuming a pod, before the API showed it) up to ``hi``."""
    images: dict[str, set[str]] = {}  # node -> its image names, as of the revision reached
    ever: dict[str, set[str]] = {}  # node -> every image name it had up to hi (a node deleted meanwhile included)
    counts: dict[str, int] = {}
    timeline: dict[str, list[tuple[int, int]]] = {}  # image -> (revision, nodes having it from then on)
    touched: dict[str, float] = {}  # node -> when the last event that changed it before lo arrived
    for e in events:
        if e.rv > hi:
            break
        if e.kind == "node":
            name = e.obj["metadata"]["name"]
            old = images.pop(name, set())
            new = set() if e.type == "DELETED" else set(sched.node_images(e.obj))
            if e.type != "DELETED":
                images[name] = new
                ever.setdefault(name, set()).update(new)
            for image in old ^ new:
                counts[image] = counts.get(image, 0) + (1 if image in new else -1)
                timeline.setdefault(image, []).append((e.rv, counts[image]))
        else:
            name = e.obj["spec"].get("nodeName") or ""
        if name and e.rv <= lo:
            touched[name] = e.at
    out: dict[str, dict[str, tuple[int, int]]] = {}
    for name, names in ever.items():
        since = _window_start(events, touched[name]) if name in touched else lo
        per: dict[str, tuple[int, int]] = {}
        for image in names:
            seen = [c for rv, c in timeline[image] if since < rv <= hi]
            before = [c for rv, c in timeline[image] if rv <= since]
            seen += before[-1:]
            per[image] = (min(seen), max(seen))
        out[name] = per
    return out


def _states(events: list[Seen], lo: int, hi: int) -> list[tuple[int, State]]:
    """The API's state at each revision from ``lo`` to ``hi`` the watches showed, newest first."""
    return [(rv, state_at(events, rv)) for rv in reversed(_revisions(events, lo, hi))]


def _node_views(states: list[tuple[int, State]]) -> list[dict[str, JSON]]:
    """The distinct states of the nodes among ``states``, in their order."""
    views: list[dict[str, JSON]] = []
    for _, st_ in states:
        if st_.nodes not in views:
            views.append(st_.nodes)
    return views


def _top_in_some_view(pod: JSON, node: str, around: Views) -> tuple[bool, int, sched.Decision]:
    """Whether ``node`` is among the model's top-score nodes for ``pod`` in some view; the views scored, and the
    decision in the first."""
    tried = 0
    first = None
    for infos in around.infos():
        if around.image_counts:
            # each node's image count is its own: the chosen node at its most, every other at its fewest
            infos = [dataclasses.replace(i, image_nodes={image: high if i.name == node else low for image, (low, high)
                                                         in around.image_counts.get(i.name, {}).items()})
                     for i in infos]
        decision = sched.schedule(pod, infos)
        tried += 1
        first = first or decision
        if node in decision.top or (not decision.exact and node in decision.feasible):
            return True, tried, first
    assert first is not None
    return False, tried, first


@dataclass
class Views:
    """What a scheduler may have decided on, around one event (``anchor``: a binding, or an Unschedulable report)
    of pod ``uid``: each state of the nodes, and each state of the bound pods with its ``optional`` pods (those it
    may have counted as assumed, None: not), both as of any revision from ``lo`` to ``hi``, the newest first."""

    nodes: list[dict[str, JSON]]
    pods: list[tuple[list[JSON], list[list[JSON | None]]]]
    #: per node, per image name on it: the fewest and the most nodes having that image the scheduler's copy of the
    #: node may count (:func:`_image_counts`); empty: every node counts them as the view's nodes do
    image_counts: dict[str, dict[str, tuple[int, int]]] = field(default_factory=dict)

    def count(self) -> int:
        return sum(math.prod(len(o) for o in options) for _, options in self.pods) * len(self.nodes)

    def infos(self) -> Iterable[list[sched.NodeInfo]]:
        for fixed, options in self.pods:
            for chosen in itertools.product(*options):
                pods = [*fixed, *(p for p in chosen if p is not None)]
                for nodes in self.nodes:
                    yield [sched.node_info(n, [p for p in pods if p["spec"]["nodeName"] == name])
                           for name, n in sorted(nodes.items())]


def views(events: list[Seen], known: dict[str, Life], uid: str, anchor: Seen, lo: int, hi: int,
          wire: Iterable[WireBind] = (), since: float = 0.0, snapshot_images: bool = False) -> Views:
    """The views around ``anchor`` (see :class:`Views`): a scheduler's node and pod informers are watches of their
    own and may trail the API, each by its own lag; the pods it may have assumed are those the API shows bound
    later, created before ``anchor`` and bound at most ``INFORMER_LAG`` seconds after it arrived (on their node),
    and :func:`_failed_binds`; with what the wire between the scheduler and the server saw (from ``since``, when
    the window opens), :func:`_in_flight`'s too. ``snapshot_images``: the scheduler counts an image's nodes as its
    copy of each node last did (kube-scheduler: :func:`_image_counts`)."""
    states = _states(events, lo, hi)
    node_views = _node_views(states)
    everywhere = sorted({n for nodes in node_views for n in nodes})
    through, refused = _in_flight(known, _wired(known, wire), uid, since, anchor.at)
    pod_views: list[tuple[list[JSON], list[list[JSON | None]]]] = []
    seen: set[tuple[frozenset[tuple[str, str]], frozenset[str]]] = set()
    for rv, st_ in states:
        bound = {u: p for u, p in st_.pods.items() if u != uid and p["spec"].get("nodeName")}
        # the pods bound just after, counted as assumed, first: the likeliest view
        later = [u for u, life in known.items()
                 if u != uid and life.bound is not None and u not in bound and life.bound.rv > rv
                 and life.created.rv < anchor.rv and (life.bound.at <= anchor.at + INFORMER_LAG or u in through)]
        failed = _failed_binds(known, uid, anchor, rv, everywhere)
        gone = {o[1]["metadata"]["uid"] for o in failed if len(o) > 1}
        failed += [o for o in refused if o[1]["metadata"]["uid"] not in gone]  # type: ignore[index]
        key = (frozenset((u, p["spec"]["nodeName"]) for u, p in bound.items()),
               frozenset([*later, *((o[1]["metadata"]["uid"], o[1]["spec"]["nodeName"])  # type: ignore[index]
                                    for o in failed if len(o) > 1)]))
        if key in seen:
            continue
        seen.add(key)
        options: list[list[JSON | None]] = [[known[u].bound.obj, None] for u in later]  # type: ignore[union-attr]
        pod_views.append((list(bound.values()), options + failed))
    return Views(node_views, pod_views, _image_counts(events, lo, hi) if snapshot_images else {})


def check_best_score(events: list[Seen], bind: Seen, wire: Iterable[WireBind] = (),
                     snapshot_images: bool = False, pauses: Iterable[Pause] = ()) -> ScoreVerdict:
    """``scheduler.best-score`` for one binding, from outside: the node is among the model's top-score nodes in
    at least one view (:func:`views`) the scheduler may have decided on, from ``INFORMER_LAG`` seconds before the
    pod was created up to the binding. A view can only make the check easier to pass: a node that is top in none
    of them was not the scheduler's best on anything it could have seen. :func:`check_cycle_order` is the
    stricter check for one scheduler's turn. ``snapshot_images``: see :func:`views`. ``pauses``: a binding a
    resumed replica may have decided on its stale view opens its window when that replica stopped."""
    node, uid, pod = bind.obj["spec"]["nodeName"], bind.key, _pending(bind)
    known = lives(events)
    created = known[uid].created.at
    opened = _opened_by_pause(created, bind.at, pauses)
    around = views(events, known, uid, bind, _window_start(events, opened), bind.rv, wire, opened, snapshot_images)
    omitted = sched.omitted_scores(pod, [p for fixed, _ in around.pods for p in fixed])
    if omitted:
        return ScoreVerdict([], 0, f"score plugins the model leaves out may score it: {'; '.join(omitted)}")
    if around.count() > MAX_VIEWS:
        return ScoreVerdict([], 0, f"{around.count()} views, past {MAX_VIEWS}")
    ok, tried, first = _top_in_some_view(pod, node, around)
    if ok:
        return ScoreVerdict([], tried, contested=bool(set(first.feasible) - set(first.top)))
    problems = sched_checks.best_score(pod, node, first) or [f"{_ref(pod)} went to {node}"]
    return ScoreVerdict([f"{p} (as the API stood at the binding, resourceVersion {bind.rv}, with the pods bound "
                         f"just after it counted as assumed; {node} is top in none of the {tried} views the scheduler "
                         f"may have decided on: node states and bound pods from {INFORMER_LAG:g}s before the pod was "
                         "created up to the binding, with any choice of the pods it may have assumed)"
                         for p in problems], tried, contested=True)


class _Unjudged(Exception):
    pass


def check_cycle_order(events: list[Seen], transitions: Iterable[float], wire: Iterable[WireBind] = (),
                      snapshot_images: bool = False, pauses: Iterable[Pause] = ()) -> ScoreVerdict:
    """``scheduler.best-score`` over all the bindings of one scheduler's turn at once: some order of their
    scheduling cycles makes every choice a top-score one.

    A scheduler runs one scheduling cycle at a time and counts, in each, every pod whose cycle came before it,
    assumed until its binding shows up (pkg/scheduler/schedule_one.go: ScheduleOne, assume, then bindingCycle in a
    goroutine of its own; pkg/scheduler/internal/cache/cache.go: AssumePod, FinishBinding). Bindings may reach the
    API out of cycle order, so the order is searched, with what the API does pin down: a pod bound before another
    was created came first, and a pod bound more than ``INFORMER_LAG`` seconds after another's binding came after
    it (as :func:`check_best_score` assumes). In a pod's cycle the counted pods are exactly those before it, less
    any whose deletion came ``INFORMER_LAG`` seconds before it was created (one deleted after that may or may not
    be counted yet), plus :func:`_failed_binds`; the nodes are any state of :func:`check_best_score`'s window.

    This holds only while one scheduler acts: a new leader has not assumed what the last one did, and sees its
    bindings only through its informer. A pod created or bound within ``INFORMER_LAG`` seconds of a change of the
    Lease's holder (``transitions``: when the watch showed one, harness clock) is left to
    :func:`check_best_score` alone, and counts as placed wherever the order needs it; so is one created or bound
    while a paused replica may act again on its stale view (``pauses``, from its resuming). ``snapshot_images``: see
    :func:`views`."""
    known = lives(events)
    bound = sorted(((u, life) for u, life in known.items() if life.bound is not None),
                   key=lambda ul: ul[1].bound.rv)  # type: ignore[union-attr]
    changes = list(transitions)
    stale = [(resumed, until) for _, resumed, until in pauses]

    def strict(life: Life) -> bool:
        assert life.bound is not None
        lo, hi = life.created.at - 2 * INFORMER_LAG, life.bound.at + INFORMER_LAG
        return not any(lo <= t <= hi for t in changes) and not any(a <= hi and lo <= b for a, b in stale)

    wired = _wired(known, wire)
    # when each pod's Binding was sent: the wire's arrival of the one that went through, else its bound event's
    sent = {u: life.bound.at for u, life in bound}  # type: ignore[union-attr]
    for u, r in wired:
        if u in sent and r.code is not None and 200 <= r.code < 300:
            sent[u] = min(sent[u], r.arrived)
    before: dict[str, set[str]] = {u: set() for u, _ in bound}
    for x, lx in bound:
        for y, ly in bound:
            assert lx.bound is not None and ly.bound is not None
            if x != y and (lx.bound.rv < ly.created.rv or sent[y] > lx.bound.at + INFORMER_LAG):
                before[y].add(x)
    if not any(strict(life) for _, life in bound):
        return ScoreVerdict([])
    #: per pod: the revision its window starts at, the node states in it, and its image counts (:func:`views`)
    windows: dict[str, tuple[int, list[dict[str, JSON]], dict[str, dict[str, tuple[int, int]]]]] = {}
    memo: dict[tuple[str, frozenset[str]], tuple[bool, int, sched.Decision]] = {}
    steps = [0]

    def place(u: str, life: Life, placed: frozenset[str]) -> tuple[bool, int, sched.Decision | None]:
        """Whether pod ``u`` chose a top-score node in a cycle that came after exactly ``placed``."""
        assert life.bound is not None
        if not strict(life):
            return True, 0, None
        if u not in windows:
            lo = _window_start(events, life.created.at)
            windows[u] = (lo, _node_views(_states(events, lo, life.bound.rv)),
                          _image_counts(events, lo, life.bound.rv) if snapshot_images else {})
        lo, nodes_seen, image_counts = windows[u]
        counted = frozenset(x for x in placed if known[x].deleted is None or known[x].deleted.rv > lo)  # type: ignore[union-attr]
        key = (u, counted)
        if key not in memo:
            steps[0] += 1
            if steps[0] > MAX_ORDER_STEPS:
                raise _Unjudged
            fixed: list[JSON] = []
            optional: list[list[JSON | None]] = []
            for x in sorted(counted):
                lx = known[x]
                assert lx.bound is not None
                gone_before = lx.deleted is not None and lx.deleted.rv <= life.bound.rv
                (optional.append([lx.bound.obj, None]) if gone_before else fixed.append(lx.bound.obj))
            optional += _failed_binds(known, u, life.bound, lo, sorted({n for nodes in nodes_seen for n in nodes}))
            # a pod whose refused Binding was still unanswered, unless it came before (then its later cycle did too)
            have = counted | {o[1]["metadata"]["uid"] for o in optional if o[1] is not None}  # type: ignore[index]
            optional += [o for o in _in_flight(known, wired, u, life.created.at, life.bound.at)[1]
                         if o[1]["metadata"]["uid"] not in have]  # type: ignore[index]
            around = Views(nodes_seen, [(fixed, optional)], image_counts)
            if around.count() > MAX_VIEWS:
                raise _Unjudged
            memo[key] = _top_in_some_view(_pending(life.bound), life.bound.obj["spec"]["nodeName"], around)
        return memo[key]

    dead_ends: set[frozenset[str]] = set()

    def search(placed: frozenset[str]) -> bool:
        if len(placed) == len(bound):
            return True
        if placed in dead_ends:
            return False
        for u, life in bound:
            if u in placed or before[u] - placed:
                continue
            if place(u, life, placed)[0] and search(placed | {u}):
                return True
        dead_ends.add(placed)
        return False

    try:
        if search(frozenset()):
            return ScoreVerdict([], len(memo))
        # the order of the bindings is one the API allows: name the first choice that is not top in it
        placed: frozenset[str] = frozenset()
        for u, life in bound:
            ok, tried, decision = place(u, life, placed)
            if not ok and decision is not None and life.bound is not None:
                node = life.bound.obj["spec"]["nodeName"]
                problems = sched_checks.best_score(_pending(life.bound), node, decision)
                return ScoreVerdict(
                    [f"{p} (with the {len(placed)} pods bound before it counted; no order of the {len(bound)} "
                     "scheduling cycles the API allows makes every binding a top-score choice: one scheduler "
                     "decides one pod at a time and counts each pod it decided before; in the order of the "
                     f"bindings this is the first that is not, in any of {tried} views)" for p in problems],
                    len(memo), contested=True)
            placed = placed | {u}
        return ScoreVerdict(["no order of the scheduling cycles makes every binding a top-score choice"], len(memo))
    except _Unjudged:
        return ScoreVerdict([], len(memo), f"past {MAX_ORDER_STEPS} places or {MAX_VIEWS} views")


def check_unschedulable(events: list[Seen], report: Seen, wire: Iterable[WireBind] = (),
                        pauses: Iterable[Pause] = ()) -> list[str]:
    """``scheduler.fit-error`` for the event that wrote a pod's Unschedulable condition: the message is the
    model's FitError in some view (:func:`views`) from ``INFORMER_LAG`` seconds before the write to
    ``INFORMER_LAG`` seconds after it (see the module doc); from ``INFORMER_LAG`` seconds before a replica stopped,
    when it may have written it on resuming (``pauses``). Past ``MAX_VIEWS`` views it is not judged."""
    pod, uid = report.obj, report.key
    msg = (_condition(pod) or {}).get("message")
    hi = max([report.rv, *(e.rv for e in events if e.at <= report.at + INFORMER_LAG)])
    opened = _opened_by_pause(report.at, report.at, pauses)
    around = views(events, lives(events), uid, report, _window_start(events, opened), hi, wire,
                   opened - INFORMER_LAG)
    if around.count() > MAX_VIEWS:
        return []
    first: list[str] = []
    for infos in around.infos():
        problems = sched_checks.fit_error(pod, sched.schedule(pod, infos), msg, prefix=True)
        if not problems:
            return []
        since = (f"{INFORMER_LAG:g}s before" if opened == report.at else
                 f"{INFORMER_LAG + report.at - opened:.1f}s before (a paused replica resumed in between)")
        first = first or [f"{p} (status written at resourceVersion {report.rv}; in none of the {around.count()} "
                          f"views from {since} to {INFORMER_LAG:g}s after it either)"
                          for p in problems]
    return first


#: the environment variable naming a folder for the watch histories of failed examples (unset: none is kept)
HISTORY_ENV = "KUBEPROP_BLACKBOX_HISTORY"


def load_history(path: str | Path) -> tuple[list[Seen], list[Record], list[WireBind], list[float], list[Pause]]:
    """A history :meth:`BlackBoxMachine._keep_history` wrote: the watch events (by revision), the Lease records, the
    wire's Bindings, when the Lease's holder changed and the replicas' pauses, as the checks of this module take
    them."""
    doc = json.loads(Path(path).read_text())
    return ([Seen(**e) for e in doc["events"]], [Record(**r) for r in doc["leases"]],
            [WireBind(**w) for w in doc["wire"]], list(doc["transitions"]),
            [(a, b, c) for a, b, c in doc.get("pauses", [])])


# --------------------------------------------------------------------------- the machine

NODES = Bundle("nodes")
#: a roomy, untainted node
ROOMY_NODE = gen.sched_node_parts(plain=True)
#: half the nodes roomy and untainted, so most pods have somewhere to go and the bindings get checked
NODE_PARTS = st.one_of(ROOMY_NODE, gen.sched_node_parts())
PODS = Bundle("pods")


def _run_pod_spec(spec: JSON, run_id: str, priorities: bool) -> JSON:
    """The generated spec held to the run's nodes: the run taint tolerated, the run label required in every
    node-selector term (terms are ORed, a term's expressions ANDed: component-helpers/scheduling/corev1/
    nodeaffinity/nodeaffinity.go), and the not-ready taint a new node carries for a moment tolerated
    (:data:`NOT_READY_TOLERATION`)."""
    spec = copy.deepcopy(spec)
    # one host port per pod: a duplicate is Invalid (pkg/apis/core/validation/validation.go: AccumulateUniqueHostPorts)
    taken: set[int] = set()
    for c in [*spec.get("initContainers", []), *spec["containers"]]:
        ports = [p for p in c.get("ports", []) if p.get("hostPort") not in taken]
        taken.update(p["hostPort"] for p in ports if p.get("hostPort"))
        if ports:
            c["ports"] = ports
        else:
            c.pop("ports", None)
    need = {"key": RUN_LABEL, "operator": "In", "values": [run_id]}
    na = spec.setdefault("affinity", {}).setdefault("nodeAffinity", {})
    req = na.setdefault("requiredDuringSchedulingIgnoredDuringExecution", {"nodeSelectorTerms": [{}]})
    for term in req["nodeSelectorTerms"]:
        term["matchExpressions"] = [*term.get("matchExpressions", []), need]
    spec["tolerations"] = [*spec.get("tolerations", []),
                           {"key": RUN_TAINT_KEY, "operator": "Equal", "value": run_id, "effect": RUN_TAINT_EFFECT},
                           NOT_READY_TOLERATION]
    spec["schedulerName"] = "default-scheduler"
    spec["terminationGracePeriodSeconds"] = 0
    if not priorities:
        spec.pop("priority", None)
    return spec


def _avoiding(spec: JSON, node: str) -> JSON:
    """``spec`` with a required node affinity that excludes ``node`` (by its hostname label) in every term."""
    spec = copy.deepcopy(spec)
    away = {"key": "kubernetes.io/hostname", "operator": "NotIn", "values": [node]}
    na = spec.setdefault("affinity", {}).setdefault("nodeAffinity", {})
    req = na.setdefault("requiredDuringSchedulingIgnoredDuringExecution", {"nodeSelectorTerms": [{}]})
    for term in req["nodeSelectorTerms"]:
        term["matchExpressions"] = [*term.get("matchExpressions", []), away]
    return spec


#: the node labels a relabelling draws, and a probe pod asks for as they were
PROBED_LABELS = ("zone", "rank", "tier")


def _label_term(labels: JSON) -> JSON:
    """A node selector term matching exactly these values of PROBED_LABELS (an absent one must stay absent)."""
    return {"matchExpressions": [{"key": k, "operator": "In", "values": [labels[k]]} if k in labels
                                 else {"key": k, "operator": "DoesNotExist"} for k in PROBED_LABELS]}


#: the taint effects a pod without a toleration for them cannot be scheduled past
#: (plugins/tainttoleration/taint_toleration.go: Filter looks at NoSchedule and NoExecute only)
HARD_EFFECTS = ("NoSchedule", "NoExecute")


def _visible(change: JSON, current: JSON) -> JSON:
    """``change`` made into one a probe pod (pinned by hostname and the old labels, tolerating only what the
    change leaves alone) can see, given the node's ``current`` object: a cordon turns the node's state over, a
    relabelling moves at least one of zone, rank and tier, a retaint turns over whether the node has a hard taint.
    A change the pod cannot see tests nothing a probe is for."""
    spec = current.get("spec") or {}
    if "unschedulable" in change:
        return {"unschedulable": not spec.get("unschedulable")}
    if "labels" in change:
        labels = (current.get("metadata") or {}).get("labels") or {}
        if all(change["labels"].get(k) == labels.get(k) for k in PROBED_LABELS):
            others = [z for z in gen.ZONES if z != labels.get("zone")]
            return {"labels": {**change["labels"], "zone": others[0]}}
        return change
    hard = [t for t in change["taints"] if t.get("effect") in HARD_EFFECTS]
    had_hard = any(t.get("effect") in HARD_EFFECTS and t.get("key") != RUN_TAINT_KEY for t in spec.get("taints") or [])
    if had_hard and hard:
        return {"taints": [t for t in change["taints"] if t not in hard]}
    if not had_hard and not hard:
        extra = {"key": gen.SCHED_TAINT_KEYS[0], "effect": HARD_EFFECTS[0]}
        return {"taints": [t for t in change["taints"] if t.get("key") != extra["key"]] + [extra]}
    return change


def _loose(spec: JSON) -> JSON:
    return {k: v for k, v in spec.items() if k not in ("nodeSelector", "affinity")}


def _tolerate_drawn_taints() -> list[JSON]:
    """Tolerations of every taint key the machine draws, whatever its value and effect (a fresh list)."""
    return [{"key": key, "operator": "Exists"} for key in gen.SCHED_TAINT_KEYS]


def _placeable(spec: JSON) -> JSON:
    """``spec`` without node selector or affinity and tolerating every drawn taint: a pod most nodes with room
    take, for rules whose point is a binding (what it meets on the wire, who places it, where among several)."""
    return {**_loose(spec), "tolerations": _tolerate_drawn_taints()}


#: half the pods without nodeSelector or node affinity of their own, so more of them are placed
POD_SPECS = st.one_of(gen.sched_pod_specs().map(_loose), gen.sched_pod_specs())
#: what a created pod's Binding meets on the wire, when there is one: nothing, a refusal, or a replacement of the pod
#: (by this spec) while the Binding is held, a third each (most pods of a run meet nothing all the same: bursts but
#: one, probes, prefer_node's)
WIRE_FATES: st.SearchStrategy[str | JSON | None] = st.one_of(st.none(), st.just("refuse"), POD_SPECS)
#: what a burst's pods meet on the wire: nothing, the first one's Binding refused, or the last one replaced by
#: this spec while its Binding is held, a third each
BURST_FATES: st.SearchStrategy[str | JSON | None] = st.one_of(st.none(), st.just("refuse"), POD_SPECS)


#: the requests of spread_burst's pods: small beside every node the machine draws but the tightest, so a burst of
#: them has a choice of nodes for each pod
SMALL_REQUESTS = st.fixed_dictionaries({"cpu": st.sampled_from(("100m", "250m")),
                                        "memory": st.sampled_from(("64Mi", "128Mi"))})


#: whether a node change is followed by a probe pod (three in four): from outside, a change is seen only through
#: the pods it decides, and a change no pod meets tests nothing; the others leave the change to the pods that come
PROBES = st.sampled_from((True, True, True, False))
#: how far behind true time the harness's clock writes its Lease record (``harness_holds_lease``): not at all, by
#: less than a lease duration (a candidate trusting renewTime then takes over early, before the term ran out), and
#: by far more (it takes over at once)
BACKDATES = st.sampled_from((0.0, 2.0, 100.0))
#: what a prefer_node pod's cpu request is: as drawn (three in four), or one millicore more than the preferred
#: node's free cpu. (A pod asking exactly the free cpu was tried too: it fits on few nodes besides the preferred one,
#: so it leaves no choice for ``scheduler.best-score`` to judge, and it was dropped.)
SIZES: st.SearchStrategy[str | None] = st.sampled_from((None, None, None, "over"))


class BlackBoxMachine(RuleBasedStateMachine):
    """Drive a running control plane through its API; check scheduling and the Lease from the outside.

    Configure a subclass with :func:`blackbox_machine`.
    """

    kubeconfig: ClassVar[str] = ""
    #: pods may carry spec.priority (a real kube-apiserver's Priority admission refuses a bare priority, and a real
    #: kube-scheduler preempts; the bundled one does neither)
    priorities: ClassVar[bool] = True
    settle_timeout: ClassVar[float] = SETTLE_TIMEOUT
    #: the scheduler reports a pod that fits nowhere (PodScheduled=False, reason Unschedulable) as kube-scheduler
    #: does; the bundled one keeps its FitError to itself, so ``scheduler.fit-error`` cannot be seen from outside
    reports_unschedulable: ClassVar[bool] = True
    #: filled by every example, for reports: (fault-free) settle seconds, bindings and reports checked
    stats: ClassVar[dict[str, float]] = {}
    #: scheduler replicas as processes (conformance/replicas.py) the kill and pause rules act on; None: no such
    #: rules (the replicas run inside the server, or elsewhere)
    replicas: ClassVar[Any] = None
    #: the wire (conformance/wire.py) the replicas reach the server through, to slow and refuse Bindings; None:
    #: no such rules
    wire: ClassVar[Wire | None] = None
    #: whether the scheduler counts an image's nodes as its snapshot of each node last did (:func:`_image_counts`):
    #: kube-scheduler does; the bundled scheduler counts them all afresh. None: told by the replicas' name, else by
    #: the server (the bundled server runs the bundled scheduler; any other, a kube-scheduler)
    snapshot_images: ClassVar[bool | None] = None

    def __init__(self) -> None:
        super().__init__()
        self.run_id = new_run_id()
        self.ns = f"kubeprop-bb-{self.run_id}"
        self.counter = 0
        self.unsettled = 0
        self.target = HTTPTarget(self.kubeconfig)
        if type(self).snapshot_images is None:
            if self.replicas is not None:
                type(self).snapshot_images = self.replicas.name == "kube-scheduler"
            else:
                with transport("GET /version"):
                    version = str(self.target.server_version().get("gitVersion") or "")
                type(self).snapshot_images = "kubeprop" not in version
        if self.replicas is not None:
            self.replicas.fresh()  # every example starts from replicas that just started, one of them about to lead
        self.created_nodes: list[str] = []
        self.first_labels: dict[str, JSON] = {}  # node -> its zone, rank and tier labels as created
        self.created_at: dict[str, float] = {}  # pod uid -> wall time its create was sent
        self.harness_terms: list[tuple[str, float, float]] = []  # (holder, wall time written, seconds)
        self.stopped: dict[str, list[tuple[float, float]]] = {}  # identity -> wall times pause_leader stopped it
        self.checked: set[tuple[str, int]] = set()
        self.observer: Observer | None = None
        ns = {"apiVersion": "v1", "kind": "Namespace",
              "metadata": {"name": self.ns, "labels": {RUN_LABEL: self.run_id}}}
        self._call("create", "create namespace", lambda t: t.create("namespaces", None, ns))
        self.observer = Observer(self.target, self.ns, self.run_id)
        self.wall_offset = time.time() - time.monotonic()  # a watch event's arrival (monotonic) as wall time

    # ----- calls ----------------------------------------------------------------------------------

    def _call(self, what: str, description: str, send: Callable[[HTTPTarget], Response],
              ok: Iterable[int] = (200, 201, 202)) -> Response:
        with transport(description):
            resp = send(self.target)
        if resp.code not in tuple(ok):
            raise violation("api.matches-model", f"{description}: {what} answered {resp.code}: {resp.body}")
        return resp

    def _name(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    # ----- nodes ----------------------------------------------------------------------------------

    @initialize(target=NODES, parts=st.lists(NODE_PARTS, min_size=2, max_size=4))
    def first_nodes(self, parts: list[JSON]) -> Any:
        """Two to four nodes before anything else, so most examples place pods, with a choice."""
        return multiple(*(self._create_node(p) for p in parts))

    @precondition(lambda self: self.unsettled < UNSETTLED_STEPS)
    @rule(target=NODES, parts=NODE_PARTS)
    def create_node(self, parts: JSON) -> str:
        self.unsettled += 1
        return self._create_node(parts)

    def _create_node(self, parts: JSON) -> str:
        name = f"bb-{self._name('n')}-{self.run_id}"
        spec = copy.deepcopy(parts["spec"])
        spec["taints"] = [*spec.get("taints", []), self._run_taint()]
        status = copy.deepcopy(parts["status"])
        status["conditions"] = [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                                 "message": "kubeprop fake node: no kubelet"}]
        body = {"apiVersion": "v1", "kind": "Node",
                "metadata": {"name": name, "labels": {**parts["labels"], RUN_LABEL: self.run_id,
                                                      "kubernetes.io/hostname": name}},
                "spec": spec, "status": status}
        node = self._call("create", f"create node {name}", lambda t: t.create("nodes", None, body)).body
        self.created_nodes.append(name)
        self.first_labels[name] = {k: v for k, v in parts["labels"].items() if k in PROBED_LABELS}
        type(self).stats["nodes"] = type(self).stats.get("nodes", 0) + 1
        taints = node["spec"].get("taints") or []
        if any(t.get("key") == NOT_READY for t in taints):
            # TaintNodesByCondition tainted it not-ready at create; no node-lifecycle controller runs to lift it
            # (pkg/controller/nodelifecycle/node_lifecycle_controller.go: doNoScheduleTaintingPass)
            kept = [t for t in taints if t.get("key") != NOT_READY]
            self._call("patch", f"lift the not-ready taint of {name}", lambda t: t.patch("nodes", None, name, {
                "metadata": {"resourceVersion": node["metadata"]["resourceVersion"]}, "spec": {"taints": kept}},
                patch_type="merge"))
        return name

    def _run_taint(self) -> JSON:
        return {"key": RUN_TAINT_KEY, "value": self.run_id, "effect": RUN_TAINT_EFFECT}

    @precondition(lambda self: self.unsettled < UNSETTLED_STEPS)
    @rule(node=NODES, change=st.one_of(
        st.fixed_dictionaries({"labels": st.fixed_dictionaries(
            {"zone": st.sampled_from(gen.ZONES), "rank": st.sampled_from(gen.RANKS)},
            optional={"tier": st.sampled_from(gen.LABEL_VALUES)})}),
        st.fixed_dictionaries({"taints": gen.sched_taints()}),
        st.fixed_dictionaries({"unschedulable": st.booleans()})), probe=PROBES)
    def change_node(self, node: str, change: JSON, probe: bool) -> None:
        """Relabel (zone, rank, tier), retaint (the run taint kept) or cordon/uncordon a node; with ``probe``,
        then ask for a pod only that node can take (:meth:`_probe`)."""
        self.unsettled += 1
        current: JSON = {}
        if probe:
            got = self._call("get", f"get node {node}", lambda t: t.get("nodes", None, node), ok=(200, 404))
            current = got.body if got.code == 200 and isinstance(got.body, dict) else {}
            change = _visible(change, current)
        old = (current.get("metadata") or {}).get("labels") or {}
        if "labels" in change:
            # merge patch: null removes a key
            labels: JSON = {"zone": None, "rank": None, "tier": None, **change["labels"]}
            patch: JSON = {"metadata": {"labels": labels}}
        elif "taints" in change:
            patch = {"spec": {"taints": [*change["taints"], self._run_taint()]}}
        else:
            patch = {"spec": {"unschedulable": change["unschedulable"] or None}}
        changed = self._call("patch", f"change node {node}: {change}",
                             lambda t: t.patch("nodes", None, node, patch, patch_type="merge"), ok=(200, 404))
        if probe and changed.code == 200:
            if self.observer is not None:  # how often a probe meets a node with no room for one more pod
                room = sched.node_info(changed.body, self._seen_now().bound_on(node))
                if len(room.pods) >= room.allocatable.pods:
                    type(self).stats["probes_full"] = type(self).stats.get("probes_full", 0) + 1
            self._probe(node, {k: v for k, v in old.items() if k in PROBED_LABELS}, next(iter(change)))

    def _probe(self, node: str, old_labels: JSON, changed: str) -> None:
        """A pod pinned to ``node`` by its hostname label, and by required node affinity to the zone, rank and tier
        it had just before this change or, as a second term, when it was created (a cache that missed this change,
        or every change since), created once the change is older than any state the checks let a scheduler decide
        on (``INFORMER_LAG``): the node's new state decides it. It tolerates what the change (``changed``: labels,
        taints or unschedulable) did not touch, so that only the change decides: the node's drawn taints unless
        the taints changed, its cordon unless the cordon changed (plugins/nodeunschedulable/node_unschedulable.go:
        a pod tolerating the unschedulable taint may go to a cordoned node). A cordoned or newly tainted node must
        not take it, nor one that lost those labels (``scheduler.fits``); an uncordoned or untainted one with room
        must (``binding.exactly-once``, and ``scheduler.fit-error`` where the scheduler reports). A scheduler whose
        node cache missed the change decides on the old state (pkg/scheduler/eventhandlers.go: updateNodeInCache
        keeps the cache current)."""
        time.sleep(INFORMER_LAG + PROBE_MARGIN)
        terms = [_label_term(old_labels)]
        first = self.first_labels.get(node)
        if first is not None and first != old_labels:
            terms.append(_label_term(first))
        tolerations = []
        if changed != "taints":
            tolerations += _tolerate_drawn_taints()
        if changed != "unschedulable":
            tolerations.append({"key": TAINT_NODE_UNSCHEDULABLE, "operator": "Exists", "effect": "NoSchedule"})
        affinity = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": terms}}}
        self._create_pod(self._name("p"), {"containers": [{"name": "c", "image": gen.IMAGES[0]}],
                                           "nodeSelector": {"kubernetes.io/hostname": node},
                                           "affinity": affinity, "tolerations": tolerations})
        type(self).stats["probes"] = type(self).stats.get("probes", 0) + 1

    @precondition(lambda self: self.unsettled < UNSETTLED_STEPS)
    @rule(node=consumes(NODES))
    def delete_node(self, node: str) -> None:
        self.unsettled += 1
        self._call("delete", f"delete node {node}", lambda t: t.delete("nodes", None, node), ok=(200, 404))

    # ----- pods -----------------------------------------------------------------------------------

    def _create_pod(self, name: str, spec: JSON) -> str:
        body = {"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": name, "labels": {RUN_LABEL: self.run_id}},
                "spec": _run_pod_spec(spec, self.run_id, self.priorities)}
        sent = time.time()
        created = self._call("create", f"create pod {self.ns}/{name}", lambda t: t.create("pods", self.ns, body))
        uid = ((created.body or {}).get("metadata") or {}).get("uid") if isinstance(created.body, dict) else None
        if uid:
            self.created_at[uid] = sent  # no binding of this pod can have been decided before
        type(self).stats["pods"] = type(self).stats.get("pods", 0) + 1
        return name

    @precondition(lambda self: self.unsettled < UNSETTLED_STEPS)
    @rule(target=PODS, spec=POD_SPECS, fate=WIRE_FATES)
    def create_pod(self, spec: JSON, fate: str | JSON | None) -> str:
        """A pod; with a wire, its Binding may meet one of the wire's faults (``fate``): "refuse"
        (:meth:`_refuse_first_bind`), or a spec to replace it with while its Binding is held
        (:meth:`_replace_during_bind`)."""
        self.unsettled += 1
        name = self._name("p")
        if self.wire is None or fate is None:
            return self._create_pod(name, spec)
        if fate == "refuse":
            self._refuse_first_bind(name, spec)
            self._settle_after_refusal(name)
            return name
        assert isinstance(fate, dict)
        return self._replace_during_bind(name, spec, fate)

    @precondition(lambda self: self.unsettled < UNSETTLED_STEPS)
    @rule(target=PODS, node=NODES, spec=POD_SPECS, size=SIZES, tolerant=st.booleans())
    def prefer_node(self, node: str, spec: JSON, size: str | None, tolerant: bool) -> str:
        """A pod (``spec`` without selector or affinity of its own and, when ``tolerant``, every drawn taint
        tolerated: :func:`_placeable`; so that several nodes may take it and the choice among them is what is
        judged) that also prefers one node by its hostname label, with the greatest weight (100):
        where that node is feasible, the node affinity score sets it apart from the others (pkg/scheduler/framework/
        plugins/nodeaffinity/node_affinity.go: Score sums the weights of the preferred terms a node matches), so a
        scheduler that places pods without scoring them lands elsewhere whenever the node is not its first pick
        (``scheduler.best-score``). With ``size`` "over" (:meth:`_sized_for`) its cpu request is one millicore more
        than that node's free cpu: just past the boundary of NodeResourcesFit, met where the preference draws the
        pod. A pod that is not ``tolerant`` tolerates nothing: where the preferred node has a taint that forbids
        scheduling, the preference draws the pod to a node the taint filter must keep it from."""
        self.unsettled += 1
        self._quiet_moment()
        spec = copy.deepcopy(spec)
        spec = _placeable(spec) if tolerant else {**_loose(spec), "tolerations": []}
        if size is not None:
            self._sized_for(node, spec, size)
        na = spec.setdefault("affinity", {}).setdefault("nodeAffinity", {})
        term = {"weight": 100, "preference": {"matchExpressions": [
            {"key": "kubernetes.io/hostname", "operator": "In", "values": [node]}]}}
        na["preferredDuringSchedulingIgnoredDuringExecution"] = [
            *na.get("preferredDuringSchedulingIgnoredDuringExecution", []), term]
        return self._create_pod(self._name("p"), spec)

    def _quiet_moment(self) -> None:
        """Wait (bounded by QUIET_WAIT, unchecked) until nothing is pending or in flight: the scheduler's view is then
        the API's, and what comes next is judged on one state rather than passing if it is top in any view."""
        started = time.monotonic()
        while not self._decided(started)[-1] and time.monotonic() - started < QUIET_WAIT:
            self._keep_alive()
            time.sleep(0.1)

    def _keep_alive(self) -> None:
        """Start again any replica that exited (one exits when it loses the Lease: cmd/kube-scheduler/app/server.go,
        OnStoppedLeading), as a kubelet restarts a static pod, while the machine waits as well as after each step:
        a wait of many seconds in which every replica lost the Lease in turn would otherwise leave no scheduler."""
        if self.replicas is not None:
            revived = self.replicas.revive()
            if revived:
                type(self).stats["revived"] = type(self).stats.get("revived", 0) + revived

    @precondition(lambda self: self.unsettled < UNSETTLED_STEPS)
    @rule(target=PODS, requests=SMALL_REQUESTS, count=st.integers(3, 5), image=st.sampled_from(gen.IMAGES),
          room=st.lists(ROOMY_NODE, min_size=1, max_size=2))
    def spread_burst(self, requests: JSON, count: int, image: str, room: list[JSON]) -> Any:
        """``count`` alike small pods at once, after one or two roomy, untainted nodes (``room``) and a quiet moment,
        each pod placeable (:func:`_placeable`): each fits on most nodes with room, so each is a choice among
        several nodes, and the default profile's scores draw each one away from the nodes those before it took
        (plugins/noderesources/least_allocated.go and balanced_allocation.go score a node by its requests with the
        pod's added). Judged together by :func:`check_cycle_order`: some order of their cycles must make every
        choice a top-score one, so a scheduler that does not score, and piles them on one node, breaks
        ``scheduler.best-score``. The new nodes are there because an example's nodes fill up as it goes (most of
        its pods ask for a large part of a small node), and a burst that finds one node with room has no choice."""
        self.unsettled += 1
        for parts in room:
            self._create_node(parts)
        self._quiet_moment()
        spec = _placeable({"containers": [{"name": "c0", "image": image, "resources": {"requests": requests}}]})
        type(self).stats["spread_pods"] = type(self).stats.get("spread_pods", 0) + count
        return multiple(*(self._create_pod(self._name("p"), spec) for _ in range(count)))

    def _seen_now(self) -> State:
        """The nodes and pods as the watches have shown them so far."""
        assert self.observer is not None
        events, _ = self.observer.snapshot()
        return state_at(events, 1 << 62)

    def _sized_for(self, node: str, spec: JSON, size: str) -> None:
        """Make ``spec`` ask for ``node``'s free cpu as the API shows it, plus one millicore for "over", in its first
        container alone (plugins/noderesources/fit.go: fitsRequest admits a request equal to the free
        amount and refuses one above it; a pod's request is its containers' sum or its largest init container,
        framework/types.go: computePodResourceRequest, so the others ask for nothing here). Left as drawn when the
        node is gone or has no cpu free."""
        if self.observer is None:
            return
        state = self._seen_now()
        if node not in state.nodes:
            return
        info = sched.node_info(state.nodes[node], state.bound_on(node))
        free = info.allocatable.milli_cpu - info.requested.milli_cpu
        if free <= 0:
            return
        for container in [*spec.get("initContainers", []), *spec["containers"]]:
            container.pop("resources", None)
        spec["containers"][0]["resources"] = {"requests": {"cpu": f"{free + (size == 'over')}m"}}
        type(self).stats[f"sized_{size}"] = type(self).stats.get(f"sized_{size}", 0) + 1

    @precondition(lambda self: self.unsettled < UNSETTLED_STEPS)
    @rule(specs=st.lists(POD_SPECS, min_size=2, max_size=5), fate=BURST_FATES)
    def create_burst(self, specs: list[JSON], fate: str | JSON | None) -> None:
        """Several pods at once: the scheduler decides them back to back, with binds still in flight. With a wire,
        the first pod's first Binding may be refused ("refuse") while the others are decided, or the last pod
        replaced by one of ``fate``'s spec while its Binding is held (:meth:`_replace_during_bind`)."""
        self.unsettled += 1
        refused = None
        for i, spec in enumerate(specs):
            name = self._name("p")
            if i == 0 and fate == "refuse" and self.wire is not None:
                refused = self._refuse_first_bind(name, spec)
            elif i == len(specs) - 1 and isinstance(fate, dict) and self.wire is not None:
                self._replace_during_bind(name, spec, fate)
            else:
                self._create_pod(name, spec)
        if refused is not None:
            self._settle_after_refusal(refused)

    @precondition(lambda self: self.unsettled < UNSETTLED_STEPS)
    @rule(pod=consumes(PODS))
    def delete_pod(self, pod: str) -> None:
        self.unsettled += 1
        self._call("delete", f"delete pod {self.ns}/{pod}",
                   lambda t: t.delete("pods", self.ns, pod, options=GRACE0), ok=(200, 404))

    @precondition(lambda self: self.unsettled < UNSETTLED_STEPS)
    @rule(target=PODS, pod=consumes(PODS), spec=POD_SPECS)
    def replace_pod(self, pod: str, spec: JSON) -> str:
        """Delete a pod and create another under its name at once (a new uid): a bind under way for the old one
        must not land on the new one (its Binding names the old uid)."""
        self.unsettled += 1
        self._call("delete", f"delete pod {self.ns}/{pod}",
                   lambda t: t.delete("pods", self.ns, pod, options=GRACE0), ok=(200, 404))
        return self._create_pod(pod, spec)

    # ----- the wire between the schedulers and the server ----------------------------------------

    def _replace_during_bind(self, name: str, spec: JSON, other: JSON) -> str:
        """A pod's Binding is slow, and the pod is replaced (deleted, another created under its name) before the
        Binding reaches the server: it names the old uid, so the server must refuse it rather than bind the new
        pod to the node chosen for the old one (kubernetes#102761; the scheduler sets the uid, schedule_one.go:
        bind via the DefaultBinder plugin). The new pod's required node affinity excludes that node, so a
        binding there breaks ``scheduler.fits``."""
        assert self.wire is not None
        held = self.wire.hold(self.ns, name)
        second = None
        try:
            self._create_pod(name, _placeable(spec))  # a pod no scheduler places puts no Binding on the wire
            record = held.wait(WIRE_WAIT)
            if record is None or record.node is None:
                return name  # not scheduled in time (it fits nowhere, say): nothing was held
            # the new pod's own Binding, if one comes first, waits until the old one is answered
            second = self.wire.hold(self.ns, name)
            self._call("delete", f"delete pod {self.ns}/{name}",
                       lambda t: t.delete("pods", self.ns, name, options=GRACE0), ok=(200, 404))
            self._create_pod(name, _avoiding(other, record.node))
            type(self).stats["replaced_binds"] = type(self).stats.get("replaced_binds", 0) + 1
            return name
        finally:
            held.finish(WIRE_WAIT)
            if second is not None:
                second.release()
            self.wire.disarm(self.ns, name)
            type(self).stats["held_binds"] = type(self).stats.get("held_binds", 0) + held.arrived.is_set()

    def _refuse_first_bind(self, name: str, spec: JSON) -> str:
        """A pod's first Binding is refused (500, as from an API server whose storage timed out): the scheduler must
        forget the pod on that node and schedule it again (schedule_one.go: handleBindingCycleError), so it is
        bound by the time things settle, as ``binding.exactly-once`` requires."""
        assert self.wire is not None
        self.wire.refuse(self.ns, name)
        return self._create_pod(name, _placeable(spec))  # a pod no scheduler places puts no Binding on the wire

    def _settle_after_refusal(self, name: str) -> None:
        """Once the wire has refused the pod's Binding (waited for, bounded), settle at once: the next step might
        kill or pause the leader, and a new leader starts from an empty cache, which hides a scheduler that kept
        the refused pod assumed (``binding.exactly-once`` is then judged before any failover)."""
        assert self.wire is not None
        deadline = time.monotonic() + WIRE_WAIT
        while time.monotonic() < deadline:
            if any(r.refused for r in self.wire.records() if r.namespace == self.ns and r.pod == name):
                self.settle()
                return
            time.sleep(0.05)

    @precondition(lambda self: self.wire is not None and getattr(self.replicas, "attributed", False)
                  and self.unsettled < UNSETTLED_STEPS)
    @rule(past=st.sampled_from([0.2, 0.5, 1.0]), specs=st.lists(POD_SPECS, min_size=1, max_size=3),
          room=ROOMY_NODE)
    def starve_leader(self, past: float, specs: list[JSON], room: JSON) -> None:
        """Every replica's Lease writes are refused on the wire (their other requests go through) until ``past``
        lease durations after the leader's renew deadline, and pods come once that deadline has passed: the leader
        must not bind them (``lease.single-holder-per-term``: a leader that cannot renew stops acting at its renew
        deadline, client-go tools/leaderelection/leaderelection.go), and nobody can take the Lease meanwhile.
        Then the replicas renew and campaign again. First a roomy, untainted node (``room``): the pods are
        placeable, and a leader that kept acting finds room for them however full or cordoned the other nodes
        are (a pod that fits nowhere shows nothing about who acts)."""
        assert self.wire is not None and self.replicas is not None
        self.unsettled += 1
        self._create_node(room)
        if self.replicas.leader(timeout=self.replicas.lease_duration) is None:
            return
        # the last renewal came at most a retry period before now
        until_deadline = self.replicas.renew_deadline + self.replicas.retry_period + ACT_TOLERANCE
        for identity in self.replicas.identities:
            self.wire.starve(identity, until_deadline + past * self.replicas.lease_duration)
        time.sleep(until_deadline)
        for spec in specs:  # pods a leader that kept acting would place
            self._create_pod(self._name("p"), _placeable(spec))
        time.sleep(past * self.replicas.lease_duration)
        type(self).stats["starved"] = type(self).stats.get("starved", 0) + 1

    # ----- settle ---------------------------------------------------------------------------------

    # ----- scheduler replicas ----------------------------------------------------------------------

    @precondition(lambda self: self.replicas is not None and self.unsettled < UNSETTLED_STEPS)
    @rule()
    def kill_leader(self) -> None:
        """SIGKILL the replica that holds the Lease and start it again at once (a new process, a new identity):
        another replica takes over once the Lease has run out."""
        index = self.replicas.leader(timeout=self.replicas.lease_duration)
        if index is not None:
            self.replicas.signal(index, signal.SIGKILL)
            self.replicas.restart(index)
            type(self).stats["kills"] = type(self).stats.get("kills", 0) + 1

    @precondition(lambda self: self.replicas is not None and self.unsettled < UNSETTLED_STEPS)
    @rule(fraction=st.sampled_from([0.3, 0.8, 1.3, 2.0]))
    def pause_leader(self, fraction: float) -> None:
        """SIGSTOP the leader for ``fraction`` of the lease duration, then SIGCONT. Past its renew deadline it
        has lost the Lease (another replica may hold it by then) and must stop acting: both kinds exit then,
        and are started again at the next step. A Binding it had decided before the stop may still go out as it
        resumes (nothing fences a Binding by term), so the time it was stopped does not count against its renew
        deadline (``lease.single-holder-per-term`` for what the wire attributes to it)."""
        index = self.replicas.leader(timeout=self.replicas.lease_duration)
        if index is None:
            return
        identities = getattr(self.replicas, "identities", None)
        who = identities[index] if identities else ""
        stopped = time.time()
        self.replicas.signal(index, signal.SIGSTOP)
        try:
            time.sleep(fraction * self.replicas.lease_duration)
        finally:
            self.replicas.signal(index, signal.SIGCONT)
            self.stopped.setdefault(who, []).append((stopped, time.time()))
        type(self).stats["pauses"] = type(self).stats.get("pauses", 0) + 1

    @precondition(lambda self: self.replicas is not None and self.unsettled < UNSETTLED_STEPS)
    @rule(spec=POD_SPECS, backdate=BACKDATES)
    def harness_holds_lease(self, spec: JSON, backdate: float) -> None:
        """The harness takes the Lease as a candidate that never schedules: the replicas stop (each releases what
        it holds), the harness writes itself as holder for one lease duration (renewTime ``backdate`` seconds in
        the past, as a holder with a slow clock would write it), the replicas start again and a pod is created.
        No replica may bind while that term runs (``lease.only-leader-acts``), nor take the Lease over before
        it ran out by its own observation (``lease.single-holder-per-term``), whatever renewTime says."""
        self.unsettled += 1
        self.replicas.stop_all()
        duration = int(self.replicas.lease_duration)
        # a candidate like any other (client-go leaderelection.go: tryAcquireOrRenew): a held Lease is taken only
        # once the record has not changed for its leaseDurationSeconds by the harness's own observation (the
        # record's renewTime is never trusted; a term the harness wrote itself counts from when it wrote it)
        own = {h: at for h, at, _ in self.harness_terms}
        seen: Record | None = None
        seen_at = time.time()
        while True:
            lease = self._call("get", "get the Lease", lambda t: t.get("leases", LEASE_NS, LEASE_NAME),
                               ok=(200, 404))
            spec_now = (lease.body.get("spec") or {}) if lease.code == 200 else {}
            if not spec_now.get("holderIdentity"):
                break
            rec = Record.from_lease(lease.body)
            if rec != seen:
                seen, seen_at = rec, own.get(rec.holder, time.time())
            if time.time() > seen_at + rec.duration + CLOCK_TOLERANCE:
                break
            time.sleep(0.1)
        holder = f"{HARNESS_HOLDER}-{self.run_id}-{self.counter}"
        written = time.time()
        stamp = _micro(written - backdate)
        mine = {"holderIdentity": holder, "leaseDurationSeconds": duration, "acquireTime": stamp,
                # a new holder bumps leaseTransitions, after a release too (client-go leaderelection.go:
                # tryAcquireOrRenew compares the holder with its own identity, and "" is not it)
                "renewTime": stamp, "leaseTransitions": int(spec_now.get("leaseTransitions") or 0) + 1}
        if lease.code == 200:
            body = {**lease.body, "spec": {**spec_now, **mine}}
            wrote = self._call("update", "the harness takes the Lease",
                               lambda t: t.update("leases", LEASE_NS, LEASE_NAME, body), ok=(200, 409))
        else:
            body = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                    "metadata": {"name": LEASE_NAME, "namespace": LEASE_NS}, "spec": mine}
            wrote = self._call("create", "the harness takes the Lease",
                               lambda t: t.create("leases", LEASE_NS, body), ok=(201, 409))
        if wrote.code in (200, 201):
            self.harness_terms.append((holder, written, float(duration)))
            type(self).stats["harness_terms"] = type(self).stats.get("harness_terms", 0) + 1
        self.replicas.start_all()
        self._create_pod(self._name("p"), spec)

    def _caught_up(self) -> tuple[list[Seen], list[Record]]:
        """Wait until the watches show what a consistent list of the run's pods and nodes shows."""
        listed = {}
        for kind, send in (("pod", lambda t: t.list("pods", self.ns)),
                           ("node", lambda t: t.list("nodes", None, label_selector=f"{RUN_LABEL}={self.run_id}"))):
            body = self._call("list", f"list the run's {kind}s", send).body
            listed[kind] = {(i["metadata"]["uid"] if kind == "pod" else i["metadata"]["name"]):
                            i["metadata"]["resourceVersion"] for i in body.get("items") or []}
        deadline = time.monotonic() + WATCH_CATCH_UP
        while True:
            assert self.observer is not None
            events, leases = self.observer.snapshot()
            now = state_at(events, 1 << 62)
            shown = {"pod": {u: p["metadata"]["resourceVersion"] for u, p in now.pods.items()},
                     "node": {n: o["metadata"]["resourceVersion"] for n, o in now.nodes.items()}}
            if all(all(shown[k].get(key) == rv or (shown[k].get(key) and revision(shown[k][key]) > revision(rv))
                       for key, rv in listed[k].items()) for k in listed):
                return events, leases
            if time.monotonic() > deadline:
                raise violation("watch.reliable", f"after {WATCH_CATCH_UP:g}s the watches still do not show what "
                                f"a list showed: listed {listed}, watched {shown}")
            time.sleep(0.05)

    @rule()
    def settle(self) -> None:
        """Wait until every pod is decided and nothing changes for QUIET seconds (bounded); then check."""
        self.unsettled = 0
        started = time.monotonic()
        deadline = started + self.settle_timeout
        while True:
            events, leases, now, feasible, unreported, done = self._decided(started)
            if done:
                break
            if time.monotonic() > deadline:
                self._check(events, leases)  # a wrong decision explains a stuck pod better than the timeout
                if unreported:
                    p = unreported[0]
                    problems = sched_checks.fit_error(p, sched.schedule(p, now.infos(p["metadata"]["uid"])), None,
                                                      prefix=True)
                    raise violation("scheduler.fit-error", "; ".join(problems) +
                                    f" (not reported unschedulable within {self.settle_timeout:g}s; "
                                    f"{self._story(p, events)})")
                problems = sched_checks.exactly_once_after_settle(
                    feasible, now.infos(),
                    f"not settled within {self.settle_timeout:g}s (judged on the settled state: the nodes and "
                    "bound pods the API shows now)")
                raise violation("binding.exactly-once", "; ".join(problems))
            self._keep_alive()
            time.sleep(0.1)
        type(self).stats["settles"] = type(self).stats.get("settles", 0) + 1
        type(self).stats["settle_seconds"] = type(self).stats.get("settle_seconds", 0.0) + time.monotonic() - started
        self._check(events, leases)

    def _story(self, pod: JSON, events: list[Seen]) -> str:
        """What the API and the wire showed of a pod and of the earlier pods of its name: for a report on a pod left
        pending (when it came, its PodScheduled condition, the Bindings the wire saw for its name)."""
        name, uid = pod["metadata"]["name"], pod["metadata"]["uid"]
        now, latest = time.monotonic(), state_at(events, 1 << 62)
        parts = []
        for u, life in lives(events).items():
            if life.created.obj["metadata"]["name"] != name:
                continue
            cond = _condition(latest.pods.get(u) or (life.deleted or life.created).obj) or {}
            parts.append(f"{'this' if u == uid else 'an earlier'} pod of that name (uid {u}) came "
                         f"{now - life.created.at:.1f}s ago" +
                         (f", bound to {life.bound.obj['spec']['nodeName']}" if life.bound else "") +
                         (f", deleted {now - life.deleted.at:.1f}s ago" if life.deleted else "") +
                         (f", PodScheduled {cond.get('status')} {cond.get('reason')!r}: {cond.get('message')!r}"
                          if cond else ", no PodScheduled condition"))
        if self.observer is not None and self.observer.leases:
            last = self.observer.leases[-1]
            parts.append(f"the last Lease record seen: {last}, at {_micro(time.time())}; replicas that exited were "
                         f"started again {type(self).stats.get('revived', 0):g} times in this run")
        if self.wire is not None:
            for r in self.wire.records():
                if r.namespace == self.ns and r.pod == name:
                    parts.append(f"a Binding to {r.node} for uid {r.uid} came {now - r.arrived:.1f}s ago"
                                 f"{' (held)' if r.held else ''}{' (refused)' if r.refused else ''}, "
                                 f"answered {r.code}")
        return "; ".join(parts)

    def _decided(self, started: float) -> tuple[list[Seen], list[Record], Any, list[JSON], list[JSON], bool]:
        """The API as the watches show it now: its events and Lease records, its state, the pending pods that fit
        somewhere, those that fit nowhere and are not yet reported unschedulable (a scheduler that reports nothing
        decides them at once), and whether every pod is decided and nothing changed for QUIET seconds."""
        events, leases = self._caught_up()
        now = state_at(events, 1 << 62)
        pending = [p for p in now.pods.values() if not p["spec"].get("nodeName")]
        feasible = [p for p in pending if sched.schedule(p, now.infos(p["metadata"]["uid"])).feasible]
        unreported = [p for p in pending if p not in feasible and not unschedulable(p) and self.reports_unschedulable]
        last = max((e.at for e in events), default=started)
        done = not feasible and not unreported and time.monotonic() - last >= QUIET
        return events, leases, now, feasible, unreported, done

    def _check(self, events: list[Seen], leases: list[Record]) -> None:
        problems = at_most_once(events)
        if problems:
            raise violation("binding.at-most-once", "; ".join(problems))
        wire = [r for r in self.wire.records() if r.namespace == self.ns] if self.wire is not None else []
        images, pauses = bool(self.snapshot_images), self._pauses()
        first_bound: dict[str, Seen] = {}
        reports: dict[tuple[str, str | None], Seen] = {}
        for e in events:
            if e.kind != "pod":
                continue
            if e.obj["spec"].get("nodeName"):
                first_bound.setdefault(e.key, e)
            elif unschedulable(e.obj):
                reports.setdefault((e.key, (_condition(e.obj) or {}).get("message")), e)
        # first what the wire attributes to a replica: it names who acted
        for r in wire:
            if not r.client:
                continue
            what = f"a Binding of pod {r.namespace}/{r.pod} to {r.node}"
            sent = r.arrived + self.wall_offset
            problems = lease_checks.sender_held_a_term(r.client, what, sent, leases, CLOCK_TOLERANCE)
            if problems:
                raise violation("lease.only-leader-acts", "; ".join(problems))
            assert self.replicas is not None
            problems = lease_checks.sender_within_renew_deadline(r.client, what, sent, leases,
                                                                 self.replicas.renew_deadline, ACT_TOLERANCE,
                                                                 self.stopped.get(r.client, ()))
            if problems:
                raise violation("lease.single-holder-per-term", "; ".join(problems))
        for uid, bind in first_bound.items():
            if (uid, bind.rv) in self.checked:
                continue
            self.checked.add((uid, bind.rv))
            type(self).stats["bindings"] = type(self).stats.get("bindings", 0) + 1
            for inv, problems in check_binding(events, bind):
                raise violation(inv, "; ".join(problems))
            verdict = check_best_score(events, bind, wire, images, pauses)
            stats = type(self).stats
            if verdict.unjudged:
                stats["scores_unjudged"] = stats.get("scores_unjudged", 0) + 1
            else:
                stats["scores_judged"] = stats.get("scores_judged", 0) + 1
                stats["score_views"] = stats.get("score_views", 0) + verdict.views
                stats["scores_contested"] = stats.get("scores_contested", 0) + verdict.contested
            if verdict.problems:
                raise violation("scheduler.best-score", "; ".join(verdict.problems))
            sent = self.created_at.get(uid)
            if sent is not None and leases:  # a target without leader election shows no Lease to hold it to
                problems = lease_checks.bound_within_a_live_term(
                    f"pod {_ref(bind.obj)} was bound to {bind.obj['spec']['nodeName']}", sent,
                    bind.at + self.wall_offset, leases, CLOCK_TOLERANCE,
                    acting=lambda h: not h.startswith(HARNESS_HOLDER))
                if problems:
                    raise violation("lease.only-leader-acts", "; ".join(problems))
        if first_bound and self.observer is not None:
            verdict = check_cycle_order(events, self.observer.holder_changes(), wire, images, pauses)
            if verdict.unjudged:
                type(self).stats["orders_unjudged"] = type(self).stats.get("orders_unjudged", 0) + 1
            type(self).stats["order_places"] = type(self).stats.get("order_places", 0) + verdict.views
            if verdict.problems:
                raise violation("scheduler.best-score", "; ".join(verdict.problems))
        for (uid, _), report in reports.items():
            if (uid, report.rv) in self.checked:
                continue
            self.checked.add((uid, report.rv))
            type(self).stats["unschedulable"] = type(self).stats.get("unschedulable", 0) + 1
            problems = check_unschedulable(events, report, wire, pauses)
            if problems:
                raise violation("scheduler.fit-error", "; ".join(problems))
        self._check_lease(leases)

    def _pauses(self) -> list[Pause]:
        """Every pause of a replica so far, on the harness monotonic clock (:data:`Pause`): stale until its renew
        deadline has run out after it resumed, and its informers have had ``INFORMER_LAG`` to catch up."""
        if self.replicas is None:
            return []
        deadline = self.replicas.renew_deadline
        return [(a - self.wall_offset, b - self.wall_offset, b - self.wall_offset + deadline + INFORMER_LAG)
                for spans in self.stopped.values() for a, b in spans]

    def _check_lease(self, leases: list[Record]) -> None:
        # a harness term may carry a backdated renewTime (a holder with a slow clock); the time checks between
        # successive records assume one clock wrote them all, so they see the harness's record at its true write
        written = {holder: _micro(at) for holder, at, _ in self.harness_terms}
        leases = [dataclasses.replace(r, acquire_time=written[r.holder], renew_time=written[r.holder])
                  if r.holder in written else r for r in leases]
        problems = lease_checks.records(leases, 0.0)
        for holder, written, duration in self.harness_terms:
            problems += lease_checks.waited_out(holder, written, duration, leases, CLOCK_TOLERANCE)
        if problems:
            raise violation("lease.single-holder-per-term", "; ".join(problems) + f" (records seen: {leases})")

    # ----- every step -----------------------------------------------------------------------------

    @invariant()
    def watched_promises(self) -> None:
        self._keep_alive()
        if self.observer is None:
            return
        events, leases = self.observer.snapshot()
        problems = at_most_once(events)
        if problems:
            raise violation("binding.at-most-once", "; ".join(problems))
        self._check_lease(leases)

    def teardown(self) -> None:
        # Hypothesis runs teardown in a finally: what is in flight here is what ended the example
        ended = sys.exc_info()[1]
        if isinstance(ended, Exception) and not violations_in(ended) and not _ERRORS:
            _ERRORS.append(ended)
        failed = ended
        try:
            if ended is None and self.unsettled and self.observer is not None:
                self.settle()  # what the last steps did is checked too, not only what came before the last settle
        except BaseException as e:
            failed = e
            raise
        finally:
            if failed is not None and violations_in(failed):
                self._keep_history(failed)
            self._clean_up()

    def _keep_history(self, err: BaseException) -> None:
        """With ``KUBEPROP_BLACKBOX_HISTORY`` set to a folder, write there what a failed example's watches and wire
        showed (:func:`load_history` reads it back), so its verdict can be judged again without the cluster."""
        where = os.environ.get(HISTORY_ENV)
        if not where or self.observer is None:
            return
        with self.observer.lock:
            events, leases = sorted(self.observer.events, key=lambda e: e.rv), list(self.observer.leases)
        doc = {"namespace": self.ns, "violations": [str(v) for v in violations_in(err)],
               "events": [dataclasses.asdict(e) for e in events],
               "leases": [dataclasses.asdict(r) for r in leases],
               "wire": [dataclasses.asdict(r) for r in self.wire.records() if r.namespace == self.ns]
               if self.wire is not None else [],
               "transitions": self.observer.holder_changes(), "stopped": self.stopped, "pauses": self._pauses(),
               "wall_offset": self.wall_offset}
        path = Path(where) / f"{self.run_id}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(doc))
        print(f"kubeprop: the failed example's watch history is in {path}", file=sys.stderr, flush=True)

    def _clean_up(self) -> None:
        if self.wire is not None:
            refused = sum(r.refused for r in self.wire.records() if r.namespace == self.ns)
            type(self).stats["refused_binds"] = type(self).stats.get("refused_binds", 0) + refused
        if self.observer is not None:
            self.observer.close()
        try:
            listing = self.target.list("pods", self.ns)
            for p in (listing.body.get("items") or []) if listing.code == 200 else []:
                self.target.delete("pods", self.ns, p["metadata"]["name"], options=GRACE0)
            for n in self.created_nodes:
                self.target.delete("nodes", None, n, options=GRACE0)
            self.target.delete("namespaces", None, self.ns)
        except TargetError:
            pass  # best effort: a server that has gone was reported by the step that met it
        self.target.close()


def blackbox_machine(kubeconfig: str, *, priorities: bool = True, reports_unschedulable: bool = True,
                     settle_timeout: float = SETTLE_TIMEOUT, replicas: Any = None,
                     wire: Wire | None = None) -> type[BlackBoxMachine]:
    """A :class:`BlackBoxMachine` bound to the control plane behind ``kubeconfig`` (and, to kill and pause them,
    its scheduler ``replicas``: conformance/replicas.py; to slow and refuse their Bindings, the ``wire`` they reach
    the server through)."""
    return type("BlackBoxMachine", (BlackBoxMachine,), {
        "kubeconfig": kubeconfig, "priorities": priorities, "reports_unschedulable": reports_unschedulable,
        "settle_timeout": settle_timeout, "stats": {}, "replicas": replicas, "wire": wire})


def run_blackbox(kubeconfig: str, *, examples: int = 5, steps: int = 12, derandomize: bool = True,
                 shrink: bool = True, priorities: bool = True, reports_unschedulable: bool = True,
                 settle_timeout: float = SETTLE_TIMEOUT, replicas: Any = None,
                 wire: Wire | None = None) -> type[BlackBoxMachine]:
    """Run the machine as a test (raises what it found); the machine class, whose ``stats`` say what was checked."""
    machine = blackbox_machine(kubeconfig, priorities=priorities, reports_unschedulable=reports_unschedulable,
                               settle_timeout=settle_timeout, replicas=replicas, wire=wire)
    run_machine(machine, examples=examples, steps=steps, derandomize=derandomize, shrink=shrink)
    return machine


def run_machine(machine: type[BlackBoxMachine], *, examples: int, steps: int, derandomize: bool,
                shrink: bool) -> None:
    """Run a :func:`blackbox_machine` class as a test: raises what it found."""
    phases = [Phase.explicit, Phase.generate, *([Phase.shrink] if shrink else [])]
    conf = settings(max_examples=examples, stateful_step_count=steps, deadline=None, database=None,
                    derandomize=derandomize, phases=phases, report_multiple_bugs=False,
                    suppress_health_check=list(HealthCheck), print_blob=False)
    without_local_constants()
    forget_first()
    _ERRORS.clear()
    try:
        run_state_machine_as_test(machine, settings=conf)
    except (FlakyFailure, FlakyStrategyDefinition) as flaky:
        # the target runs in real time: the same steps replayed need not fail the same way again (nor at the same
        # step, which Hypothesis calls flaky draws). What was seen was seen; report it
        found = seen_once(flaky, "the schedulers run in real time")
        if found is None:
            if _ERRORS:  # no verdict on the target: the error that first ended an example, with its traceback
                raise _ERRORS[0] from flaky
            raise
        raise found from flaky


# --------------------------------------------------------------------------- measuring its teeth


#: lease timings of the replica processes ``measure`` starts (kube-scheduler's defaults are 15 / 10 / 2 s; shorter
#: ones fit a failover into one settle)
SHORT_LEASE = {"lease_duration": 3.0, "renew_deadline": 2.0, "retry_period": 0.5}


def measure(faults: Iterable[str], *, runs: int = 2, examples: int = 6, steps: int = 15,
            schedulers: int = 2, processes: bool = True) -> list[tuple[str, int, str, float]]:
    """Each fault in a fresh served server per run with ``schedulers`` replicas carrying it, ``runs`` random runs of
    the machine without shrinking; (fault, run, what it failed on or "passed", seconds) per run. With
    ``processes`` the replicas are ``python -m controlplane scheduler`` processes (SHORT_LEASE timings) that the
    machine kills and pauses; without, the server's own ``--schedulers N`` threads."""
    import tempfile

    from adapters.served import ServedServer
    from conformance.replicas import BundledReplicas

    out = []
    for fault in faults:
        for run in range(runs):
            with tempfile.TemporaryDirectory() as work, \
                    ServedServer(work, schedulers=0 if processes else schedulers,
                                 faults=[fault] if fault and not processes else []) as served:
                wire = Wire(served.kubeconfig, f"{work}/wire") if processes else None
                replicas = (BundledReplicas(served.kubeconfig, f"{work}/replicas", count=schedulers,
                                            faults=[fault] if fault else [], wire=wire, **SHORT_LEASE)
                            if wire else None)
                started = time.monotonic()
                machine = blackbox_machine(served.kubeconfig, reports_unschedulable=False, replicas=replicas,
                                           wire=wire)
                try:
                    verdict = _verdict(machine, examples, steps)
                finally:
                    if replicas is not None:
                        replicas.close()
                    if wire is not None:
                        wire.close()
                out.append((fault, run, verdict, time.monotonic() - started))
                _print_run(fault or "(none)", run, verdict, out[-1][3], machine)
    return out


def _verdict(machine: type[BlackBoxMachine], examples: int, steps: int) -> str:
    """One random run of ``machine`` without shrinking: "passed", or the invariants it broke (each printed to
    stderr), or the kind of error that ended it (with its traceback)."""
    try:
        run_machine(machine, examples=examples, steps=steps, derandomize=False, shrink=False)
        return "passed"
    except (AssertionError, FlakyFailure, FlakyStrategyDefinition) as err:
        found = violations_in(err)
        for v in found:  # what broke, for the run's log (the verdict line names only the invariant)
            print(f"  {v.invariant}: {str(v)[:MESSAGE_CHARS]}", file=sys.stderr, flush=True)
        if not found:  # no verdict on the target: say what it was
            leaf: BaseException = err
            while isinstance(leaf, BaseExceptionGroup) and leaf.exceptions:
                leaf = leaf.exceptions[0]
            traceback.print_exception(leaf, file=sys.stderr)
        return ", ".join(v.invariant for v in found) or type(err).__name__


def _print_run(what: str, run: int, verdict: str, seconds: float, machine: type[BlackBoxMachine]) -> None:
    checked = {k: round(v, 1) for k, v in machine.stats.items()
               if k in ("pods", "bindings", "scores_contested", "orders_unjudged", "unschedulable", "kills", "pauses",
                        "revived", "held_binds", "replaced_binds", "refused_binds", "starved", "probes",
                        "probes_full", "sized_over", "spread_pods")}
    print(f"{what}\trun {run + 1}\t{verdict}\t{seconds:.1f}s\t{checked}", flush=True)


@contextlib.contextmanager
def real_schedulers(binaries: Any) -> Iterator[tuple[Any, Wire, Any]]:
    """Two real kube-scheduler replicas on a cluster of their own (the tools/kube ``binaries``, ``SHORT_LEASE``),
    reaching it through a wire that slows and refuses Bindings when the machine says: (cluster, wire, replicas)."""
    from conformance.kubecluster import cluster_module
    from conformance.replicas import KubeReplicas

    with cluster_module().Cluster(2, binaries=binaries, **SHORT_LEASE) as cluster:
        wire = Wire(cluster.kubeconfig, cluster.workdir / "wire")
        try:
            yield cluster, wire, KubeReplicas(cluster, wire)
        finally:
            wire.close()


def measure_real(*, runs: int = 2, examples: int = 6, steps: int = 15) -> list[tuple[str, int, str, float]]:
    """``runs`` random runs against two real kube-scheduler replicas on their own cluster (the tools/kube binaries,
    ``SHORT_LEASE``), reaching it through the wire, killed, paused and met by the wire's faults, as the second test
    of tests/differential/test_blackbox_real.py runs them but on random seeds; (what, run, verdict, seconds) per
    run. With ``KUBEPROP_BLACKBOX_HISTORY`` set, each failed example's history is kept there."""
    from conformance.kubecluster import cluster_module

    binaries = cluster_module().find_binaries()
    out = []
    for run in range(runs):
        started = time.monotonic()
        with real_schedulers(binaries) as (cluster, wire, replicas):
            machine = blackbox_machine(str(cluster.kubeconfig), priorities=False, reports_unschedulable=True,
                                       replicas=replicas, wire=wire)
            verdict = _verdict(machine, examples, steps)
        out.append(("kube-scheduler", run, verdict, time.monotonic() - started))
        _print_run("kube-scheduler", run, verdict, out[-1][3], machine)
    return out


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m conformance.blackbox",
                                     description="run the black-box scheduling machine against serve --schedulers 2 "
                                                 "with each seeded fault; print what each run failed on")
    parser.add_argument("faults", nargs="*", help="fault names; none: the clean replicas")
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--examples", type=int, default=6)
    parser.add_argument("--steps", type=int, default=15)
    parser.add_argument("--in-server", dest="processes", action="store_false", default=True,
                        help="replicas as threads of serve --schedulers 2 (no kill or pause rules) instead of "
                             "scheduler processes")
    parser.add_argument("--real", action="store_true",
                        help="two real kube-scheduler replicas on their own cluster (make kube-binaries first), "
                             "killed, paused and met on the wire; takes no faults")
    args = parser.parse_args(argv)
    if args.real:
        if args.faults:
            parser.error("--real runs the real kube-scheduler, which has no seeded faults")
        measure_real(runs=args.runs, examples=args.examples, steps=args.steps)
        return 0
    from adapters.inprocess import known_faults

    # a name the replicas refuse would only show as replicas exiting and being started again, run after run
    known = sorted(f for f, _, _ in known_faults() if f.startswith(("scheduler.", "lease.")))
    unknown = [f for f in args.faults if f not in known]
    if unknown:
        parser.error(f"unknown fault(s): {', '.join(unknown)}; the scheduler and lease faults: {', '.join(known)}")
    measure(args.faults or [""], runs=args.runs, examples=args.examples, steps=args.steps,
            processes=args.processes)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
