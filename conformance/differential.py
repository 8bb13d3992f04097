"""Differential checks against a real control plane: real kube-scheduler replicas and their Lease.

Scheduler differential (:func:`scheduler_differential`): kubeprop makes fake
nodes (run-scoped names, the run label, the run taint, Ready, allocatable set,
the ``node.kubernetes.io/not-ready`` taint of the TaintNodesByCondition
admission removed as the node-lifecycle controller would) and then pods one at
a time, each carrying a required node affinity to the run's nodes and a
toleration of the run taint, so the real scheduler only ever considers nodes
kubeprop made. Each pod is created only after the previous one was bound or
found unschedulable, so the state the scheduler decided on is known exactly:
the nodes and the pods bound before it. For each pod:

- bound: ``binding.at-most-once`` (one node, never changed later),
  ``scheduler.fits`` (the model's filters pass on that node in that state),
  ``scheduler.no-overcommit`` (the node's requests stay within allocatable),
  ``scheduler.best-score`` (the node is in the model's top-score set; a miss is
  reported with the scores, not failed, when the model's omissions can explain
  it: see :data:`BEST_SCORE_EXCUSES`);
- unschedulable: the model must find no feasible node, and the scheduler's
  message must start with the model's FitError text.

Leader-election differential (:func:`lease_differential`): the Lease
kube-system/kube-scheduler is read every ``poll`` seconds while the leading
replica is SIGKILLed and, separately, SIGSTOPped (then SIGCONTed); every
record read is checked against the lease.* invariants (see
:func:`check_lease_records`) and the failover time is measured.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from adapters.http import HTTPTarget
from adapters.scoped import RUN_LABEL, RUN_TAINT_EFFECT, RUN_TAINT_KEY, new_run_id
from model.leaderelection import Record
from model.scheduler import fits, node_info, overcommitted, schedule

JSON = dict[str, Any]

NOT_READY = "node.kubernetes.io/not-ready"
#: why the real scheduler may choose outside the model's top-score set without a bug on either side:
#: plugins of the v1.37 default profile the model leaves out (model/scheduler/__init__.py)
BEST_SCORE_EXCUSES = (
    "OpportunisticBatching: a pod identical to the previous one within 500 ms may reuse that cycle's ranking",
    "PodTopologySpread / InterPodAffinity (weight 2 each) score nodes the model treats as equal",
)


class DifferentialFailure(AssertionError):
    """An invariant the real control plane broke (its id first, as conformance failures are)."""

    def __init__(self, invariant: str, detail: str) -> None:
        super().__init__(f"[{invariant}] {detail}")
        self.invariant = invariant


def _parse_time(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


class Client:
    """The few raw calls the differential needs beyond the Target protocol (status subresource, namespaces)."""

    def __init__(self, kubeconfig: str, context: str | None = None) -> None:
        self.http = HTTPTarget(kubeconfig, context=context)

    def call(self, method: str, path: str, body: Any = None, content_type: str | None = None) -> tuple[int, Any]:
        headers = {"Content-Type": content_type} if content_type else None
        resp = self.http._request(method, path, body=body, headers=headers)
        try:
            return resp.status_code, resp.json()
        except ValueError:
            return resp.status_code, resp.text

    def ok(self, method: str, path: str, body: Any = None, content_type: str | None = None) -> Any:
        code, out = self.call(method, path, body, content_type)
        if code >= 300:
            raise RuntimeError(f"{method} {path}: {code} {out}")
        return out

    def close(self) -> None:
        self.http.close()


# --------------------------------------------------------------------------- scheduler


@dataclass
class SchedulerReport:
    run_id: str
    nodes: int
    pods: int = 0
    bound: int = 0
    unschedulable: int = 0
    best_score_misses: list[str] = field(default_factory=list)  # reported, explained by BEST_SCORE_EXCUSES
    bind_seconds: list[float] = field(default_factory=list)
    cleanup_left: list[str] = field(default_factory=list)

    def summary(self) -> str:
        med = sorted(self.bind_seconds)[len(self.bind_seconds) // 2] if self.bind_seconds else 0.0
        return (f"scheduler differential (run {self.run_id}): {self.pods} pods on {self.nodes} fake nodes: "
                f"{self.bound} bound, {self.unschedulable} unschedulable, {len(self.best_score_misses)} best-score "
                f"miss(es) reported; median create-to-bind {med:.2f}s")


def _fake_node(rng: random.Random, name: str, run_id: str) -> JSON:
    alloc = {"cpu": rng.choice(("1", "2", "4")), "memory": rng.choice(("1Gi", "4Gi")), "pods": "110"}
    taints = [{"key": RUN_TAINT_KEY, "value": run_id, "effect": RUN_TAINT_EFFECT}]
    if rng.random() < 0.25:
        taints.append({"key": "dedicated", "value": "true", "effect": rng.choice(("NoSchedule", "PreferNoSchedule"))})
    status: JSON = {"capacity": dict(alloc), "allocatable": alloc,
                    "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                                    "message": "kubeprop fake node: no kubelet"}]}
    images = rng.sample(("registry.k8s.io/pause:3.10", "busybox:1.36", "nginx:1.27"), rng.randint(0, 2))
    if images:
        status["images"] = [{"names": [i], "sizeBytes": rng.choice((10, 300, 2000)) * 1024 * 1024} for i in images]
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": {RUN_LABEL: run_id, "kubernetes.io/hostname": name,
                                                  "zone": rng.choice(("a", "b"))}},
            "spec": {"taints": taints}, "status": status}


def _fake_pod(rng: random.Random, name: str, run_id: str) -> JSON:
    containers = []
    for i in range(rng.randint(1, 2)):
        c: JSON = {"name": f"c{i}", "image": rng.choice(("registry.k8s.io/pause:3.10", "busybox:1.36", "nginx:1.27"))}
        req = {}
        if rng.random() < 0.8:
            req["cpu"] = rng.choice(("100m", "500m", "1", "2"))
        if rng.random() < 0.5:
            req["memory"] = rng.choice(("256Mi", "1Gi", "2Gi"))
        if req:
            c["resources"] = {"requests": req}
        if i == 0 and rng.random() < 0.15:
            c["ports"] = [{"containerPort": 8080, "hostPort": 8080, "protocol": "TCP"}]
        containers.append(c)
    # required: only this run's nodes (DESIGN.md, "One example against a server that is not empty")
    required = {"nodeSelectorTerms": [{"matchExpressions": [
        {"key": RUN_LABEL, "operator": "In", "values": [run_id]}]}]}
    affinity: JSON = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": required}}
    if rng.random() < 0.3:
        affinity["nodeAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"] = [
            {"weight": rng.choice((1, 50, 100)),
             "preference": {"matchExpressions": [{"key": "zone", "operator": "In", "values": [rng.choice("ab")]}]}}]
    tolerations = [{"key": RUN_TAINT_KEY, "operator": "Equal", "value": run_id, "effect": RUN_TAINT_EFFECT}]
    if rng.random() < 0.4:
        tolerations.append({"key": "dedicated", "operator": "Exists"})
    spec: JSON = {"containers": containers, "affinity": affinity, "tolerations": tolerations,
                  "terminationGracePeriodSeconds": 0}
    if rng.random() < 0.2:
        spec["nodeSelector"] = {"zone": rng.choice("ab")}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {RUN_LABEL: run_id}},
            "spec": spec}


def _scheduled_condition(pod: JSON) -> JSON | None:
    for c in (pod.get("status") or {}).get("conditions") or []:
        if c.get("type") == "PodScheduled":
            return c
    return None


def scheduler_differential(kubeconfig: str, *, nodes: int = 4, pods: int = 12, seed: int = 0,
                           bind_timeout: float = 30.0, context: str | None = None,
                           log: Any = print) -> SchedulerReport:
    """Create fake nodes and pods one by one; check every decision the real scheduler makes (see module doc)."""
    rng = random.Random(seed)
    run_id = new_run_id()
    client = Client(kubeconfig, context)
    report = SchedulerReport(run_id, nodes)
    ns = f"kubeprop-sched-{run_id}"
    node_names = [f"kubeprop-n{i}-{run_id}" for i in range(nodes)]
    created_nodes: list[str] = []
    try:
        client.ok("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                  "metadata": {"name": ns, "labels": {RUN_LABEL: run_id}}})
        for name in node_names:
            body = _fake_node(rng, name, run_id)
            client.ok("POST", "/api/v1/nodes", body)
            created_nodes.append(name)
            client.ok("PATCH", f"/api/v1/nodes/{name}/status", {"status": body["status"]},
                      "application/merge-patch+json")
            # TaintNodesByCondition tainted it not-ready at create; no node-lifecycle controller runs to lift it
            node = client.ok("GET", f"/api/v1/nodes/{name}")
            taints = [t for t in node["spec"].get("taints") or [] if t.get("key") != NOT_READY]
            client.ok("PATCH", f"/api/v1/nodes/{name}", {"metadata": {"resourceVersion":
                                                                     node["metadata"]["resourceVersion"]},
                                                        "spec": {"taints": taints}},
                      "application/merge-patch+json")
        previous: tuple[str, float] | None = None
        bound_to: dict[str, str] = {}
        for i in range(pods):
            node_objs = [client.ok("GET", f"/api/v1/nodes/{n}") for n in node_names]
            pod_list = client.ok("GET", f"/api/v1/namespaces/{ns}/pods")["items"]
            placed = [p for p in pod_list if p["spec"].get("nodeName")]
            infos = [node_info(n, [p for p in placed if p["spec"]["nodeName"] == n["metadata"]["name"]])
                     for n in node_objs]
            body = _fake_pod(rng, f"p{i}", run_id)
            started = time.monotonic()
            created = client.ok("POST", f"/api/v1/namespaces/{ns}/pods", body)
            report.pods += 1
            pod = created
            while True:
                pod = client.ok("GET", f"/api/v1/namespaces/{ns}/pods/{body['metadata']['name']}")
                cond = _scheduled_condition(pod)
                if pod["spec"].get("nodeName") or (cond and cond.get("status") == "False"):
                    break
                if time.monotonic() - started > bind_timeout:
                    raise DifferentialFailure("binding.exactly-once", f"pod {pod['metadata']['name']} neither "
                                              f"bound nor found unschedulable within {bind_timeout:.0f}s")
                time.sleep(0.05)
            # the stored pod (admission and defaults applied) is what the scheduler saw
            decision = schedule(created, infos)
            name = pod["metadata"]["name"]
            node = pod["spec"].get("nodeName")
            signature = repr(body["spec"])
            if node:
                report.bound += 1
                report.bind_seconds.append(time.monotonic() - started)
                bound_to[name] = node
                if node not in node_names:
                    raise DifferentialFailure("binding.at-most-once", f"{name} bound to {node!r}, not a node of "
                                              "this run: the required affinity was ignored")
                if cond is None or cond.get("status") != "True":
                    raise DifferentialFailure("binding.preconditions", f"{name} bound without PodScheduled=True")
                info = next(x for x in infos if x.name == node)
                why = fits(created, info)
                if why:
                    raise DifferentialFailure("scheduler.fits", f"{name} bound to {node}, where the model's "
                                              f"filters say {why}")
                after = node_info(client.ok("GET", f"/api/v1/nodes/{node}"),
                                  [p for p in [*placed, pod] if p["spec"].get("nodeName") == node])
                over = overcommitted(after)
                if over:
                    raise DifferentialFailure("scheduler.no-overcommit", f"{node} after binding {name}: {over}")
                if node not in decision.top:
                    batched = previous is not None and previous[0] == signature and started - previous[1] < 0.5
                    report.best_score_misses.append(
                        f"{name} -> {node}, model top {sorted(decision.top)}, scores {decision.scores}"
                        + (" (identical to the previous pod within 500 ms)" if batched else ""))
                    log(f"scheduler.best-score (reported): {report.best_score_misses[-1]}")
            else:
                report.unschedulable += 1
                if decision.feasible:
                    raise DifferentialFailure("binding.exactly-once", f"{name} left unschedulable "
                                              f"({cond.get('message')!r}) but the model finds "
                                              f"{sorted(decision.feasible)} feasible")
                expected = decision.fit_error or ""
                if not str(cond.get("message", "")).startswith(expected):
                    raise DifferentialFailure("scheduler.fits", f"{name}: scheduler says {cond.get('message')!r}, "
                                              f"model says {expected!r}")
                # out of the way, so a later event does not requeue it onto a node freed meanwhile
                client.call("DELETE", f"/api/v1/namespaces/{ns}/pods/{name}",
                            {"kind": "DeleteOptions", "apiVersion": "v1", "gracePeriodSeconds": 0})
            previous = (signature, time.monotonic())
        # binding.at-most-once: no pod moved afterwards
        for p in client.ok("GET", f"/api/v1/namespaces/{ns}/pods")["items"]:
            name = p["metadata"]["name"]
            if name in bound_to and p["spec"].get("nodeName") != bound_to[name]:
                raise DifferentialFailure("binding.at-most-once", f"{name} moved from {bound_to[name]} to "
                                          f"{p['spec'].get('nodeName')}")
        return report
    finally:
        report.cleanup_left = _cleanup(client, ns, created_nodes)
        client.close()


def _cleanup(client: Client, ns: str, nodes: list[str]) -> list[str]:
    left = []
    grace0 = {"kind": "DeleteOptions", "apiVersion": "v1", "gracePeriodSeconds": 0}
    code, listing = client.call("GET", f"/api/v1/namespaces/{ns}/pods")
    for p in (listing.get("items") or []) if code == 200 and isinstance(listing, dict) else []:
        client.call("DELETE", f"/api/v1/namespaces/{ns}/pods/{p['metadata']['name']}", grace0)
    for n in nodes:
        code, _ = client.call("DELETE", f"/api/v1/nodes/{n}", grace0)
        if code not in (200, 404):
            left.append(f"node {n}: {code}")
    code, _ = client.call("DELETE", f"/api/v1/namespaces/{ns}", grace0)
    if code not in (200, 202, 404):
        left.append(f"namespace {ns}: {code}")
    return left


# --------------------------------------------------------------------------- leader election


@dataclass
class Observation:
    at: float  # harness monotonic clock
    record: Record


class LeaseWatcher:
    """Reads the Lease every ``poll`` seconds in a thread; keeps every distinct record with when it was seen."""

    def __init__(self, read: Any, poll: float = 0.1) -> None:
        self._read = read
        self.poll = poll
        self.observations: list[Observation] = []
        self.errors = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="kubeprop-lease-watch", daemon=True)

    def __enter__(self) -> LeaseWatcher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                lease = self._read()
            except Exception:  # noqa: BLE001 - a failed read is counted, the next one retried
                self.errors += 1
                lease = None
            if lease:
                rec = Record.from_lease(lease)
                if not self.observations or self.observations[-1].record != rec:
                    self.observations.append(Observation(time.monotonic(), rec))
            self._stop.wait(self.poll)

    def first_holder_other_than(self, holder: str, since: float) -> Observation | None:
        for o in self.observations:
            if o.at >= since and o.record.holder and o.record.holder != holder:
                return o
        return None


def check_lease_records(observations: list[Observation], tolerance: float = 0.0) -> list[str]:
    """lease.* invariants over the records read, in order. Empty when they all hold.

    - ``lease.single-holder-per-term``: one holder per leaseTransitions value; a change of holder bumps
      leaseTransitions (by one when the change was seen directly; by more only if reads missed a term);
    - renewTime never goes back within a term, acquireTime stays the same within it;
    - a takeover's acquireTime is at least leaseDurationSeconds after the previous holder's last renewTime
      read (the same host clock writes both; ``tolerance`` seconds allowed).
    """
    problems: list[str] = []
    holders: dict[int, str] = {}
    for o in observations:
        r = o.record
        if not r.holder:
            continue
        seen = holders.setdefault(r.transitions, r.holder)
        if seen != r.holder:
            problems.append(f"lease.single-holder-per-term: leaseTransitions {r.transitions} held by {seen!r} "
                            f"and by {r.holder!r}")
    for prev, cur in zip(observations, observations[1:], strict=False):
        a, b = prev.record, cur.record
        if not a.holder or not b.holder:
            continue
        if a.holder == b.holder:
            if b.transitions != a.transitions:
                problems.append(f"lease.single-holder-per-term: {a.holder!r} renewed but leaseTransitions went "
                                f"{a.transitions} -> {b.transitions}")
            if a.renew_time and b.renew_time and _parse_time(b.renew_time) < _parse_time(a.renew_time):
                problems.append(f"lease renewTime of {a.holder!r} went back: {a.renew_time} -> {b.renew_time}")
            if a.acquire_time != b.acquire_time:
                problems.append(f"lease acquireTime of {a.holder!r} changed within its term: {a.acquire_time} -> "
                                f"{b.acquire_time}")
        else:
            if b.transitions <= a.transitions:
                problems.append(f"lease.single-holder-per-term: holder {a.holder!r} -> {b.holder!r} with "
                                f"leaseTransitions {a.transitions} -> {b.transitions} (no bump)")
            if a.renew_time and b.acquire_time:
                gap = _parse_time(b.acquire_time) - _parse_time(a.renew_time)
                if gap < a.duration - tolerance:
                    problems.append(f"lease.single-holder-per-term: {b.holder!r} acquired at {b.acquire_time}, "
                                    f"{gap:.3f}s after {a.holder!r} last renewed ({a.renew_time}), before its "
                                    f"{a.duration}s lease ran out")
    return problems


@dataclass
class FailoverReport:
    signal: str
    seconds: float  # from the signal to the first read naming another holder
    since_last_renew: float  # from the old holder's last renewTime to the new acquireTime (server timestamps)
    old_index: int | None
    new_index: int | None
    records: int

    def summary(self) -> str:
        return (f"failover after {self.signal} of the leader: {self.seconds:.2f}s from the signal to a new holder "
                f"({self.since_last_renew:.2f}s after the last renewal), kube-scheduler-{self.old_index} -> "
                f"kube-scheduler-{self.new_index}; {self.records} lease records checked")


def lease_differential(cluster: Any, sig: int, *, poll: float = 0.1, tolerance: float = 0.05) -> FailoverReport:
    """Signal the leading replica of ``cluster`` (tools/kube/cluster.py) with ``sig`` (SIGKILL or SIGSTOP), time
    the failover while reading the Lease, check every record read; SIGCONT / restart the old leader afterwards."""
    import signal as signals

    old_index = cluster.leader()
    if old_index is None:
        raise DifferentialFailure("lease.single-holder-per-term", "no replica holds the Lease")
    with LeaseWatcher(cluster.lease, poll=poll) as watcher:
        time.sleep(max(cluster.retry_period, 1.0) * 1.5)  # see at least one renewal before the signal
        old_holder = cluster.lease_holder() or ""
        cluster.schedulers[old_index].signal(sig)
        start = time.monotonic()
        new_holder = cluster.wait_for_leader(timeout=4 * (cluster.lease_duration + cluster.retry_period) + 10,
                                             not_holder=old_holder, interval=0.05)
        time.sleep(poll * 3)
        seen = watcher.first_holder_other_than(old_holder, start)
        seconds = (seen.at if seen is not None else time.monotonic()) - start
        if sig == signals.SIGSTOP:
            cluster.cont_scheduler(old_index)
            time.sleep(cluster.retry_period * 2)  # it notices it lost the Lease, and exits (upstream)
        time.sleep(cluster.retry_period * 1.5)  # a renewal by the new holder
    records = watcher.observations
    problems = check_lease_records(records, tolerance)
    if problems:
        raise DifferentialFailure("lease.single-holder-per-term", "; ".join(problems))
    old_recs = [o.record for o in records if o.record.holder == old_holder and o.at < start]
    new_rec = next((o.record for o in records if o.record.holder == new_holder), None)
    since = (_parse_time(new_rec.acquire_time) - _parse_time(old_recs[-1].renew_time)
             if old_recs and new_rec and new_rec.acquire_time and old_recs[-1].renew_time else float("nan"))
    new_index = cluster.leader(timeout=10)
    if cluster.schedulers[old_index].alive() and sig == signals.SIGSTOP:
        cluster.schedulers[old_index].popen.wait(15)
    cluster.restart_scheduler(old_index)
    name = {signals.SIGKILL: "SIGKILL", signals.SIGSTOP: "SIGSTOP"}.get(sig, str(sig))
    return FailoverReport(name, seconds, since, old_index, new_index, len(records))
