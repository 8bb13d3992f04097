"""``python -m conformance.bench``: how fast the harness runs and how fast it finds each seeded fault.

Prints two tables:
1. steps per second of the API-server state machine against the builtin target,
   beside a bare Hypothesis state machine with trivial rules run with the same
   settings in the same process; their ratio is kubeprop's overhead;
2. for every seeded fault, over several seeds: the median time to the first
   failing example, the median total time including shrinking, the median
   length of the shrunk sequence, and whether the named invariant was the one
   reported.

Nothing here asserts a time: it measures and prints.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from typing import Any

from hypothesis import HealthCheck, Phase, seed, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from conformance import profiles
from conformance.invariants import InvariantViolation
from conformance.machines import APIServerMachine, CheckedMachine
from conformance.runner import base_for_fault, machine_for
from conformance.scheduling import SchedulerMachine


class BareMachine(RuleBasedStateMachine):
    """Trivial rules and one invariant: what Hypothesis itself costs per step."""

    steps = 0

    def __init__(self) -> None:
        super().__init__()
        self.value = 0

    @rule(n=st.integers(0, 10))
    def add(self, n: int) -> None:
        self.value += n

    @rule(n=st.integers(0, 10))
    def sub(self, n: int) -> None:
        self.value -= n

    @invariant()
    def counted(self) -> None:
        BareMachine.steps += 1


def _settings(examples: int, steps: int, **extra: Any) -> settings:
    return settings(max_examples=examples, stateful_step_count=steps, deadline=None, database=None,
                    suppress_health_check=list(HealthCheck), **extra)


def steps_per_second(machine: type[RuleBasedStateMachine], counter: type, examples: int,
                     steps: int) -> tuple[float, int, float]:
    """Run ``machine`` and read the step count its invariant keeps on ``counter`` (a base class)."""
    counter.steps = 0
    cls = seed(0)(type(machine.__name__ + "Bench", (machine,), {}))
    t0 = time.perf_counter()
    run_state_machine_as_test(cls, settings=_settings(examples, steps, phases=[Phase.generate]))
    elapsed = time.perf_counter() - t0
    return counter.steps / elapsed, counter.steps, elapsed


def hunt(fault: str, invariant: str, seed_value: int, examples: int, steps: int) -> dict[str, Any]:
    cls = machine_for(base_for_fault(fault), faults=[fault])
    cls = seed(seed_value)(cls)
    CheckedMachine.first_failure_at = None
    t0 = time.perf_counter()
    found: InvariantViolation | None = None
    try:
        run_state_machine_as_test(cls, settings=_settings(examples, steps, phases=profiles.NO_EXPLAIN))
    except InvariantViolation as err:
        found = err
    except BaseExceptionGroup as group:  # several distinct failures: keep the one the fault names
        matches = [e for e in group.exceptions if isinstance(e, InvariantViolation)]
        found = next((e for e in matches if e.invariant == invariant), matches[0] if matches else None)
    total = time.perf_counter() - t0
    first = CheckedMachine.first_failure_at
    return {
        "caught": found is not None and found.invariant == invariant,
        "reported": found.invariant if found else "-",
        "first": (first - t0) if first else total,
        "total": total,
        "length": getattr(found, "steps", 0) if found else 0,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5, help="seeds per fault (default 5)")
    default = profiles.PROFILES[profiles.DEFAULT]
    parser.add_argument("--examples", type=int, default=default.max_examples,
                        help="max examples per run (default: the default profile's)")
    parser.add_argument("--steps", type=int, default=default.stateful_step_count,
                        help="stateful steps per example (default: the default profile's)")
    parser.add_argument("--fault", action="append", help="only these faults")
    args = parser.parse_args(argv)

    from adapters.inprocess import known_faults

    print("== harness overhead (builtin target, in process)", flush=True)
    bare_rate, bare_steps, bare_time = steps_per_second(BareMachine, BareMachine, args.examples, args.steps)
    conf_rate, conf_steps, conf_time = steps_per_second(machine_for(APIServerMachine), APIServerMachine,
                                                        args.examples, args.steps)
    print(f"{'machine':<28}{'steps':>8}{'seconds':>10}{'steps/s':>10}")
    print(f"{'bare Hypothesis machine':<28}{bare_steps:>8}{bare_time:>10.2f}{bare_rate:>10.0f}")
    print(f"{'kubeprop API server':<28}{conf_steps:>8}{conf_time:>10.2f}{conf_rate:>10.0f}", flush=True)
    sched_rate, sched_steps, sched_time = steps_per_second(machine_for(SchedulerMachine), SchedulerMachine,
                                                           max(1, args.examples // 5), args.steps)
    print(f"{'kubeprop scheduler + lease':<28}{sched_steps:>8}{sched_time:>10.2f}{sched_rate:>10.0f}")
    print(f"overhead: {bare_rate / conf_rate:.1f}x slower per step than the bare machine (API server), "
          f"{bare_rate / sched_rate:.1f}x (scheduler)\n", flush=True)

    faults = [(f, inv) for f, inv, _ in known_faults() if not args.fault or f in args.fault]
    print(f"== time to find each seeded fault (median of {args.seeds} seeds, max {args.examples} examples "
          f"x {args.steps} steps)", flush=True)
    print(f"{'fault':<28}{'invariant':<30}{'caught':>8}{'first s':>9}{'total s':>9}{'shrunk':>8}")
    missed = 0
    for fault, inv in faults:
        runs = [hunt(fault, inv, s, args.examples, args.steps) for s in range(args.seeds)]
        caught = sum(r["caught"] for r in runs)
        missed += caught < len(runs)
        print(f"{fault:<28}{inv:<30}{caught:>5}/{len(runs):<2}"
              f"{statistics.median(r['first'] for r in runs):>9.2f}"
              f"{statistics.median(r['total'] for r in runs):>9.2f}"
              f"{statistics.median(r['length'] for r in runs):>8.0f}", flush=True)
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
