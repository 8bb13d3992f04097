"""Faults while clients run: process disruptions injected during a concurrent round over HTTP.

A :class:`Disruption` is a named fault over a :class:`Fleet` (the processes behind the target: etcd, one or
more API servers, a way to compact) that runs in its own thread while a round's clients run, after a short
random delay: etcd paused (SIGSTOP, then SIGCONT some hundreds of milliseconds later), etcd killed (SIGKILL)
and started again on the same data directory and ports, an API server killed and started again on the same
port and credentials, etcd compacted at its current revision while watches are open. With two API servers on
one etcd, clients are spread across them (client ``i`` talks to server ``i % n``).

What the harness then asks (``conformance/concurrency.py`` with ``ConcurrentMachine.disruption`` set):

- no acknowledged write is lost: a call that failed in transport, or was answered 429 or 5xx while the fault
  was on, has an unknown outcome (``{"code": 0}``; a write may take effect at any later time or never), and the
  round's history, with the list read after it, must still be linearizable;
- a watch that ends or errors is reopened from the last resourceVersion it delivered (:class:`ResumingWatch`)
  and either goes on with nothing missed (the watch checks on what all its streams delivered together) or
  answers 410 Gone / Expired (``watch.resumable``, judged by ``conformance.checks.watch.resumes_or_expires``).
  A 410 is what the watch cache answers for a resourceVersion older than it holds (apiserver/pkg/storage/
  cacher/watch_cache.go: getAllEventsSinceLocked, "too old resource version"), which is what a cache
  re-initialised after losing etcd holds (cacher.go: startCaching ends every watcher, then lists again), and
  client-go answers it by listing again (client-go/tools/cache/reflector.go, isExpiredError); etcd answers a
  watch from a compacted revision the same way (etcd3/watcher.go turns ErrCompacted into 410).

The faults follow etcd's robustness tests, which kill and restart members and pause processes while traffic
runs and then validate what clients saw (etcd-io/etcd: tests/robustness/failpoint/kill.go, KillFailpoint).
Nothing here starts processes: the fleet's members are handed in (tests build them from ``adapters.served``,
``controlplane.etcdproc`` or ``tools/kube/cluster.py``).
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

from adapters.base import Response, TargetError
from conformance.invariants import TransportFailure

#: the one thread every fault runs on, for the life of the process. A process restarted by a fault asks to be
#: sent SIGTERM when its parent dies (PR_SET_PDEATHSIG), and Linux means the parent *thread*: restarted from a
#: round's short-lived thread, etcd or a server would be stopped as soon as that round ended.
_KEEPER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kubeprop-faults")

#: answers that, while a fault is on, say the server could not do the call (it may still have done it)
UNANSWERED = (429, 500, 502, 503, 504)
WRITES = ("create", "update", "delete", "bind", "mark")


class Pausable(Protocol):
    def pause(self) -> None: ...
    def resume(self) -> None: ...


class Restartable(Protocol):
    def kill(self) -> None: ...
    def restart(self) -> object: ...


@dataclass
class Fleet:
    """The processes behind one target. ``kubeconfigs``: one per API server, in order."""

    kubeconfigs: list[str]
    etcd: Any = None  # Pausable and Restartable
    apiservers: list[Any] = field(default_factory=list)  # Restartable, in the order of kubeconfigs
    compact: Callable[[], object] | None = None  # compact etcd at its current revision


@dataclass
class Tally:
    """What the disruptions did and what the clients saw, over every round (for figures)."""

    rounds: int = 0
    faults: int = 0
    unknown_writes: int = 0
    unknown_reads: int = 0
    reopened: int = 0  # watches that ended and were opened again and went on
    expired: int = 0  # reopened watches answered 410
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, **counts: int) -> None:
        with self.lock:
            for name, n in counts.items():
                setattr(self, name, getattr(self, name) + n)

    def summary(self) -> str:
        return (f"{self.rounds} rounds, {self.faults} faults, {self.unknown_writes} writes and "
                f"{self.unknown_reads} reads with unknown outcome, {self.reopened} watches resumed, "
                f"{self.expired} answered 410")


class Disruption:
    """A named fault over a fleet, run in its own thread while a round's clients run.

    ``inject(fleet, rng)`` does the fault and says what it did. ``within``: seconds a client may spend waiting
    out failures in one round, and watches being reopened, before it is a TransportFailure (or, for a watch
    that cannot be resumed, a ``watch.resumable`` finding).
    """

    def __init__(self, name: str, fleet: Fleet, inject: Callable[[Fleet, random.Random], str], *,
                 max_delay: float = 0.05, within: float = 15.0, seed: int | None = None) -> None:
        self.name = name
        self.fleet = fleet
        self._inject = inject
        self.max_delay = max_delay
        self.within = within
        self.rng = random.Random(seed)
        self.tally = Tally()
        self.done: list[str] = []  # what each round's fault did

    def __repr__(self) -> str:
        return f"Disruption({self.name!r})"

    def kubeconfig(self, client: int) -> str:
        return self.fleet.kubeconfigs[client % len(self.fleet.kubeconfigs)]

    def run(self) -> None:
        """Wait a short random moment (the clients have started), then inject the fault."""
        time.sleep(self.rng.uniform(0.0, self.max_delay))
        self.done.append(_KEEPER.submit(self._inject, self.fleet, self.rng).result())
        self.tally.add(rounds=1, faults=1)

    def patience(self) -> Patience:
        return Patience(self.within, self.tally)

    def answered(self, call: Callable[[], Response], what: str) -> Response:
        """``call``'s answer once the servers answer again (transport failures and 429/5xx retried)."""
        patience = Patience(self.within, None)
        while True:
            try:
                resp = call()
            except TargetError as err:
                patience.wait(f"{what}: {err}")
                continue
            if resp.code not in UNANSWERED:
                return resp
            patience.wait(f"{what}: answered {resp.code} {str(resp.body)[:300]}")

    def resuming(self, open_: Callable[[str], Any], start_rv: str) -> ResumingWatch:
        return ResumingWatch(open_, start_rv, self.within, self.tally)


class Patience:
    """How one client rides out a fault: after a call that failed, wait (a little longer each time) and go on
    with its next call; past ``budget`` seconds of waiting in all, a TransportFailure."""

    def __init__(self, budget: float, tally: Tally | None) -> None:
        self.budget = budget
        self.tally = tally
        self.waited = 0.0
        self.pause = 0.05

    def unanswered(self, verb: str, code: int) -> bool:
        # a page after compaction may get 410 for its continue token (apiserver/pkg/storage/etcd3/store.go:
        # GetList, the continuation's revision compacted); the list it belongs to then tells nothing
        return code in UNANSWERED or (verb == "page" and code == 410)

    def unknown(self, verb: str) -> None:
        if self.tally is not None:
            write = verb in WRITES
            self.tally.add(unknown_writes=int(write), unknown_reads=int(not write))

    def wait(self, what: str) -> None:
        if self.waited >= self.budget:
            raise TransportFailure(f"transport failure, not a finding: the servers did not answer again within "
                                   f"{self.budget:.0f}s of a fault: {what}")
        time.sleep(self.pause)
        self.waited += self.pause
        self.pause = min(self.pause * 2, 1.0)


@dataclass(frozen=True)
class Segment:
    """One stream of a resumed watch: where it started, how many events it delivered, and how it ended:
    ``open`` (still going), ``closed`` (the stream ended), ``error`` (an ERROR event other than 410),
    ``refused`` (the watch request was answered with an error), ``unreachable`` (no answer), ``expired``
    (ERROR 410, or a refusal with 410)."""

    from_rv: str
    events: int
    end: str
    detail: str = ""


def _is_expired(event: dict[str, Any]) -> bool:
    obj = event.get("object") or {}
    return event.get("type") == "ERROR" and isinstance(obj, dict) and obj.get("code") == 410


class ResumingWatch:
    """A watch that, when its stream ends or errors, is opened again from the last resourceVersion it delivered
    (as client-go's reflector does), until it goes on, answers 410, or ``within`` seconds of trying pass.

    ``drain`` returns the events of all its streams joined, without ERROR and BOOKMARK events; ``segments``
    records each stream (the data ``watch.resumable`` is judged on); ``marks`` each bookmark, as (how many events
    came before it, its resourceVersion); ``ended`` is true once it expired or was given up.
    """

    def __init__(self, open_: Callable[[str], Any], start_rv: str, within: float, tally: Tally | None, *,
                 bookmarks: bool = False) -> None:
        self._open = open_
        #: whether its streams ask for bookmarks (a watch that does not will never have ``marks``)
        self.bookmarks = bookmarks
        self.start_rv = start_rv
        self._rv = start_rv
        self.within = within
        self.tally = tally
        self.segments: list[Segment] = []
        self.marks: list[tuple[int, str]] = []
        self.delivered = 0
        self.expired = False
        self.gave_up = False
        self._inner: Any = None
        self._count = 0
        self._reopen(first=True)

    @property
    def ended(self) -> bool:
        return self.expired or self.gave_up

    def _close_segment(self, end: str, detail: str = "") -> None:
        self.segments.append(Segment(self._from, self._count, end, detail))
        if self._inner is not None:
            self._inner.close()
            self._inner = None

    def _reopen(self, first: bool = False) -> None:
        """Open a stream from the last delivered resourceVersion, retrying while the servers do not answer."""
        deadline = time.monotonic() + self.within
        pause = 0.05
        while True:
            self._from, self._count = self._rv, 0
            try:
                inner = self._open(self._rv)
            except TargetError as err:
                self.segments.append(Segment(self._rv, 0, "unreachable", str(err)[:200]))
            else:
                if inner.ended:  # refused: its one ERROR event says why
                    events = inner.drain()
                    inner.close()
                    err = next((e for e in events if e.get("type") == "ERROR"), {"object": {}})
                    if _is_expired(err):
                        self.segments.append(Segment(self._rv, 0, "expired", _message(err)))
                        self.expired = True
                        if self.tally is not None:
                            self.tally.add(expired=1)
                        return
                    self.segments.append(Segment(self._rv, 0, "refused", _message(err)))
                else:
                    self._inner = inner
                    if not first and self.tally is not None:
                        self.tally.add(reopened=1)
                    return
            if time.monotonic() > deadline:
                self.gave_up = True
                return
            time.sleep(pause)
            pause = min(pause * 2, 1.0)

    def drain(self, *, until_rv: str | None = None, timeout: float = 0.0) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        end_at = time.monotonic() + timeout
        while self._inner is not None:
            was_ended = self._inner.ended  # read first: once ended, the drain below holds every event
            got = self._inner.drain(timeout=0.0 if was_ended else max(0.0, end_at - time.monotonic()))
            stopped = detail = ""
            for e in got:
                if e.get("type") == "ERROR":
                    stopped = "expired" if _is_expired(e) else "error"
                    detail = _message(e)
                    break
                rv = ((e.get("object") or {}).get("metadata") or {}).get("resourceVersion")
                if rv and e.get("type") == "BOOKMARK":
                    self.marks.append((self.delivered, rv))
                elif rv:
                    out.append(e)
                    self._count += 1
                    self.delivered += 1
                if rv:
                    self._rv = rv
            if stopped == "expired":
                self._close_segment("expired", detail)
                self.expired = True
                if self.tally is not None:
                    self.tally.add(expired=1)
                break
            if stopped or was_ended:
                self._close_segment(stopped or "closed", detail if stopped else "")
                self._reopen()
                continue
            if out or time.monotonic() >= end_at:
                break
        return out

    def tick(self) -> None:
        """Ask the stream for a bookmark now, where the target sends them on request (the builtin target)."""
        if self._inner is not None:
            getattr(self._inner, "tick", lambda: None)()

    def close(self) -> None:
        if self._inner is not None:
            self.segments.append(Segment(self._from, self._count, "open"))
            self._inner.close()
            self._inner = None

    def record(self) -> list[Segment]:
        """The streams so far, the current one as ``open``."""
        return self.segments + ([Segment(self._from, self._count, "open")] if self._inner is not None else [])


def _message(event: dict[str, Any]) -> str:
    obj = event.get("object") or {}
    return f"{obj.get('code')} {obj.get('reason')}: {obj.get('message')}"[:200] if isinstance(obj, dict) else ""


# ------------------------------------------------------------------------------------------------ the faults


def etcd_pause(low: float = 0.2, high: float = 0.8) -> Callable[[Fleet, random.Random], str]:
    """SIGSTOP etcd, SIGCONT it ``low``..``high`` seconds later: every storage call stalls meanwhile."""
    def inject(fleet: Fleet, rng: random.Random) -> str:
        seconds = rng.uniform(low, high)
        fleet.etcd.pause()
        try:
            time.sleep(seconds)
        finally:
            fleet.etcd.resume()
        return f"etcd paused {seconds * 1000:.0f} ms"
    return inject


def etcd_restart(fleet: Fleet, rng: random.Random) -> str:
    """SIGKILL etcd, then start it again on its data directory and ports."""
    start = time.monotonic()
    fleet.etcd.kill()
    fleet.etcd.restart()
    return f"etcd killed and back in {time.monotonic() - start:.2f}s"


def apiserver_restart(fleet: Fleet, rng: random.Random) -> str:
    """SIGKILL one API server (a random one of several), then start it again on the same port."""
    i = rng.randrange(len(fleet.apiservers))
    start = time.monotonic()
    fleet.apiservers[i].kill()
    fleet.apiservers[i].restart()
    return f"API server {i} killed and back in {time.monotonic() - start:.2f}s"


def compaction(fleet: Fleet, rng: random.Random) -> str:
    """Compact etcd at its current revision while the round's watches are open."""
    assert fleet.compact is not None
    fleet.compact()
    return "etcd compacted"


def nothing(fleet: Fleet, rng: random.Random) -> str:
    """No fault: the clients are only spread across the fleet's API servers."""
    return "no fault"
