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
  ``scheduler.fits`` (one of the run's nodes, and the model's filters pass on
  it in that state), ``scheduler.no-overcommit`` (the node's requests stay
  within allocatable), ``scheduler.best-score`` (the node is in the model's
  top-score set; a miss fails the run. The score plugins of the default profile
  the model leaves out score nothing for these pods, and that is checked on the
  cluster's state before each pod: no Service of the namespace selects it, no
  pod on any node carries pod affinity: :func:`model.scheduler.omitted_scores`);
- unschedulable: ``scheduler.fit-error``: the model must find no feasible node,
  and the scheduler's message must start with the model's FitError text (a
  real scheduler appends what preemption said).

Each of these is the same pure check the state machines use
(``conformance/checks``), failing under the same invariant id. Every call of
the run goes through the one checked client (``conformance/client.py``), so
each answer (namespace, nodes, pods, lists) is compared exactly with the
model; the scheduler's own writes (the binding, the unschedulable status) are
taken into the model as another client's writes once a read shows them, the
binding only if the model allows it (else ``binding.preconditions`` or
``binding.at-most-once``), and the checked read after each decision compares
the whole pod as that write left it. Polling for the decision, the namespace's
Services and the pods of other namespaces are read without the model: other
clients write them.

Leader-election differential (:func:`lease_differential`): the Lease
kube-system/kube-scheduler is read every ``poll`` seconds while the leading
replica is SIGKILLed and, separately, SIGSTOPped (then SIGCONTed); every
record read is checked against ``lease.single-holder-per-term``
(:func:`conformance.checks.lease.records`) and the failover time is measured.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any, NoReturn

from adapters.base import Response, Target, TargetError
from adapters.http import HTTPTarget
from adapters.scoped import RUN_LABEL, RUN_TAINT_EFFECT, RUN_TAINT_KEY, new_run_id
from conformance.checks import lease as lease_checks
from conformance.checks import scheduling as sched_checks
from conformance.client import CheckedClient, model_for, transport
from conformance.history import History
from conformance.invariants import InvariantViolation, violation
from conformance.ops import Op
from conformance.reporting import Reporter
from model.leaderelection import Record
from model.scheduler import node_info, omitted_scores, schedule

JSON = dict[str, Any]

NOT_READY = "node.kubernetes.io/not-ready"


def require(chk: Any, *args: Any, context: str = "", **kwargs: Any) -> None:
    """Run a pure check (conformance/checks); its problems fail the run under the check's invariant id."""
    problems = chk(*args, **kwargs)
    if problems:
        raise violation(chk.invariant, context + "; ".join(problems))


def _raise(err: InvariantViolation) -> NoReturn:
    raise err


def checked_client(kubeconfig: str, context: str | None = None) -> CheckedClient:
    """The one checked client (conformance/client.py) over HTTP, with a fresh model of the server behind it."""
    target = HTTPTarget(kubeconfig, context=context)
    spec = {"kind": "http", "kubeconfig": kubeconfig, "context": context}
    return CheckedClient(target, model_for(target, spec), History(spec), Reporter(), _raise)


def observe(client: CheckedClient, what: str, op: Op) -> Response:
    """Read without the model: what other clients (the real scheduler) are doing to an object right now."""
    with transport(what):
        return op.send(client.target)


# --------------------------------------------------------------------------- scheduler


@dataclass
class SchedulerReport:
    run_id: str
    nodes: int
    pods: int = 0
    bound: int = 0
    unschedulable: int = 0
    scored: int = 0  # bound pods the model found more than one feasible node for: the ranking decided
    bind_seconds: list[float] = field(default_factory=list)
    cleanup_left: list[str] = field(default_factory=list)

    def summary(self) -> str:
        med = sorted(self.bind_seconds)[len(self.bind_seconds) // 2] if self.bind_seconds else 0.0
        return (f"scheduler differential (run {self.run_id}): {self.pods} pods on {self.nodes} fake nodes: "
                f"{self.bound} bound ({self.scored} of them among several feasible nodes, each in the model's "
                f"top-score set), {self.unschedulable} unschedulable; median create-to-bind {med:.2f}s")


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
    # named, not defaulted: the model leaves the schedulerName default out (model/apiserver.py: _v1_pod_defaults)
    spec: JSON = {"containers": containers, "affinity": affinity, "tolerations": tolerations,
                  "terminationGracePeriodSeconds": 0, "schedulerName": "default-scheduler"}
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
                           bind_timeout: float = 30.0, context: str | None = None) -> SchedulerReport:
    """Create fake nodes and pods one by one; check every decision the real scheduler makes (see module doc).

    Every call the run makes goes through the one checked client, so each answer is compared exactly with the
    model; the scheduler's own writes (its binding, its unschedulable status) are taken into the model as
    writes another client made (:meth:`CheckedClient.observed`) once a read shows them, and the checked read
    that follows compares the whole pod.
    """
    rng = random.Random(seed)
    run_id = new_run_id()
    client = checked_client(kubeconfig, context)
    report = SchedulerReport(run_id, nodes)
    ns = f"kubeprop-sched-{run_id}"
    node_names = [f"kubeprop-n{i}-{run_id}" for i in range(nodes)]
    created_nodes: list[str] = []
    try:
        client.write(Op.create("namespaces", None, {"apiVersion": "v1", "kind": "Namespace",
                                                    "metadata": {"name": ns, "labels": {RUN_LABEL: run_id}}}))
        for name in node_names:
            client.write(Op.create("nodes", None, _fake_node(rng, name, run_id)))
            created_nodes.append(name)
            # TaintNodesByCondition tainted it not-ready at create; no node-lifecycle controller runs to lift it
            node = _ok(client.call(Op.get("nodes", None, name)))
            taints = [t for t in node["spec"].get("taints") or [] if t.get("key") != NOT_READY]
            client.write(Op.patch("nodes", None, name, {
                "metadata": {"resourceVersion": node["metadata"]["resourceVersion"]},
                "spec": {"taints": taints}}, "merge"))
        bound_to: dict[str, str] = {}
        for i in range(pods):
            # the state the scheduler decides the next pod in: the run's nodes and pods, and what its omitted
            # score plugins would look at (the namespace's Services, pods with pod affinity anywhere: outside
            # what the model holds, so read as observations)
            node_objs = [_ok(client.call(Op.get("nodes", None, n))) for n in node_names]
            placed = [p for p in _ok(client.call(Op.list("pods", ns)))["items"] if p["spec"].get("nodeName")]
            infos = [node_info(n, [p for p in placed if p["spec"]["nodeName"] == n["metadata"]["name"]])
                     for n in node_objs]
            services = _services(client, ns)
            everywhere = [p for p in _ok(observe(client, "list of every pod", Op.list("pods", None)))["items"]
                          if p["spec"].get("nodeName")]
            started = time.monotonic()
            # no read-back: the scheduler may have written the pod already
            created = _ok(client.call(Op.create("pods", ns, _fake_pod(rng, f"p{i}", run_id))))
            report.pods += 1
            name = created["metadata"]["name"]
            pod, cond = _await_decision(client, ns, name, infos, started, bind_timeout)
            # the stored pod (admission and defaults applied) is what the scheduler saw
            decision = schedule(created, infos)
            node = pod["spec"].get("nodeName")
            if node:
                report.bound += 1
                report.bind_seconds.append(time.monotonic() - started)
                bound_to[name] = node
                require(sched_checks.fits, created, node, infos)
                # kube-scheduler's DefaultBinder posts the pod's name and uid, target the node
                # (pkg/scheduler/framework/plugins/defaultbinder/default_binder.go: Bind)
                binding = {"apiVersion": "v1", "kind": "Binding",
                           "metadata": {"name": name, "namespace": ns, "uid": created["metadata"]["uid"]},
                           "target": {"apiVersion": "v1", "kind": "Node", "name": node}}
                client.observed(f"the scheduler bound {ns}/{name} to {node}", client.model.bind(ns, name, binding))
                info = next(x for x in infos if x.name == node)
                require(sched_checks.no_overcommit, created, info.node, info.pods)
                require(sched_checks.best_score, created, node, decision,
                        omitted_scores(created, everywhere, services))
                if len(decision.feasible) > 1:
                    report.scored += 1
            else:
                report.unschedulable += 1
                require(sched_checks.fit_error, created, decision, cond.get("message") if cond else None,
                        prefix=True)
                # pkg/scheduler/schedule_one.go: handleSchedulingFailure reports it through the status subresource
                client.observed(f"the scheduler reported {ns}/{name} unschedulable",
                                client.model.status_written("pods", ns, name, pod["status"]))
            # the whole pod, as the scheduler's write left it, against the model
            client.call(Op.get("pods", ns, name))
            if not node:
                # out of the way, so a later event does not requeue it onto a node freed meanwhile
                client.write(Op.delete("pods", ns, name, {"kind": "DeleteOptions", "apiVersion": "v1",
                                                          "gracePeriodSeconds": 0}))
        # binding.at-most-once: no pod moved afterwards
        for p in _ok(observe(client, f"list of the pods in {ns}", Op.list("pods", ns)))["items"]:
            name = p["metadata"]["name"]
            if name in bound_to and p["spec"].get("nodeName") != bound_to[name]:
                raise violation("binding.at-most-once", f"{name} moved from {bound_to[name]} to "
                                f"{p['spec'].get('nodeName')}")
        client.call(Op.list("pods", ns))  # and nothing else changed behind the model's back
        return report
    finally:
        report.cleanup_left = _cleanup(client.target, ns, created_nodes)
        client.close()


def _ok(resp: Response) -> JSON:
    """The body of an answer the run needs to go on (the checked client already held it to the model)."""
    if resp.code >= 300 or not isinstance(resp.body, dict):
        raise RuntimeError(f"the run cannot go on without this object: {resp.code} {resp.body}")
    return resp.body


def _services(client: CheckedClient, ns: str) -> list[JSON]:
    """The namespace's Services (none on a server that serves no Services, such as the bundled one)."""
    http = client.target
    assert isinstance(http, HTTPTarget)
    with transport(f"GET the Services of {ns}"):
        resp = http._request("GET", f"/api/v1/namespaces/{ns}/services")
    return resp.json().get("items") or [] if resp.status_code == 200 else []


def _await_decision(client: CheckedClient, ns: str, name: str, infos: list[Any], started: float,
                    bind_timeout: float) -> tuple[JSON, JSON | None]:
    """Poll the pod (observations: the scheduler writes it) until it is bound or reported unschedulable."""
    while True:
        pod = _ok(observe(client, f"GET pod {ns}/{name}", Op.get("pods", ns, name)))
        cond = _scheduled_condition(pod)
        if pod["spec"].get("nodeName") or (cond and cond.get("status") == "False"):
            return pod, cond
        if time.monotonic() - started > bind_timeout:
            require(sched_checks.exactly_once_after_settle, [pod], infos,
                    f"pod {name} neither bound nor found unschedulable within {bind_timeout:.0f}s")
        time.sleep(0.05)


def _cleanup(target: Target, ns: str, nodes: list[str]) -> list[str]:
    """Best effort, outside the model: remove what the run made; say what could not be removed."""
    left = []
    grace0 = {"kind": "DeleteOptions", "apiVersion": "v1", "gracePeriodSeconds": 0}
    try:
        listing = target.list("pods", ns)
        for p in (listing.body.get("items") or []) if listing.code == 200 else []:
            target.delete("pods", ns, p["metadata"]["name"], options=grace0)
        for n in nodes:
            code = target.delete("nodes", None, n, options=grace0).code
            if code not in (200, 404):
                left.append(f"node {n}: {code}")
        code = target.delete("namespaces", None, ns, options=grace0).code
        if code not in (200, 202, 404):
            left.append(f"namespace {ns}: {code}")
    except TargetError as err:
        left.append(f"cleanup stopped: {err}")
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
    """``lease.single-holder-per-term`` over the records read, in order (:func:`conformance.checks.lease.records`;
    one host clock writes every time, so a takeover is also checked against the old holder's last renewal,
    ``tolerance`` seconds allowed). Empty when it holds."""
    return lease_checks.records([o.record for o in observations], tolerance)


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
        raise violation("lease.single-holder-per-term", "no replica holds the Lease")
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
    require(lease_checks.records, [o.record for o in records], tolerance)
    old_recs = [o.record for o in records if o.record.holder == old_holder and o.at < start]
    new_rec = next((o.record for o in records if o.record.holder == new_holder), None)
    since = (lease_checks.parse_time(new_rec.acquire_time) - lease_checks.parse_time(old_recs[-1].renew_time)
             if old_recs and new_rec and new_rec.acquire_time and old_recs[-1].renew_time else float("nan"))
    new_index = cluster.leader(timeout=10)
    if cluster.schedulers[old_index].alive() and sig == signals.SIGSTOP:
        cluster.schedulers[old_index].popen.wait(15)
    cluster.restart_scheduler(old_index)
    name = {signals.SIGKILL: "SIGKILL", signals.SIGSTOP: "SIGSTOP"}.get(sig, str(sig))
    return FailoverReport(name, seconds, since, old_index, new_index, len(records))
