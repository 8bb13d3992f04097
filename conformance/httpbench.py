"""``python -m conformance.httpbench``: steps per second of the API-server state machine over HTTP, and where a
step's time goes.

Serves the bundled API server in its own process (``python -m controlplane
serve``) on memory and on etcd storage, and, with ``--kubeconfig KC
--allow-writes``, reaches any other server (a real kube-apiserver) too. Against
each it runs the API-server machine through the http adapter, scoped per example
(each example's own names, label and cleanup, as against any shared server), and
prints (a real server's known findings are kept under ``reports/findings/``, not failed on:
``KUBEPROP_REPORT_KNOWN=1``):

- steps per second beside the builtin target's rate measured the same way;
- the account of a step from kubeprop's side: requests per step, milliseconds on
  the wire (from handing a request to urllib3 until its whole answer was read:
  the network and the server), in the adapter (URL, JSON encoding and decoding),
  and in the rest of kubeprop (Hypothesis, the model, the checks, the scoped
  names), and the answer bytes per request (``adapters.http.CallTimes``);
- probes, ``--probes`` of each (medians): a GET over a kept connection and over a
  fresh one (TCP, and TLS where the server speaks it), a create, decoding one
  pod's JSON, a watch's start (until its answer's headers) and one event's
  delivery on it (from sending a create until its event arrived).

Nothing is asserted. Requests per second per verb over HTTP are
``python -m controlplane.etcdbench``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from typing import Any

from adapters import http as http_adapter
from adapters.http import HTTPTarget
from adapters.scoped import ScopedTarget
from adapters.served import ServedServer
from conformance.bench import steps_per_second
from conformance.findings import REPORT_KNOWN_ENV, KnownFinding
from conformance.machines import APIServerMachine
from conformance.runner import machine_for

NS = "bench"


def _pod(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [{"name": "c", "image": "busybox:1.36"}]}}


def _median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def _timed(fn: Callable[[], Any], n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def account(machine: type, examples: int, steps: int) -> dict[str, float]:
    """Run the machine and split its time per step: wire, adapter, the rest of kubeprop."""
    times = http_adapter.CALL_TIMES = http_adapter.CallTimes()
    try:
        rate, done, seconds = steps_per_second(machine, APIServerMachine, examples, steps)
    finally:
        http_adapter.CALL_TIMES = None
    per = 1000 / max(done, 1)
    return {"steps/s": rate, "steps": done, "seconds": seconds, "requests/step": times.calls / max(done, 1),
            "wire ms": times.wire * per, "adapter ms": (times.total - times.wire) * per,
            "rest ms": (seconds - times.total) * per, "bytes/request": times.received / max(times.calls, 1)}


def _worker(kubeconfig: str, context: str | None, examples: int, steps: int, out: Any) -> None:
    """One worker process of ``--workers``: the machine against the server, its steps and seconds to ``out``."""
    warnings.filterwarnings("ignore", category=KnownFinding)
    machine = machine_for(APIServerMachine, kind="http", kubeconfig=kubeconfig, context=context)
    _, done, seconds = steps_per_second(machine, APIServerMachine, examples, steps)
    out.put((done, seconds))


def workers(kubeconfig: str, context: str | None, count: int, examples: int, steps: int) -> dict[str, float]:
    """``count`` processes running the machine at once against one server (each example in its own names, as
    ``pytest -n`` workers do); steps per second over all of them, from the first start to the last end."""
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(kubeconfig, context, examples, steps, out)) for _ in range(count)]
    t0 = time.perf_counter()
    for p in procs:
        p.start()
    results = [out.get() for _ in procs]
    for p in procs:
        p.join()
    wall = time.perf_counter() - t0
    total = sum(done for done, _ in results)
    return {"workers": count, "steps": total, "seconds": wall, "steps/s": total / wall}


def probes(kubeconfig: str, context: str | None, n: int) -> dict[str, float]:
    """Medians of single requests against one server, in a namespace of their own that is removed after."""
    target = ScopedTarget(HTTPTarget(kubeconfig, context))
    inner = target.inner
    assert isinstance(inner, HTTPTarget)
    out: dict[str, float] = {}
    try:
        target.create("namespaces", None, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
        created = target.create("pods", NS, _pod("p0"))
        if created.code != 201:
            raise RuntimeError(f"cannot create the probe pod: {created.code} {created.body}")
        out["GET kept ms"] = _median_ms(_timed(lambda: target.get("pods", NS, "p0"), n))
        path = inner.url + inner._path("pods", target.outward_name(NS), "p0")

        def fresh_get() -> None:
            pool = inner._plain_pool()
            assert pool is not None
            pool.request("GET", path, headers={**inner.session.headers, **inner._auth_headers()}, retries=False)
            pool.clear()

        out["GET fresh connection ms"] = _median_ms(_timed(fresh_get, n))
        raw = inner._pool.request("GET", path, headers={**inner.session.headers, **inner._auth_headers()}).data
        out["pod bytes"] = len(raw)
        out["decode pod us"] = _median_ms(_timed(lambda: json.loads(raw), n)) * 1000
        names = iter(range(1, 10 ** 6))
        out["create ms"] = _median_ms(_timed(lambda: target.create("pods", NS, _pod(f"c{next(names)}")), n))
        starts, events = [], []
        for i in range(min(n, 30)):
            rv = target.list("pods", NS).body["metadata"]["resourceVersion"]
            t0 = time.perf_counter()
            watch = target.watch("pods", NS, resource_version=rv)
            starts.append(time.perf_counter() - t0)
            t1 = time.perf_counter()
            made = target.create("pods", NS, _pod(f"w{i}"))
            watch.drain(until_rv=made.body["metadata"]["resourceVersion"], timeout=10)
            events.append(time.perf_counter() - t1)
            watch.close()
        out["watch start ms"] = _median_ms(starts)
        out["watch event ms"] = _median_ms(events)
    finally:
        target.close()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=100, help="examples per target (default 100)")
    parser.add_argument("--steps", type=int, default=25, help="stateful steps per example (default 25)")
    parser.add_argument("--storage", default="memory,etcd",
                        help="comma-separated storages of the served bundled server: memory, etcd ('' for none)")
    parser.add_argument("--kubeconfig", default=None, help="also measure the server this kubeconfig names")
    parser.add_argument("--context", default=None, help="the kubeconfig's context (default: its current one)")
    parser.add_argument("--allow-writes", action="store_true",
                        help="needed with --kubeconfig: the bench writes there (in namespaces of its own)")
    parser.add_argument("--probes", type=int, default=100, help="requests per probe (default 100)")
    parser.add_argument("--workers", default="",
                        help="with --kubeconfig: comma-separated worker counts (e.g. 1,2,4), each running "
                             "--examples at once against that server; prints their steps per second together")
    args = parser.parse_args(argv)
    if args.kubeconfig and not args.allow_writes:
        parser.error("--kubeconfig writes to that server (in namespaces of its own): pass --allow-writes")
    if args.kubeconfig:
        # a release's known findings are reported and the run goes on, as `make differential` does
        os.environ.setdefault(REPORT_KNOWN_ENV, "1")
        warnings.filterwarnings("ignore", category=KnownFinding)  # each is kept under reports/findings/
    rows: list[tuple[str, dict[str, float], dict[str, float]]] = []
    rate, steps, seconds = steps_per_second(machine_for(APIServerMachine), APIServerMachine, args.examples,
                                            args.steps)
    rows.append(("builtin (in process)", {"steps/s": rate, "steps": steps, "seconds": seconds}, {}))

    def measure(name: str, kubeconfig: str, context: str | None = None) -> None:
        print(f"-- {name}", file=sys.stderr, flush=True)
        machine = machine_for(APIServerMachine, kind="http", kubeconfig=kubeconfig, context=context)
        rows.append((name, account(machine, args.examples, args.steps), probes(kubeconfig, context, args.probes)))

    for storage in [s.strip() for s in args.storage.split(",") if s.strip()]:
        with tempfile.TemporaryDirectory(prefix="kubeprop-httpbench-") as tmp, \
                ServedServer(tmp, storage=storage) as served:
            measure(f"served over HTTP, {storage}", served.kubeconfig)
    if args.kubeconfig:
        version = HTTPTarget(args.kubeconfig, args.context).server_version().get("gitVersion", "?")
        measure(f"{version} at {HTTPTarget(args.kubeconfig, args.context).url}", args.kubeconfig, args.context)
    print(f"== API-server machine over HTTP ({args.examples} examples x {args.steps} steps, scoped per example)")
    cols = ["steps", "seconds", "steps/s", "requests/step", "wire ms", "adapter ms", "rest ms", "bytes/request"]
    print(f"{'target':<42}" + "".join(f"{c:>15}" for c in cols))
    for name, acc, _ in rows:
        print(f"{name:<42}" + "".join(f"{acc[c]:>15.{0 if c in ('steps', 'steps/s', 'bytes/request') else 2}f}"
                                      if c in acc else f"{'-':>15}" for c in cols), flush=True)
    if args.kubeconfig and args.workers:
        print(f"== workers against {args.kubeconfig} ({args.examples} examples x {args.steps} steps each)")
        print(f"{'workers':>8}{'steps':>10}{'seconds':>10}{'steps/s':>10}")
        for count in [int(w) for w in args.workers.split(",") if w.strip()]:
            print(f"-- {count} workers", file=sys.stderr, flush=True)
            got = workers(args.kubeconfig, args.context, count, args.examples, args.steps)
            print(f"{count:>8}{got['steps']:>10.0f}{got['seconds']:>10.1f}{got['steps/s']:>10.0f}", flush=True)
    print(f"== probes (medians of {args.probes}; watches of 30)")
    pcols = ["GET kept ms", "GET fresh connection ms", "create ms", "pod bytes", "decode pod us", "watch start ms",
             "watch event ms"]
    print(f"{'target':<42}" + "".join(f"{c:>25}" for c in pcols))
    for name, _, probe in rows:
        if probe:
            print(f"{name:<42}" + "".join(f"{probe[c]:>25.2f}" for c in pcols), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
