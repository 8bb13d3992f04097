"""A pod deleted without a grace period while it is being bound: does the delete remove the bound pod at once?

The API's contract: a delete without ``gracePeriodSeconds`` uses the object's default
(apimachinery/pkg/apis/meta/v1/types.go: DeleteOptions.GracePeriodSeconds); for a pod that is the spec's
terminationGracePeriodSeconds (30 by default) once it is bound to a node, and 0 while it is not
(pkg/registry/core/pod/strategy.go: CheckGracefulDelete). A delete that overlaps a binding takes effect either
before it (the unbound pod is removed at once, and the binding gets 404) or after it (the bound pod gets a
pending deletion with grace 30, and stays): no order of the two removes a *bound* pod at once.

kube-apiserver decides the grace period on the pod as the delete first read it and writes that decision into
the request's DeleteOptions (CheckGracefulDelete sets options.GracePeriodSeconds); when the pod is bound before
the delete's write, the write (apiserver/pkg/registry/generic/registry/store.go: Delete,
updateForGracefulDeletionAndFinalizers, which calls BeforeDelete again on the pod as stored) applies grace 0 to
the bound pod and removes it. This script races the two, TRIALS times, and counts how often a bound pod was
removed at once.

    python tools/findings/pod_delete_grace_race.py --kubeconfig PATH [--trials 200]
    python tools/findings/pod_delete_grace_race.py --served [--trials 200]     # the bundled server
    python tools/findings/pod_delete_grace_race.py --start [--trials 200]      # starts etcd + kube-apiserver
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from adapters.http import HTTPTarget  # noqa: E402
from adapters.scoped import ScopedTarget  # noqa: E402

NS = "race"


def trial(main: ScopedTarget, kubeconfig: str, i: int) -> str:
    name = f"p{i}"
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
           "spec": {"schedulerName": "kubeprop-nobody", "containers": [{"name": "c", "image": "kubeprop/none"}]}}
    assert main.create("pods", NS, pod).code == 201
    answers: dict[str, object] = {}
    binder = ScopedTarget(HTTPTarget(kubeconfig), run_id=main.run_id)
    deleter = ScopedTarget(HTTPTarget(kubeconfig), run_id=main.run_id)
    go = threading.Barrier(2)

    def bind() -> None:
        go.wait()
        answers["bind"] = binder.bind(NS, name, {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": name},
                                                 "target": {"kind": "Node", "name": "n0"}}).code

    def delete() -> None:
        go.wait()
        answers["delete"] = deleter.delete("pods", NS, name)

    threads = [threading.Thread(target=bind), threading.Thread(target=delete)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    binder.inner.close()
    deleter.inner.close()
    resp = answers["delete"]
    meta = resp.body.get("metadata", {}) if isinstance(resp.body, dict) else {}
    node = (resp.body.get("spec") or {}).get("nodeName") if isinstance(resp.body, dict) else None
    grace = meta.get("deletionGracePeriodSeconds")
    if grace:  # pending: finish it, so the next trial starts clean
        main.delete("pods", NS, name, options={"gracePeriodSeconds": 0})
    if answers["bind"] == 201 and node and grace == 0:
        return "bound pod removed at once"
    if answers["bind"] == 201 and grace:
        return "bound, then deletion pending (grace 30)"
    return f"removed unbound, binding answered {answers['bind']}"


def run(kubeconfig: str, trials: int) -> dict[str, int]:
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--kubeconfig")
    where.add_argument("--served", action="store_true", help="the bundled server, started here")
    where.add_argument("--start", action="store_true", help="etcd + kube-apiserver from tools/kube, started here")
    parser.add_argument("--trials", type=int, default=200)
    args = parser.parse_args(argv)
    if args.kubeconfig:
        counts = run(args.kubeconfig, args.trials)
    elif args.served:
        from adapters.served import ServedServer

        with ServedServer(tempfile.mkdtemp(prefix="kubeprop-race-")) as served:
            counts = run(served.kubeconfig, args.trials)
    else:
        from conformance.kubecluster import cluster_module

        kube = cluster_module()
        with kube.Cluster(0, binaries=kube.find_binaries()) as cluster:
            print(f"kube-apiserver {cluster.version()['gitVersion']}", flush=True)
            counts = run(str(cluster.kubeconfig), args.trials)
    for outcome, n in sorted(counts.items(), key=lambda kv: -kv[1]):
        print(f"{n:>5}  {outcome}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
