"""``python -m conformance.bench``: how fast the harness runs and how reliably it finds each seeded fault.

Prints two tables:
1. steps per second of the API-server state machine against the builtin target,
   beside a bare Hypothesis state machine with trivial rules run with the same
   settings in the same process; their ratio is kubeprop's overhead;
2. for every seeded fault, over ``--seeds`` random Hypothesis seeds (10 by
   default, drawn afresh each run and printed, so any run can be repeated with
   ``--seed-list``) under the default budget: the share of seeds that caught it
   on the invariant it names, the median time to the first failing example,
   the median total time including shrinking, and the median length of the
   shrunk sequence (medians over the seeds that caught it). Each hunt runs in a
   fresh process, ``--jobs`` at a time.

``caught`` counts the seeds that reported the invariant the fault names;
``any`` also counts those that reported one of the invariants the same bug
breaks as a consequence (``controlplane/faults.py``: ``Fault.also``, each with
its reason): a hunt that stops at its first failure (``--no-shrink``) reports
whichever promise broke first. The command exits non-zero when some fault was
caught, in that wider sense, by fewer than 9 seeds in 10. Nothing here asserts
a time: it measures and prints.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from hypothesis import HealthCheck, Phase, seed, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from conformance import profiles
from conformance.concurrency import ConcurrentMachine
from conformance.invariants import InvariantViolation
from conformance.machines import APIServerMachine, CheckedMachine
from conformance.runner import base_for_fault, machine_for, without_local_constants
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


def hunt(fault: str, invariant: str, seed_value: int, examples: int, steps: int,
         shrink: bool = True, concurrent: bool = False) -> dict[str, Any]:
    """One hunt for ``fault`` on the machine that hunts it (the concurrent machine with ``concurrent``)."""
    cls = machine_for(ConcurrentMachine if concurrent else base_for_fault(fault), faults=[fault])
    cls = seed(seed_value)(cls)
    CheckedMachine.first_failure_at = ConcurrentMachine.first_failure_at = None
    phases = profiles.NO_EXPLAIN if shrink else [p for p in profiles.NO_EXPLAIN if p is not Phase.shrink]
    without_local_constants()
    t0 = time.perf_counter()
    found: InvariantViolation | None = None
    try:
        run_state_machine_as_test(cls, settings=_settings(examples, steps, phases=phases))
    except InvariantViolation as err:
        found = err
    except BaseExceptionGroup as group:  # several distinct failures: keep the one the fault names
        matches = [e for e in group.exceptions if isinstance(e, InvariantViolation)]
        found = next((e for e in matches if e.invariant == invariant), matches[0] if matches else None)
    total = time.perf_counter() - t0
    first = CheckedMachine.first_failure_at or ConcurrentMachine.first_failure_at
    from adapters.inprocess import consequences

    return {
        "caught": found is not None and found.invariant == invariant,
        "caught_any": found is not None and found.invariant in (invariant, *consequences(fault)),
        "reported": found.invariant if found else "-",
        "first": (first - t0) if first else total,
        "total": total,
        "length": getattr(found, "steps", 0) if found else 0,
    }


#: the share of random seeds that must catch a fault
REQUIRED_SHARE = 0.9


def _hunt_job(job: tuple[str, str, int, int, int, bool, bool]) -> dict[str, Any]:
    return hunt(*job)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10, help="random seeds per fault (default 10)")
    parser.add_argument("--seed-list", type=lambda t: [int(x) for x in t.split(",")], default=None,
                        help="these seeds instead of random ones (comma-separated), to repeat a run")
    default = profiles.PROFILES[profiles.DEFAULT]
    parser.add_argument("--examples", type=int, default=default.max_examples,
                        help="max examples per run (default: the default profile's)")
    parser.add_argument("--steps", type=int, default=default.stateful_step_count,
                        help="stateful steps per example (default: the default profile's)")
    parser.add_argument("--fault", action="append", help="only these faults")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="hunts run at once (default: cores)")
    parser.add_argument("--skip-overhead", action="store_true", help="only the fault table")
    parser.add_argument("--no-shrink", action="store_true",
                        help="stop each hunt at its first failure: the share caught and the time to it, no shrunk "
                             "length (shrinking a scheduler example takes minutes)")
    parser.add_argument("--concurrent", action="store_true",
                        help="hunt every fault with the concurrent machine (its watch checks across writers name "
                             "the invariants the sequential machine's do)")
    args = parser.parse_args(argv)

    from adapters.inprocess import known_faults

    if not args.skip_overhead:
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
    seeds = args.seed_list or [random.SystemRandom().randrange(2**32) for _ in range(args.seeds)]
    print(f"== each seeded fault over {len(seeds)} random seeds (max {args.examples} examples x {args.steps} steps "
          f"each, {args.jobs} at a time)\nseeds: {','.join(map(str, seeds))}", flush=True)
    print(f"{'fault':<34}{'invariant':<30}{'caught':>8}{'any':>6}{'first s':>9}{'total s':>9}{'shrunk':>8}"
          f"  reported otherwise")
    short = 0
    with ProcessPoolExecutor(max_workers=args.jobs, max_tasks_per_child=1) as pool:
        pending = {fault: pool.map(_hunt_job, [(fault, inv, s, args.examples, args.steps,
                                                       not args.no_shrink, args.concurrent) for s in seeds])
                   for fault, inv in faults}
        for fault, inv in faults:
            runs = list(pending[fault])
            caught = [r for r in runs if r["caught"]]
            caught_any = [r for r in runs if r["caught_any"]]
            short += len(caught_any) < REQUIRED_SHARE * len(runs)
            found = caught or caught_any or runs
            missed = [f"{s} ({r['reported']})" for s, r in zip(seeds, runs, strict=True) if not r["caught"]]
            print(f"{fault:<34}{inv:<30}{len(caught):>5}/{len(runs):<2}{len(caught_any):>3}/{len(runs):<2}"
                  f"{statistics.median(r['first'] for r in found):>9.2f}"
                  f"{statistics.median(r['total'] for r in found):>9.2f}"
                  f"{'-' if args.no_shrink else format(statistics.median(r['length'] for r in found), '.0f'):>8}"
                  f"  {', '.join(missed) or '-'}", flush=True)
    if short:
        print(f"{short} fault(s) caught by fewer than {REQUIRED_SHARE:.0%} of the seeds")
    return 1 if short else 0


if __name__ == "__main__":
    sys.exit(main())
