"""``python -m conformance.concbench``: what concurrent clients cost, and what the linearizability check costs.

Prints two tables, measured on the builtin target with the clean server:

1. histories per second by client count: rounds of ``--calls`` random calls per
   client (the machine's mix of creates, updates, deletes, gets and lists on
   three nodes), the clients interleaved at random by the same baton the
   concurrent machine uses, each round's history checked;
2. check time against history length and concurrency: one long history per
   (clients, calls per client), made the same way on a fresh server (with lists,
   so Porcupine cannot split it by key), timed through ``conformance.linearizability.check``,
   doubling the calls until a check takes longer than ``--limit`` seconds; the
   largest history checked within the limit is reported per client count.

Nothing here asserts a time: it measures and prints.
"""

from __future__ import annotations

import argparse
import random
import sys
import time

from adapters.inprocess import InProcessTarget
from conformance.concurrency import NODES, Baton, Call, Client, Shared
from conformance.linearizability import Operation, check

#: calls per client at which the growth of table 2 stops
MAX_CALLS = 4096


def _program(rng: random.Random, calls: int) -> list[Call]:
    out = []
    for _ in range(calls):
        verb = rng.choice(("create", "update", "delete", "get", "list"))
        out.append(Call(verb, "" if verb == "list" else rng.choice(NODES),
                        rng.choice(("fresh", "absent", "stale")) if verb in ("update", "delete") else "absent"))
    return out


def history(clients: int, calls: int, seed: int) -> list[Operation]:
    """One round of ``clients`` random programs of ``calls`` calls on a fresh clean server, interleaved at random."""
    rng = random.Random(seed)
    target = InProcessTarget()
    baton = Baton(lambda n: rng.randrange(n))
    target.server.pause = baton.pass_
    shared = Shared()
    cs = [Client(i, target, baton.tick, baton.pass_, shared) for i in range(clients)]
    programs = [_program(rng, calls) for _ in cs]
    baton.run([lambda c=c, p=p: c.run(p) for c, p in zip(cs, programs, strict=True)])
    target.close()
    return [op for c in cs for op in c.ops]


def rounds_per_second(clients: int, calls: int, rounds: int) -> tuple[float, float]:
    """(rounds/s, calls/s) with every round checked."""
    t0 = time.perf_counter()
    total = 0
    for r in range(rounds):
        ops = history(clients, calls, seed=r)
        total += len(ops)
        if check(ops).result != "ok":
            raise SystemExit(f"the clean server gave a history the checker rejects (clients {clients}, seed {r})")
    elapsed = time.perf_counter() - t0
    return rounds / elapsed, total / elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=lambda t: [int(x) for x in t.split(",")], default=[2, 4, 8, 16],
                        help="client counts (comma-separated; default 2,4,8,16)")
    parser.add_argument("--calls", type=int, default=5, help="calls per client in a round (default 5)")
    parser.add_argument("--rounds", type=int, default=50, help="rounds per client count (default 50)")
    parser.add_argument("--limit", type=float, default=10.0, help="seconds a check may take (default 10)")
    parser.add_argument("--max-calls", type=int, default=MAX_CALLS,
                        help=f"calls per client at which table 2 stops growing (default {MAX_CALLS})")
    parser.add_argument("--skip-rate", action="store_true", help="table 2 only")
    args = parser.parse_args(argv)

    if not args.skip_rate:
        print(f"== histories per second, builtin target, {args.calls} calls per client, {args.rounds} rounds each, "
              f"every round checked", flush=True)
        print(f"{'clients':>8}{'rounds/s':>10}{'calls/s':>10}")
        for n in args.clients:
            rps, cps = rounds_per_second(n, args.calls, args.rounds)
            print(f"{n:>8}{rps:>10.1f}{cps:>10.0f}", flush=True)

    print(f"\n== check time by history length and concurrency (one history each; limit {args.limit:.0f}s)", flush=True)
    print(f"{'clients':>8}{'calls':>8}{'check s':>10}  verdict")
    for n in args.clients:
        per, largest = 4, 0
        while True:
            ops = history(n, per, seed=per)
            t0 = time.perf_counter()
            verdict = check(ops, timeout=args.limit).result
            elapsed = time.perf_counter() - t0
            print(f"{n:>8}{len(ops):>8}{elapsed:>10.2f}  {verdict}", flush=True)
            if verdict != "ok" or elapsed > args.limit:
                break
            largest = len(ops)
            if per >= args.max_calls:
                break
            per *= 2
        capped = " (the largest tried)" if per >= args.max_calls and largest else ""
        print(f"  {n} clients: the largest history checked within {args.limit:.0f}s had {largest} calls{capped}",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
