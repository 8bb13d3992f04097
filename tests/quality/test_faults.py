"""The harness on its power to find bugs: every seeded fault must be caught on the invariant it names.

Each case runs the API-server conformance suite under the default profile (no
example database, so nothing is remembered from an earlier run) against the
builtin target with one fault switched on.
"""

from __future__ import annotations

import pytest
from hypothesis import Phase, settings

from adapters.inprocess import known_faults
from conformance import profiles
from conformance.concurrency import ConcurrentMachine
from conformance.invariants import InvariantViolation, violations_in
from conformance.kubelet import KubeletMachine
from conformance.machines import APIServerMachine
from conformance.runner import base_for_fault, machine_for, run
from conformance.scheduling import SchedulerMachine

# a failing example must shrink to a sequence a person can read at a glance
MAX_SHRUNK_STEPS = 12


#: examples per fault: twice the default profile's. Derandomized, the gate meets each fault on one fixed seed,
#: and the faults found late on random seeds (watch.reorders, median first failure at 25 s of a 1,000-example
#: run) need the room there as much as on any seed; a caught fault stops at its first failure
GATE_EXAMPLES = 2 * profiles.PROFILES[profiles.DEFAULT].max_examples


def _budget(examples: int | None = None) -> settings:
    # Derandomized: the gate gives the same verdict on every run of the same code. How often each
    # fault is found across random seeds is what `make bench` measures.
    default = profiles.PROFILES[profiles.DEFAULT]
    # every distinct failure met is reported, so the gate sees the fault's own invariant beside its consequences
    return settings(default, database=None, derandomize=True, max_examples=examples or default.max_examples,
                    report_multiple_bugs=True)




@pytest.mark.quality
@pytest.mark.parametrize(("fault", "invariant"), [(f, i) for f, i, _ in known_faults()],
                         ids=[f for f, _, _ in known_faults()])
def test_seeded_fault_is_caught(fault: str, invariant: str) -> None:
    with pytest.raises((InvariantViolation, BaseExceptionGroup)) as info:
        run(machine_for(base_for_fault(fault), faults=[fault]), _budget(GATE_EXAMPLES))
    found = {v.invariant: v for v in violations_in(info.value)}
    assert invariant in found, f"{fault} should break {invariant}, but the suite reported {sorted(found)}"
    assert "Reproduction" in str(found[invariant])
    assert found[invariant].steps <= MAX_SHRUNK_STEPS, str(found[invariant])


# the sequential watch faults, hunted by the concurrent machine: its watch checks across writers (conformance/checks/
# watch.py) name the same invariants the sequential machine's change-log check does
CONCURRENT_WATCH = [("watch.drops-event", "watch.reliable"), ("watch.reorders", "watch.ordered"),
                    ("watch.resume-duplicates", "watch.resumable"), ("watch.duplicates-event", "watch.unique")]


@pytest.mark.quality
@pytest.mark.parametrize(("fault", "invariant"), CONCURRENT_WATCH, ids=[f for f, _ in CONCURRENT_WATCH])
def test_concurrent_watch_checks_catch(fault: str, invariant: str) -> None:
    # found, not shrunk: shrinking these is the gate's job above, on the machine that hunts them
    budget = settings(_budget(), phases=[Phase.explicit, Phase.generate])
    with pytest.raises((InvariantViolation, BaseExceptionGroup)) as info:
        run(machine_for(ConcurrentMachine, faults=[fault]), budget)
    found = {v.invariant for v in violations_in(info.value)}
    assert invariant in found, f"{fault} should break {invariant} under concurrency, but it reported {sorted(found)}"


@pytest.mark.quality
@pytest.mark.parametrize("machine", [APIServerMachine, SchedulerMachine, ConcurrentMachine, KubeletMachine],
                         ids=lambda m: m.__name__)
def test_clean_builtin_passes(machine: type) -> None:
    run(machine_for(machine), _budget())
