"""``python -m controlplane scheduler``: a bundled replica as its own process, against the served API over HTTP.

Short lease timings (3 s / 2 s / 0.5 s) keep the failovers quick."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from adapters.http import HTTPTarget
from adapters.served import ServedServer

REPO = Path(__file__).resolve().parents[2]
TIMING = ["--lease-duration", "3", "--renew-deadline", "2", "--retry-period", "0.5"]


@pytest.fixture
def replicas(tmp_path: Path) -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    procs: list[subprocess.Popen[bytes]] = []

    def start(kubeconfig: str, *args: str) -> subprocess.Popen[bytes]:
        log = open(tmp_path / f"replica-{len(procs)}.log", "wb")  # noqa: SIM115 - the child holds it
        p = subprocess.Popen([sys.executable, "-m", "controlplane", "scheduler", "--kubeconfig", kubeconfig,
                              *args], stdout=log, stderr=subprocess.STDOUT, cwd=REPO)
        procs.append(p)
        return p

    yield start
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGCONT)
            p.terminate()
            p.wait(10)


def _pod(name: str, scheduler: str = "default-scheduler") -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"schedulerName": scheduler, "containers": [{"name": "c", "image": "busybox"}]}}


def _wait_bound(api: HTTPTarget, names: list[str], timeout: float = 20.0) -> dict[str, str]:
    deadline = time.monotonic() + timeout
    nodes: dict[str, str] = {}
    while time.monotonic() < deadline:
        items = api.list("pods", "apps").body["items"]
        nodes = {p["metadata"]["name"]: p["spec"].get("nodeName") for p in items}
        if all(nodes.get(n) for n in names):
            break
        time.sleep(0.1)
    return nodes


def _holder(api: HTTPTarget) -> str:
    r = api.get("leases", "kube-system", "kube-scheduler")
    return r.body["spec"].get("holderIdentity") or "" if r.code == 200 else ""


def _wait_holder(api: HTTPTarget, pred: Callable[[str], bool], timeout: float = 20.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        h = _holder(api)
        if pred(h):
            return h
        time.sleep(0.1)
    raise AssertionError(f"the Lease holder is still {_holder(api)!r}")


def test_replica_processes_bind_fail_over_and_exit_on_a_lost_lease(
        serve: Callable[..., ServedServer], replicas: Callable[..., subprocess.Popen[bytes]]) -> None:
    served = serve()
    api = HTTPTarget(served.kubeconfig)
    api.create("namespaces", None, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "apps"}})
    room = {"cpu": "4", "memory": "8Gi", "pods": "110"}
    api.create("nodes", None, {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-a"},
                               "status": {"allocatable": room, "capacity": room}})
    procs = {i: replicas(served.kubeconfig, "--identity", f"r{i}", *TIMING) for i in range(2)}
    # a replica serving another schedulerName leaves default-scheduler's pods alone, and binds its own
    replicas(served.kubeconfig, "--no-leader-elect", "--scheduler-name", "other")
    api.create("pods", "apps", _pod("mine", "other"))
    assert _wait_bound(api, ["mine"])["mine"] == "node-a"

    for i in range(3):
        api.create("pods", "apps", _pod(f"p{i}"))
    assert all(_wait_bound(api, ["p0", "p1", "p2"]).values())
    leader = _wait_holder(api, lambda h: h in ("r0", "r1"))
    other = "r1" if leader == "r0" else "r0"

    # SIGKILL of the leader: the other replica takes the Lease once it ran out, and binds what comes next
    procs[int(leader[1])].kill()
    api.create("pods", "apps", _pod("after-kill"))
    _wait_holder(api, lambda h: h == other)
    assert _wait_bound(api, ["after-kill"])["after-kill"] == "node-a"

    # a replica stopped past its renew deadline and continued finds the Lease lost and exits, as kube-scheduler does
    procs[2] = replicas(served.kubeconfig, "--identity", "r2", *TIMING)
    time.sleep(1)
    stopped = procs[int(other[1])]
    stopped.send_signal(signal.SIGSTOP)
    _wait_holder(api, lambda h: h == "r2")
    stopped.send_signal(signal.SIGCONT)
    assert stopped.wait(10) == 1
    api.create("pods", "apps", _pod("after-stop"))
    assert _wait_bound(api, ["after-stop"])["after-stop"] == "node-a"
    api.close()
