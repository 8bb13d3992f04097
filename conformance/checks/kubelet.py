"""Checks of the node side (model/kubelet.py), one invariant id each, on what the API and the runtimes showed.

Inputs are plain data:

- ``seen``: every watch event of pods, nodes and node Leases, in the order it
  arrived, each as ``Seen(t, resource, type, obj)`` with ``t`` the true time
  it was observed (a write is observed no earlier than it was made);
- ``containers``: every container the nodes' runtimes ran (dicts with node,
  namespace, pod, uid, name, started, stopped (None while running), exit_code);
- ``live``: for each node, since when its kubelet has been working (neither
  crashed nor paused by the harness), or None when it is not now;
- ``forced``: the uids a client deleted with grace 0 (a force delete, which
  gives up the ordering promises: model/kubelet.py);
- ``now``: true time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from conformance.checks import check
from model import kubelet as contract

JSON = dict[str, Any]
#: the deadlines of the stock periods, with a second of slack for the in-process machine's whole-second steps
DEFAULT_TIMING = contract.NodeTiming()


@dataclass(frozen=True)
class Seen:
    t: float
    resource: str
    type: str
    obj: JSON
    uid: str = field(init=False)
    name: str = field(init=False)

    def __post_init__(self) -> None:
        meta = self.obj.get("metadata") or {}
        object.__setattr__(self, "uid", str(meta.get("uid", "")))
        object.__setattr__(self, "name", str(meta.get("name", "")))


def _time(text: str | None) -> float | None:
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _running_at(c: Mapping[str, Any], t: float) -> bool:
    return c["started"] <= t and (c["stopped"] is None or c["stopped"] > t)


def _pods(seen: Sequence[Seen]) -> list[Seen]:
    return [s for s in seen if s.resource == "pods"]


def _deleted(seen: Sequence[Seen]) -> dict[str, Seen]:
    return {s.uid: s for s in _pods(seen) if s.type == "DELETED"}


def _live_through(live: Mapping[str, float | None], node: str, since: float) -> bool:
    start = live.get(node)
    return start is not None and start <= since


@check("kubelet.runs-only-bound")
def runs_only_bound(seen: Sequence[Seen], containers: Sequence[Mapping[str, Any]]) -> list[str]:
    """Every container started on node N belongs to a pod incarnation the API had shown bound to N by then (a
    nodeName, once set, stays: binding.at-most-once; events seen at the same instant count as before it, since
    the harness observes once per step)."""
    problems = []
    for c in containers:
        shown = [(s.obj.get("spec") or {}).get("nodeName") for s in _pods(seen)
                 if s.uid == c["uid"] and s.t <= c["started"]]
        if c["node"] not in shown:
            where = f"shown bound to {shown[-1]!r}" if shown else "never shown"
            problems.append(f"{c['node']} started container {c['name']} of pod {c['namespace']}/{c['pod']} "
                            f"(uid {c['uid']}) at {c['started']:.0f}; by then the API had {where}")
    return problems


@check("kubelet.runs-at-most-once")
def runs_at_most_once(containers: Sequence[Mapping[str, Any]], forced: set[str]) -> list[str]:
    """At every instant a pod name runs as one incarnation on one node, each container of it once; a
    force-deleted incarnation may overlap the next (the API no longer orders them)."""
    problems = []
    for i, a in enumerate(containers):
        for b in containers[i + 1:]:
            if (a["namespace"], a["pod"]) != (b["namespace"], b["pod"]):
                continue
            start = max(a["started"], b["started"])
            if not (_running_at(a, start) and _running_at(b, start)):
                continue
            if a["uid"] == b["uid"] and a["node"] == b["node"] and a["name"] != b["name"]:
                continue  # two containers of one pod
            if a["uid"] != b["uid"] and (a["uid"] in forced or b["uid"] in forced):
                continue
            what = ("twice, on " + (a["node"] if a["node"] == b["node"] else f"{a['node']} and {b['node']}")
                    if a["uid"] == b["uid"] else
                    f"as two incarnations at once: {a['uid']} on {a['node']} and {b['uid']} on {b['node']}")
            problems.append(f"pod {a['namespace']}/{a['pod']} ran {what} (container {a['name']}/{b['name']}) "
                            f"at {start:.0f}")
    return problems


@check("kubelet.stops-before-delete")
def stops_before_delete(seen: Sequence[Seen], containers: Sequence[Mapping[str, Any]], forced: set[str]) -> list[str]:
    """A pod the kubelet removed (every delete not a client's force delete) had stopped running by then, and
    the last state the API showed of it says so."""
    problems = []
    for uid, gone in _deleted(seen).items():
        if uid in forced:
            continue
        name = f"{gone.obj['metadata'].get('namespace')}/{gone.name}"
        for c in containers:
            if c["uid"] == uid and _running_at(c, gone.t):
                problems.append(f"pod {name} (uid {uid}) was removed at {gone.t:.0f} while its container {c['name']} "
                                f"still ran on {c['node']}")
        shown = [s.get("name") for s in (gone.obj.get("status") or {}).get("containerStatuses") or []
                 if "running" in (s.get("state") or {})]
        if shown and (gone.obj.get("spec") or {}).get("nodeName"):
            problems.append(f"pod {name} (uid {uid}) was removed with containers {shown} last shown running")
    return problems


@check("kubelet.graceful-delete-bounded")
def graceful_delete_bounded(seen: Sequence[Seen], live: Mapping[str, float | None], forced: set[str],
                            now: float, timing: contract.NodeTiming = DEFAULT_TIMING) -> list[str]:
    """A pod marked for deletion on a node whose kubelet worked all along is gone by its deletionTimestamp plus
    one sync (model/kubelet.py: graceful_deadline)."""
    gone = _deleted(seen)
    latest: dict[str, Seen] = {}
    for s in _pods(seen):
        if s.type != "DELETED":
            latest[s.uid] = s
    problems = []
    for uid, s in latest.items():
        meta, node = s.obj.get("metadata") or {}, (s.obj.get("spec") or {}).get("nodeName")
        marked = _time(meta.get("deletionTimestamp"))
        if uid in gone or uid in forced or marked is None or not node:
            continue
        first = next(x.t for x in _pods(seen) if x.uid == uid and (x.obj.get("metadata") or {}).get(
            "deletionTimestamp"))
        deadline = contract.graceful_deadline(marked, timing.sync) + timing.slack
        if now > deadline and _live_through(live, node, first):
            problems.append(f"pod {meta.get('namespace')}/{meta.get('name')} (uid {uid}) on {node}, being deleted "
                            f"since {first:.0f} with deletionTimestamp {meta['deletionTimestamp']}, was still there "
                            f"at {now:.0f}, {now - deadline + timing.slack:.0f} s past its deadline")
    return problems


@check("kubelet.stops-removed")
def stops_removed(seen: Sequence[Seen], containers: Sequence[Mapping[str, Any]], live: Mapping[str, float | None],
                  now: float, timing: contract.NodeTiming = DEFAULT_TIMING) -> list[str]:
    """A container of a pod the API removed stops within one sync of its node's working kubelet: of the removal,
    or of the kubelet's start when it (re)started later (a restarted kubelet finds the orphan in its runtime)."""
    problems = []
    for uid, gone in _deleted(seen).items():
        for c in containers:
            if c["uid"] != uid or not _running_at(c, now):
                continue
            up = live.get(c["node"])
            if up is None:
                continue  # its kubelet is down: nobody to stop it
            since = max(gone.t, c["started"], up)
            if now > since + timing.sync + timing.slack:
                problems.append(f"container {c['name']} of pod {c['namespace']}/{c['pod']} (uid {uid}) still runs on "
                                f"{c['node']} at {now:.0f}; the API removed the pod at {gone.t:.0f}")
    return problems


@check("pod.phase-monotonic")
def phase_monotonic(seen: Sequence[Seen]) -> list[str]:
    """Each incarnation's phases, in the order the watch gave them, only move forward (model/kubelet.py:
    phase_step_allowed)."""
    last: dict[str, str] = {}
    problems = []
    for s in _pods(seen):
        phase = (s.obj.get("status") or {}).get("phase")
        before = last.get(s.uid)
        if phase and not contract.phase_step_allowed(before, phase):
            problems.append(f"pod {s.obj['metadata'].get('namespace')}/{s.name} (uid {s.uid}) went from {before} to "
                            f"{phase} at {s.t:.0f}")
        if phase:
            last[s.uid] = phase
    return problems


@check("pod.ready-consistent")
def ready_consistent(seen: Sequence[Seen]) -> list[str]:
    """Every state of a pod the API showed with Ready True is Running, with ContainersReady True and a running,
    ready status for every container of its spec (pkg/kubelet/status/generate.go: GeneratePodReadyCondition
    follows GenerateContainersReadyCondition, which needs every container ready; a container that is not running
    is not ready). Anyone may take Ready back (the node lifecycle controller does on an unreachable node)."""
    problems = []
    for s in _pods(seen):
        status = s.obj.get("status") or {}
        conds = {c.get("type"): c.get("status") for c in status.get("conditions") or []}
        if conds.get("Ready") != "True":
            continue
        by_name = {c.get("name"): c for c in status.get("containerStatuses") or []}
        wrong = [] if status.get("phase") == contract.RUNNING else [f"phase {status.get('phase')}"]
        if conds.get("ContainersReady") != "True":
            wrong.append(f"ContainersReady {conds.get('ContainersReady')}")
        for c in (s.obj.get("spec") or {}).get("containers") or []:
            shown = by_name.get(c.get("name"))
            if shown is None or not shown.get("ready") or "running" not in (shown.get("state") or {}):
                wrong.append(f"container {c.get('name')} " + ("without a status" if shown is None else
                                                              f"{sorted(shown.get('state') or {})}"))
        if wrong:
            problems.append(f"pod {s.obj['metadata'].get('namespace')}/{s.name} (uid {s.uid}) shown Ready at "
                            f"{s.t:.0f} with {', '.join(wrong)}")
    return problems


def _beat(s: Seen) -> tuple[str, Any] | None:
    """What in an event is a heartbeat: a Lease's renewTime, or a node's Ready lastHeartbeatTime (the controller
    counts both: node_lifecycle_controller.go tryUpdateNodeHealth)."""
    if s.type == "DELETED":
        return None
    if s.resource == "leases":
        return ("lease", (s.obj.get("spec") or {}).get("renewTime"))
    if s.resource == "nodes":
        ready = next((c for c in (s.obj.get("status") or {}).get("conditions") or [] if c.get("type") == "Ready"),
                     None)
        return ("node", (ready or {}).get("lastHeartbeatTime"))
    return None


def heartbeats(seen: Sequence[Seen], upto: int | None = None) -> dict[str, list[float]]:
    """For each node, when each write that moved a heartbeat (its Lease's renewTime, its Ready condition's
    lastHeartbeatTime) was seen, among the first ``upto`` events."""
    out: dict[str, list[float]] = {}
    before: dict[tuple[str, str], Any] = {}
    for s in seen[:upto]:
        beat = _beat(s)
        if beat is None or not beat[1]:
            continue
        if beat[1] != before.get((beat[0], s.name)):
            out.setdefault(s.name, []).append(s.t)
        before[(beat[0], s.name)] = beat[1]
    return out


def renewals(seen: Sequence[Seen]) -> dict[str, list[float]]:
    """For each node, when each write that moved its Lease's renewTime was seen."""
    return heartbeats([s for s in seen if s.resource == "leases"])


@check("node.heartbeat-renews")
def heartbeat_renews(seen: Sequence[Seen], live: Mapping[str, float | None], now: float,
                     timing: contract.NodeTiming = DEFAULT_TIMING) -> list[str]:
    """A node whose kubelet works renews its Lease at least every renew interval (model/kubelet.py)."""
    problems = []
    seen_renewals = renewals(seen)
    for node, since in live.items():
        if since is None:
            continue
        last = max([since, *seen_renewals.get(node, [])])
        if now - last > timing.renew_interval + timing.slack:
            problems.append(f"{node}'s kubelet has worked since {since:.0f}, but its Lease's renewTime last moved "
                            f"at {max(seen_renewals.get(node, [0.0])):.0f}; now is {now:.0f}")
    return problems


def _ready(node: JSON) -> str | None:
    return next((c.get("status") for c in (node.get("status") or {}).get("conditions") or []
                 if c.get("type") == "Ready"), None)


def node_states(seen: Sequence[Seen]) -> dict[str, Seen]:
    last: dict[str, Seen] = {}
    for s in seen:
        if s.resource == "nodes":
            last[s.name] = s
    return {n: s for n, s in last.items() if s.type != "DELETED"}


@check("node.unknown-in-time")
def unknown_in_time(seen: Sequence[Seen], timing: contract.NodeTiming, controller_since: float | None,
                    now: float) -> list[str]:
    """A node whose heartbeats stopped shows Ready Unknown by its last heartbeat plus the grace period and three
    monitor periods (model/kubelet.py: NodeTiming.latest_unknown), once the controller has been working over that
    time."""
    problems = []
    beats = heartbeats(seen)
    for node, s in node_states(seen).items():
        if not beats.get(node):
            continue
        last = beats[node][-1]
        deadline = timing.latest_unknown(last) + timing.slack
        if controller_since is not None and controller_since <= last and now > deadline and _ready(s.obj) != "Unknown":
            problems.append(f"{node}'s Lease was last renewed at {last:.0f}, yet at {now:.0f} its Ready condition is "
                            f"{_ready(s.obj)!r}, not Unknown ({timing.grace:.0f} s grace period)")
    return problems


@check("node.unknown-not-early")
def unknown_not_early(seen: Sequence[Seen], timing: contract.NodeTiming) -> list[str]:
    """Every change of a node's Ready condition to Unknown came more than the grace period after the last
    renewal of its Lease seen before it."""
    problems = []
    ready: dict[str, str | None] = {}
    for k, s in enumerate(seen):
        if s.resource != "nodes" or s.type == "DELETED":
            continue
        now_ready = _ready(s.obj)
        if now_ready == "Unknown" and ready.get(s.name) != "Unknown":
            beats = heartbeats(seen, k).get(s.name)
            if beats and s.t < timing.earliest_unknown(beats[-1]):
                problems.append(f"{s.name} was marked Unknown at {s.t:.0f}, {s.t - beats[-1]:.0f} s after its "
                                f"last heartbeat ({timing.grace:.0f} s grace period)")
        ready[s.name] = now_ready
    return problems
