"""The bundled node lifecycle controller on the wall clock: one thread steps a NodeLifecycle (controlplane/kubelet.py).

``python -m controlplane serve --node-lifecycle`` runs one of these against the
served API. The controller is a client of the API like any other: it reaches
the server through its own REST client (controlplane/restclient.py), with the
kubeconfig the server writes. Its loop is kube-controller-manager's
(pkg/controller/nodelifecycle/node_lifecycle_controller.go: Run starts
monitorNodeHealth under wait.UntilWithContext every --node-monitor-period; that
wait is sliding, so a period counts from the end of the pass before).

A pass that raises is logged and the next one comes a period later: the
controller outlives a bad pass, and its errors never reach the server.
``stop()`` ends the loop and waits for the pass under way.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from .faults import FaultSet
from .kubelet import NodeLifecycle

log = logging.getLogger(__name__)

#: pkg/controller/nodelifecycle/config/v1alpha1/defaults.go: NodeMonitorPeriod 5 s, NodeMonitorGracePeriod 50 s (40 s
#: before v1.32.0)
MONITOR_PERIOD = 5.0
GRACE_PERIOD = 50.0


def _wall_clock() -> datetime:
    return datetime.now(UTC)


class NodeLifecycleThread:
    """One NodeLifecycle and the thread that calls its ``monitor()`` every ``period`` seconds."""

    def __init__(self, client: Any, *, grace: float, period: float = MONITOR_PERIOD, faults: Iterable[str] = (),
                 clock: Callable[[], datetime] = _wall_clock, report: Callable[[str], None] | None = None) -> None:
        if grace <= 0 or period <= 0:
            raise ValueError(f"grace period and monitor period must be positive, not {grace} and {period}")
        self.controller = NodeLifecycle(client, clock, grace=grace, faults=FaultSet(tuple(faults)))
        self.period = period
        self.clock = clock
        self.report = report
        self.passes = 0
        self.errors = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="kubeprop-node-lifecycle", daemon=True)

    def start(self) -> NodeLifecycleThread:
        self._thread.start()
        return self

    def step(self) -> list[str]:
        """One pass; what it did, one line per node it marked. An error is logged and answers nothing."""
        try:
            done = self.controller.monitor()
        except Exception:  # noqa: BLE001 - a bad pass must not end the controller, nor the server it runs in
            self.errors += 1
            log.exception("node lifecycle controller: monitorNodeHealth failed")
            return []
        self.passes += 1
        if self.report is not None:
            for line in done:
                self.report(f"{self.clock().strftime('%H:%M:%S.%f')[:-3]} node lifecycle: {line}")
        return done

    def _run(self) -> None:
        while not self._stop.is_set():
            self.step()
            self._stop.wait(self.period)

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
