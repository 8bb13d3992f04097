"""What the race scripts in tools/findings share: where they run (a kubeconfig, the bundled server started here,
or etcd + kube-apiserver from tools/kube started here), one namespace, a trial repeated and its outcomes counted."""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from adapters.http import HTTPTarget  # noqa: E402
from adapters.scoped import ScopedTarget  # noqa: E402

NS = "race"

#: one trial: (the scoped target of the run, the kubeconfig, the trial's number) -> its outcome, in words
Trial = Callable[[ScopedTarget, str, int], str]


def unscheduled_pod(name: str) -> dict[str, Any]:
    """A pod no scheduler takes (its schedulerName names none), so only the trial binds it."""
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"schedulerName": "kubeprop-nobody", "containers": [{"name": "c", "image": "kubeprop/none"}]}}


def binding(name: str, node: str = "n0") -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": name},
            "target": {"kind": "Node", "name": node}}


def at_once(main: ScopedTarget, kubeconfig: str, *calls: Callable[[ScopedTarget], Any]) -> list[Any]:
    """Each call on a client of its own, all let go together; their answers, in order."""
    clients = [ScopedTarget(HTTPTarget(kubeconfig), run_id=main.run_id) for _ in calls]
    answers: list[Any] = [None] * len(calls)
    go = threading.Barrier(len(calls))

    def play(i: int) -> None:
        go.wait()
        answers[i] = calls[i](clients[i])

    threads = [threading.Thread(target=play, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for c in clients:
        c.inner.close()
    return answers


def run(kubeconfig: str, trials: int, trial: Trial) -> dict[str, int]:
    main = ScopedTarget(HTTPTarget(kubeconfig))
    counts: dict[str, int] = {}
    try:
        assert main.create("namespaces", None, {"apiVersion": "v1", "kind": "Namespace",
                                                "metadata": {"name": NS}}).code == 201
        for i in range(trials):
            outcome = trial(main, kubeconfig, i)
            counts[outcome] = counts.get(outcome, 0) + 1
    finally:
        main.close()
    return counts


def main(doc: str, trial: Trial, argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--kubeconfig")
    where.add_argument("--served", action="store_true", help="the bundled server, started here")
    where.add_argument("--start", action="store_true", help="etcd + kube-apiserver from tools/kube, started here")
    parser.add_argument("--trials", type=int, default=200)
    args = parser.parse_args(argv)
    if args.kubeconfig:
        counts = run(args.kubeconfig, args.trials, trial)
    elif args.served:
        from adapters.served import ServedServer

        with ServedServer(tempfile.mkdtemp(prefix="kubeprop-race-")) as served:
            counts = run(served.kubeconfig, args.trials, trial)
    else:
        from conformance.kubecluster import cluster_module

        kube = cluster_module()
        with kube.Cluster(0, binaries=kube.find_binaries()) as cluster:
            print(f"kube-apiserver {cluster.version()['gitVersion']}", flush=True)
            counts = run(str(cluster.kubeconfig), args.trials, trial)
    for outcome, n in sorted(counts.items(), key=lambda kv: -kv[1]):
        print(f"{n:>5}  {outcome}")
    return 0
