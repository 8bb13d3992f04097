"""Scheduler replicas on the wall clock: one thread per replica drives a step-driven Scheduler.

``python -m controlplane serve --schedulers N`` runs N of these against the
served APIServer (the APIServer object is the replicas' client: the same verbs
the HTTP routes call). Each thread does what kube-scheduler's main loop does
(cmd/kube-scheduler/app/server.go: Run; pkg/scheduler/scheduler.go: Run):

- every retry period, one tryAcquireOrRenew (client-go tools/leaderelection/leaderelection.go: renew/acquire);
- while it leads: schedule_one until the queue has nothing ready, each chosen pod's Binding handed to a pool of
  bind threads and posted while the loop schedules the next pod (schedule_one.go runs each bindingCycle in a
  goroutine of its own; the pod counts as assumed on its node until the binding's answer is in);
- then it sleeps until the next wakeup the replica asks for (a pod leaving backoff, the elector due), at
  most ``poll`` seconds, so pods created meanwhile are picked up promptly.

``stop()`` ends every thread and each replica releases the lease if it holds it
(leaderelection.go: ReleaseOnCancel, which kube-scheduler sets).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from .scheduler import Scheduler

log = logging.getLogger(__name__)

IDENTITY = "kubeprop-scheduler-{i}"
#: bindings in flight at once per replica (kube-scheduler starts a goroutine per binding, bounded only by its
#: client's QPS and burst; threads cost more, and 16 keep a loopback API server busy)
BIND_THREADS = 16


def _wall_clock() -> datetime:
    return datetime.now(UTC)


class ReplicaThread:
    """One Scheduler replica and the thread that steps it."""

    def __init__(self, client: Any, i: int, *, faults: Iterable[str] = (), retry_period: float = 2.0,
                 lease_duration: float = 15.0, renew_deadline: float = 10.0, poll: float = 0.05,
                 identity: str | None = None, **options: Any) -> None:
        self.scheduler = Scheduler(client, identity=identity or IDENTITY.format(i=i), clock=_wall_clock,
                                   faults=faults, seed=i, lease_duration=lease_duration,
                                   renew_deadline=renew_deadline, retry_period=retry_period, **options)
        self.retry_period = retry_period
        self.poll = poll
        self.bound = 0
        self._stop = threading.Event()
        # the loop thread and the bind threads share the replica; each step on it holds this lock, a Binding's
        # request does not
        self._lock = threading.RLock()
        self._binds = ThreadPoolExecutor(BIND_THREADS, thread_name_prefix=f"kubeprop-scheduler-{i}-bind")
        self._thread = threading.Thread(target=self._run, name=f"kubeprop-scheduler-{i}", daemon=True)

    def start(self) -> None:
        with self._lock:
            self.scheduler.start()
        self._thread.start()

    def leading(self) -> bool:
        """Whether the replica leads now (asked from another thread)."""
        with self._lock:
            return self.scheduler.leading()

    def _work(self) -> bool:
        """One scheduling cycle, its Binding (if any) handed to the bind threads; whether it did something."""
        with self._lock:
            cycle = self.scheduler.schedule_one()
            taken = self.scheduler.take_bind()
        if taken is not None:
            self._binds.submit(self._bind, taken)
        return cycle is not None

    def _bind(self, taken: Any) -> None:
        try:
            step = self.scheduler.post_bind(taken)
            with self._lock:
                self.scheduler.finish_bind(taken, step)
                if 200 <= step.code < 300:
                    self.bound += 1
        except Exception:  # one failed binding must not end the pool's thread
            log.exception("scheduler %s failed a binding", self.scheduler.identity)

    def _run(self) -> None:
        next_tick = 0.0
        while not self._stop.is_set():
            try:
                now = time.monotonic()
                if now >= next_tick:
                    with self._lock:
                        self.scheduler.tick()
                    next_tick = now + self.retry_period
                with self._lock:
                    acts = self.scheduler.may_act()  # it leads (or, under a seeded fault, acts as if it did)
                if acts:
                    while not self._stop.is_set() and self._work():
                        pass
                else:
                    with self._lock:
                        self.scheduler.sync()  # a candidate keeps its informers current, as upstream does
                with self._lock:
                    wake = self.scheduler.next_wakeup()
            except Exception:  # a replica must outlive one bad step, as a crash-looping pod would come back
                log.exception("scheduler %s failed a step", self.scheduler.identity)
                wake = None
            wait = min(self.poll, max(0.0, next_tick - time.monotonic()))
            if wake is not None:
                wait = min(wait, max(0.0, wake))
            self._stop.wait(wait)

    def stop(self, timeout: float = 10.0) -> None:
        """End the loop, then release the lease (if held) and close the informers."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        self._binds.shutdown(wait=True)  # bindings already posted get their answers before the lease goes
        try:
            with self._lock:
                self.scheduler.stop()
        except Exception:
            log.exception("scheduler %s did not stop cleanly", self.scheduler.identity)


class Replicas:
    """N replicas against one client; ``start()`` / ``stop()``."""

    def __init__(self, client: Any, count: int, *, faults: Iterable[str] = (), **timing: float) -> None:
        faults = tuple(faults)
        self.replicas = [ReplicaThread(client, i, faults=faults, **timing) for i in range(count)]

    def start(self) -> Replicas:
        for r in self.replicas:
            r.start()
        return self

    def stop(self) -> None:
        for r in self.replicas:
            r._stop.set()
        for r in self.replicas:
            r.stop()
