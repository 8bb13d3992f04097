"""Every seeded API-server fault is still caught through HTTP.

For each fault that lives in the API server (not ``scheduler.*`` / ``lease.*``,
which live in scheduler replicas, nor ``kubelet.*`` / ``nodelifecycle.*``, which
live in the hollow nodes), a served server runs with that fault on and
with ``--test-controls`` (a manual clock and compaction over HTTP, so the clock
and compaction rules run as in process); the API-server machine runs against it
over HTTP, scoped per example, derandomized, and must fail on the invariant the
fault names or on one of the consequences it declares (``Fault.also``). Without
the shrink phase: shrinking replays every candidate over HTTP and can take
minutes, and catching is what this checks; so the first failing example is the
one reported, and it may show only a consequence (a dry-run binding with an
invalid annotation key stores nothing for ``api.validation`` to see, only an
answer the model refuses). tests/quality, in process and with shrinking, holds
each fault to its named invariant and checks how short the shrunk sequence is.
One test id per fault, so ``pytest -n auto`` spreads them over the cores.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import Phase, settings

from adapters.served import ServedServer
from conformance import profiles
from conformance.invariants import InvariantViolation, violations_in
from conformance.machines import APIServerMachine
from conformance.runner import machine_for, run
from controlplane.faults import FAULTS

#: examples per fault: enough for the slowest-found faults (binding.ignores-deleting, watch.no-expiry); a caught
#: fault stops at its first failing example
EXAMPLES = 1500
BUDGET = settings(profiles.PROFILES[profiles.DEFAULT], max_examples=EXAMPLES, database=None, derandomize=True,
                  phases=[Phase.explicit, Phase.generate], print_blob=False)

# the faults only concurrent clients reveal are left out: over HTTP the server's threads choose the interleaving,
# so whether a run meets the fault's window is chance; the builtin gate (tests/quality) chooses it and catches each
API_FAULTS = [f for f in FAULTS if f.name.split(".")[0] not in ("scheduler", "lease", "kubelet", "nodelifecycle")
              and not f.concurrent]




@pytest.mark.quality
@pytest.mark.parametrize(
    ("fault", "invariant"),
    [(f.name, f.invariant) for f in API_FAULTS], ids=[f.name for f in API_FAULTS])
def test_seeded_fault_is_caught_over_http(serve: Callable[..., ServedServer], fault: str, invariant: str) -> None:
    served = serve(faults=[fault], test_controls=True)
    machine = machine_for(APIServerMachine, kind="http", kubeconfig=served.kubeconfig, test_controls=True)
    with pytest.raises((InvariantViolation, BaseExceptionGroup)) as info:
        run(machine, BUDGET)
    violations = violations_in(info.value)
    found = sorted({v.invariant for v in violations})
    declared = {invariant, *next(f.also for f in API_FAULTS if f.name == fault)}
    assert declared & set(found), (f"{fault} should break {invariant} (or {sorted(declared - {invariant})}) over "
                                   f"HTTP, but the suite reported {found}:\n"
                                   + "\n".join(str(v).split("Reproduction")[0] for v in violations))
    assert served.stop() == 0, served.log()
