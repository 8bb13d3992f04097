"""``python -m conformance.schedperf``: the bundled scheduler and kube-scheduler, side by side on one kube-apiserver.

The shape of upstream scheduler_perf's SchedulingBasic
(test/integration/scheduler_perf/config/performance-config.yaml): fake nodes
with 4 cpu, 32Gi and 110 pods each, then pods with modest requests, no
affinity or spread. For each node count (default 100, 1,000, 5,000) one run
of each scheduler, in turn, on the same kube-apiserver + etcd built by
``make kube-binaries``:

1. the nodes are created (those of the smaller size stay; Ready, and the pods
   tolerate the not-ready taint TaintNodesByCondition puts on a new node, as no
   node-lifecycle controller lifts it here);
2. ``--pods`` pods are created in a fresh namespace, naming a schedulerName
   only the scheduler under test serves, so nobody schedules them yet;
3. the scheduler is started as its own process with leader election off:
   kube-scheduler with a KubeSchedulerConfiguration whose one profile has that
   schedulerName (client QPS and burst 5,000, as scheduler_perf sets them, so
   client-side rate limiting does not set the pace), or
   ``python -m controlplane scheduler --no-leader-elect --scheduler-name ...``;
4. a watch of the namespace stamps each pod's first event with a nodeName; a
   watch that ends is opened again from the last resourceVersion it
   delivered, as an informer does (kube-apiserver's watch cache closes a
   watcher that does not keep up with a burst: apiserver/pkg/storage/cacher,
   a watcher whose buffer stays full is terminated).

Pods per second is (pods - 1) / (last bind - first bind): the scheduling
throughput once the scheduler's informers have synced, which is what
scheduler_perf's SchedulingThroughput measures; the start-up (process start to
first bind) is printed beside it. Then the scheduler is stopped and the pods
deleted with grace 0 (no kubelet runs). Nothing is asserted: it measures and
prints, and writes the table to ``reports/schedperf.md``. ``KUBEPROP_DEBUG=1``
prints every batch of watch events as it arrives.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from adapters.http import HTTPTarget
from conformance.kubecluster import cluster_module

TAINT_NOT_READY = "node.kubernetes.io/not-ready"
REPO = Path(__file__).resolve().parent.parent
#: how long one run may take before it is reported as incomplete
RUN_TIMEOUT = 600.0
DEBUG = bool(os.environ.get("KUBEPROP_DEBUG"))


@dataclass
class Result:
    scheduler: str
    nodes: int
    pods: int
    bound: int
    startup: float  # process start to first bind
    seconds: float  # first bind to last bind
    pods_per_second: float


def _node(name: str) -> dict:
    resources = {"cpu": "4", "memory": "32Gi", "pods": "110"}
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": {"kubeprop-perf": "1"}},
            "status": {"allocatable": resources, "capacity": resources,
                       "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}]}}


def _pod(name: str, scheduler_name: str) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"schedulerName": scheduler_name,
                     "tolerations": [{"key": TAINT_NOT_READY, "operator": "Exists", "effect": "NoSchedule"}],
                     "containers": [{"name": "pause", "image": "registry.k8s.io/pause:3.10",
                                     "resources": {"requests": {"cpu": "100m", "memory": "500Mi"}}}]}}


def _create_all(target: HTTPTarget, resource: str, namespace: str | None, bodies: list[dict],
                workers: int = 8) -> None:
    def one(body: dict) -> None:
        r = target.create(resource, namespace, body)
        if r.code not in (201, 409):
            raise RuntimeError(f"create {resource} {body['metadata']['name']}: {r.code} {r.body}")

    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        list(pool.map(one, bodies))


def _kube_scheduler(cluster: object, name: str, kubeconfig: Path, workdir: Path) -> list[str]:
    config = {"apiVersion": "kubescheduler.config.k8s.io/v1", "kind": "KubeSchedulerConfiguration",
              "clientConnection": {"kubeconfig": str(kubeconfig), "qps": 5000, "burst": 5000},
              "leaderElection": {"leaderElect": False},
              "profiles": [{"schedulerName": name}]}
    path = workdir / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config))
    port = cluster_module().free_port()
    return [cluster.binaries.scheduler, "--config", str(path),  # type: ignore[attr-defined]
            "--authorization-always-allow-paths", "/healthz,/readyz,/livez,/metrics",
            "--secure-port", str(port), "--bind-address", "127.0.0.1",
            "--cert-dir", str(workdir / f"{name}-certs"), "--v=1"]


def _bundled_scheduler(name: str, kubeconfig: Path) -> list[str]:
    return [sys.executable, "-m", "controlplane", "scheduler", "--kubeconfig", str(kubeconfig),
            "--no-leader-elect", "--scheduler-name", name]


def run_one(cluster: object, target: HTTPTarget, which: str, nodes: int, pods: int, workdir: Path) -> Result:
    name = f"perf-{which}-{nodes}"
    namespace = name
    _create_all(target, "namespaces", None,
                [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}], workers=1)
    _create_all(target, "pods", namespace, [_pod(f"pod-{i:05d}", name) for i in range(pods)])
    listed = target.list("pods", namespace)
    watcher = HTTPTarget(str(cluster.kubeconfig))  # type: ignore[attr-defined]
    watch = watcher.watch("pods", namespace, resource_version=str(listed.body["metadata"]["resourceVersion"]))
    args = (_kube_scheduler(cluster, name, cluster.kubeconfig, workdir) if which == "kube-scheduler"  # type: ignore[attr-defined]
            else _bundled_scheduler(name, cluster.kubeconfig))  # type: ignore[attr-defined]
    log = open(workdir / f"{name}.log", "wb")  # noqa: SIM115 - closed after the process ends
    started = time.monotonic()
    proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, cwd=REPO, env={**os.environ})
    bound_at: dict[str, float] = {}
    last_rv, reopened = str(listed.body["metadata"]["resourceVersion"]), 0
    try:
        while len(bound_at) < pods and time.monotonic() - started < RUN_TIMEOUT:
            events = watch.drain(timeout=0.05)
            now = time.monotonic()
            if DEBUG and events:
                print(f"    {len(events)} events, {len(bound_at)} bound so far, watch reopened {reopened}", flush=True)
            if watch.ended:  # a watch may end (the server's timeout, a dropped stream): go on from where it was
                watch.close()
                watch = watcher.watch("pods", namespace, resource_version=last_rv)
                reopened += 1
            for e in events:
                obj = e.get("object") or {}
                last_rv = str((obj.get("metadata") or {}).get("resourceVersion") or last_rv)
                if (obj.get("spec") or {}).get("nodeName"):
                    bound_at.setdefault(obj["metadata"]["name"], now)
            if proc.poll() is not None:
                raise RuntimeError(f"{which} exited with {proc.returncode}; see {workdir / (name + '.log')}")
    finally:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(15)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
        watch.close()
        watcher.close()
        target.delete_collection("pods", namespace, options={"apiVersion": "v1", "kind": "DeleteOptions",
                                                             "gracePeriodSeconds": 0})
    times = sorted(bound_at.values())
    if not times:
        return Result(which, nodes, pods, 0, float("nan"), float("nan"), 0.0)
    span = times[-1] - times[0]
    return Result(which, nodes, pods, len(times), times[0] - started, span,
                  (len(times) - 1) / span if span > 0 else float("inf"))


def table(results: list[Result]) -> str:
    lines = ["| nodes | pods | scheduler | bound | start-up to first bind (s) | first to last bind (s) | pods/s |",
             "|---|---|---|---|---|---|---|"]
    for r in results:
        lines.append(f"| {r.nodes} | {r.pods} | {r.scheduler} | {r.bound} | {r.startup:.2f} | {r.seconds:.2f} "
                     f"| {r.pods_per_second:.0f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m conformance.schedperf", description=__doc__.splitlines()[0])
    ap.add_argument("--nodes", default="100,1000,5000", help="comma-separated node counts (default 100,1000,5000)")
    ap.add_argument("--pods", type=int, default=1000, help="pods per run (default 1000)")
    ap.add_argument("--schedulers", default="kube-scheduler,bundled",
                    help="which, in this order (default kube-scheduler,bundled)")
    ap.add_argument("--out", default=str(REPO / "reports" / "schedperf.md"))
    args = ap.parse_args(argv)
    sizes = sorted(int(n) for n in args.nodes.split(",") if n.strip())
    which = [w.strip() for w in args.schedulers.split(",") if w.strip()]
    unknown = set(which) - {"kube-scheduler", "bundled"}
    if unknown:
        ap.error(f"unknown scheduler(s): {', '.join(sorted(unknown))} (kube-scheduler, bundled)")
    kube = cluster_module()
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="kubeprop-schedperf-") as tmp, kube.Cluster(schedulers=0) as cluster:
        workdir = Path(tmp)
        target = HTTPTarget(str(cluster.kubeconfig))
        print(f"kube-apiserver {cluster.version().get('gitVersion')} at {cluster.server}", flush=True)
        made = 0
        for n in sizes:
            t0 = time.monotonic()
            _create_all(target, "nodes", None, [_node(f"perf-node-{i:05d}") for i in range(made, n)])
            print(f"{n} nodes ready ({n - made} created in {time.monotonic() - t0:.1f}s)", flush=True)
            made = n
            for w in which:
                r = run_one(cluster, target, w, n, args.pods, workdir)
                results.append(r)
                print(f"  {w:>15}: {r.bound}/{r.pods} bound, start-up {r.startup:.2f}s, "
                      f"{r.seconds:.2f}s first to last bind, {r.pods_per_second:.0f} pods/s", flush=True)
        target.close()
    text = table(results)
    print("\n" + text)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text + "\n")
    print(f"\nwritten to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
