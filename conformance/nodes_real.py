"""Hollow kubelets against a real control plane, on the wall clock, judged by the node contract's checks.

``python -m conformance.nodes_real --start`` starts a throwaway etcd +
kube-apiserver + kube-controller-manager running only the node lifecycle
controller (tools/kube/cluster.py, with a short ``--node-monitor-grace-period``
and ``--node-monitor-period``); ``--served`` starts the bundled API server
over HTTP instead (adapters/served.py: ``python -m controlplane serve
--node-lifecycle``, memory storage or ``--storage etcd``), where the bundled
node lifecycle controller (controlplane/kubelet.py: NodeLifecycle, on its own
thread in the server process, a client of the API over HTTP) judges node
health with the same ``--grace`` and ``--monitor-period``; ``--kubeconfig KC
--allow-writes`` uses a running one instead, whose controller flags
``--grace`` and ``--monitor-period`` must then name. Against it run N hollow kubelets
(adapters/hollow.py: the bundled kubelets of controlplane/kubelet.py, each on
its own threads, heartbeating every ``--renew`` seconds and syncing its node's
status and pods every ``--sync`` seconds, each over its own container runtime).
There is no scheduler: the harness binds pods itself by posting Bindings.

A scenario comes from a seed (``random.Random(seed)``): create pods (restart
policy, a run time in the ``kubeprop.io/run-seconds`` annotation, a grace
period), bind them (at once or later; some never), delete them gracefully or by
force (grace 0), pause a kubelet (its threads take no step) and resume it,
crash one (its memory is lost, its containers run on) and restart it, and wait.
The same seed gives the same actions; what the servers and threads do between
them is the wall clock's. A Hypothesis machine would shrink a failure, but
every example here costs tens of seconds of real time and replays with other
timings, so shrinking would be slow and unsteady; a failing run prints its
seed and the action after which each invariant first broke instead, and
``--steps`` can cut the scenario there.

After every action, every half second while waiting, and at the end (every
kubelet working again, then long enough for every deadline to pass), every
check of conformance/checks/kubelet.py judges what the watches showed (the
run's pods, its nodes, their Leases, each event stamped with ``time.time()``
when it arrived) and what the runtimes ran, with a NodeTiming built from the
kubelets' periods and the controller's flags, and ``--slack`` seconds for how
late a write may be seen over HTTP (measured and printed: the time from a Lease
renewal's renewTime to its watch event).

Two checks compare an arrival time with a time the other side took, which in
process are one instant (the harness observes when it steps) and over HTTP are
not; each reads the events dated by a bound that holds:

- ``kubelet.runs-only-bound`` asks that the watch had shown a pod bound to a
  node by the time the node started it; the kubelet's own list may show a
  binding before the harness's watch delivers it, so the pod events it reads
  are dated ``slack`` earlier;
- ``node.unknown-not-early`` asks that a node was marked Unknown more than the
  grace period after its last heartbeat as seen; the controller dates a
  renewal when its own informer delivers it, which may be before the harness's
  watch does, so a Lease event it reads is dated by its renewTime when that is
  earlier (the kubelet stamps it, on this host's clock, before it writes: no
  controller can have seen the renewal sooner), less the kubelet's clock
  offset when ``--clock-skew`` set one.

``--clock-skew S`` sets the hollow kubelets' clocks off true time, as the
in-process machine does: node 0 keeps true time, node 1 runs S seconds behind,
node 2 S seconds ahead, and so on (``clock_offsets``); each kubelet stamps its
renewTime and Ready heartbeats with its own clock, while the runtimes, the
controller and the checks keep true time. A controller that dates a heartbeat
by the kubelet's renewTime (``nodelifecycle.trusts-renew-time``) then marks a
node whose clock runs behind while it heartbeats; without skew the two dates
differ by less than a monitor period and nothing can tell them apart.

``--fault NAME`` switches seeded faults on (controlplane/faults.py): the
``kubelet.*`` ones in the hollow kubelets; with ``--served`` also the
``nodelifecycle.*`` ones, in the bundled node lifecycle controller (the
server is started with them, one server per set of such faults). Elsewhere
the real kube-controller-manager judges node health and those do not apply;
the other faults live in the bundled API server or scheduler. ``--matrix``
runs the clean kubelets and then each fault that applies (``kubelet.*``, and
with ``--served`` ``nodelifecycle.*``) alone, over every seed, on one control
plane per set of server-side faults, and prints which fault was caught on its
invariant and how soon.
"""

from __future__ import annotations

import argparse
import contextlib
import inspect
import json
import random
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from adapters.hollow import HollowFleet, Periods, Stamped
from adapters.inprocess import known_faults
from adapters.scoped import new_run_id
from conformance import findings
from conformance.checks import Check
from conformance.checks import kubelet as checks
from conformance.checks.kubelet import Seen
from model import kubelet as contract
from model.kubelet import NODE_LEASE_NAMESPACE

#: the controller's flags a started cluster gets (upstream defaults on v1.37.2: 50 s and 5 s)
GRACE = 8.0
MONITOR_PERIOD = 1.0
#: how late a write may be seen over HTTP and the watch, and how late a kubelet thread may take a due step
SLACK = 1.5
POD_NAMES = ("p0", "p1", "p2", "p3", "p4")
POLICIES = ("Never", "Always", "OnFailure")
RUN_SECONDS = (None, None, 1, 4)
POD_GRACE = (1, 2, 3, 0)
#: how a delete asks: None (the pod's own grace), 1 s, or 0 (a force delete)
DELETE_GRACE = (None, None, 1, 0, 0)
#: how long to wait after every kubelet works again at the end, beyond the latest deadline a check may judge
SETTLE = 1.0
CHECK_EVERY = 0.5
#: the annotation ``annotate_lease`` writes on a node's Lease (another client's write, not a heartbeat)
TOUCHED = "kubeprop.io/lease-touched"
LEASE_WRITE_FINDING = "node-lease-write-holds-off-unknown"
#: the time let pass after an action other than a wait: often none (actions at once), else under a kubelet sync or
#: about one
GAPS = (0, 0, 0.3, 0.6, 1.2)


def kubelet_faults() -> list[tuple[str, str]]:
    """The seeded faults a hollow kubelet carries: (name, invariant it breaks)."""
    return [(name, inv) for name, inv, _ in known_faults() if name.startswith("kubelet.")]


def controller_faults() -> list[tuple[str, str]]:
    """The seeded faults of the bundled node lifecycle controller (on with ``--served``): (name, invariant)."""
    return [(name, inv) for name, inv, _ in known_faults() if name.startswith("nodelifecycle.")]


def matrix_faults(served: bool) -> list[str]:
    """The faults ``--matrix`` runs one at a time: the kubelets', and with the bundled server the controller's."""
    return [f for f, _ in kubelet_faults() + (controller_faults() if served else [])]


def server_faults(faults: list[str]) -> tuple[str, ...]:
    """The faults of a run that the served server must be started with (the node lifecycle controller's)."""
    return tuple(sorted(f for f in faults if f.startswith("nodelifecycle.")))


def _fault_invariants(faults: list[str], served: bool = False) -> dict[str, str]:
    table = {name: inv for name, inv, _ in known_faults()}
    for f in faults:
        if f not in table:
            raise SystemExit(f"unknown fault {f!r}; the faults that apply: {', '.join(matrix_faults(served))}")
        if not f.startswith("kubelet.") and not (served and f.startswith("nodelifecycle.")):
            where = ("the bundled node lifecycle controller, which only --served runs: the real "
                     "kube-controller-manager judges node health here" if f.startswith("nodelifecycle.")
                     else "the bundled API server or scheduler, not in a kubelet")
            raise SystemExit(f"fault {f} does not apply to this run: it lives in {where}")
    return {f: table[f] for f in faults}


# ----- the scenario ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Action:
    kind: str  # create, bind, delete, pause, resume, crash, restart, wait
    args: tuple[Any, ...] = ()
    #: seconds the harness lets pass after it (besides a wait's own), so the kubelets get to act between actions
    gap: float = 0.0

    def __str__(self) -> str:
        return f"{self.kind}({', '.join(repr(a) for a in self.args)})" + (f" +{self.gap:g}s" if self.gap else "")


def _node(rng: random.Random, among: list[int]) -> int:
    """Node 0 more often than the others, so a few actions make one node do a whole piece of work."""
    return rng.choices(among, weights=[3 if i == 0 else 1 for i in among])[0]


def scenario(seed: int, steps: int, nodes: int = 3, *, lease_writes: bool = False) -> list[Action]:
    """``steps`` actions drawn from ``seed``. The generator follows what it asked for (which pods it created and
    bound where, which kubelets it stopped) to draw actions that meet something: a kubelet to stop is more likely
    one with pods, a pod to delete more likely one on a working node. Whatever the server answers, the list is the
    same. ``lease_writes``: another client also annotates the Lease of a stopped kubelet's node now and then
    (``annotate_lease``), a write that is no heartbeat."""
    rng = random.Random(seed)
    pods: dict[str, int | None] = {}  # name -> the node it was bound to (as asked)
    state = ["working"] * nodes
    out: list[Action] = []
    for _ in range(steps):
        up = [i for i, s in enumerate(state) if s == "working"]
        down = [i for i, s in enumerate(state) if s != "working"]
        free = [p for p in POD_NAMES if p not in pods]
        unbound = sorted(p for p, node in pods.items() if node is None)
        kinds = {"create": 5 if free else 0, "bind": 2 if unbound else 0, "delete": 3 if pods else 0,
                 "stop": 2.5 if len(up) > 1 else 0, "start": 4 if down else 0, "wait": 5,
                 "annotate_lease": 1.5 if lease_writes and down else 0}
        kind = rng.choices(list(kinds), weights=list(kinds.values()))[0]
        if kind == "create":
            name = rng.choice(free)
            node = _node(rng, list(range(nodes))) if rng.random() < 0.7 else None
            out.append(Action("create", (name, rng.choice(POLICIES), rng.choice(RUN_SECONDS), rng.choice(POD_GRACE),
                                         node)))
            pods[name] = node
        elif kind == "bind":
            name = rng.choice(unbound)
            pods[name] = _node(rng, list(range(nodes)))
            out.append(Action("bind", (name, pods[name])))
        elif kind == "delete":
            names = sorted(pods)
            name = rng.choices(names, weights=[4 if pods[p] in up else 1 for p in names])[0]
            out.append(Action("delete", (name, rng.choice(DELETE_GRACE))))
            del pods[name]
        elif kind == "stop":
            i = rng.choices(up, weights=[1 + 4 * sum(1 for n in pods.values() if n == j) for j in up])[0]
            crash = rng.random() < 0.6
            out.append(Action("crash" if crash else "pause", (i,)))
            state[i] = "crashed" if crash else "paused"
        elif kind == "annotate_lease":
            out.append(Action("annotate_lease", (rng.choice(down),)))
        elif kind == "start":
            i = rng.choice(down)
            out.append(Action("restart" if state[i] == "crashed" else "resume", (i,)))
            state[i] = "working"
        else:
            # a long wait while a kubelet is down lets the controller mark its node Unknown
            long = bool(down) and rng.random() < 0.25
            out.append(Action("wait", (rng.choice((9, 12)) if long else rng.choice((0.5, 1, 2, 3, 5)),)))
        if out[-1].kind != "wait":
            out[-1] = replace(out[-1], gap=rng.choice(GAPS))
    return out


# ----- the checks -----------------------------------------------------------------------------------------


def node_checks() -> list[Check[...]]:
    """Every check of conformance/checks/kubelet.py, in the order the module defines them."""
    return [v for v in vars(checks).values() if isinstance(v, Check)]


def check_all(seen: list[Seen], containers: list[dict[str, Any]], live: dict[str, float | None], forced: set[str],
              now: float, timing: contract.NodeTiming, controller_since: float | None,
              offsets: dict[str, float] | None = None) -> dict[str, list[str]]:
    """Every check of conformance/checks/kubelet.py, each given what it asks for by the names of its parameters; by
    invariant id, only those with problems. ``kubelet.runs-only-bound`` and ``node.unknown-not-early`` read some
    events dated earlier than they arrived (the module docstring says why); ``offsets``: how far each node's
    kubelet clock is off true time."""
    given: dict[str, Any] = {"seen": seen, "containers": containers, "live": live, "forced": forced, "now": now,
                             "timing": timing, "controller_since": controller_since}
    off = offsets or {}
    dated = {checks.runs_only_bound: [replace(s, t=s.t - timing.slack) if s.resource == "pods" else s for s in seen],
             checks.unknown_not_early: [replace(s, t=min(s.t, _renewed(s) - off.get(s.name, 0.0)))
                                        if s.resource == "leases" else s for s in seen]}
    found: dict[str, list[str]] = {}
    for chk in node_checks():
        kwargs: dict[str, Any] = {}
        for name, param in inspect.signature(chk.fn).parameters.items():
            if name in given:
                kwargs[name] = dated.get(chk, seen) if name == "seen" else given[name]
            elif param.default is inspect.Parameter.empty:
                raise TypeError(f"{chk!r} asks for {name!r}, which this run does not know")
        problems = chk(**kwargs)
        if problems:
            found.setdefault(chk.invariant, []).extend(problems)
    return found


def clock_offsets(count: int, skew: float) -> list[float]:
    """How far each of ``count`` kubelets' clocks is off true time: node 0 none, then behind and ahead in turn."""
    return [0.0 if i == 0 else -skew if i % 2 else skew for i in range(count)]


def _renewed(s: Seen) -> float:
    """When a Lease event's renewal was stamped (its renewTime), or its arrival when it has none."""
    t = _parse((s.obj.get("spec") or {}).get("renewTime")) if s.type != "DELETED" else None
    return s.t if t is None else t


def unknown_delays(seen: list[Seen]) -> list[tuple[str, float]]:
    """For each change of a node's Ready condition to Unknown: the node, and how long after its last heartbeat the
    watch had shown (conformance/checks/kubelet.py: heartbeats) the change was seen."""
    out: list[tuple[str, float]] = []
    ready: dict[str, str | None] = {}
    for k, s in enumerate(seen):
        if s.resource == "nodes" and s.type != "DELETED":
            was, ready[s.name] = ready.get(s.name), checks._ready(s.obj)
            beats = checks.heartbeats(seen, k).get(s.name) if was != ready[s.name] == "Unknown" else None
            out += [(s.name, s.t - beats[-1])] if beats else []
    return out


def _parse(text: str | None) -> float | None:
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def lease_delays(seen: list[Seen], offsets: dict[str, float] | None = None) -> list[float]:
    """For each Lease write that moved renewTime: from the renewTime the kubelet wrote (its clock, when it began
    the renewal: a GET and a PUT before the write lands; less its ``offsets`` to true time) to the watch event's
    arrival, in seconds."""
    out: list[float] = []
    off = offsets or {}
    before: dict[str, Any] = {}
    for s in seen:
        if s.resource != "leases" or s.type == "DELETED":
            continue
        renew = (s.obj.get("spec") or {}).get("renewTime")
        if renew and renew != before.get(s.name):
            t = _parse(renew)
            if t is not None:
                out.append(s.t - (t - off.get(s.name, 0.0)))
        before[s.name] = renew
    return out


def heartbeat_gaps(seen: list[Seen], windows: dict[str, list[list[float | None]]], end: float) -> list[float]:
    """The gaps between a working kubelet's Lease renewals as the watch showed them (from the start of each working
    window to its first renewal, between renewals, and from the last to the window's end)."""
    gaps: list[float] = []
    renewals = checks.renewals(seen)
    for node, spans in windows.items():
        for start, stop in spans:
            assert start is not None
            stop = end if stop is None else stop
            ts = [start] + [t for t in renewals.get(node, []) if start < t <= stop] + [stop]
            gaps.extend(b - a for a, b in zip(ts, ts[1:], strict=False))
    return gaps


# ----- one run --------------------------------------------------------------------------------------------


@dataclass
class Violation:
    first: float  # seconds since the run started
    after: int  # actions done when it was first seen
    message: str
    checks: int = 1
    #: the known upstream finding that explains it (conformance/findings.py), if one does
    known: str = ""


@dataclass
class RunResult:
    seed: int
    faults: list[str]
    run_id: str
    actions: int
    planned: int
    events: int
    seconds: float
    violations: dict[str, Violation] = field(default_factory=dict)
    unknown_after: list[tuple[str, float]] = field(default_factory=list)
    lease_delay: dict[str, float] = field(default_factory=dict)
    heartbeat_gap_max: float = 0.0
    kubelet_errors: list[str] = field(default_factory=list)
    watch_reopens: int = 0
    left_behind: list[str] = field(default_factory=list)
    expected: dict[str, str] = field(default_factory=dict)  # fault -> invariant it breaks
    grace: float = GRACE
    clock_skew: float = 0.0

    @property
    def caught(self) -> dict[str, bool]:
        return {f: inv in self.violations for f, inv in self.expected.items()}

    @property
    def passed(self) -> bool:
        """Clean: no violation (a known upstream finding's passes only with KUBEPROP_REPORT_KNOWN=1). Faulty: every
        fault caught on its invariant."""
        if self.expected:
            return all(self.caught.values())
        return not [v for v in self.violations.values() if not v.known or findings.fail_on_known()]


class NodesRun:
    """One scenario against one control plane: its own run id, namespace, nodes and kubelets."""

    def __init__(self, kubeconfig: str, *, seed: int, steps: int, faults: list[str] | None = None, nodes: int = 3,
                 timing: contract.NodeTiming, periods: Periods, context: str | None = None,
                 controller_since: float | None = None, until_caught: bool = False, lease_writes: bool = False,
                 served: bool = False, clock_skew: float = 0.0, log: Callable[[str], None] = print) -> None:
        self.kubeconfig, self.context = kubeconfig, context
        self.seed, self.steps, self.count = seed, steps, nodes
        #: every fault of the run; the kubelet.* ones are the fleet's, the others the server's (switched on there)
        self.faults = list(faults or [])
        self.expected = _fault_invariants(self.faults, served)
        self.timing, self.periods = timing, periods
        self.controller_since = controller_since
        self.until_caught = until_caught
        self.annotate_leases = lease_writes
        self.clock_skew = clock_skew
        self.offsets: dict[str, float] = {}  # node -> how far its kubelet's clock is off
        self.log = log
        self.seen: list[Seen] = []
        self.forced: set[str] = set()
        self.windows: dict[str, list[list[float | None]]] = {}
        self.violations: dict[str, Violation] = {}
        self.done = 0
        self.t0 = 0.0
        self.fleet: HollowFleet | None = None
        self.lease_writes: list[tuple[str, float]] = []  # (node, when) the harness annotated a node's Lease
        self.server_version = ""

    # ----- observing and judging ---------------------------------------------------------------------------

    def _observe(self) -> None:
        assert self.fleet is not None
        for s in self.fleet.drain():
            if s.type == "ERROR":
                self.log(f"  watch of {s.resource} sent an ERROR event: {s.obj}")
                continue
            self.seen.append(_seen(s))

    def _check(self) -> None:
        assert self.fleet is not None
        self._observe()
        now = time.time()
        found = check_all(self.seen, self.fleet.containers(), self.fleet.live(), self.forced, now, self.timing,
                          self.controller_since, self.offsets)
        for inv, problems in found.items():
            v = self.violations.get(inv)
            if v is None:
                known = self._known(inv, problems[0])
                self.violations[inv] = Violation(now - self.t0, self.done, problems[0], known=known.id if known else "")
                self.log(f"  {now - self.t0:6.1f}s VIOLATION [{inv}] {problems[0]}"
                         + (f"\n          {findings.describe(known)}" if known else ""))
            else:
                v.checks += 1

    def _known(self, invariant: str, message: str) -> findings.Finding | None:
        """A node left Ready past its deadline whose Lease the harness annotated while its kubelet was stopped: the
        finding node-lease-write-holds-off-unknown, where the release has it."""
        if invariant != checks.unknown_in_time.invariant:
            return None
        if not any(message.startswith(f"{node}'s Lease") for node, _ in self.lease_writes):
            return None
        return next((f for f in findings.applicable(self.server_version) if f.id == LEASE_WRITE_FINDING), None)

    def _caught_all(self) -> bool:
        return self.until_caught and bool(self.expected) and all(inv in self.violations
                                                                 for inv in self.expected.values())

    def _wait(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0 and not self._caught_all():
            time.sleep(min(CHECK_EVERY, left))
            self._check()

    # ----- actions -----------------------------------------------------------------------------------------

    def _bind(self, name: str, node: int) -> int:
        assert self.fleet is not None
        pod = self.fleet.pod(name)
        uid = (pod or {}).get("metadata", {}).get("uid")
        body = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": name, **({"uid": uid} if uid else {})},
                "target": {"apiVersion": "v1", "kind": "Node", "name": self.fleet.nodes[node].name}}
        return self.fleet.client.bind(self.fleet.namespace, name, body).code

    def _do(self, a: Action) -> str:
        fleet = self.fleet
        assert fleet is not None
        if a.kind == "create":
            name, policy, run, grace, node = a.args
            body = fleet.pod_body(name, policy=policy, run_seconds=run, grace=grace)
            code = fleet.client.create("pods", fleet.namespace, body).code
            return f"{code}" + (f", bind {self._bind(name, node)}" if node is not None and code == 201 else "")
        if a.kind == "bind":
            return str(self._bind(*a.args))
        if a.kind == "delete":
            name, grace = a.args
            got = fleet.client.delete("pods", fleet.namespace, name,
                                      None if grace is None else {"gracePeriodSeconds": grace})
            meta = (got.body or {}).get("metadata") or {} if got.code == 200 else {}
            # pkg/registry/core/pod/strategy.go: CheckGracefulDelete -- grace 0 asked or the pod's own, an unbound
            # or finished pod: removed at once; the answer then carries deletionGracePeriodSeconds 0
            if got.code == 200 and not meta.get("deletionGracePeriodSeconds"):
                self.forced.add(meta.get("uid", ""))
                return "200, removed at once"
            return str(got.code)
        i = a.args[0] if a.args else 0
        node = fleet.nodes[i].name if a.kind != "wait" else ""
        if a.kind in ("pause", "crash"):
            ok = fleet.pause(i) if a.kind == "pause" else fleet.crash(i)
            if ok:
                self.windows[node][-1][1] = time.time()
            return "done" if ok else "not working"
        if a.kind in ("resume", "restart"):
            ok = fleet.resume(i) if a.kind == "resume" else fleet.restart(i) is not None
            if ok:
                self.windows[node].append([fleet.live()[node], None])
            return "done" if ok else "not stopped"
        if a.kind == "wait":
            self._wait(float(a.args[0]))
            return ""
        if a.kind == "annotate_lease":
            got = fleet.client.get("leases", NODE_LEASE_NAMESPACE, node)
            if got.code != 200:
                return str(got.code)
            lease = got.body
            lease["metadata"].setdefault("annotations", {})[TOUCHED] = str(self.done)
            code = fleet.client.update("leases", NODE_LEASE_NAMESPACE, node, lease).code
            if code == 200:
                self.lease_writes.append((node, time.time()))
            return str(code)
        raise ValueError(f"unknown action {a}")

    def _settle(self) -> None:
        """Every kubelet works again; then wait until every deadline a check may judge has passed for what the API
        still shows (a pod being deleted: its deletionTimestamp plus a sync; a removed pod's containers: a sync),
        at least a sync and the slack, at most the grace period and three monitor periods."""
        assert self.fleet is not None
        for i, node in enumerate(self.fleet.nodes):
            if node.state == "paused":
                self._do(Action("resume", (i,)))
            elif node.state == "crashed":
                self._do(Action("restart", (i,)))
        self._check()
        now = time.time()
        latest = {s.uid: s for s in self.seen if s.resource == "pods"}
        marked = [_parse((s.obj.get("metadata") or {}).get("deletionTimestamp")) for s in latest.values()
                  if s.type != "DELETED"]
        last = max([t for t in marked if t is not None] + [now])
        limit = self.timing.latest_unknown(0.0)
        wait = min(max(last + self.timing.sync, now + self.timing.sync) + self.timing.slack + SETTLE - now, limit)
        self._wait(wait)

    # ----- the run -----------------------------------------------------------------------------------------

    def execute(self) -> RunResult:
        plan = scenario(self.seed, self.steps, self.count, lease_writes=self.annotate_leases)
        run_id = new_run_id()
        what = ", ".join(self.faults) or "clean"
        self.log(f"seed {self.seed} ({what}), run {run_id}: {len(plan)} actions, {self.count} hollow nodes, "
                 f"grace {self.timing.grace:g} s, monitor period {self.timing.monitor_period:g} s, renew "
                 f"{self.periods.renew:g} s, sync {self.periods.sync:g} s, slack {self.timing.slack:g} s"
                 + (f", kubelet clocks off by {clock_offsets(self.count, self.clock_skew)} s"
                    if self.clock_skew else ""))
        self.fleet = HollowFleet(self.kubeconfig, run_id, count=self.count, periods=self.periods,
                                 faults=[f for f in self.faults if f.startswith("kubelet.")], context=self.context,
                                 offsets=clock_offsets(self.count, self.clock_skew))
        self.offsets = dict(self.fleet.offsets)
        self.t0 = time.time()
        left: list[str] = []
        try:
            self.fleet.start()
            self.server_version = str((self.fleet.client.version().body or {}).get("gitVersion", ""))
            for node, since in self.fleet.live().items():
                self.windows[node] = [[since, None]]
            self._check()
            for a in plan:
                if self._caught_all():
                    break
                answer = self._do(a)
                self.done += 1
                self.log(f"  {time.time() - self.t0:6.1f}s #{self.done} {a}{' -> ' + answer if answer else ''}")
                self._check()
                self._wait(a.gap)
            if not self._caught_all():
                self._settle()
                self._check()
        finally:
            end = time.time()
            errors = [f"{n.name}: {e}" for n in self.fleet.nodes for e in n.errors]
            reopens = self.fleet.watch_reopens
            left = self.fleet.close(cleanup=True)
        delays = lease_delays(self.seen, self.offsets)
        result = RunResult(
            seed=self.seed, faults=self.faults, run_id=run_id, actions=self.done, planned=len(plan),
            events=len(self.seen), seconds=end - self.t0, violations=self.violations,
            unknown_after=unknown_delays(self.seen),
            lease_delay=({"n": len(delays), "median": statistics.median(delays), "max": max(delays),
                          "p99": sorted(delays)[int(0.99 * (len(delays) - 1))]} if delays else {}),
            heartbeat_gap_max=max(heartbeat_gaps(self.seen, self.windows, end), default=0.0),
            kubelet_errors=errors, watch_reopens=reopens, left_behind=left, expected=self.expected,
            grace=self.timing.grace, clock_skew=self.clock_skew)
        self.log(summary_line(result))
        return result


def _seen(s: Stamped) -> Seen:
    return Seen(s.t, s.resource, s.type, s.obj)


def summary_line(r: RunResult) -> str:
    what = ", ".join(r.faults) or "clean"
    if r.expected:
        verdict = "; ".join(f"{f} {'CAUGHT' if ok else 'NOT caught'} on {r.expected[f]}"
                            + (f" at {r.violations[r.expected[f]].first:.1f}s" if ok else "")
                            for f, ok in r.caught.items())
    else:
        verdict = ("FAIL" if not r.passed else "PASS" if not r.violations else
                   "PASS (known upstream findings only, KUBEPROP_REPORT_KNOWN=1)")
    broken = ", ".join(f"{inv} (first at {v.first:.1f}s after action {v.after}"
                       + (f"; known upstream: {v.known}" if v.known else "") + ")" for inv, v in r.violations.items())
    unknown = ", ".join(f"{d:.1f}" for _, d in r.unknown_after) or "none"
    lease = r.lease_delay
    return (f"seed {r.seed} ({what}): {verdict}; {r.actions}/{r.planned} actions, {r.events} events, "
            f"{r.seconds:.1f} s; violations: {broken or 'none'}; Unknown seen {unknown} s after the last heartbeat "
            f"(grace period {r.grace:g} s); Lease write to watch event: median "
            f"{lease.get('median', 0) * 1000:.0f} ms, max {lease.get('max', 0) * 1000:.0f} ms; widest gap between a "
            f"working kubelet's renewals {r.heartbeat_gap_max:.2f} s; kubelet errors {len(r.kubelet_errors)}"
            + (f"; left behind: {r.left_behind}" if r.left_behind else ""))


# ----- the command ----------------------------------------------------------------------------------------


@contextlib.contextmanager
def _control_plane(args: argparse.Namespace, faults: tuple[str, ...] = ()) -> Iterator[tuple[str, float, str]]:
    """(kubeconfig, since when its node lifecycle controller has been running, what it is). ``faults``: the seeded
    faults a served server starts with."""
    if args.served:
        with _served(args, faults) as plane:
            yield plane
        return
    if not args.start:
        yield args.kubeconfig, time.time(), f"the cluster of {args.kubeconfig}"
        return
    from conformance.kubecluster import cluster_module

    kube = cluster_module()
    binaries = kube.find_binaries()
    if not binaries.controller_manager:
        raise SystemExit(f"kube-controller-manager not found: {kube.CONTROLLER_MANAGER_HINT}")
    t0 = time.time()
    with kube.Cluster(0, binaries=binaries, controller_manager=True, node_monitor_grace_period=args.grace,
                      node_monitor_period=args.monitor_period) as cluster:
        since = time.time()
        yield (str(cluster.kubeconfig), since,
               f"kube-apiserver + kube-controller-manager {binaries.version()} (started in {since - t0:.1f} s)")


#: what the served server's log says when a pass of its node lifecycle controller failed (controlplane/noderunner.py)
CONTROLLER_ERROR = "monitorNodeHealth failed"


@contextlib.contextmanager
def _served(args: argparse.Namespace, faults: tuple[str, ...]) -> Iterator[tuple[str, float, str]]:
    """The bundled API server over HTTP with its node lifecycle controller (``--grace``, ``--monitor-period``) and
    ``faults`` on; its log in ``--workdir``/<faults or clean>/serve.log. After the runs: whether it still ran and
    how many controller passes failed."""
    from adapters.served import ServedServer

    workdir = Path(args.workdir) / ("+".join(faults) or "clean")
    t0 = time.time()
    served = ServedServer(workdir, storage=args.storage, faults=faults, node_lifecycle=True,
                          node_monitor_grace_period=args.grace, node_monitor_period=args.monitor_period)
    with served:
        since = time.time()
        yield (served.kubeconfig, since,
               f"the bundled API server ({args.storage} storage) with its node lifecycle controller"
               + (f" ({', '.join(faults)} on)" if faults else "") + f", started in {since - t0:.1f} s; log "
               f"{served.log_path}")
        alive = served.proc is not None and served.proc.poll() is None
    errors = served.log().count(CONTROLLER_ERROR)
    if not alive or errors:
        print(f"the served server {'exited early' if not alive else 'ran on'}; {errors} failed controller pass(es); "
              f"see {served.log_path}")


def run_many(kubeconfig: str, runs: list[tuple[int, list[str]]], *, steps: int, nodes: int,
             timing: contract.NodeTiming, periods: Periods, context: str | None, controller_since: float | None,
             until_caught: bool, lease_writes: bool = False, served: bool = False, clock_skew: float = 0.0,
             log: Callable[[str], None] = print) -> list[RunResult]:
    results = []
    for seed, faults in runs:
        run = NodesRun(kubeconfig, seed=seed, steps=steps, faults=faults, nodes=nodes, timing=timing,
                       periods=periods, context=context, controller_since=controller_since,
                       until_caught=until_caught and bool(faults), lease_writes=lease_writes, served=served,
                       clock_skew=clock_skew, log=log)
        results.append(run.execute())
    return results


def plane_groups(runs: list[tuple[int, list[str]]], served: bool) -> dict[tuple[str, ...], list[tuple[int, list[str]]]]:
    """The runs by the seeded faults their control plane must carry (with ``served``: the controller's; else none),
    each group in the order given, the groups in the order they first come."""
    groups: dict[tuple[str, ...], list[tuple[int, list[str]]]] = {}
    for seed, faults in runs:
        groups.setdefault(server_faults(faults) if served else (), []).append((seed, faults))
    return groups


def table(results: list[RunResult]) -> str:
    """Per fault (and clean): caught or passed per seed, with the time to the first violation of its invariant."""
    lines = ["| kubelets | invariant | result per seed | time to catch (s) | run times (s) | also broken |",
             "|---|---|---|---|---|---|"]
    groups: dict[str, list[RunResult]] = {}
    for r in results:
        groups.setdefault(",".join(r.faults) or "clean", []).append(r)
    for what, rs in groups.items():
        inv = ", ".join(sorted(set(rs[0].expected.values()))) or f"all {len(node_checks())}"
        if rs[0].expected:
            marks = [f"{r.seed}: {'caught' if all(r.caught.values()) else 'not caught'}" for r in rs]
            times = [f"{min(r.violations[i].first for i in r.expected.values()):.1f}" for r in rs
                     if all(r.caught.values())]
            also = sorted({inv for r in rs for inv in r.violations} - set(rs[0].expected.values()))
        else:
            marks = [f"{r.seed}: " + ("pass" if not r.violations else ("known " if r.passed else "FAIL ") + ", ".join(
                f"{inv}" + (f" ({v.known})" if v.known else "") for inv, v in r.violations.items())) for r in rs]
            times, also = [], []
        lines.append(f"| {what} | {inv} | {'; '.join(marks)} | {', '.join(times) or '—'} | "
                     f"{', '.join(f'{r.seconds:.0f}' for r in rs)} | {', '.join(also) or '—'} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m conformance.nodes_real", description=__doc__.split("\n\n")[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--start", action="store_true",
                       help="start a throwaway etcd + kube-apiserver + kube-controller-manager (tools/kube/cluster.py)")
    where.add_argument("--served", action="store_true",
                       help="start the bundled API server over HTTP with its node lifecycle controller "
                            "(python -m controlplane serve --node-lifecycle); nodelifecycle.* faults apply")
    where.add_argument("--kubeconfig", help="a running control plane with the node lifecycle controller")
    parser.add_argument("--storage", choices=["memory", "etcd"], default="memory",
                        help="with --served: the bundled server's storage")
    parser.add_argument("--workdir", default="reports/nodes-served",
                        help="with --served: where each server's kubeconfig and log go")
    parser.add_argument("--context")
    parser.add_argument("--allow-writes", action="store_true",
                        help="needed with --kubeconfig: the run writes a namespace, nodes, Leases and pods")
    parser.add_argument("--seed", type=int, action="append", help="a scenario's seed (repeatable)")
    parser.add_argument("--seeds", type=int, default=1, help="without --seed: this many random seeds")
    parser.add_argument("--steps", type=int, default=80, help="actions per scenario")
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--fault", action="append", default=[], help="a kubelet.* fault, on in every kubelet, or "
                        "with --served a nodelifecycle.* fault, on in the controller (repeatable: all at once)")
    parser.add_argument("--matrix", action="store_true",
                        help="the clean kubelets, then each kubelet.* fault (and with --served each "
                             "nodelifecycle.* fault) alone, over every seed")
    parser.add_argument("--until-caught", action="store_true",
                        help="stop a faulty run once its fault's invariant broke (on by default with --matrix)")
    parser.add_argument("--grace", type=float, default=GRACE, help="the controller's --node-monitor-grace-period")
    parser.add_argument("--monitor-period", type=float, default=MONITOR_PERIOD,
                        help="the controller's --node-monitor-period")
    parser.add_argument("--renew", type=float, default=Periods.renew, help="a kubelet's Lease renewal period")
    parser.add_argument("--sync", type=float, default=Periods.sync, help="a kubelet's node status and pod sync "
                        "period")
    parser.add_argument("--slack", type=float, default=SLACK, help="how late a write may be seen")
    parser.add_argument("--clock-skew", type=float, default=0.0, metavar="SECONDS",
                        help="the kubelets' clocks are this far off true time: node 1 behind, node 2 ahead, ...")
    parser.add_argument("--json", default="reports/nodes_real.json", help="where the results go")
    parser.add_argument("--lease-writes", action="store_true",
                        help="another client also annotates the Lease of a stopped kubelet's node now and then (on "
                             "v1.37 this holds the node's Unknown mark off: conformance/findings.py, "
                             f"{LEASE_WRITE_FINDING})")
    parser.add_argument("--print-scenario", action="store_true", help="print each seed's actions and stop")
    args = parser.parse_args(argv)
    if args.kubeconfig and not args.allow_writes:
        parser.error("--kubeconfig writes to that cluster (a namespace, nodes, Leases, pods): add --allow-writes")
    seeds = args.seed or [random.randrange(1 << 30) for _ in range(args.seeds)]
    if args.print_scenario:
        for seed in seeds:
            print(f"seed {seed}:")
            for k, a in enumerate(scenario(seed, args.steps, args.nodes, lease_writes=args.lease_writes), 1):
                print(f"  #{k} {a}")
        return 0
    _fault_invariants(args.fault, args.served)
    runs: list[tuple[int, list[str]]]
    if args.matrix:
        runs = [(s, []) for s in seeds] + [(s, [f]) for f in matrix_faults(args.served) for s in seeds]
    else:
        runs = [(s, list(args.fault)) for s in seeds]
    timing = contract.NodeTiming(grace=args.grace, monitor_period=args.monitor_period, renew_interval=args.renew,
                                 sync=args.sync, slack=args.slack)
    periods = Periods(renew=args.renew, sync=args.sync)
    started = time.time()
    results: list[RunResult] = []
    # one control plane for all the runs; with --served, one per set of faults the server carries
    for faults, group in plane_groups(runs, args.served).items():
        with _control_plane(args, faults) as (kubeconfig, since, what):
            print(f"against {what}; {len(group)} run(s)")
            results += run_many(kubeconfig, group, steps=args.steps, nodes=args.nodes, timing=timing,
                                periods=periods, context=args.context, controller_since=since,
                                until_caught=args.until_caught or args.matrix, lease_writes=args.lease_writes,
                                served=args.served, clock_skew=args.clock_skew)
    print()
    print(table(results))
    print(f"\n{len(results)} run(s) in {time.time() - started:.0f} s")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps([{**asdict(r), "caught": r.caught, "passed": r.passed}
                                               for r in results], indent=1, default=str))
    return 0 if all(r.passed for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
