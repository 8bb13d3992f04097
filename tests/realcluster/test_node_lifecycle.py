"""The node lifecycle controller of an upstream kube-controller-manager against fake nodes that heartbeat by Lease.

The cluster here is its own (no scheduler, one kube-controller-manager with ``--controllers
node-lifecycle-controller`` and a short ``--node-monitor-grace-period``), not the session one, whose fake nodes
renew no Lease and would be tainted unreachable. Two nodes post Ready=True once and then only renew their Lease in
kube-node-lease, as a kubelet does between status reports; one of them stops. What is checked:

- the controller takes the node.kubernetes.io/not-ready:NoSchedule taint (put on by the TaintNodesByCondition
  admission plugin) off a node whose Ready condition is True;
- a node whose status heartbeat is older than the grace period but whose Lease is renewed stays Ready;
- once its Lease is no longer renewed, the node's Ready condition (and MemoryPressure, DiskPressure, PIDPressure)
  turns Unknown with reason NodeStatusUnknown no sooner than the grace period after the last renewal, and the
  node.kubernetes.io/unreachable taint is added (NoSchedule, and NoExecute since the other node keeps the zone
  from full disruption); the other node stays Ready and untainted;
- when the node posts Ready=True again and renews its Lease, the unreachable taints are taken off.

The delays are printed and listed in the terminal summary. Needs ``make kube-controller-manager``.
"""

from __future__ import annotations

import contextlib
import subprocess
import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

pytestmark = pytest.mark.realcluster

GRACE = 8.0  # --node-monitor-grace-period of the module's cluster (conftest.py: nlc_cluster; upstream default 50 s)
PERIOD = 1.0  # --node-monitor-period (upstream default 5 s)
RENEW_EVERY = 1.0  # the fake kubelets' Lease renewal interval (kubelet: leaseDurationSeconds 40 / 4 = 10 s)
NODE_LEASE_NAMESPACE = "kube-node-lease"
UNREACHABLE = "node.kubernetes.io/unreachable"
NOT_READY = "node.kubernetes.io/not-ready"


def _now_micro() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _now_seconds() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class FakeKubelet:
    """A Node and its Lease kube-node-lease/<name>: Ready=True posted once, the Lease renewed every
    RENEW_EVERY seconds on a thread until ``silence()``."""

    def __init__(self, cluster: Any, name: str) -> None:
        self.cluster, self.name = cluster, name
        self.last_renewal: float | None = None  # time.monotonic() when the last renewal's answer came
        self.renewals = 0
        self._silent = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _ok(self, r: Any, what: str) -> dict[str, Any]:
        assert r.status_code in (200, 201), f"{what} {self.name}: HTTP {r.status_code} {r.text[:500]}"
        return r.json()

    def register(self) -> None:
        node = self._ok(self.cluster.request("POST", "/api/v1/nodes", json={
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": self.name, "labels": {"kubernetes.io/hostname": self.name}}}), "create node")
        self.post_ready()
        now = _now_micro()
        self._ok(self.cluster.request("POST", f"/apis/coordination.k8s.io/v1/namespaces/{NODE_LEASE_NAMESPACE}/leases",
                                      json={"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                                            "metadata": {"name": self.name, "namespace": NODE_LEASE_NAMESPACE,
                                                         "ownerReferences": [{"apiVersion": "v1", "kind": "Node",
                                                                              "name": self.name,
                                                                              "uid": node["metadata"]["uid"]}]},
                                            "spec": {"holderIdentity": self.name, "leaseDurationSeconds": 40,
                                                     "acquireTime": now, "renewTime": now}}), "create lease")
        self.last_renewal = time.monotonic()
        self._thread = threading.Thread(target=self._renew_loop, name=f"lease-{self.name}", daemon=True)
        self._thread.start()

    def post_ready(self) -> None:
        """The node's status as a kubelet posts it: Ready=True, heartbeat and transition now."""
        now = _now_seconds()
        capacity = {"cpu": "4", "memory": "8Gi", "pods": "110"}
        self._ok(self.cluster.request(
            "PATCH", f"/api/v1/nodes/{self.name}/status",
            headers={"Content-Type": "application/strategic-merge-patch+json"},
            json={"status": {"capacity": capacity, "allocatable": capacity, "conditions": [
                {"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "kubeprop fake kubelet",
                 "lastHeartbeatTime": now, "lastTransitionTime": now}]}}), "post status")

    def renew(self) -> None:
        path = f"/apis/coordination.k8s.io/v1/namespaces/{NODE_LEASE_NAMESPACE}/leases/{self.name}"
        r = self.cluster.request("PATCH", path, headers={"Content-Type": "application/merge-patch+json"},
                                 json={"spec": {"renewTime": _now_micro()}})
        self._ok(r, "renew lease")
        self.last_renewal = time.monotonic()
        self.renewals += 1

    def _renew_loop(self) -> None:
        while not self._stop.wait(RENEW_EVERY):
            if not self._silent.is_set():
                with contextlib.suppress(Exception):
                    self.renew()

    def silence(self) -> float:
        """Stop renewing; return the monotonic time of the last renewal."""
        self._silent.set()
        time.sleep(0.2)  # a renewal under way finishes (the loop checks the flag before each one)
        assert self.last_renewal is not None
        return self.last_renewal

    def resume(self) -> None:
        self._silent.clear()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)


def _node(cluster: Any, name: str) -> dict[str, Any]:
    r = cluster.request("GET", f"/api/v1/nodes/{name}")
    r.raise_for_status()
    return r.json()


def _condition(node: dict[str, Any], kind: str) -> dict[str, Any] | None:
    return next((c for c in node.get("status", {}).get("conditions") or [] if c.get("type") == kind), None)


def _taints(node: dict[str, Any]) -> set[tuple[str, str]]:
    return {(t["key"], t["effect"]) for t in node.get("spec", {}).get("taints") or []}


def _wait(what: str, check, timeout: float, cluster: Any, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while True:
        cluster.check_alive()
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:.0f}s; kube-controller-manager log:\n"
                                 f"{cluster.controller_manager.log_tail(30)}")
        time.sleep(interval)


def test_silent_node_becomes_unknown_and_unreachable(nlc_cluster, measurements):
    cluster = nlc_cluster
    cm = cluster.controller_manager
    assert cm is not None and cm.alive() and cm.healthz(), cm.log_tail() if cm else "no controller manager"
    args = " ".join(cm.args)
    assert "--controllers node-lifecycle-controller" in args and "--leader-elect=false" in args
    assert f"--node-monitor-grace-period {GRACE:g}s" in args and f"--node-monitor-period {PERIOD:g}s" in args

    # kube-apiserver creates kube-node-lease itself, shortly after it starts
    _wait(f"namespace {NODE_LEASE_NAMESPACE}",
          lambda: cluster.request("GET", f"/api/v1/namespaces/{NODE_LEASE_NAMESPACE}").status_code == 200, 30, cluster)
    suffix = uuid.uuid4().hex[:6]
    steady = FakeKubelet(cluster, f"kubeprop-steady-{suffix}")
    silent = FakeKubelet(cluster, f"kubeprop-silent-{suffix}")
    try:
        for kubelet in (steady, silent):
            kubelet.register()
        # the controller runs: it takes off the not-ready taint the admission plugin put on each Ready node
        for kubelet in (steady, silent):
            _wait(f"{NOT_READY} taint off {kubelet.name}",
                  lambda k=kubelet: not any(key == NOT_READY for key, _ in _taints(_node(cluster, k.name))),
                  30, cluster)

        # the status heartbeat ages past the grace period; the Lease alone keeps the nodes Ready
        time.sleep(GRACE + 3 * PERIOD)
        for kubelet in (steady, silent):
            node = _node(cluster, kubelet.name)
            ready = _condition(node, "Ready")
            assert ready and ready["status"] == "True", (kubelet.name, ready)
            assert not _taints(node), (kubelet.name, _taints(node))
        assert silent.renewals >= GRACE / RENEW_EVERY, silent.renewals

        last = silent.silence()
        seen: dict[str, float] = {}

        def changed() -> bool:
            node = _node(cluster, silent.name)
            now = time.monotonic() - last
            ready = _condition(node, "Ready") or {}
            if "unknown" not in seen and ready.get("status") == "Unknown":
                seen["unknown"] = now
                assert ready.get("reason") == "NodeStatusUnknown", ready
                assert ready.get("message") == "Kubelet stopped posting node status.", ready
                for kind in ("MemoryPressure", "DiskPressure", "PIDPressure"):
                    condition = _condition(node, kind) or {}
                    # conditions the fake kubelet never posted are added as Unknown, NodeStatusNeverUpdated
                    assert condition.get("status") == "Unknown", (kind, condition)
                    assert condition.get("reason") == "NodeStatusNeverUpdated", (kind, condition)
            for key, effect in _taints(node):
                if key == UNREACHABLE:
                    seen.setdefault(f"taint {effect}", now)
            return {"unknown", "taint NoSchedule", "taint NoExecute"} <= seen.keys()

        _wait(f"{silent.name} Unknown and tainted {UNREACHABLE}", changed, GRACE + 30, cluster)
        steady_node = _node(cluster, steady.name)
        assert (_condition(steady_node, "Ready") or {}).get("status") == "True", steady_node["status"]
        assert not _taints(steady_node), _taints(steady_node)
        # the controller counts from when it saw the last renewal, never before it was written
        assert seen["unknown"] >= GRACE - 0.5, seen
        assert seen["unknown"] <= GRACE + 3 * PERIOD + 5, seen

        # back: the kubelet posts Ready=True and renews; the controller takes the unreachable taints off
        silent.post_ready()
        silent.resume()
        back = time.monotonic()
        _wait(f"{UNREACHABLE} taints off {silent.name}",
              lambda: not any(key == UNREACHABLE for key, _ in _taints(_node(cluster, silent.name))), 30, cluster)
        recovered = time.monotonic() - back

        version = subprocess.run([cm.args[0], "--version"], capture_output=True, text=True, timeout=60).stdout.split()
        line = (f"node lifecycle (kube-controller-manager {version[-1] if version else '?'}, "
                f"--node-monitor-grace-period {GRACE:g}s --node-monitor-period {PERIOD:g}s): after the last Lease "
                f"renewal, Ready=Unknown at {seen['unknown']:.1f}s, {UNREACHABLE}:NoSchedule at "
                f"{seen['taint NoSchedule']:.1f}s, :NoExecute at {seen['taint NoExecute']:.1f}s; "
                f"taints off {recovered:.1f}s after Ready=True was posted again")
        print(line)
        measurements.append(line)
    finally:
        for kubelet in (steady, silent):
            kubelet.stop()
