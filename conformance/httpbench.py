"""``python -m conformance.httpbench``: steps per second of the API-server state machine over HTTP.

Serves the bundled API server in its own process (``python -m controlplane
serve``) on memory and on etcd storage, runs the API-server machine against it
through the http adapter, scoped per example (each example's own names, label
and cleanup, as against any shared server), and prints steps per second beside
the builtin target's rate measured the same way. Nothing is asserted.
Requests per second per verb over HTTP are ``python -m controlplane.etcdbench``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile

from adapters.served import ServedServer
from conformance.bench import steps_per_second
from conformance.machines import APIServerMachine
from conformance.runner import machine_for


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=100, help="examples per target (default 100)")
    parser.add_argument("--steps", type=int, default=25, help="stateful steps per example (default 25)")
    parser.add_argument("--storage", default="memory,etcd", help="comma-separated: memory, etcd")
    args = parser.parse_args(argv)
    rows: list[tuple[str, float, int, float]] = []
    rate, steps, seconds = steps_per_second(machine_for(APIServerMachine), APIServerMachine, args.examples,
                                            args.steps)
    rows.append(("builtin (in process)", rate, steps, seconds))
    for storage in [s.strip() for s in args.storage.split(",") if s.strip()]:
        with tempfile.TemporaryDirectory(prefix="kubeprop-httpbench-") as tmp, \
                ServedServer(tmp, storage=storage) as served:
            machine = machine_for(APIServerMachine, kind="http", kubeconfig=served.kubeconfig)
            rate, steps, seconds = steps_per_second(machine, APIServerMachine, args.examples, args.steps)
        rows.append((f"served over HTTP, {storage}", rate, steps, seconds))
    print(f"== API-server machine over HTTP ({args.examples} examples x {args.steps} steps, scoped per example)")
    print(f"{'target':<30}{'steps':>8}{'seconds':>10}{'steps/s':>10}")
    for name, rate, steps, seconds in rows:
        print(f"{name:<30}{steps:>8}{seconds:>10.2f}{rate:>10.0f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
