"""Requests per second through HTTP for create, get, update and bind, on memory and on etcd storage.

    python -m controlplane.etcdbench [--n 300] [--storage memory,etcd] [--unsafe-no-fsync]

One client, one request at a time, keep-alive, against the bundled server on a free loopback port
(etcd, when asked for, is a private one started for the run). Counts are bounded; it stops by itself.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from collections.abc import Callable

import requests

from .apiserver.etcd import EtcdStorage
from .apiserver.server import APIServer
from .apiserver.storage import MemoryStorage, Storage
from .etcdproc import EtcdProcess
from .http import HTTPAPIServer

TOKEN = "etcdbench"
OPS = ("create", "get", "update", "bind")


def _timed(n: int, one: Callable[[int], None]) -> float:
    t0 = time.perf_counter()
    for i in range(n):
        one(i)
    return n / (time.perf_counter() - t0)


def bench(storage: Storage, n: int) -> dict[str, float]:
    server = HTTPAPIServer(APIServer(storage), token=TOKEN).start()
    try:
        s = requests.Session()
        s.headers["Authorization"] = f"Bearer {TOKEN}"
        base = server.url + "/api/v1/namespaces"
        s.post(base, json={"metadata": {"name": "bench"}}, timeout=30).raise_for_status()
        pods = base + "/bench/pods"
        for _ in range(50):  # warm the connection and the server's code paths before timing
            s.get(base + "/bench", timeout=30).raise_for_status()
        bodies: list[dict] = []

        def create(i: int) -> None:
            r = s.post(pods, json={"metadata": {"name": f"p{i}"},
                                   "spec": {"containers": [{"name": "c", "image": "busybox"}]}}, timeout=30)
            r.raise_for_status()
            bodies.append(r.json())

        def get(i: int) -> None:
            s.get(f"{pods}/p{i}", timeout=30).raise_for_status()

        def update(i: int) -> None:
            body = bodies[i]
            body["metadata"]["labels"] = {"n": str(i)}
            s.put(f"{pods}/p{i}", json=body, timeout=30).raise_for_status()

        def bind(i: int) -> None:
            body = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": f"p{i}"},
                    "target": {"kind": "Node", "name": "n1"}}
            s.post(f"{pods}/p{i}/binding", json=body, timeout=30).raise_for_status()

        out = {name: _timed(n, fn) for name, fn in zip(OPS, (create, get, update, bind), strict=True)}
        s.close()
        return out
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m controlplane.etcdbench", description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=300, help="requests per operation (default 300)")
    p.add_argument("--storage", default="memory,etcd", help="comma-separated: memory, etcd")
    p.add_argument("--unsafe-no-fsync", action="store_true", help="start etcd with --unsafe-no-fsync")
    args = p.parse_args(argv)
    n = max(1, min(args.n, 100_000))
    results: dict[str, dict[str, float]] = {}
    for kind in [k.strip() for k in args.storage.split(",") if k.strip()]:
        with contextlib.ExitStack() as stack:
            if kind == "memory":
                storage: Storage = MemoryStorage()
            elif kind == "etcd":
                proc = stack.enter_context(EtcdProcess(unsafe_no_fsync=args.unsafe_no_fsync))
                storage = stack.enter_context(EtcdStorage(proc.endpoint))
            else:
                print(f"unknown storage {kind!r}", file=sys.stderr)
                return 2
            results[kind] = bench(storage, n)
    print(f"requests/s over HTTP, one client, {n} requests per operation")
    print(f"{'storage':<10}" + "".join(f"{op:>10}" for op in OPS))
    for kind, row in results.items():
        print(f"{kind:<10}" + "".join(f"{row[op]:>10.0f}" for op in OPS))
    return 0


if __name__ == "__main__":
    sys.exit(main())
