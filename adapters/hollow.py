"""Hollow nodes on the wall clock, against any API server reached over HTTP (a real kube-apiserver with the real
kube-controller-manager judging node health, or the bundled server served).

The bundled hollow kubelets (controlplane/kubelet.py) run in this process, as
the in-process adapter runs them, but each on threads of its own and on the
real clock, and they reach the server through controlplane/restclient.py:

- a lease thread renews the node's Lease every ``periods.renew`` seconds (the
  kubelet's lease controller, component-helpers/apimachinery/lease/controller.go);
- a pod thread posts the node's status when it needs it and syncs the node's
  pods every ``periods.sync`` seconds (kubelet_node_status.go: updateNodeStatus
  and the pod workers, the status manager's writes included);
- each node's container runtime (``LockedRuntime``) records every container,
  as in process, with a lock, since the harness reads it while a kubelet writes.

The harness can pause a kubelet (its threads take no step: SIGSTOP), resume it,
crash it (its memory is lost, its containers run on) and restart it. Watches
on the run's pods, its nodes (by the run label) and their Leases in
kube-node-lease note when each event arrived (``time.time()``), for checks that
judge how late something was seen.

What a fleet writes, and nothing else: the namespace ``kp-nodes-<run id>`` and
pods in it; nodes ``kp-<run id>-n<i>`` labelled ``kubeprop.io/run=<run id>``
and tainted ``kubeprop.io/run=<run id>:NoSchedule`` (adapters/scoped.py); their
Leases in kube-node-lease; ``close(cleanup=True)`` deletes them all. A kubelet's
pod source lists pods of every namespace; here it is narrowed to the run's
namespace, so a faulty kubelet (``kubelet.runs-unbound`` loses its node filter)
still takes only the run's pods.
"""

from __future__ import annotations

import heapq
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from adapters.scoped import RUN_LABEL, RUN_TAINT_EFFECT, RUN_TAINT_KEY, UNSCHEDULED
from controlplane.faults import FaultSet
from controlplane.kubelet import NODE_LEASE_NS, Container, HollowKubelet, Runtime
from controlplane.restclient import RESTClient

JSON = dict[str, Any]
WORKING, PAUSED, CRASHED = "working", "paused", "crashed"
#: how often a kubelet thread looks whether a step is due (its periods are whole seconds or more)
TICK = 0.05


def wall_clock() -> datetime:
    return datetime.now(UTC)


def offset_clock(seconds: float) -> Callable[[], datetime]:
    """The wall clock, ``seconds`` ahead (negative: behind): the clock of a host whose time is off."""
    if not seconds:
        return wall_clock
    off = timedelta(seconds=seconds)
    return lambda: datetime.now(UTC) + off


class LockedRuntime(Runtime):
    """A node's container runtime (controlplane/kubelet.py: Runtime) whose records the harness may read while the
    kubelet's thread starts and stops containers."""

    def __init__(self, node: str, clock: Callable[[], datetime]) -> None:
        super().__init__(node, clock)
        self._lock = threading.RLock()

    def start(self, *args: Any, **kwargs: Any) -> list[Container]:
        with self._lock:
            return super().start(*args, **kwargs)

    def containers(self, uid: str) -> list[Container]:
        with self._lock:
            return super().containers(uid)

    def running_uids(self) -> dict[str, Container]:
        with self._lock:
            return super().running_uids()

    def stop(self, *args: Any, **kwargs: Any) -> None:
        with self._lock:
            super().stop(*args, **kwargs)

    def reap(self) -> None:
        with self._lock:
            super().reap()

    def snapshot(self) -> list[JSON]:
        """Every container it ran (those whose run time is over reaped first), times in seconds since the epoch."""
        with self._lock:
            super().reap()
            return [{"node": c.node, "namespace": c.namespace, "pod": c.pod, "uid": c.uid, "name": c.name,
                     "started": c.started.timestamp(), "stopped": c.stopped.timestamp() if c.stopped else None,
                     "exit_code": c.exit_code} for c in self.records]


class RunClient:
    """A kubelet's API client inside one run: pod lists without a namespace ask the run's namespace, and a node it
    creates carries the run's taint. Everything else goes through as it is."""

    def __init__(self, inner: RESTClient, namespace: str, run_id: str) -> None:
        self.inner, self.namespace, self.run_id = inner, namespace, run_id

    def list(self, resource: str, namespace: str | None = None, **selectors: Any) -> Any:
        if resource == "pods" and namespace is None:
            namespace = self.namespace
        return self.inner.list(resource, namespace, **selectors)

    def create(self, resource: str, namespace: str | None, body: JSON) -> Any:
        if resource == "nodes":
            spec = body.setdefault("spec", {})
            spec["taints"] = [*(spec.get("taints") or []),
                              {"key": RUN_TAINT_KEY, "value": self.run_id, "effect": RUN_TAINT_EFFECT}]
        return self.inner.create(resource, namespace, body)

    def get(self, *args: Any, **kwargs: Any) -> Any:
        return self.inner.get(*args, **kwargs)

    def update(self, *args: Any, **kwargs: Any) -> Any:
        return self.inner.update(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        return self.inner.delete(*args, **kwargs)


@dataclass(frozen=True)
class Periods:
    """How often a hollow kubelet does each thing, in seconds (a real kubelet: Lease every 10 s, node status every
    10 s, a pod status resync every 10 s; scaled down here with the controller's periods)."""

    renew: float = 2.0
    sync: float = 1.0


@dataclass
class Stamped:
    t: float
    resource: str
    type: str
    obj: JSON


@dataclass
class HollowNode:
    """One hollow node: its kubelet, runtime and two threads, and what the harness did to it."""

    index: int
    name: str
    kubelet: HollowKubelet
    runtime: LockedRuntime
    state: str = WORKING
    since: float | None = None  # time.time() since when the kubelet has been working; None while it is not
    errors: list[str] = field(default_factory=list)
    steps: dict[str, int] = field(default_factory=lambda: {"lease": 0, "pods": 0})
    locks: dict[str, threading.Lock] = field(default_factory=lambda: {"lease": threading.Lock(),
                                                                     "pods": threading.Lock()})
    due: dict[str, float] = field(default_factory=lambda: {"lease": 0.0, "pods": 0.0})


class _Watch:
    """One stamped watch that is opened again from the last resourceVersion it delivered when the server ends
    it (kube-apiserver ends a watch after --min-request-timeout, 30 to 60 minutes)."""

    def __init__(self, client: RESTClient, resource: str, namespace: str | None, label_selector: str | None,
                 keep: Callable[[JSON], bool]) -> None:
        self.client, self.resource, self.namespace = client, resource, namespace
        self.label_selector, self.keep = label_selector, keep
        self.rv: str | None = None
        self.reopened = 0
        self.stream = client.watch(resource, namespace, label_selector=label_selector)

    def drain(self) -> list[Stamped]:
        out: list[Stamped] = []
        for t, e in self.stream.drain_stamped():
            obj = e.get("object") or {}
            if e.get("type") in ("ADDED", "MODIFIED", "DELETED"):
                self.rv = (obj.get("metadata") or {}).get("resourceVersion") or self.rv
                if self.keep(obj):
                    out.append(Stamped(t, self.resource, e["type"], obj))
            elif e.get("type") == "ERROR":
                out.append(Stamped(t, self.resource, "ERROR", obj))
        if self.stream.ended:
            self.stream.close()
            self.stream = self.client.watch(self.resource, self.namespace, resource_version=self.rv,
                                            label_selector=self.label_selector)
            self.reopened += 1
        return out

    def close(self) -> None:
        self.stream.close()


class HollowFleet:
    """``count`` hollow nodes of one run against the server a kubeconfig names, each on its own threads."""

    def __init__(self, kubeconfig: str, run_id: str, *, count: int = 3, periods: Periods = Periods(),
                 faults: Iterable[str] = (), context: str | None = None, offsets: Sequence[float] = ()) -> None:
        self.run_id = run_id
        self.namespace = f"kp-nodes-{run_id}"
        self.periods = periods
        self.faults = FaultSet(tuple(faults))  # seeded faults of the kubelets (controlplane/faults.py)
        self.client = RESTClient(kubeconfig, context)  # the harness's own calls and its watches
        self._kubelet_client = RESTClient(kubeconfig, context)  # every kubelet's
        scoped = RunClient(self._kubelet_client, self.namespace, run_id)
        self.nodes: list[HollowNode] = []
        #: node i's kubelet keeps a clock ``offsets[i]`` seconds off (it stamps renewTime and heartbeats with it);
        #: the runtime keeps true time, as the harness's checks do
        self.offsets: dict[str, float] = {}
        for i in range(count):
            name = f"kp-{run_id}-n{i}"
            runtime = LockedRuntime(name, wall_clock)
            self.offsets[name] = offsets[i] if i < len(offsets) else 0.0
            clock = offset_clock(self.offsets[name])
            kubelet = HollowKubelet(scoped, name, ip=f"10.250.0.{i + 1}", clock=clock, runtime=runtime,
                                    faults=self.faults, labels={RUN_LABEL: run_id})
            self.nodes.append(HollowNode(i, name, kubelet, runtime))
        self.names = {n.name for n in self.nodes}
        self._watches: list[_Watch] = []
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    # ----- start and stop ----------------------------------------------------------------------------

    def start(self, ready_timeout: float = 60.0) -> None:
        """The run's namespace, the watches, then every node registers and takes its first heartbeat; then the
        kubelets' threads start."""
        deadline = time.monotonic() + ready_timeout
        while self.client.get("namespaces", None, NODE_LEASE_NS).code != 200:
            if time.monotonic() > deadline:  # kube-apiserver creates it shortly after it starts
                raise RuntimeError(f"namespace {NODE_LEASE_NS} not there after {ready_timeout:.0f} s")
            time.sleep(0.2)
        made = self.client.create("namespaces", None, {"apiVersion": "v1", "kind": "Namespace",
                                                       "metadata": {"name": self.namespace,
                                                                    "labels": {RUN_LABEL: self.run_id}}})
        if made.code != 201:
            raise RuntimeError(f"namespace {self.namespace}: HTTP {made.code} {made.body}")
        self._watches = [
            _Watch(self.client, "pods", self.namespace, None, lambda o: True),
            _Watch(self.client, "nodes", None, f"{RUN_LABEL}={self.run_id}", lambda o: True),
            _Watch(self.client, "leases", NODE_LEASE_NS, None,
                   lambda o: (o.get("metadata") or {}).get("name") in self.names),
        ]
        for node in self.nodes:
            code = node.kubelet.register()
            for _ in range(5):  # kubelet_node_status.go: updateNodeStatus tries nodeStatusUpdateRetry (5) times
                if code in (0, 200, 201):
                    break
                # a status PUT that met the controller's or the admission's write to the new node: 409
                code = node.kubelet.node_status()
            beat = node.kubelet.heartbeat()
            if code not in (0, 200, 201) or beat not in (200, 201):
                raise RuntimeError(f"{node.name}: register HTTP {code}, heartbeat HTTP {beat}")
            now = time.time()
            node.since = now
            node.due = {"lease": time.monotonic() + self.periods.renew, "pods": time.monotonic()}
        for node in self.nodes:
            for what in ("lease", "pods"):
                t = threading.Thread(target=self._loop, args=(node, what), name=f"{node.name}-{what}", daemon=True)
                self._threads.append(t)
                t.start()

    def _loop(self, node: HollowNode, what: str) -> None:
        period = self.periods.renew if what == "lease" else self.periods.sync
        while not self._stop.wait(TICK):
            with node.locks[what]:
                if node.state != WORKING or time.monotonic() < node.due[what]:
                    continue
                node.due[what] = time.monotonic() + period
                try:
                    if what == "lease":
                        node.kubelet.heartbeat()
                    else:
                        node.kubelet.node_status()
                        node.kubelet.sync()
                    node.steps[what] += 1
                except Exception as e:  # noqa: BLE001 - kept for the report; the kubelet tries again next period
                    node.errors.append(f"{time.time():.1f} {what}: {type(e).__name__}: {e}")

    def close(self, *, cleanup: bool = True) -> list[str]:
        """Stop every kubelet thread and watch; with ``cleanup``, delete what the run wrote (pods with grace 0,
        the namespace, the nodes and their Leases). Answers what could not be deleted."""
        self._stop.set()
        for t in self._threads:
            t.join(timeout=10)
        for w in self._watches:
            w.close()
        left: list[str] = []
        if cleanup:
            got = self.client.list("pods", self.namespace)
            for pod in (got.body.get("items") or []) if got.code == 200 else []:
                name = pod["metadata"]["name"]
                code = self.client.delete("pods", self.namespace, name, {"gracePeriodSeconds": 0}).code
                if code not in (200, 404):
                    left.append(f"pod {self.namespace}/{name}: HTTP {code}")
            for resource, ns, name in ([("namespaces", None, self.namespace)]
                                       + [("nodes", None, n.name) for n in self.nodes]
                                       + [("leases", NODE_LEASE_NS, n.name) for n in self.nodes]):
                code = self.client.delete(resource, ns, name).code
                if code not in (200, 202, 404):
                    left.append(f"{resource} {name}: HTTP {code}")
        self._kubelet_client.close()
        self.client.close()
        return left

    # ----- what the harness does to a kubelet -----------------------------------------------------------

    def _halt(self, node: HollowNode, state: str) -> None:
        with node.locks["lease"], node.locks["pods"]:  # no step of it is under way from here on
            node.state, node.since = state, None

    def pause(self, i: int) -> bool:
        """SIGSTOP: the kubelet takes no step until resumed; its containers run on."""
        node = self.nodes[i]
        if node.state != WORKING:
            return False
        self._halt(node, PAUSED)
        return True

    def resume(self, i: int) -> bool:
        """SIGCONT: every step that fell due meanwhile is taken at once."""
        node = self.nodes[i]
        if node.state != PAUSED:
            return False
        self._work(node)
        return True

    def crash(self, i: int) -> bool:
        """SIGKILL: what the kubelet remembered is gone (controlplane/kubelet.py: crash); its containers run on."""
        node = self.nodes[i]
        if node.state != WORKING:
            return False
        self._halt(node, CRASHED)
        node.kubelet.crash()
        return True

    def restart(self, i: int) -> int | None:
        """A crashed kubelet starts again: it registers and heartbeats (controlplane/kubelet.py: restart), then its
        threads step again. Answers the registration's HTTP code."""
        node = self.nodes[i]
        if node.state != CRASHED:
            return None
        code = node.kubelet.restart()
        self._work(node)
        return code

    def _work(self, node: HollowNode) -> None:
        with node.locks["lease"], node.locks["pods"]:
            now = time.monotonic()
            node.due = {"lease": now, "pods": now}
            node.state, node.since = WORKING, time.time()

    # ----- what the harness reads ------------------------------------------------------------------------

    def live(self) -> dict[str, float | None]:
        """For each node, since when its kubelet has been working (None: paused or crashed now)."""
        return {n.name: n.since for n in self.nodes}

    def containers(self) -> list[JSON]:
        return [c for n in self.nodes for c in n.runtime.snapshot()]

    def drain(self) -> list[Stamped]:
        """The watch events that arrived since the last call, the three watches merged by arrival time."""
        return list(heapq.merge(*(w.drain() for w in self._watches), key=lambda s: s.t))

    @property
    def watch_reopens(self) -> int:
        return sum(w.reopened for w in self._watches)

    def pod(self, name: str) -> JSON | None:
        got = self.client.get("pods", self.namespace, name)
        return got.body if got.code == 200 else None

    def pod_body(self, name: str, *, policy: str, run_seconds: float | None, grace: int | None) -> JSON:
        """A pod of the run: one hollow container that runs ``run_seconds`` (None: until stopped), the run label,
        and a scheduler no one serves (adapters/scoped.py), so a real scheduler leaves it to the harness."""
        meta: JSON = {"name": name, "namespace": self.namespace, "labels": {RUN_LABEL: self.run_id}}
        if run_seconds is not None:
            meta["annotations"] = {"kubeprop.io/run-seconds": f"{run_seconds:g}"}
        spec: JSON = {"restartPolicy": policy, "schedulerName": UNSCHEDULED, "automountServiceAccountToken": False,
                      "containers": [{"name": "c0", "image": "hollow"}]}
        if grace is not None:
            spec["terminationGracePeriodSeconds"] = grace
        return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}
