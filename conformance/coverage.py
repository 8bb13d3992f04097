"""``python -m conformance.coverage``: what the API-server machine's examples exercise, on the clean builtin target.

A seeded fault is found only where an example reaches the code it breaks: a dropped DELETED event needs a delete
carried out while a watch on that resource is open, a reordered replay needs a watch started from a
resourceVersion with at least two changes after it. This counts, per example, whether those situations happened,
and the answers every write got (a rule whose target does not exist is answered 404 and exercises little), so a
change of generation can be judged for every seed, not by whether one fixed seed finds one fault.
"""

from __future__ import annotations

import argparse
import collections
import random
import sys
import time
from typing import Any

from hypothesis import Phase, seed, settings
from hypothesis.stateful import run_state_machine_as_test

from conformance import profiles
from conformance.machines import APIServerMachine
from conformance.runner import machine_for, without_local_constants
from conformance.watching import WatchCheck

#: per-example situations, in the order printed
SITUATIONS = {
    "watch": "a watch was open and checked",
    "deleted": "a watch was due a DELETED event",
    "replay": "a watch from a resourceVersion was due at least two changes",
}
#: the writes that act on an object already stored
ACTING = ("update", "patch", "delete", "bind")


def _situations(w: WatchCheck) -> set[str]:
    out = {"watch"}
    kinds = [c.type for c in w.expected]
    if "DELETED" in kinds:
        out.add("deleted")
    if w.start_rv not in (None, "0") and not w.plan.expired and len(kinds) >= 2:
        out.add("replay")
    return out


def measure(seed_value: int, examples: int, steps: int) -> tuple[collections.Counter[str], collections.Counter[Any]]:
    """Run the clean machine for ``examples`` examples of at most ``steps`` steps; return how many examples met
    each situation (and ``examples``, the count), and every write's (verb, resource, code)."""
    per_example: collections.Counter[str] = collections.Counter()
    writes: collections.Counter[Any] = collections.Counter()

    class Counted(machine_for(APIServerMachine)):  # type: ignore[misc,valid-type]
        def __init__(self) -> None:
            super().__init__()
            self._met: set[str] = set()
            per_example["examples"] += 1
            close = self.client.close_watch

            def closing(index: int) -> None:  # a watch closed by a rule counts too
                watches = self.client.watches
                if watches:
                    self._met |= _situations(watches[index % len(watches)])
                close(index)

            self.client.close_watch = closing  # type: ignore[method-assign]

        def teardown(self) -> None:
            for w in self.client.watches:
                self._met |= _situations(w)
            for call in self.history.calls:
                if call.receiver == "target" and call.method in ("create", "update", "patch", "delete", "bind"):
                    plural = "pods" if call.method == "bind" else (call.args[0] if call.args else "?")
                    if call.kwargs.get("subresource"):
                        plural = f"{plural}/{call.kwargs['subresource']}"
                    writes[(call.method, plural, call.code)] += 1
            per_example.update(self._met)
            super().teardown()

    without_local_constants()
    budget = settings(profiles.PROFILES[profiles.DEFAULT], database=None, max_examples=examples,
                      stateful_step_count=steps, phases=[Phase.generate])
    run_state_machine_as_test(seed(seed_value)(Counted), settings=budget)
    return per_example, writes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3, help="random seeds (default 3)")
    parser.add_argument("--seed-list", default="", help="these seeds instead of random ones (comma-separated)")
    parser.add_argument("--examples", type=int, default=300, help="examples per seed (default 300)")
    parser.add_argument("--steps", type=int, default=profiles.PROFILES[profiles.DEFAULT].stateful_step_count,
                        help="stateful steps per example (default: the default profile's)")
    parser.add_argument("--writes", action="store_true", help="also print the answers writes got")
    args = parser.parse_args(argv)
    seeds = ([int(s) for s in args.seed_list.split(",") if s] if args.seed_list
             else [random.SystemRandom().randrange(2**32) for _ in range(args.seeds)])
    print(f"== API-server machine, clean builtin target: {args.examples} examples x {args.steps} steps per seed")
    print(f"seeds: {','.join(map(str, seeds))}")
    print(f"{'seed':>12} " + " ".join(f"{k:>10}" for k in SITUATIONS) + "  acted-2xx   seconds")
    total_writes: collections.Counter[Any] = collections.Counter()
    for s in seeds:
        t0 = time.perf_counter()
        met, writes = measure(s, args.examples, args.steps)
        total_writes.update(writes)
        n = met["examples"] or 1
        acting = [(code, c) for (verb, _, code), c in writes.items() if verb in ACTING]
        done = sum(c for code, c in acting if code is not None and 200 <= code < 300)
        print(f"{s:>12} " + " ".join(f"{100 * met[k] / n:>9.1f}%" for k in SITUATIONS)
              + f" {100 * done / max(1, sum(c for _, c in acting)):>9.1f}%   {time.perf_counter() - t0:7.1f}",
              flush=True)
    print("columns: share of examples in which " + "; ".join(f"{k}: {v}" for k, v in SITUATIONS.items())
          + f"; acted-2xx: share of the writes that act on a stored object ({', '.join(ACTING)}) carried out")
    if args.writes:
        print("\nwrites by answer (all seeds):")
        for (verb, plural, code), count in sorted(total_writes.items(), key=lambda kv: -kv[1]):
            print(f"  {verb:>7} {plural:<11} {code}  {count}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
