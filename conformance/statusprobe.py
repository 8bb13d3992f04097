"""``python -m conformance.statusprobe [--kubeconfig PATH]``: one fixed sequence of status-subresource calls, each held
to the model through the checked client, against the builtin target or a kubeconfig's server.

The sequence meets every rule of the status subresource the model knows (docs/semantics.md, "Status subresource")
once, in a known order: what a status write keeps and takes, each refusal, a deletionTimestamp sent to pods/status
and to nodes/status, a missing pod, a stale resourceVersion, merge and JSON patches, a dry run, a binding after a
status write set PodScheduled, a PUT of the pod keeping its status. It is how the release rules of
model/releases.py for the status subresource were checked on v1.29.15, v1.36.3 and v1.37.2; the API machine's
``write_status`` rule draws the same kinds of call at random. Against a server, writes go through the run-scoped
target (its own names and label, cleaned up at the end).
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
from typing import Any

from conformance.client import CheckedClient, model_for
from conformance.history import History
from conformance.invariants import InvariantViolation
from conformance.ops import Op
from conformance.replay import open_target
from conformance.reporting import Reporter

JSON = dict[str, Any]
TERMINATED = {"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": "2026-01-01T00:00:00Z",
                             "finishedAt": "2026-01-01T00:00:05Z"}}
FAILED = {"terminated": {"exitCode": 1}}
RUNNING = {"running": {"startedAt": "2026-01-01T00:00:09Z"}}


def _container(name: str, state: JSON) -> JSON:
    return {"name": name, "ready": False, "restartCount": 0, "image": "busybox:1.36", "imageID": "", "state": state}


class Probe:
    """The sequence against one target; ``results`` holds one line per call, ``disagreements`` the failed ones."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.target = open_target(**spec)
        self.client = CheckedClient(self.target, model_for(self.target, spec), History(spec), Reporter(),
                                    self._raise, watch_timeout=5.0)
        self.results: list[str] = []
        self.disagreements: list[str] = []

    @staticmethod
    def _raise(err: InvariantViolation) -> Any:
        raise err

    def step(self, label: str, op: Op) -> None:
        try:
            resp = self.client.call(op) if op.verb == "get" else self.client.write(op)
        except InvariantViolation as err:  # the model did not move: the sequence goes on
            self.disagreements.append(label)
            self.results.append(f"DISAGREES {label}: {str(err).splitlines()[0]}")
            return
        body = resp.body if isinstance(resp.body, dict) else {}
        message = body.get("message") or "" if body.get("kind") == "Status" else ""
        self.results.append(f"agrees    {label}: {resp.code} {message}".rstrip())

    def stored(self, resource: str, ns: str | None, name: str) -> JSON:
        return copy.deepcopy(self.client.model.lookup(resource, ns, name)) or {"metadata": {"name": name}}

    def put(self, label: str, resource: str, ns: str | None, name: str, status: JSON | None = None,
            meta: JSON | None = None, spec: JSON | None = None) -> None:
        body = self.stored(resource, ns, name)
        if status is not None:
            body["status"] = status
        body["metadata"].update(meta or {})
        if spec:
            body["spec"] = {**(body.get("spec") or {}), **spec}
        self.step(label, Op.update(resource, ns, name, body, subresource="status"))

    def run(self) -> None:
        ns = "ns-a"
        self.step("namespace", Op.create("namespaces", None, {"apiVersion": "v1", "kind": "Namespace",
                                                              "metadata": {"name": ns}}))
        for name, policy in (("p0", "Never"), ("p1", "Always"), ("p2", "OnFailure")):
            self.step(f"create {name} ({policy})", Op.create("pods", ns, {
                "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"app": "web"}},
                "spec": {"restartPolicy": policy, "containers": [{"name": "c0", "image": "busybox:1.36"},
                                                                 {"name": "c1", "image": "busybox:1.36"}]}}))
        self.step("get p0/status", Op.get("pods", ns, "p0", subresource="status"))
        base: JSON = {"phase": "Running", "hostIP": "10.0.0.1", "hostIPs": [{"ip": "10.0.0.1"}], "conditions": [
            {"type": "Ready", "status": "False", "reason": "x", "lastTransitionTime": "2026-01-01T00:00:00Z"},
            {"type": "PodScheduled", "status": "True", "lastTransitionTime": "2026-01-01T00:00:00Z"}]}
        qos = (self.stored("pods", ns, "p0").get("status") or {}).get("qosClass")
        if qos:
            base["qosClass"] = qos
        c = _container
        self.put("p0 containers end, labels and spec changed too", "pods", ns, "p0",
                 {**base, "containerStatuses": [c("c0", TERMINATED), c("c1", TERMINATED), c("zz", TERMINATED)]},
                 meta={"labels": {"app": "db"}}, spec={"restartPolicy": "Always"})
        self.put("p0 c0 running twice (Never)", "pods", ns, "p0",
                 {**base, "containerStatuses": [c("c0", RUNNING), c("c0", RUNNING), c("c1", TERMINATED)]})
        self.put("p0 hostIPs[0] not hostIP", "pods", ns, "p0", {**base, "hostIPs": [{"ip": "10.0.0.2"}]})
        self.put("p0 invalid condition type", "pods", ns, "p0",
                 {**base, "conditions": [{"type": "bad type", "status": "True"}]})
        self.put("p0 another QoS class", "pods", ns, "p0", {**base, "qosClass": "Guaranteed"})
        self.put("p0 no QoS class", "pods", ns, "p0", {k: v for k, v in base.items() if k != "qosClass"})
        self.put("p0 deletionTimestamp", "pods", ns, "p0", meta={"deletionTimestamp": "2001-02-03T04:05:06Z"})
        self.put("p0 every refusal at once", "pods", ns, "p0", {
            **base, "hostIPs": [{"ip": "10.0.0.2"}], "qosClass": "Guaranteed",
            "conditions": [{"type": "bad type", "status": "True"}], "containerStatuses": [c("c0", RUNNING)]})
        self.put("p1 containers end", "pods", ns, "p1", {**base, "containerStatuses": [c("c0", TERMINATED),
                                                                                       c("zz", TERMINATED)]})
        self.put("p1 running again, zz has no container (Always)", "pods", ns, "p1",
                 {**base, "containerStatuses": [c("c0", RUNNING), c("zz", RUNNING)]})
        self.put("p2 c0 fails, c1 completes", "pods", ns, "p2",
                 {**base, "containerStatuses": [c("c0", FAILED), c("c1", TERMINATED)]})
        self.put("p2 both running again (OnFailure)", "pods", ns, "p2",
                 {**base, "containerStatuses": [c("c0", RUNNING), c("c1", RUNNING)]})
        self.step("p2 merge patch", Op.patch("pods", ns, "p2", {"status": {"phase": "Failed"},
                                                                "spec": {"restartPolicy": "Never"}}, "merge", "status"))
        self.step("p2 JSON patch", Op.patch("pods", ns, "p2", [{"op": "add", "path": "/status/phase",
                                                               "value": "Succeeded"}], "json", "status"))
        binding = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "p1"},
                   "target": {"kind": "Node", "name": "n0"}}
        self.step("bind p1 (PodScheduled True already)", Op.bind(ns, "p1", binding))
        self.put("missing pod", "pods", ns, "p9", {"phase": "Running"})
        stale = self.stored("pods", ns, "p0")
        stale["metadata"]["resourceVersion"], stale["status"] = "1", {"phase": "Failed"}
        self.step("stale resourceVersion", Op.update("pods", ns, "p0", stale, subresource="status"))
        self.step("PUT of the pod keeps its status", Op.update("pods", ns, "p0", {
            **self.stored("pods", ns, "p0"), "status": {"phase": "Unknown"}}))
        self.step("dry run", Op("update", "pods", ns, "p0", {**self.stored("pods", ns, "p0"), "status": {
            "phase": "Unknown"}}, dry_run=("All",), subresource="status"))
        capacity = {"cpu": "2"}
        self.step("create node", Op.create("nodes", None, {
            "apiVersion": "v1", "kind": "Node", "metadata": {"name": "n0"},
            "spec": {"taints": [{"key": "k", "effect": "NoSchedule"}]},
            "status": {"capacity": capacity, "allocatable": capacity}}))
        address = {"type": "InternalIP", "address": "10.0.1.1"}
        self.put("node status, labels and spec changed too", "nodes", None, "n0", {
            "capacity": capacity, "allocatable": capacity, "addresses": [address],
            "conditions": [{"type": "Ready", "status": "True", "lastHeartbeatTime": "2026-01-01T00:00:07Z"}]},
            meta={"labels": {"a": "b"}}, spec={"unschedulable": True})
        self.put("node address twice", "nodes", None, "n0", {"addresses": [address, dict(address)]})
        self.put("node deletionTimestamp", "nodes", None, "n0", meta={"deletionTimestamp": "2001-02-03T04:05:06Z"})
        self.put("node invalid label", "nodes", None, "n0", meta={"labels": {"bad key": "v"}})
        self.step("node JSON patch", Op.patch("nodes", None, "n0", [{"op": "add", "path": "/status/phase",
                                                                     "value": "Running"}], "json", "status"))

    def close(self) -> None:
        self.client.close()


def probe(spec: dict[str, Any]) -> Probe:
    """Run the sequence against the target ``spec`` describes (conformance/replay.py: open_target)."""
    p = Probe(spec)
    try:
        p.run()
    finally:
        p.close()
    return p


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kubeconfig", help="a server to probe (writes in run-scoped names); default: builtin")
    parser.add_argument("--context")
    args = parser.parse_args(argv)
    os.environ.setdefault("KUBEPROP_REPORT_KNOWN", "1")  # a known finding on the way is recorded, not fatal
    spec: dict[str, Any] = ({"kind": "http", "kubeconfig": args.kubeconfig, "context": args.context}
                            if args.kubeconfig else {"kind": "builtin"})
    p = probe(spec)
    print(f"release the model speaks for: v{'.'.join(map(str, p.client.model.release))}")
    print("\n".join(p.results))
    print(f"{len(p.results) - len(p.disagreements)} of {len(p.results)} calls as the model says")
    return 1 if p.disagreements else 0


if __name__ == "__main__":
    sys.exit(main())
