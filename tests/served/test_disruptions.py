"""Faults while clients run: the concurrent machine over HTTP with a process fault injected in every round.

The served server runs on an external etcd (``controlplane.etcdproc.EtcdProcess``), so etcd can be paused,
killed and restarted under it, the server killed and restarted on the same port and token, two servers run
on one etcd with the clients spread across them, and etcd compacted while watches are open. Every round's
history must stay linearizable with the list read after it (no acknowledged write lost), and every watch
that ended must be resumed or answered 410 (``watch.resumable``). A server that keeps its store in memory,
killed and restarted, loses acknowledged writes: the same rounds must say so.

``KUBEPROP_DISRUPTION_EXAMPLES`` sets the examples per fault (``make concurrency`` runs more).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from adapters.served import ServedServer
from conformance import concurrency, disruption
from conformance.concurrency import ConcurrentMachine
from conformance.invariants import ObservedViolation
from conformance.runner import machine_for, run
from controlplane.apiserver.etcd import EtcdStorage
from controlplane.apiserver.storage import Compacted
from controlplane.etcdproc import EtcdProcess

EXAMPLES = int(os.environ.get("KUBEPROP_DISRUPTION_EXAMPLES", "5"))
#: a few examples of at most three rounds each, the same ones on every run
BUDGET = settings(max_examples=EXAMPLES, stateful_step_count=3, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
#: figures of every fault's run, printed at the end of the session
FIGURES: dict[str, str] = {}


@contextlib.contextmanager
def fleet(tmp_path: Path, servers: int = 1, storage: str = "etcd") -> Iterator[disruption.Fleet]:
    """``servers`` served servers on one external etcd (the same key prefix: one store)."""
    with contextlib.ExitStack() as stack:
        etcd = stack.enter_context(EtcdProcess(unsafe_no_fsync=True)) if storage == "etcd" else None
        started = []
        for i in range(servers):
            s = ServedServer(tmp_path / f"served-{i}", storage=storage,
                             etcd_endpoint=etcd.endpoint if etcd else None, etcd_prefix="/shared")
            stack.callback(s.stop)
            started.append(s.start())
        compact = None
        if etcd is not None:
            store = stack.enter_context(EtcdStorage(etcd.endpoint))

            def compact() -> None:
                with contextlib.suppress(Compacted):  # nothing written since the last compaction
                    store.compact(store.current_revision())

        yield disruption.Fleet([s.kubeconfig for s in started], etcd=etcd, apiservers=started, compact=compact)


def _run(fleet_: disruption.Fleet, fault: disruption.Disruption) -> None:
    machine = machine_for(ConcurrentMachine, kind="http", kubeconfig=fleet_.kubeconfigs[0])
    machine.disruption = fault  # type: ignore[attr-defined]
    run(machine, BUDGET)
    FIGURES[fault.name] = fault.tally.summary()
    print(f"{fault.name}: {fault.tally.summary()}; {sorted(set(fault.done))[:4]}")
    # the derandomized examples start small: five give four rounds, each with its fault
    assert fault.tally.rounds >= min(EXAMPLES - 1, 4), fault.tally.summary()


FAULTS: dict[str, tuple[int, Callable[..., str]]] = {
    "etcd-pause": (1, disruption.etcd_pause()),
    "etcd-kill-restart": (1, disruption.etcd_restart),
    "apiserver-kill-restart": (1, disruption.apiserver_restart),
    "two-apiservers-one-killed": (2, disruption.apiserver_restart),
    "compaction": (1, disruption.compaction),
}


@pytest.mark.parametrize("name", list(FAULTS))
def test_disrupted_rounds_keep_the_guarantees(tmp_path: Path, name: str) -> None:
    servers, inject = FAULTS[name]
    with fleet(tmp_path, servers) as f:
        _run(f, disruption.Disruption(name, f, inject, seed=0))


def test_two_apiservers_on_one_etcd(tmp_path: Path) -> None:
    """No fault: clients spread across two servers on one store see one linearizable store."""
    with fleet(tmp_path, 2) as f:
        _run(f, disruption.Disruption("two-apiservers", f, disruption.nothing, seed=0))


def test_a_server_that_loses_acknowledged_writes_is_caught(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                            ) -> None:
    """A server on memory storage, killed and restarted mid-round, comes back empty: writes its clients were
    told succeeded are gone, and the round's history with the list read after it is not linearizable."""
    monkeypatch.setattr(concurrency, "REPEATS", 0)  # found once is enough here: each repeat restarts the server
    with fleet(tmp_path, 1, storage="memory") as f:
        fault = disruption.Disruption("memory-kill-restart", f, disruption.apiserver_restart, within=3.0, seed=0)
        with pytest.raises(ObservedViolation) as found:
            _run(f, fault)
    assert found.value.invariant in ("api.linearizable", "watch.resumable", "watch.list-then-watch",
                                     "watch.reliable"), found.value
    print(f"memory-kill-restart: found {found.value.invariant} after {fault.tally.rounds} round(s)")
