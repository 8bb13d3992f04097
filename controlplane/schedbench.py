"""Scheduling throughput in process, in the shape of scheduler_perf's SchedulingBasic.

One replica (leader election off) on an APIServer over MemoryStorage: create
N nodes (4 cpu, 32Gi, 110 pods), then the pods (modest requests), then step
``schedule_one`` and ``bind_one`` until every pod is bound. Prints bound pods
per second of the scheduling loop and the nodes evaluated per cycle; it
asserts nothing about speed.

``python -m controlplane.schedbench [--nodes 100,1000,5000] [--pods 1000] [--seed 0]``
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime

from .apiserver import APIServer, MemoryStorage
from .scheduler import Scheduler

START = datetime(2026, 1, 1, tzinfo=UTC)


def _node(i: int) -> dict:
    return {"metadata": {"name": f"node-{i:05d}"},
            "status": {"allocatable": {"cpu": "4", "memory": "32Gi", "pods": "110"},
                       "capacity": {"cpu": "4", "memory": "32Gi", "pods": "110"}}}


def _pod(i: int) -> dict:
    return {"metadata": {"name": f"pod-{i:05d}"},
            "spec": {"containers": [{"name": "pause", "image": "registry.k8s.io/pause:3.10",
                                     "resources": {"requests": {"cpu": "100m", "memory": "500Mi"}}}]}}


def run(nodes: int, pods: int, seed: int = 0) -> dict[str, float]:
    """One size: the figures for N nodes and the given number of pods."""
    server = APIServer(MemoryStorage(), clock=lambda: START)
    server.create("namespaces", None, {"metadata": {"name": "bench"}})
    for i in range(nodes):
        server.create("nodes", None, _node(i))
    sched = Scheduler(server, identity="bench", clock=lambda: START, seed=seed, leader_elect=False)
    sched.start()
    for i in range(pods):
        server.create("pods", "bench", _pod(i))
    bound = cycles = evaluated = 0
    began = time.perf_counter()
    while bound < pods:
        c = sched.schedule_one()
        if c is None:
            if not sched.pending_binds():
                break
        else:
            cycles += 1
            evaluated += c.evaluated
        b = sched.bind_one()
        if b is not None and b.code == 201:
            bound += 1
    elapsed = time.perf_counter() - began
    sched.stop()
    return {"nodes": nodes, "pods": pods, "bound": bound, "seconds": elapsed,
            "pods_per_second": bound / elapsed if elapsed > 0 else float("inf"),
            "evaluated_per_cycle": evaluated / cycles if cycles else 0.0}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m controlplane.schedbench", description=__doc__.splitlines()[0])
    ap.add_argument("--nodes", default="100,1000,5000", help="comma-separated node counts")
    ap.add_argument("--pods", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    sizes = [int(n) for n in args.nodes.split(",") if n.strip()]
    sys.stdout.write(f"{'nodes':>6} {'pods':>6} {'bound':>6} {'seconds':>8} {'pods/s':>9} {'evaluated/cycle':>16}\n")
    for n in sizes:
        r = run(n, args.pods, args.seed)
        sys.stdout.write(f"{r['nodes']:>6} {r['pods']:>6} {r['bound']:>6} {r['seconds']:>8.2f} "
                         f"{r['pods_per_second']:>9.1f} {r['evaluated_per_cycle']:>16.1f}\n")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
