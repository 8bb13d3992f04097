"""The node side of the bundled control plane: hollow kubelets, their container runtimes, and the node lifecycle
controller. Each is stepped by its caller, one action at a time, like the scheduler replicas.

Nothing runs by itself (no threads, sleeps or wall clock). A kubelet and the
controller reach the API only through a client with the APIServer's method
signatures (``get``, ``list``, ``create``, ``update``, ``delete``, each
answering ``.code``/``.body``; status writes pass ``subresource="status"``),
and read time from an injected clock (an aware UTC datetime).

``Runtime(node, clock)``: the node's container runtime, the fixture's CRI.
It outlives a kubelet crash, as containers do, and records every container
it ran (``records``) with start and stop times on its clock.

``HollowKubelet(client, node, *, ip, clock, runtime, faults=())``:

- ``register()``: create the Node (or take the one there) and post its Ready condition.
- ``heartbeat()``: create or renew the Lease ``kube-node-lease/<node>`` (component-helpers/apimachinery/lease/
  controller.go: ensureLease, retryUpdateLease), holder the node, 40 s.
- ``sync()``: one pass of the pod workers over the pods bound to the node: start what is new, report what
  changed, stop and finish what is being deleted, kill what the API no longer has.
- ``crash()`` (its memory is lost, the runtime keeps running) and ``restart()`` (register again, resync).

``NodeLifecycle(client, clock, *, grace=50.0, faults=())``: ``monitor()`` is one pass of
pkg/controller/nodelifecycle/node_lifecycle_controller.go monitorNodeHealth: a node whose Lease it has not
seen renewed for longer than the grace period gets its Ready condition (and the pressure conditions) set to
Unknown.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from .faults import FaultSet

JSON = dict[str, Any]
Clock = Callable[[], datetime]

NODE_LEASE_NS = "kube-node-lease"
#: pkg/kubelet/apis/config/v1beta1/defaults.go: NodeLeaseDurationSeconds
LEASE_SECONDS = 40
#: a container stopped by the kubelet ends with SIGTERM's exit code (128 + 15); one that ran out, with 0
EXIT_TERMINATED = 143
#: the annotation that gives a hollow container its run time in seconds (absent: it runs until stopped)
RUN_SECONDS = "kubeprop.io/run-seconds"


def _stamp(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _micro(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse(text: str | None) -> datetime | None:
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _ok(reply: Any) -> bool:
    return 200 <= reply.code < 300


# ----- the runtime ------------------------------------------------------------------------------------


@dataclass
class Container:
    """One container the runtime ran: which pod incarnation, on which node, from when to when."""

    node: str
    namespace: str
    pod: str
    uid: str
    name: str
    started: datetime
    run_seconds: float | None
    stopped: datetime | None = None
    exit_code: int | None = None
    restarts: int = 0

    @property
    def running(self) -> bool:
        return self.stopped is None


@dataclass
class Runtime:
    """A node's container runtime: starts and stops containers and keeps a record of every one."""

    node: str
    clock: Clock
    records: list[Container] = field(default_factory=list)

    def start(self, namespace: str, pod: str, uid: str, names: list[str], run_seconds: float | None,
              restarts: int = 0) -> list[Container]:
        now = self.clock()
        made = [Container(self.node, namespace, pod, uid, n, now, run_seconds, restarts=restarts) for n in names]
        self.records.extend(made)
        return made

    def containers(self, uid: str) -> list[Container]:
        """The newest container of each name of one pod incarnation."""
        newest: dict[str, Container] = {}
        for c in self.records:
            if c.uid == uid:
                newest[c.name] = c
        return list(newest.values())

    def running_uids(self) -> dict[str, Container]:
        """One running container per pod incarnation that has any."""
        return {c.uid: c for c in self.records if c.running}

    def stop(self, uid: str, exit_code: int = EXIT_TERMINATED) -> None:
        now = self.clock()
        for c in self.records:
            if c.uid == uid and c.running:
                c.stopped, c.exit_code = now, exit_code

    def reap(self) -> None:
        """Containers whose run time is over exit with 0."""
        now = self.clock()
        for c in self.records:
            if c.running and c.run_seconds is not None and now >= c.started + timedelta(seconds=c.run_seconds):
                c.stopped, c.exit_code = c.started + timedelta(seconds=c.run_seconds), 0


# ----- the kubelet --------------------------------------------------------------------------------------


def _pod_phase(spec: JSON, containers: list[Container]) -> str:
    """pkg/kubelet/kubelet_pods.go: getPhase, for containers that started: Running while any runs (or may run
    again), then Succeeded when all exited 0, else Failed (restart policy Never; OnFailure restarts failures)."""
    if not containers:
        return "Pending"
    policy = spec.get("restartPolicy") or "Always"
    if any(c.running for c in containers):
        return "Running"
    if policy == "Always":
        return "Running"
    if all(c.exit_code == 0 for c in containers):
        return "Succeeded"
    return "Running" if policy == "OnFailure" else "Failed"


class HollowKubelet:
    """A kubelet without containers behind it: it runs pods in its node's :class:`Runtime` and reports them."""

    def __init__(self, client: Any, node: str, *, ip: str, clock: Clock, runtime: Runtime,
                 faults: FaultSet | None = None, labels: dict[str, str] | None = None,
                 allocatable: dict[str, str] | None = None) -> None:
        self.client = client
        self.node = node
        self.ip = ip
        self.clock = clock
        self.runtime = runtime
        self.faults = faults or FaultSet(())
        self.labels = labels or {}
        self.allocatable = allocatable or {"cpu": "4", "memory": "8Gi", "pods": "110"}
        self._reported: dict[str, JSON] = {}  # uid -> the status last written (the status manager's cache)
        self._known: set[str] = set()  # uids this kubelet has started (its pod workers)

    # ----- node ----------------------------------------------------------------------------------

    def _ready_condition(self, now: datetime) -> list[JSON]:
        # pkg/kubelet/nodestatus/setters.go: ReadyCondition (KubeletReady) and the pressure conditions
        stamp = _stamp(now)
        conds = [{"type": t, "status": "False", "reason": f"KubeletHasNo{t}" if t != "MemoryPressure" else
                  "KubeletHasSufficientMemory", "lastHeartbeatTime": stamp, "lastTransitionTime": stamp}
                 for t in ("MemoryPressure", "DiskPressure", "PIDPressure")]
        conds.append({"type": "Ready", "status": "True", "reason": "KubeletReady",
                      "message": "kubelet is posting ready status", "lastHeartbeatTime": stamp,
                      "lastTransitionTime": stamp})
        return conds

    def register(self) -> int:
        """pkg/kubelet/kubelet_node_status.go: registerWithAPIServer, then one node status update."""
        body = {"apiVersion": "v1", "kind": "Node",
                "metadata": {"name": self.node, "labels": {"kubernetes.io/hostname": self.node, **self.labels}},
                "spec": {},
                "status": {"capacity": dict(self.allocatable), "allocatable": dict(self.allocatable),
                           "addresses": [{"type": "InternalIP", "address": self.ip},
                                         {"type": "Hostname", "address": self.node}]}}
        created = self.client.create("nodes", None, body)
        if created.code not in (201, 409):
            return created.code
        return self.post_node_status()

    def post_node_status(self) -> int:
        got = self.client.get("nodes", None, self.node)
        if not _ok(got):
            return got.code
        node = json.loads(json.dumps(got.body))
        status = node.setdefault("status", {})
        old = {c.get("type"): c for c in status.get("conditions") or []}
        now = self.clock()
        conds = self._ready_condition(now)
        for c in conds:
            before = old.get(c["type"])
            if before and before.get("status") == c["status"]:
                c["lastTransitionTime"] = before.get("lastTransitionTime", c["lastTransitionTime"])
        status["conditions"] = conds
        status["addresses"] = [{"type": "InternalIP", "address": self.ip}, {"type": "Hostname", "address": self.node}]
        return self.client.update("nodes", None, self.node, node, subresource="status").code

    def node_status(self) -> int:
        """pkg/kubelet/kubelet_node_status.go: updateNodeStatus, every NodeStatusUpdateFrequency: the node's
        conditions are posted again when what the API shows differs from what the kubelet reports (a Ready
        condition someone else set to Unknown, for one)."""
        got = self.client.get("nodes", None, self.node)
        if got.code == 404:
            return self.register()
        if not _ok(got):
            return got.code
        ready = next((c for c in (got.body.get("status") or {}).get("conditions") or [] if c.get("type") == "Ready"),
                     None)
        if ready is not None and ready.get("status") == "True":
            return 0
        return self.post_node_status()

    def heartbeat(self) -> int:
        """Create or renew the node's Lease; the renewal carries the read resourceVersion, so a conflict waits
        for the next heartbeat."""
        now = _micro(self.clock())
        got = self.client.get("leases", NODE_LEASE_NS, self.node)
        if got.code == 404:
            body = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                    "metadata": {"name": self.node, "namespace": NODE_LEASE_NS},
                    "spec": {"holderIdentity": self.node, "leaseDurationSeconds": LEASE_SECONDS, "renewTime": now}}
            return self.client.create("leases", NODE_LEASE_NS, body).code
        if not _ok(got):
            return got.code
        lease = json.loads(json.dumps(got.body))
        spec = lease.setdefault("spec", {})
        spec.update(holderIdentity=self.node, leaseDurationSeconds=LEASE_SECONDS)
        if not self.faults.enabled("kubelet.heartbeat-frozen"):
            spec["renewTime"] = now
        return self.client.update("leases", NODE_LEASE_NS, self.node, lease).code

    # ----- pods ----------------------------------------------------------------------------------

    def _mine(self) -> list[JSON]:
        """The pods bound to this node (the kubelet's pod source: a watch with fieldSelector spec.nodeName)."""
        if self.faults.enabled("kubelet.runs-unbound"):
            got = self.client.list("pods", None)  # the bug: the node filter is lost, pending pods are taken too
            return [p for p in (got.body.get("items") or [] if _ok(got) else [])
                    if (p.get("spec") or {}).get("nodeName") in (None, "", self.node)]
        got = self.client.list("pods", None, field_selector=f"spec.nodeName={self.node}")
        return list(got.body.get("items") or []) if _ok(got) else []

    def sync(self) -> list[str]:
        """One pass over the node's pods; answers what it did, one line per action."""
        self.runtime.reap()
        done: list[str] = []
        pods = self._mine()
        listed = {p["metadata"]["uid"] for p in pods}
        for uid, c in sorted(self.runtime.running_uids().items()):
            if uid not in listed and not self.faults.enabled("kubelet.keeps-orphans"):
                # pkg/kubelet/kubelet.go: HandlePodRemoves -- a pod the API no longer has is killed
                self.runtime.stop(uid)
                done.append(f"kill orphan {c.namespace}/{c.pod} {uid}")
        for pod in pods:
            done.extend(self._sync_pod(pod))
        return done

    def _sync_pod(self, pod: JSON) -> list[str]:
        meta, spec = pod["metadata"], pod.get("spec") or {}
        ns, name, uid = meta.get("namespace") or "", meta["name"], meta["uid"]
        phase = (pod.get("status") or {}).get("phase") or "Pending"
        containers = self.runtime.containers(uid)
        if meta.get("deletionTimestamp"):
            return self._terminate(pod, containers)
        if phase in ("Succeeded", "Failed"):
            if self.faults.enabled("kubelet.reruns-finished") and uid in self._known:
                return self._report(pod, "Running")  # the bug: a finished pod reported running again
            return []
        done: list[str] = []
        if uid not in self._known and (not containers or self.faults.enabled("kubelet.forgets-on-restart")):
            # pkg/kubelet/kubelet.go: SyncPod -- admit and start the pod's containers
            names = [c.get("name") or f"c{i}" for i, c in enumerate(spec.get("containers") or [])] or ["c0"]
            run = (meta.get("annotations") or {}).get(RUN_SECONDS)
            self.runtime.start(ns, name, uid, names, float(run) if run else None)
            done.append(f"start {ns}/{name} {uid}")
            containers = self.runtime.containers(uid)
        self._known.add(uid)
        if (spec.get("restartPolicy") or "Always") == "Always":
            for c in containers:
                if not c.running:
                    # kuberuntime_manager.go: computePodActions -- a container that exited is started again
                    self.runtime.start(ns, name, uid, [c.name], c.run_seconds, restarts=c.restarts + 1)
                    done.append(f"restart {ns}/{name} {c.name}")
            containers = self.runtime.containers(uid)
        return done + self._report(pod, _pod_phase(spec, containers))

    def _terminate(self, pod: JSON, containers: list[Container]) -> list[str]:
        """pkg/kubelet/pod_workers.go: a pod being deleted is stopped (killPod, within its grace period), its
        terminal status is written, and status_manager.go syncPod deletes it with grace 0 and its uid as
        precondition once nothing of it runs (canBeDeleted)."""
        meta, spec = pod["metadata"], pod.get("spec") or {}
        ns, name, uid = meta.get("namespace") or "", meta["name"], meta["uid"]
        done: list[str] = []
        if self.faults.enabled("kubelet.ignores-deletion"):
            return self._report(pod, _pod_phase(spec, containers))  # the bug: runs on as if not deleted
        # the bug kubelet.deletes-before-stop: the delete goes out first; what still runs is killed as an orphan
        # at the next sync
        early = self.faults.enabled("kubelet.deletes-before-stop")
        if any(c.running for c in containers) and not early:
            self.runtime.stop(uid)
            done.append(f"stop {ns}/{name} {uid}")
            containers = self.runtime.containers(uid)
        if containers and not early:
            phase = "Succeeded" if all(c.exit_code == 0 for c in containers) else "Failed"
            done.extend(self._report(pod, phase))
        reply = self.client.delete("pods", ns, name, {"gracePeriodSeconds": 0, "preconditions": {"uid": uid}})
        done.append(f"delete {ns}/{name} {uid}: {reply.code}")
        return done

    def _status(self, pod: JSON, phase: str) -> JSON:
        """pkg/kubelet/kubelet_pods.go: generateAPIPodStatus, for what a hollow node has to say."""
        uid = pod["metadata"]["uid"]
        containers = self.runtime.containers(uid)
        old = pod.get("status") or {}
        statuses: list[JSON] = []
        for c in containers:
            if c.running:
                state: JSON = {"running": {"startedAt": _stamp(c.started)}}
            else:
                assert c.stopped is not None
                state = {"terminated": {"exitCode": c.exit_code, "reason": "Completed" if c.exit_code == 0 else
                                        "Error", "startedAt": _stamp(c.started), "finishedAt": _stamp(c.stopped)}}
            statuses.append({"name": c.name, "image": "hollow", "imageID": "", "ready": c.running,
                             "started": c.running, "restartCount": c.restarts, "state": state})
        running = bool(containers) and all(c.running for c in containers)
        ready = "True" if running and phase == "Running" else "False"
        if self.faults.enabled("kubelet.ready-after-exit") and containers:
            ready = "True"  # the bug: readiness is not taken back when the containers end
        now = _stamp(self.clock())
        conds = {c.get("type"): c for c in old.get("conditions") or []}

        def cond(kind: str, value: str) -> JSON:
            before = conds.get(kind)
            if before and before.get("status") == value:
                return before
            return {"type": kind, "status": value, "lastProbeTime": None, "lastTransitionTime": now}

        status: JSON = {"phase": phase,
                        "conditions": [cond("Initialized", "True"), cond("Ready", ready),
                                       cond("ContainersReady", ready), conds.get("PodScheduled") or
                                       cond("PodScheduled", "True")],
                        "hostIP": self.ip, "hostIPs": [{"ip": self.ip}],
                        "startTime": old.get("startTime") or now, "containerStatuses": statuses}
        if old.get("qosClass"):
            status["qosClass"] = old["qosClass"]
        return status

    def _report(self, pod: JSON, phase: str) -> list[str]:
        """pkg/kubelet/status/status_manager.go: a changed status is written through pods/status."""
        meta = pod["metadata"]
        uid = meta["uid"]
        status = self._status(pod, phase)
        if self._reported.get(uid) == status:
            return []
        body = json.loads(json.dumps(pod))
        body["status"] = status
        reply = self.client.update("pods", meta.get("namespace"), meta["name"], body, subresource="status")
        if _ok(reply):
            self._reported[uid] = status
        return [f"status {meta.get('namespace')}/{meta['name']} {phase}: {reply.code}"]

    # ----- faults of its own -----------------------------------------------------------------------

    def crash(self) -> None:
        """The kubelet process dies: what it remembered is gone; the runtime and its containers stay."""
        self._reported.clear()
        self._known.clear()

    def restart(self) -> int:
        """pkg/kubelet/kubelet.go: Run -- register again; the pod workers learn what runs from the runtime."""
        if not self.faults.enabled("kubelet.forgets-on-restart"):
            self._known.update(c.uid for c in self.runtime.records)
        code = self.register()
        self.heartbeat()  # the lease controller starts with the kubelet
        return code


# ----- node lifecycle -------------------------------------------------------------------------------------


@dataclass
class _Health:
    probe: datetime
    renew: tuple[str | None, str | None] | None  # the Lease's renewTime, the Ready condition's lastHeartbeatTime


class NodeLifecycle:
    """The part of kube-controller-manager's node lifecycle controller that judges node health by heartbeats."""

    def __init__(self, client: Any, clock: Clock, *, grace: float = 50.0, faults: FaultSet | None = None) -> None:
        self.client = client
        self.clock = clock
        self.grace = grace
        self.faults = faults or FaultSet(())
        self._health: dict[str, _Health] = {}

    def monitor(self) -> list[str]:
        """node_lifecycle_controller.go: monitorNodeHealth, tryUpdateNodeHealth -- the controller notes (on its
        clock) when it sees a node's Lease renewed; past the grace period after that, Ready, MemoryPressure,
        DiskPressure and PIDPressure become Unknown (NodeStatusUnknown)."""
        if self.faults.enabled("nodelifecycle.never-marks"):
            return []
        now = self.clock()
        nodes = self.client.list("nodes", None)
        leases = self.client.list("leases", NODE_LEASE_NS)
        if not (_ok(nodes) and _ok(leases)):
            return []
        renewals = {lease["metadata"]["name"]: (lease.get("spec") or {}).get("renewTime")
                    for lease in leases.body.get("items") or []}
        # a heartbeat is a Lease renewal or a new lastHeartbeatTime on the node's Ready condition
        beats = {n["metadata"]["name"]: (renewals.get(n["metadata"]["name"]), next(
            (c.get("lastHeartbeatTime") for c in (n.get("status") or {}).get("conditions") or []
             if c.get("type") == "Ready"), None)) for n in nodes.body.get("items") or []}
        grace = self.grace / 2 if self.faults.enabled("nodelifecycle.marks-early") else self.grace
        done: list[str] = []
        for node in nodes.body.get("items") or []:
            name = node["metadata"]["name"]
            beat = beats.get(name)
            health = self._health.get(name)
            if health is None:
                created = _parse(node["metadata"].get("creationTimestamp")) or now
                health = self._health[name] = _Health(created if beat == (None, None) else now, beat)
            elif beat != health.renew:
                health.probe, health.renew = now, beat
                if self.faults.enabled("nodelifecycle.trusts-renew-time") and beat[0]:
                    health.probe = _parse(beat[0]) or now  # the bug: the kubelet's clock dates the heartbeat
            if now <= health.probe + timedelta(seconds=grace):
                continue
            body = json.loads(json.dumps(node))
            conds = (body.setdefault("status", {})).setdefault("conditions", [])
            changed = False
            for kind in ("Ready", "MemoryPressure", "DiskPressure", "PIDPressure"):
                c = next((c for c in conds if c.get("type") == kind), None)
                if c is None:
                    conds.append({"type": kind, "status": "Unknown", "reason": "NodeStatusNeverUpdated",
                                  "message": "Kubelet never posted node status.",
                                  "lastHeartbeatTime": node["metadata"].get("creationTimestamp"),
                                  "lastTransitionTime": _stamp(now)})
                    changed = True
                elif c.get("status") != "Unknown":
                    c.update(status="Unknown", reason="NodeStatusUnknown",
                             message="Kubelet stopped posting node status.", lastTransitionTime=_stamp(now))
                    changed = True
            if changed:
                reply = self.client.update("nodes", None, name, body, subresource="status")
                done.append(f"mark {name} Unknown: {reply.code}")
        return done

    def forget(self, node: str) -> None:
        self._health.pop(node, None)
