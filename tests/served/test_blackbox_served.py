"""The black-box scheduling machine (conformance/blackbox.py) against ``serve --schedulers 2``: the bundled
replicas pass; with a seeded fault in them, the machine fails on that fault's invariant, seen only through the API.

Derandomized, a small budget, no shrinking (a server that runs in real time would make shrinking slow)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from adapters.served import ServedServer
from conformance.blackbox import SHORT_LEASE, run_blackbox
from conformance.invariants import violations_in
from conformance.replicas import BundledReplicas
from conformance.wire import Wire

EXAMPLES = 4
STEPS = 12


def test_clean_bundled_schedulers_pass(serve: Callable[..., ServedServer]) -> None:
    served = serve(schedulers=2)
    # the bundled scheduler keeps its FitError to itself: no PodScheduled=False condition to judge
    machine = run_blackbox(served.kubeconfig, examples=EXAMPLES, steps=STEPS, shrink=False,
                           reports_unschedulable=False)
    assert machine.stats.get("bindings", 0) > 0, machine.stats
    assert machine.stats.get("scores_judged", 0) > 0, machine.stats


@pytest.mark.parametrize(("fault", "invariant"), [
    ("scheduler.ignores-taints", "scheduler.fits"),
    ("scheduler.picks-first-feasible", "scheduler.best-score"),
    ("lease.ignores-expiry", "lease.single-holder-per-term"),
])
def test_seeded_fault_is_caught_from_outside(serve: Callable[..., ServedServer], fault: str,
                                              invariant: str) -> None:
    served = serve(schedulers=2, faults=[fault])
    with pytest.raises(AssertionError) as caught:
        # a generous budget: it ends at the first violation, and a run that meets no choice that matters for
        # picks-first-feasible is rare, but the server runs in real time, so one seed's run is not fixed (README:
        # "Every fault, ten random runs")
        run_blackbox(served.kubeconfig, examples=20, steps=15, shrink=False, reports_unschedulable=False)
    assert [v.invariant for v in violations_in(caught.value)] == [invariant], caught.value


@contextmanager
def _processes(served: ServedServer, work: str, faults: list[str]) -> Iterator[dict[str, Any]]:
    """Scheduler processes reaching the server through the wire: run_blackbox's ``replicas`` and ``wire``."""
    wire = Wire(served.kubeconfig, f"{work}/wire")
    replicas = BundledReplicas(served.kubeconfig, work, faults=faults, wire=wire, **SHORT_LEASE)
    try:
        yield {"replicas": replicas, "wire": wire}
    finally:
        replicas.close()
        wire.close()


def test_clean_scheduler_processes_pass_while_killed_and_paused(serve: Callable[..., ServedServer],
                                                                tmp_path: Path) -> None:
    served = serve()
    with _processes(served, str(tmp_path / "replicas"), []) as processes:
        machine = run_blackbox(served.kubeconfig, examples=EXAMPLES, steps=STEPS, shrink=False,
                               reports_unschedulable=False, **processes)
    assert machine.stats.get("bindings", 0) > 0, machine.stats
    assert machine.stats.get("kills", 0) + machine.stats.get("pauses", 0) > 0, machine.stats


@pytest.mark.parametrize(("fault", "invariant"), [
    ("lease.keeps-transitions", "lease.single-holder-per-term"),
])
def test_seeded_fault_in_scheduler_processes_is_caught(serve: Callable[..., ServedServer], tmp_path: Path,
                                                       fault: str, invariant: str) -> None:
    served = serve()
    with _processes(served, str(tmp_path / "replicas"), [fault]) as processes, \
            pytest.raises(AssertionError) as caught:
        run_blackbox(served.kubeconfig, examples=8, steps=15, shrink=False, reports_unschedulable=False,
                     **processes)
    assert [v.invariant for v in violations_in(caught.value)] == [invariant], caught.value
