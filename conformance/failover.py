"""``python -m conformance.failover``: leader failover of scheduler replicas as a distribution, from the outside.

Against one kube-apiserver + etcd (``make kube-binaries``), two scheduler
replicas elect a leader on the Lease kube-system/kube-scheduler (lease
duration 15 s, renew deadline 10 s, retry period 2 s, kube-scheduler's
defaults): the real kube-scheduler (``--which kube-scheduler``) or the bundled
one as separate processes (``--which bundled``: ``python -m controlplane
scheduler``). Each trial:

1. waits until a replica leads and a renewal of its term was seen;
2. sends the leader SIGKILL or SIGSTOP, then creates a pod only a scheduler
   can place (one node fits it);
3. times, from the signal, the first read of the Lease naming another holder
   and the pod's binding (its first watch event with a nodeName);
4. SIGCONTs a stopped leader (both kinds exit when they find the Lease lost:
   cmd/kube-scheduler/app/server.go, OnStoppedLeading) and restarts the
   replica as a new process (a new identity);
5. checks every Lease record read during the trial with
   ``lease.single-holder-per-term`` (one holder per leaseTransitions, and a
   takeover at least leaseDurationSeconds after the old holder's last
   renewTime, by the server-written times: one host clock writes them all).

The bound the settings allow (client-go tools/leaderelection/leaderelection.go):
the leader renews every retry period (wait.Until), so its last renewal is at
most one retry period before the signal; a candidate retries every retry
period stretched by up to JitterFactor 1.2 (wait.JitterUntil), so it sees
that renewal at most 2.2 retry periods after it was written, and takes over at
its first try after the lease duration has run from when it saw it. A new
holder therefore comes at most lease + 2 x 2.2 x retry = 23.8 s after the
signal, and no earlier than lease - retry = 13 s after it. The bind follows
once the new leader runs a cycle (kube-scheduler syncs its informers before it
campaigns: server.go Run). Trials beyond the bound are counted, not asserted.

Prints each trial as it ends and a summary table (min, median, p90, max);
writes it to ``reports/failover-<which>.md``.
"""

from __future__ import annotations

import argparse
import signal
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from adapters.http import HTTPTarget
from conformance.checks import lease as lease_checks
from conformance.differential import LeaseWatcher
from conformance.kubecluster import cluster_module
from conformance.replicas import BundledReplicas, KubeReplicas

REPO = Path(__file__).resolve().parent.parent
LEASE_DURATION, RENEW_DEADLINE, RETRY_PERIOD = 15.0, 10.0, 2.0
JITTER = 1.2  # client-go leaderelection.go: JitterFactor
UPPER = LEASE_DURATION + 2 * (1 + JITTER) * RETRY_PERIOD
LOWER = LEASE_DURATION - RETRY_PERIOD
NAMESPACE = "kubeprop-failover"
NODE = "failover-node"
SIGNALS = {"SIGKILL": signal.SIGKILL, "SIGSTOP": signal.SIGSTOP}


@dataclass
class Trial:
    signal: str
    holder_s: float  # signal -> first read of another holder
    bind_s: float  # signal -> the pod's binding seen
    since_renew: float  # old holder's last renewTime -> new acquireTime (server timestamps)
    records: int
    problems: list[str] = field(default_factory=list)
    lingered: bool = False  # SIGSTOP only: the old leader, continued, did not exit within 2 x renew deadline
    renew_age: float = float("nan")  # the old holder's last renewTime -> the signal


def _pod(name: str) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists",
                                      "effect": "NoSchedule"}],
                     "containers": [{"name": "pause", "image": "registry.k8s.io/pause:3.10"}]}}


def trial(replicas: Any, target: HTTPTarget, cluster: Any, sig_name: str, n: int) -> Trial:
    index = replicas.leader(timeout=30)
    if index is None:
        raise RuntimeError("no replica started here holds the Lease")
    name = f"failover-{n:03d}"
    with LeaseWatcher(cluster.lease, poll=0.05) as watcher:
        time.sleep(RETRY_PERIOD * 1.5)  # a renewal of this term is seen before the signal
        old_holder = cluster.lease_holder() or ""
        listed = target.list("pods", NAMESPACE)
        watch = target.watch("pods", NAMESPACE, resource_version=str(listed.body["metadata"]["resourceVersion"]))
        replicas.signal(index, SIGNALS[sig_name])
        start = time.monotonic()
        created = target.create("pods", NAMESPACE, _pod(name))
        if created.code != 201:
            raise RuntimeError(f"create pod {name}: {created.code} {created.body}")
        bind_at = None
        while bind_at is None and time.monotonic() - start < 4 * UPPER:
            for e in watch.drain(timeout=0.05):
                obj = e.get("object") or {}
                if obj.get("metadata", {}).get("name") == name and (obj.get("spec") or {}).get("nodeName"):
                    bind_at = time.monotonic()
        watch.close()
        signalled_wall = time.time() - (time.monotonic() - start)
        lingered = False
        if sig_name == "SIGSTOP":
            replicas.signal(index, signal.SIGCONT)
            wait_exit = time.monotonic() + 2 * RENEW_DEADLINE
            while replicas.revive() == 0 and time.monotonic() < wait_exit:  # it exits once it sees the Lease lost
                time.sleep(0.1)
            if time.monotonic() >= wait_exit:
                lingered = True  # the continued old leader did not exit within 2 x renew deadline
                replicas.restart(index)
        else:
            replicas.restart(index)
        time.sleep(RETRY_PERIOD * 1.5)  # the new holder renews; the restarted replica becomes a candidate
        # read last: the Lease is polled, and the binding may be seen before the new holder's record
        seen = watcher.first_holder_other_than(old_holder, start)
    records = [o.record for o in watcher.observations]
    problems = lease_checks.records(records, 0.05)
    old = [o.record for o in watcher.observations if o.record.holder == old_holder and o.at < start]
    new = next((r for r in records if seen is not None and r.holder == seen.record.holder), None)
    since = (lease_checks.parse_time(new.acquire_time) - lease_checks.parse_time(old[-1].renew_time)
             if old and new and new.acquire_time and old[-1].renew_time else float("nan"))
    target.delete("pods", NAMESPACE, name, options={"gracePeriodSeconds": 0})
    nan = float("nan")
    renew_age = (signalled_wall - lease_checks.parse_time(old[-1].renew_time)
                 if old and old[-1].renew_time else nan)
    return Trial(sig_name, (seen.at - start) if seen else nan, (bind_at - start) if bind_at else nan, since,
                 len(records), problems, lingered, renew_age)


def _quantiles(xs: list[float]) -> str:
    xs = sorted(x for x in xs if x == x)
    if not xs:
        return "| — | — | — | — |"
    p90 = xs[min(len(xs) - 1, int(round(0.9 * (len(xs) - 1))))]
    return f"| {xs[0]:.1f} | {statistics.median(xs):.1f} | {p90:.1f} | {xs[-1]:.1f} |"


def summary(which: str, trials: list[Trial]) -> str:
    lines = [f"failover of the leading {which} replica (lease {LEASE_DURATION:g} s, renew {RENEW_DEADLINE:g} s, "
             f"retry {RETRY_PERIOD:g} s; a new holder is due {LOWER:g} to {UPPER:g} s after the signal)", "",
             "| signal | trials | from | to | min (s) | median (s) | p90 (s) | max (s) | outside the bound | "
             "lease.single-holder-per-term |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for sig in SIGNALS:
        ts = [t for t in trials if t.signal == sig]
        if not ts:
            continue
        held = f"held in {sum(1 for t in ts if not t.problems)} of {len(ts)}"
        lingered = sum(1 for t in ts if t.lingered)
        if lingered:
            held += f"; {lingered} continued old leaders did not exit"
        holder = [t.holder_s for t in ts]
        bind = [t.bind_s for t in ts]
        outside = sum(1 for x in holder if not LOWER <= x <= UPPER)
        unbound = sum(1 for x in bind if x != x)
        lines += [f"| {sig} | {len(ts)} | signal | new holder {_quantiles(holder)} {outside} | {held} |",
                  f"| {sig} | {len(ts)} | signal | next bind {_quantiles(bind)} {unbound} not bound | |",
                  f"| {sig} | {len(ts)} | last renewTime | new acquireTime "
                  f"{_quantiles([t.since_renew for t in ts])} | |"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m conformance.failover", description=__doc__.splitlines()[0])
    ap.add_argument("--which", choices=["kube-scheduler", "bundled"], default="kube-scheduler")
    ap.add_argument("--trials", type=int, default=20, help="trials per signal (default 20)")
    ap.add_argument("--signals", default="SIGKILL,SIGSTOP")
    ap.add_argument("--out", default=None, help="default: reports/failover-<which>.md")
    args = ap.parse_args(argv)
    sigs = [s.strip() for s in args.signals.split(",") if s.strip()]
    if set(sigs) - set(SIGNALS):
        ap.error(f"--signals takes {', '.join(SIGNALS)}")
    kube = cluster_module()
    trials: list[Trial] = []
    replicas: Any = None
    n_kube = 2 if args.which == "kube-scheduler" else 0
    with kube.Cluster(schedulers=n_kube, lease_duration=LEASE_DURATION, renew_deadline=RENEW_DEADLINE,
                      retry_period=RETRY_PERIOD) as cluster:
        target = HTTPTarget(str(cluster.kubeconfig))
        try:
            replicas = (KubeReplicas(cluster) if n_kube else
                        BundledReplicas(cluster.kubeconfig, cluster.workdir, lease_duration=LEASE_DURATION,
                                        renew_deadline=RENEW_DEADLINE, retry_period=RETRY_PERIOD))
            target.create("namespaces", None, {"apiVersion": "v1", "kind": "Namespace",
                                               "metadata": {"name": NAMESPACE}})
            node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": NODE},
                    "status": {"allocatable": {"cpu": "4", "memory": "32Gi", "pods": "110"},
                               "capacity": {"cpu": "4", "memory": "32Gi", "pods": "110"},
                               "conditions": [{"type": "Ready", "status": "True"}]}}
            target.create("nodes", None, node)
            print(f"kube-apiserver {cluster.version().get('gitVersion')}; {replicas.name} x2", flush=True)
            n = 0
            for sig in sigs:
                for _ in range(args.trials):
                    n += 1
                    t = trial(replicas, target, cluster, sig, n)
                    trials.append(t)
                    print(f"{n:>3} {sig}: new holder {t.holder_s:.2f}s, bind {t.bind_s:.2f}s, "
                          f"{t.since_renew:.2f}s after the last renewal (made {t.renew_age:.2f}s before the signal), "
                          f"{t.records} records"
                          + (f"; lease.single-holder-per-term: {t.problems}" if t.problems else "")
                          + ("; the continued old leader did not exit" if t.lingered else ""), flush=True)
        finally:
            if replicas is not None:
                replicas.close()
            target.close()
    text = summary(args.which, trials)
    print("\n" + text)
    out = Path(args.out or REPO / "reports" / f"failover-{args.which}.md")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text + "\n")
    print(f"\nwritten to {out}")
    return 1 if any(t.problems for t in trials) else 0


if __name__ == "__main__":
    raise SystemExit(main())
