"""The black-box scheduling machine (conformance/blackbox.py) against ``serve --schedulers 2``: the bundled
replicas pass; with a seeded fault in them, the machine fails on that fault's invariant, seen only through the API.

Derandomized, a small budget, no shrinking (a server that runs in real time would make shrinking slow)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from adapters.served import ServedServer
from conformance.blackbox import run_blackbox
from conformance.invariants import violations_in

EXAMPLES = 4
STEPS = 12


def test_clean_bundled_schedulers_pass(serve: Callable[..., ServedServer]) -> None:
    served = serve(schedulers=2)
    # the bundled scheduler keeps its FitError to itself: no PodScheduled=False condition to judge
    machine = run_blackbox(served.kubeconfig, examples=EXAMPLES, steps=STEPS, shrink=False,
                           reports_unschedulable=False)
    assert machine.stats.get("bindings", 0) > 0, machine.stats


@pytest.mark.parametrize(("fault", "invariant"), [
    ("scheduler.ignores-taints", "scheduler.fits"),
    ("lease.ignores-expiry", "lease.single-holder-per-term"),
])
def test_seeded_fault_is_caught_from_outside(serve: Callable[..., ServedServer], fault: str,
                                              invariant: str) -> None:
    served = serve(schedulers=2, faults=[fault])
    with pytest.raises(AssertionError) as caught:
        run_blackbox(served.kubeconfig, examples=8, steps=15, shrink=False, reports_unschedulable=False)
    assert [v.invariant for v in violations_in(caught.value)] == [invariant], caught.value
