"""Scheduler replicas as processes the harness can kill, stop and restart: who leads is read from the Lease.

Two kinds behind one shape (``leader``, ``signal``, ``restart``, ``revive``,
``fresh``, ``close``):

- :class:`BundledReplicas`: ``python -m controlplane scheduler`` processes
  against any API server (the served bundled one, or a real kube-apiserver),
  with identity ``bundled-<index>-<start>`` so the Lease's holderIdentity
  names the process;
- :class:`KubeReplicas`: the kube-scheduler replicas of ``tools/kube/cluster.py``
  (their identity is hostname_uuid; the cluster matches it to a process).

Both kinds exit when they find they lost the Lease they held
(kube-scheduler: cmd/kube-scheduler/app/server.go, OnStoppedLeading);
``revive`` starts again whatever exited, as a kubelet restarts a crashed
container.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent


class BundledReplicas:
    """``count`` bundled scheduler processes against the server behind ``kubeconfig``."""

    name = "bundled"

    def __init__(self, kubeconfig: str | Path, workdir: str | Path, *, count: int = 2, faults: Iterable[str] = (),
                 lease_duration: float = 15.0, renew_deadline: float = 10.0, retry_period: float = 2.0,
                 wire: Any = None) -> None:
        """With a ``wire`` (conformance/wire.py) each process reaches the server through it under its own identity,
        so the wire can tell which replica sent what (``attributed``); ``kubeconfig`` is still the harness's."""
        self.kubeconfig = str(kubeconfig)
        self.wire = wire
        self.attributed = wire is not None
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.faults = list(faults)
        self.lease_duration, self.renew_deadline, self.retry_period = lease_duration, renew_deadline, retry_period
        self.starts = 0
        self.identities: list[str] = [""] * count  # the identity each current process campaigns with
        from adapters.http import HTTPTarget

        self._api = HTTPTarget(self.kubeconfig)
        self.procs: list[subprocess.Popen[bytes]] = [self._start(i) for i in range(count)]

    def _start(self, index: int) -> subprocess.Popen[bytes]:
        self.starts += 1
        self.identities[index] = f"bundled-{index}-{self.starts}"
        log = open(self.workdir / f"bundled-scheduler-{index}.log", "ab")  # noqa: SIM115 - the child holds it
        kubeconfig = self.wire.kubeconfig_for(self.identities[index]) if self.wire is not None else self.kubeconfig
        args = [sys.executable, "-m", "controlplane", "scheduler", "--kubeconfig", kubeconfig,
                "--identity", self.identities[index], "--lease-duration", f"{self.lease_duration:g}",
                "--renew-deadline", f"{self.renew_deadline:g}", "--retry-period", f"{self.retry_period:g}"]
        for f in self.faults:
            args += ["--fault", f]
        return subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, cwd=REPO, env={**os.environ})

    def holder(self) -> str:
        r = self._api.get("leases", "kube-system", "kube-scheduler")
        return str(((r.body or {}).get("spec") or {}).get("holderIdentity") or "") if r.code == 200 else ""

    def leader(self, timeout: float = 0.0) -> int | None:
        """The index of the live process that holds the Lease (waiting up to ``timeout`` s), or None."""
        deadline = time.monotonic() + timeout
        while True:
            holder = self.holder()
            if holder in self.identities:
                index = self.identities.index(holder)
                if self.procs[index].poll() is None:
                    return index
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.1)

    def signal(self, index: int, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.procs[index].send_signal(sig)

    def restart(self, index: int) -> None:
        """A new process (a new identity) in place of ``index``, whatever state the old one was in."""
        old = self.procs[index]
        if old.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                old.send_signal(signal.SIGCONT)
                old.kill()
        old.wait()
        self.procs[index] = self._start(index)

    def revive(self) -> int:
        """Start again every replica that exited; how many."""
        dead = [i for i, p in enumerate(self.procs) if p.poll() is not None]
        for i in dead:
            self.procs[i].wait()
            self.procs[i] = self._start(i)
        return len(dead)

    def stop_all(self) -> None:
        """Every replica stopped with SIGTERM: each releases the Lease it holds, as on a clean shutdown."""
        for p in self.procs:
            with contextlib.suppress(ProcessLookupError):
                p.send_signal(signal.SIGCONT)
                p.terminate()
        for p in self.procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    def start_all(self) -> None:
        self.revive()

    def fresh(self) -> None:
        """Every replica stopped (releasing the Lease, as on SIGTERM) and started again."""
        self.stop_all()
        self.start_all()

    def close(self) -> None:
        self.stop_all()
        self._api.close()


class KubeReplicas:
    """The kube-scheduler replicas of a started ``tools/kube/cluster.py`` Cluster."""

    name = "kube-scheduler"

    def __init__(self, cluster: Any, wire: Any = None) -> None:
        """With a ``wire`` (conformance/wire.py), every replica started from now on reaches the server through it,
        sending JSON so that it can read their Bindings."""
        self.cluster = cluster
        if wire is not None:
            cluster.scheduler_kubeconfig = wire.kubeconfig
            cluster.scheduler_content_type = "application/json"
        self.lease_duration = cluster.lease_duration
        self.renew_deadline = cluster.renew_deadline
        self.retry_period = cluster.retry_period

    def holder(self) -> str:
        return self.cluster.lease_holder() or ""

    def leader(self, timeout: float = 0.0) -> int | None:
        index = self.cluster.leader(timeout=timeout)
        if index is None or not self.cluster.schedulers[index].alive():
            return None
        return int(index)

    def signal(self, index: int, sig: int) -> None:
        """Signal replica ``index``; one that has exited gets nothing (kube-scheduler exits when it loses the Lease,
        cmd/kube-scheduler/app/server.go: OnStoppedLeading; a leader past its renew deadline on a loaded machine may
        exit just before the harness stops it, and a stop sent to a process that has exited but is not yet reaped
        does nothing): :meth:`revive` starts it again."""
        scheduler = self.cluster.schedulers[index]
        try:
            scheduler.signal(sig)
        except Exception:
            if scheduler.alive():
                raise

    def restart(self, index: int) -> None:
        self.cluster.restart_scheduler(index)

    def revive(self) -> int:
        dead = [i for i, r in enumerate(self.cluster.schedulers) if not r.alive()]
        for i in dead:
            self.cluster.restart_scheduler(i)
        return len(dead)

    def stop_all(self) -> None:
        for r in self.cluster.schedulers:
            r.terminate()  # SIGTERM: kube-scheduler releases the Lease (ReleaseOnCancel)

    def start_all(self) -> None:
        self.revive()

    def fresh(self) -> None:
        for i in range(len(self.cluster.schedulers)):
            self.cluster.restart_scheduler(i)

    def close(self) -> None:
        pass


def wait_alive(replicas: Any, seconds: float) -> None:
    """Sleep ``seconds``, reviving replicas that exit meanwhile."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        replicas.revive()
        time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))

