"""The served server under load: a thousand open watches and 16 busy clients, and clients that vanish.

Nothing here asserts a time: answers must arrive (generous timeouts only guard against a hang) and timings are
printed (``pytest -s`` shows them).
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest

from adapters.http import HTTPTarget
from adapters.served import ROOT, ServedServer
from conformance.watchbench import DEBUG_WATCHES, Endpoint, WatchFleet, pod, raise_open_file_limit, wait_until_freed

WATCHES = 1000
CLIENTS = 16
ROUNDS = 3
NS = "load"


def _debug(ep: Endpoint) -> dict[str, int]:
    code, body = ep.call("GET", DEBUG_WATCHES)
    assert code == 200, body
    return body


def _client(kubeconfig: str, i: int) -> list[tuple[str, int]]:
    """One busy client on its own connection: create, get and list, ROUNDS times; the status of each."""
    target = HTTPTarget(kubeconfig)
    codes = []
    try:
        for r in range(ROUNDS):
            name = f"c{i}-{r}"
            codes.append(("create", target.create("pods", NS, pod(name)).code))
            codes.append(("get", target.get("pods", NS, name).code))
            codes.append(("list", target.list("pods", NS).code))
    finally:
        target.close()
    return codes


@pytest.mark.parametrize("storage", ["memory", "etcd"])
def test_a_thousand_watches_and_sixteen_busy_clients(serve: Callable[..., ServedServer], storage: str) -> None:
    raise_open_file_limit()
    served = serve(storage=storage)
    ep = Endpoint.from_kubeconfig(served.kubeconfig)
    assert ep.call("POST", "/api/v1/namespaces", {"metadata": {"name": NS}})[0] == 201
    rv = ep.call("GET", f"/api/v1/namespaces/{NS}/pods")[1]["metadata"]["resourceVersion"]
    fleet = WatchFleet(ep, f"/api/v1/namespaces/{NS}/pods?watch=1&resourceVersion={rv}", WATCHES)
    try:
        opened = fleet.open()
        assert _debug(ep)["open"] == WATCHES
        t0 = time.monotonic()
        code, body = ep.call("GET", f"/api/v1/namespaces/{NS}")
        took_get = time.monotonic() - t0
        assert code == 200 and body["metadata"]["name"] == NS
        t0 = time.monotonic()
        with ThreadPoolExecutor(CLIENTS) as pool:
            results = list(pool.map(lambda i: _client(served.kubeconfig, i), range(CLIENTS)))
        took_clients = time.monotonic() - t0
        expected = {"create": 201, "get": 200, "list": 200}
        for codes in results:
            assert [(verb, code) for verb, code in codes] == [(verb, expected[verb]) for verb, _ in codes]
        # every watch, opened before any of these writes, gets every one of them
        writes = CLIENTS * ROUNDS
        fanout = fleet.wait_events(writes, timeout=300)
        names = {f"c{i}-{r}" for i in range(CLIENTS) for r in range(ROUNDS)}
        for stream in fleet.streams:
            events = [json.loads(line) for line in stream.events]
            assert {e["type"] for e in events} == {"ADDED"}
            assert {e["object"]["metadata"]["name"] for e in events} == names
        print(f"\n[{storage}] {WATCHES} watches open in {opened:.2f}s; a GET answered in {took_get * 1000:.1f} ms; "
              f"{CLIENTS} clients x {ROUNDS} x (create, get, list) in {took_clients:.2f}s; all {writes} events "
              f"at every watch {fanout:.2f}s after the last write")
    finally:
        fleet.close()
    # the client closed every watch: the server lets them all go
    freed = wait_until_freed(ep, timeout=60)
    print(f"[{storage}] closed by the client: none open after {freed:.2f}s")


_HOLDER = """
import sys, time
from conformance.watchbench import Endpoint, WatchFleet, raise_open_file_limit
raise_open_file_limit()
fleet = WatchFleet(Endpoint.from_kubeconfig(sys.argv[1]), "/api/v1/pods?watch=1", int(sys.argv[2]))
fleet.open()
print("open", flush=True)
time.sleep(600)
"""


@pytest.mark.parametrize("storage", ["memory", "etcd"])
def test_a_killed_client_frees_its_watches(serve: Callable[..., ServedServer], storage: str) -> None:
    n = 200
    served = serve(storage=storage)
    ep = Endpoint.from_kubeconfig(served.kubeconfig)
    with WatchFleet(ep, "/api/v1/pods?watch=1", 1):  # what the first watch starts for good (etcd's watch stream)
        pass
    wait_until_freed(ep)
    before = _debug(ep)
    holder = subprocess.Popen([sys.executable, "-c", _HOLDER, served.kubeconfig, str(n)], cwd=ROOT,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
        held = _debug(ep)
        assert held["open"] == n
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(30)
    # killed: the kernel closes its sockets; the server ends every watch and cancels its storage watch
    freed = wait_until_freed(ep, timeout=60)
    deadline = time.monotonic() + 60
    while (after := _debug(ep))["threads"] > before["threads"] and time.monotonic() < deadline:
        time.sleep(0.05)
    print(f"\n[{storage}] {n} watches of a killed client: none open after {freed:.2f}s; server threads "
          f"{before['threads']} before, {held['threads']} with them, {after['threads']} after")
    assert after["open"] == 0 and after["threads"] <= before["threads"]
    # and it still serves watches and requests
    assert ep.call("GET", "/api/v1/pods")[0] == 200
