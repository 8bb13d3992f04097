"""A silent node whose Lease someone writes without moving renewTime forward: is it ever marked Unknown?

The node contract (model/kubelet.py: NodeTiming.latest_unknown): a node whose heartbeats stop shows Ready=Unknown
within the grace period and three monitor periods of its last heartbeat. A write of the Lease that does not move
renewTime forward is no heartbeat: an annotation or label (any client; a storage-version migration or an
encryption-key rotation rewrites every object, and with it the resourceVersion), or a renewal whose renewTime went
back (the node's clock stepped back).

kube-controller-manager v1.37 (NodeControllerLeaseCircuitBreaker, beta, on by default) reads the live Lease
before marking a node: pkg/controller/nodelifecycle/node_lifecycle_controller.go, tryUpdateNodeHealth, compares
its resourceVersion with that of the Lease it saved when renewTime last moved forward, and when they differ
records a write for the consistency store and skips the node for this pass (a shortCircuitError). The saved
Lease is replaced only when renewTime moves forward, so after such a write the two never match again: every pass
skips the node, which stays Ready=True for as long as it is silent (and its pods are never marked not ready nor
evicted). With the gate off the same nodes are marked Unknown after the grace period.

Each trial: three nodes post Ready=True and renew their Leases every second for six seconds, then stop; after
``--after`` seconds (by when the controller has seen the last renewal) node B's Lease gets an annotation and node
C's Lease a renewTime five seconds earlier; node A's Lease is left alone. Then the three nodes' Ready conditions
are read for five grace periods.

    python tools/findings/node_lease_write_holds_off_unknown.py [--trials 3] [--gate-off] [--after 2.5]

Starts its own etcd + kube-apiserver + kube-controller-manager (--node-monitor-grace-period 8s,
--node-monitor-period 1s; make kube-controller-manager).
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from conformance.kubecluster import cluster_module  # noqa: E402
from controlplane.restclient import RESTClient  # noqa: E402

GRACE, PERIOD = 8.0, 1.0
LEASES = "kube-node-lease"
GATE = "NodeControllerLeaseCircuitBreaker"


def _micro(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _ready(client: RESTClient, node: str) -> str:
    conds = (client.get("nodes", None, node).body.get("status") or {}).get("conditions") or []
    return next((c["status"] for c in conds if c["type"] == "Ready"), "none")


def _register(client: RESTClient, node: str) -> None:
    client.create("nodes", None, {"apiVersion": "v1", "kind": "Node", "metadata": {"name": node}})
    for _ in range(10):  # the admission's and the controller's own writes to a new node may meet ours: 409
        body = client.get("nodes", None, node).body
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        body["status"] = {"conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                                          "lastHeartbeatTime": now, "lastTransitionTime": now}]}
        if client.update("nodes", None, node, body, subresource="status").code == 200:
            break
    client.create("leases", LEASES, {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                                     "metadata": {"name": node, "namespace": LEASES},
                                     "spec": {"holderIdentity": node, "leaseDurationSeconds": 40,
                                              "renewTime": _micro(datetime.now(UTC))}})


def _write_lease(client: RESTClient, node: str, change) -> int:
    lease = client.get("leases", LEASES, node).body
    change(lease)
    return client.update("leases", LEASES, node, lease).code


def _annotate(lease: dict) -> None:
    lease["metadata"].setdefault("annotations", {})["kubeprop.io/touched"] = "yes"


def _move_back(lease: dict) -> None:
    renewed = datetime.fromisoformat(lease["spec"]["renewTime"].replace("Z", "+00:00"))
    lease["spec"]["renewTime"] = _micro(renewed - timedelta(seconds=5))


def trial(client: RESTClient, i: int, after: float) -> dict[str, float | None]:
    nodes = {f"lease-a-{i}": None, f"lease-b-{i}": _annotate, f"lease-c-{i}": _move_back}
    for node in nodes:
        _register(client, node)
    for _ in range(6):
        time.sleep(1)
        for node in nodes:
            _write_lease(client, node, lambda lease: lease["spec"].update(renewTime=_micro(datetime.now(UTC))))
    stopped = time.time()
    time.sleep(after)
    for node, change in nodes.items():
        if change is not None:
            assert _write_lease(client, node, change) == 200
    marked: dict[str, float | None] = dict.fromkeys(nodes)
    while time.time() - stopped < 5 * GRACE and None in marked.values():
        for node in nodes:
            if marked[node] is None and _ready(client, node) == "Unknown":
                marked[node] = time.time() - stopped
        time.sleep(0.2)
    return marked


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--after", type=float, default=2.5, help="seconds after the last renewal of the write")
    parser.add_argument("--gate-off", action="store_true", help=f"kube-controller-manager --feature-gates={GATE}=false")
    args = parser.parse_args()
    kube = cluster_module()
    extra = (f"--feature-gates={GATE}=false",) if args.gate_off else ()
    with kube.Cluster(0, controller_manager=True, node_monitor_grace_period=GRACE, node_monitor_period=PERIOD,
                      controller_manager_extra_args=extra) as cluster:
        client = RESTClient(str(cluster.kubeconfig))
        while client.get("namespaces", None, LEASES).code != 200:
            time.sleep(0.2)
        print(f"kube-controller-manager {cluster.binaries.version()}, {GATE} {'off' if args.gate_off else 'default'}; "
              f"grace {GRACE:g} s, monitor period {PERIOD:g} s; Lease writes {args.after:g} s after the last renewal")
        for i in range(args.trials):
            marked = trial(client, i, args.after)
            print(f"trial {i}: " + "; ".join(
                f"{node} ({what}): " + (f"Unknown {t:.1f} s after its last renewal" if t is not None else
                                        f"still {_ready(client, node)} after {5 * GRACE:.0f} s")
                for (node, t), what in zip(marked.items(), ("untouched", "annotated", "renewTime moved back"),
                                           strict=True)))
        client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
