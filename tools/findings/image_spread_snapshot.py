"""Two nodes with the same image, one added after the scheduler last copied the other: does kube-scheduler's
ImageLocality count the image's nodes alike on both?

ImageLocality scales an image's size by its spread, the share of the cluster's nodes that have it
(pkg/scheduler/framework/plugins/imagelocality/image_locality.go: scaledImageScore). kube-scheduler counts the
nodes when it copies a node into its snapshot (kube-scheduler/framework/types.go: ImageStateSummary.Snapshot),
and it copies only the nodes whose own state changed since the last cycle (pkg/scheduler/backend/cache/cache.go:
UpdateSnapshot). kubernetes#116938 (v1.28) made the count follow the cache at each copy; a node that is not
copied again keeps the count of its last copy.

Each trial: node A with a 1000 MiB image; pod Q, placed on A by the scheduler; pod R, which fits nowhere, so that
a cycle copies A after its last change (1 node has the image); node B with the same image and a pod F bound to it
directly (B is copied at the next cycle: 2 nodes);
then pod P, with the image, that only A or B can take. Counted alike (2 of 2 nodes: ImageLocality 100 on both) A
is the better node: its pod is smaller. Counted as the snapshot holds them, A's spread is 1 of 2 (ImageLocality
48) and B wins. The script counts where P went.

    python tools/findings/image_spread_snapshot.py --start [--trials 10]      # etcd + kube-apiserver + scheduler
    python tools/findings/image_spread_snapshot.py --kubeconfig PATH [--trials 10]   # a cluster with a scheduler
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from adapters.http import HTTPTarget  # noqa: E402

NS = "image-spread"
MIB = 1024 * 1024
#: the image on both nodes: the size ImageLocality saturates at for one container (maxContainerThreshold)
IMAGE_SIZE = 1000 * MIB
NOT_READY = {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoSchedule"}


def _node(name: str, trial: int, image: str) -> dict[str, Any]:
    alloc = {"cpu": "4", "memory": "4Gi", "pods": "110"}
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": {"kubeprop.io/image-spread": str(trial)}},
            "status": {"allocatable": alloc, "capacity": alloc,
                       "images": [{"names": [image], "sizeBytes": IMAGE_SIZE}],
                       "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}]}}


def _pod(name: str, image: str, cpu: str, *, selector: dict[str, str], node: str | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": "c", "image": image, "resources": {"requests": {"cpu": cpu}}}],
                            "tolerations": [NOT_READY], "nodeSelector": selector}
    if node:
        spec["nodeName"] = node
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}


def _bound(t: HTTPTarget, name: str, timeout: float = 30.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        resp = t.get("pods", NS, name)
        node = (resp.body.get("spec") or {}).get("nodeName") if resp.code == 200 else None
        if node:
            return str(node)
        time.sleep(0.1)
    raise SystemExit(f"pod {name} was not bound within {timeout:g} s: is a scheduler running?")


def trial(t: HTTPTarget, i: int) -> str:
    image, a, b = f"kubeprop/spread-{i}:1", f"spread-a-{i}", f"spread-b-{i}"
    label = {"kubeprop.io/image-spread": str(i)}
    try:
        assert t.create("nodes", None, _node(a, i, image)).code == 201
        assert t.create("pods", NS, _pod(f"q{i}", "kubeprop/none", "100m", selector=label)).code == 201
        assert _bound(t, f"q{i}") == a
        time.sleep(0.5)
        # one more cycle, after A's last change (Q's binding, as the informer brings it): it copies A, 1 node having
        # the image, and that copy stays while A does not change; R itself fits nowhere
        assert t.create("pods", NS, _pod(f"r{i}", "kubeprop/none", "100m",
                                         selector={"kubeprop.io/image-spread": "none"})).code == 201
        time.sleep(0.5)
        assert t.create("nodes", None, _node(b, i, image)).code == 201
        assert t.create("pods", NS, _pod(f"f{i}", "kubeprop/none", "1", selector=label, node=b)).code == 201
        time.sleep(0.5)
        assert t.create("pods", NS, _pod(f"p{i}", image, "100m", selector=label)).code == 201
        went = _bound(t, f"p{i}")
        return ("B: the older node counted the image on 1 of 2 nodes" if went == b
                else "A: both nodes counted the image alike")
    finally:
        for p in (f"q{i}", f"r{i}", f"f{i}", f"p{i}"):
            t.delete("pods", NS, p, options={"gracePeriodSeconds": 0})
        for n in (a, b):
            t.delete("nodes", None, n)


def run(kubeconfig: str, trials: int) -> dict[str, int]:
    t = HTTPTarget(kubeconfig)
    counts: dict[str, int] = {}
    try:
        t.create("namespaces", None, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
        for i in range(trials):
            outcome = trial(t, i)
            counts[outcome] = counts.get(outcome, 0) + 1
    finally:
        t.close()
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--kubeconfig")
    where.add_argument("--start", action="store_true", help="etcd + kube-apiserver + kube-scheduler from tools/kube")
    parser.add_argument("--trials", type=int, default=10)
    args = parser.parse_args(argv)
    if args.kubeconfig:
        counts = run(args.kubeconfig, args.trials)
    else:
        from conformance.kubecluster import cluster_module

        kube = cluster_module()
        with kube.Cluster(1, binaries=kube.find_binaries()) as cluster:
            print(f"kube-apiserver + kube-scheduler {cluster.version()['gitVersion']}", flush=True)
            cluster.leader(timeout=60)
            counts = run(str(cluster.kubeconfig), args.trials)
    for outcome, n in sorted(counts.items(), key=lambda kv: -kv[1]):
        print(f"{n:>5}  {outcome}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
