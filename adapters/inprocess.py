"""The ``builtin`` target: the bundled API server in this process, deterministic.

A fake clock (moved only by :meth:`InProcessControls.advance_clock`) and uids
from a counter make the same sequence of calls give the same answers, so the
state machine alone decides every interleaving. Watch events arrive in the
watcher's queue at commit time, so ``drain`` never has to wait.

This is the only module outside ``controlplane/`` that imports it.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from adapters.base import JSON, LIST_FORMS, WATCH_FORMS, Response, TargetError
from adapters.resources import BY_PLURAL
from controlplane.apiserver import APIServer, MemoryStorage, Reply, Watcher
from controlplane.apiserver.meta import format_time
from controlplane.faults import FAULTS
from controlplane.http import HTTPFailure, route


class FakeClock:
    """Time that moves only when told to; always an aware UTC datetime."""

    def __init__(self, start: str) -> None:
        t = datetime.fromisoformat(start.replace("Z", "+00:00"))
        if t.tzinfo is None:
            raise ValueError(f"start time needs a time zone: {start!r}")
        self._now = t.astimezone(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self._now

    def advance(self, seconds: int) -> None:
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        self._now += timedelta(seconds=seconds)


class CounterUIDs:
    """UUID-shaped uids from a counter: the seed in the top bits, the count in the bottom ones."""

    def __init__(self, seed: int) -> None:
        self._seed = seed & 0xFFFF_FFFF
        self._count = 0

    def __call__(self) -> str:
        self._count += 1
        return str(uuid.UUID(int=(self._seed << 96) | (self._count & ((1 << 96) - 1))))


class InProcessControls:
    """adapters.base.Controls for the in-process server."""

    def __init__(self, clock: FakeClock, server: APIServer) -> None:
        self._clock = clock
        self._server = server

    def now(self) -> str:
        return format_time(self._clock())

    def advance_clock(self, seconds: int) -> None:
        self._clock.advance(seconds)

    def compact(self) -> None:
        self._server.compact()


class InProcessWatch:
    """adapters.base.Watch over a server-side watcher; events are already queued, nothing waits."""

    def __init__(self, watcher: Watcher, bookmark: Callable[[Watcher], JSON] | None = None) -> None:
        self._watcher = watcher
        self._bookmark = bookmark
        self._taken: list[JSON] = []

    def drain(self, *, until_rv: str | None = None, timeout: float = 0.0) -> list[JSON]:
        # delivery is synchronous at commit time: everything written so far is queued already
        out, self._taken = self._taken + self._watcher.drain(), []
        return out

    def tick(self) -> None:
        """A bookmark now, after what is queued (a watch with bookmarks; a server sends them when its timer fires,
        here whenever the harness asks)."""
        if self._bookmark is not None and not self._watcher.ended:
            self._taken += self._watcher.drain()
            self._taken.append(self._bookmark(self._watcher))

    @property
    def ended(self) -> bool:
        return self._watcher.ended

    def close(self) -> None:
        self._watcher.close()


def _response(reply: Reply) -> Response:
    return Response(reply.code, reply.body)


class InProcessTarget:
    """adapters.base.Target backed by :class:`controlplane.apiserver.APIServer` over MemoryStorage."""

    name = "builtin"

    def __init__(self, faults: Iterable[str] = (), *, start: str = "2026-01-01T00:00:00Z", seed: int = 0) -> None:
        self.clock = FakeClock(start)
        self.server = APIServer(MemoryStorage(), clock=self.clock, uid_factory=CounterUIDs(seed), faults=faults)
        self.controls = InProcessControls(self.clock, self.server)
        self._watches: list[InProcessWatch] = []
        self.schedulers: InProcessSchedulers | None = None
        self.kubelets: InProcessKubelets | None = None

    def create(self, resource: str, namespace: str | None, body: JSON, *, dry_run: list[str] | None = None
               ) -> Response:
        return _response(self.server.create(resource, namespace, body, dry_run=dry_run))

    def get(self, resource: str, namespace: str | None, name: str, *, resource_version: str = "",
            subresource: str = "") -> Response:
        # the bundled server reads storage for every get: the newest object is a right answer whatever the
        # resourceVersion asks (a cache may only answer older for "0"); a malformed one is refused
        return _response(self.server.get(resource, namespace, name, resource_version, subresource=subresource))

    def list(self, resource: str, namespace: str | None = None, *, label_selector: str | None = None,
             limit: int = 0, continue_: str = "", resource_version: str = "",
             resource_version_match: str = "", form: str = "") -> Response:
        if form:
            return self._resourceless(resource, form)
        return _response(self.server.list(resource, namespace, label_selector=label_selector, limit=limit,
                                          continue_=continue_, resource_version=resource_version,
                                          resource_version_match=resource_version_match))

    @staticmethod
    def _resourceless(resource: str, form: str) -> Response:
        """A URL with no resource in it (adapters.base.LIST_FORMS): there is no URL in process, so the bundled HTTP
        server's router decides what it names, and answers as it would over HTTP (controlplane/http.py: route)."""
        res = BY_PLURAL.get(resource)
        if form not in LIST_FORMS or res is None:
            raise TargetError(f"unknown list URL form {form!r} or resource {resource!r}; known forms: {LIST_FORMS}")
        path = f"{res.prefix}/{form}"
        try:
            route(path)
        except HTTPFailure as failure:
            return Response(failure.code, failure.body)
        raise TargetError(f"the bundled router serves {path}, a URL with no resource in it")

    def update(self, resource: str, namespace: str | None, name: str, body: JSON, *,
               dry_run: list[str] | None = None, subresource: str = "") -> Response:
        return _response(self.server.update(resource, namespace, name, body, dry_run=dry_run, subresource=subresource))

    def patch(self, resource: str, namespace: str | None, name: str, patch: Any, *,
              patch_type: str = "merge", dry_run: list[str] | None = None, subresource: str = "") -> Response:
        return _response(self.server.patch(resource, namespace, name, patch_type, patch, dry_run=dry_run,
                                           subresource=subresource))

    def delete(
        self, resource: str, namespace: str | None, name: str, *, options: JSON | None = None,
        dry_run: list[str] | None = None
    ) -> Response:
        return _response(self.server.delete(resource, namespace, name, options, dry_run=dry_run))

    def bind(self, namespace: str, name: str, body: JSON, *, dry_run: list[str] | None = None,
             legacy: bool = False) -> Response:
        return _response(self.server.bind(namespace, None if legacy else name, body, dry_run=dry_run))

    def watch(
        self,
        resource: str,
        namespace: str | None = None,
        *,
        resource_version: str | None = None,
        label_selector: str | None = None,
        bookmarks: bool = False,
        timeout_seconds: int = 0,
        name: str | None = None,
        form: str = "",
    ) -> InProcessWatch:
        # no timer runs here: a watch ends when closed, and bookmarks come when the harness ticks it; there is no
        # URL either, so every form is the same call
        if form not in WATCH_FORMS:
            raise TargetError(f"unknown watch URL form {form!r}; known: {WATCH_FORMS}")
        w = InProcessWatch(
            self.server.watch(resource, namespace, resource_version=resource_version, label_selector=label_selector,
                              name=name),
            (lambda watcher: self.server.bookmark(resource, watcher)) if bookmarks else None,
        )
        if len(self._watches) >= 64:
            # forget streams the caller already ended, so a long run does not keep them all alive
            self._watches = [x for x in self._watches if not x.ended]
        self._watches.append(w)
        return w

    def start_schedulers(self, count: int, *, offsets: Iterable[float] = (), seed: int = 0,
                         client: Callable[[int, Any], Any] | None = None) -> InProcessSchedulers:
        """Start ``count`` scheduler replicas, each with its own clock (``offsets[i]`` seconds off true time).

        ``client(i, target)`` may wrap the API client replica ``i`` uses (the
        harness checks every call a replica makes this way); by default the
        replicas call this target directly.
        """
        self.schedulers = InProcessSchedulers(self, count, list(offsets), seed, client)
        return self.schedulers

    def start_kubelets(self, count: int, *, grace: float = 50.0, offsets: Iterable[float] = (),
                       client: Callable[[str, Any], Any] | None = None) -> InProcessKubelets:
        """Start ``count`` hollow nodes (``node-0`` ...), each a kubelet over its own container runtime, and the
        node lifecycle controller with a node-monitor grace period of ``grace`` seconds. Kubelet i's clock is
        ``offsets[i]`` seconds off true time (the runtimes and the controller keep true time).

        ``client(who, server)`` may wrap the API client of each kubelet (``who`` is its node's name) and of the
        controller (``who`` is "nodelifecycle"); by default they call the API server directly."""
        self.kubelets = InProcessKubelets(self, count, grace, list(offsets), client)
        return self.kubelets

    def close(self) -> None:
        for w in self._watches:
            w.close()
        self._watches.clear()


#: a settle ends after this many seconds of true time in which no replica scheduled or bound anything: more
#: than a lease takeover (15 s lease at the slowest clock rate) plus the longest pod backoff (10 s)
QUIET_SECONDS = 40
MAX_SETTLE_ROUNDS = 600
MAX_STEPS_PER_ROUND = 100
IDLE_STEP_SECONDS = 2


class ReplicaClock:
    """One replica's clock: true time plus an offset, moved by the harness at a rate near 1."""

    def __init__(self, start: datetime, offset: float) -> None:
        self._now = start + timedelta(seconds=offset)

    def __call__(self) -> datetime:
        return self._now

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a clock only moves forward")
        self._now += timedelta(seconds=seconds)


def _status(code: int, reason: str, message: str) -> dict[str, Any]:
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message,
            "reason": reason, "code": code}


class FlakyLink:
    """The network between one replica and the API server, which the harness can break for one bind."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self._break: str | None = None

    def break_next_bind(self, how: str) -> None:
        if how not in ("refused", "lost"):
            raise ValueError(f"unknown way to break a bind: {how!r} (refused, lost)")
        self._break = how

    def bind(self, namespace: str, name: str, body: Any) -> Any:
        how, self._break = self._break, None
        if how == "refused":
            return Response(503, _status(503, "ServiceUnavailable", "the request did not reach the server"))
        resp = self._client.bind(namespace, name, body)
        if how == "lost":
            return Response(504, _status(504, "Timeout", "the server did not answer in time"))
        return resp

    def __getattr__(self, verb: str) -> Any:
        return getattr(self._client, verb)


def _plain(step: Any) -> dict[str, Any] | None:
    """A replica's step record as a dict (one level: the values are shared, not copied)."""
    return None if step is None else {f.name: getattr(step, f.name) for f in dataclasses.fields(step)}


class InProcessSchedulers:
    """adapters.base.Schedulers: replicas of controlplane.scheduler, each stepped only when the harness says."""

    def __init__(self, target: InProcessTarget, count: int, offsets: list[float], seed: int,
                 client: Callable[[int, Any], Any] | None) -> None:
        from controlplane.scheduler import Scheduler

        self.count = count
        self._target = target
        self.clocks = [ReplicaClock(target.clock(), offsets[i] if i < len(offsets) else 0.0) for i in range(count)]
        self._links = [FlakyLink(client(i, target) if client else target) for i in range(count)]
        self.replicas = [
            Scheduler(self._links[i], identity=f"replica-{i}", clock=self.clocks[i],
                      faults=target.server.faults, seed=seed * 1000 + i)
            for i in range(count)
        ]
        self._alive = [True] * count
        for r in self.replicas:
            r.start()

    def tick(self, i: int) -> dict[str, Any] | None:
        return _plain(self.replicas[i].tick()) if self._alive[i] else None

    def cycle(self, i: int) -> dict[str, Any] | None:
        return _plain(self.replicas[i].schedule_one()) if self._alive[i] else None

    def bind(self, i: int) -> dict[str, Any] | None:
        return _plain(self.replicas[i].bind_one()) if self._alive[i] else None

    def elector_due(self, i: int) -> bool:
        """Whether replica i's elector would attempt now (a retry period has passed on its clock)."""
        return self._alive[i] and self.replicas[i].elector.next_attempt_in() <= 0

    def leading(self, i: int) -> bool:
        return self._alive[i] and self.replicas[i].leading()

    def pending_binds(self, i: int) -> list[dict[str, Any]]:
        if not self._alive[i]:
            return []
        return [{"namespace": ns, "name": name, "uid": uid, "node": node}
                for ns, name, uid, node in self.replicas[i].pending_binds()]

    def break_next_bind(self, i: int, how: str) -> None:
        """Make replica i's next bind fail: ``refused`` (never sent) or ``lost`` (done, answer lost)."""
        self._links[i].break_next_bind(how)

    def crash(self, i: int) -> None:
        if self._alive[i]:
            self.replicas[i].crash()
        self._alive[i] = False

    def restart(self, i: int) -> None:
        self.replicas[i].restart()
        self._alive[i] = True

    def stop(self, i: int) -> None:
        if self._alive[i]:
            self.replicas[i].stop()
        self._alive[i] = False

    def alive(self, i: int) -> bool:
        return self._alive[i]

    def now(self, i: int) -> float:
        return self.clocks[i]().timestamp()

    def next_wakeup(self, i: int) -> float | None:
        return self.replicas[i].next_wakeup() if self._alive[i] else None

    def advance(self, seconds: int, rates: list[float]) -> None:
        self._target.clock.advance(seconds)
        for clock, rate in zip(self.clocks, rates, strict=True):
            clock.advance(seconds * rate)

    def settle(self, *, quiet_seconds: int = QUIET_SECONDS, max_rounds: int = MAX_SETTLE_ROUNDS,
               on_step: Callable[[str, int, Any], None] | None = None) -> dict[str, Any]:
        """Run every replica fairly until nothing changes for ``quiet_seconds`` of true time.

        Down replicas are restarted first. Each round every replica's elector
        ticks, then it completes the binds it has pending, runs scheduling
        cycles and completes their binds; then true time moves one second
        (every clock at rate 1).
        Progress is a cycle that chose a node or a bind attempt; a pod found
        unschedulable again is not.
        ``on_step(kind, i, result)`` sees every step, so a caller can check it.
        """
        report = on_step or (lambda kind, i, result: None)
        for i in range(self.count):
            if not self._alive[i]:
                self.restart(i)
                report("restart", i, None)
        quiet = rounds = 0
        while rounds < max_rounds and quiet < quiet_seconds:
            rounds += 1
            progress = False
            for i in range(self.count):
                report("tick", i, self.tick(i))
                # binds already on their way go out before the next cycles (the binding cycle runs beside the
                # scheduling loop, schedule_one.go: go bindingCycle), then the round's own choices are bound
                for kind, step in (("bind", self.bind), ("cycle", self.cycle), ("bind", self.bind)):
                    for _ in range(MAX_STEPS_PER_ROUND):
                        result = step(i)
                        if result is None:
                            break
                        # a cycle that found no node again changes nothing; a choice or a bind does
                        progress = progress or kind == "bind" or bool(result.get("node"))
                        report(kind, i, result)
            # busy: one second per round; quiet: a retry period, so electors still renew in time
            step = 1 if progress else IDLE_STEP_SECONDS
            quiet = 0 if progress else quiet + step
            if quiet < quiet_seconds:
                self.advance(step, [1.0] * self.count)
                report("advance", -1, step)
        return {"rounds": rounds, "settled": quiet >= quiet_seconds}


class InProcessKubelets:
    """adapters.base.Kubelets: hollow nodes and the node lifecycle controller, each stepped when the harness says.

    Every node's runtime and the controller read true time (the API server's clock); a stopped kubelet (crashed,
    or paused by the harness) takes no steps, while its runtime's containers run on."""

    def __init__(self, target: InProcessTarget, count: int, grace: float, offsets: list[float],
                 client: Callable[[str, Any], Any] | None) -> None:
        from controlplane.kubelet import HollowKubelet, NodeLifecycle, Runtime

        self._target = target
        faults = target.server.faults

        def wrap(who: str) -> Any:
            return client(who, target.server) if client else target.server

        self.nodes = [f"node-{i}" for i in range(count)]
        self.runtimes = [Runtime(n, target.clock) for n in self.nodes]
        def clock(offset: float) -> Callable[[], datetime]:
            return lambda: target.clock() + timedelta(seconds=offset)

        self.kubelets = [HollowKubelet(wrap(n), n, ip=f"10.0.0.{i + 1}",
                                       clock=clock(offsets[i] if i < len(offsets) else 0.0),
                                       runtime=self.runtimes[i], faults=faults) for i, n in enumerate(self.nodes)]
        self.controller = NodeLifecycle(wrap("nodelifecycle"), target.clock, grace=grace, faults=faults)

    def register(self, i: int) -> int:
        return self.kubelets[i].register()

    def heartbeat(self, i: int) -> int:
        return self.kubelets[i].heartbeat()

    def node_status(self, i: int) -> int:
        return self.kubelets[i].node_status()

    def sync(self, i: int) -> list[str]:
        return self.kubelets[i].sync()

    def crash(self, i: int) -> None:
        self.kubelets[i].crash()

    def restart(self, i: int) -> int:
        return self.kubelets[i].restart()

    def monitor(self) -> list[str]:
        return self.controller.monitor()

    def containers(self) -> list[dict[str, Any]]:
        """Every container each node's runtime ran: node, namespace, pod, uid, name, started, stopped (seconds
        since the epoch; stopped None while it runs), exit code."""
        for r in self.runtimes:
            r.reap()  # what a runtime reports includes the containers that ran out meanwhile
        return [{"node": c.node, "namespace": c.namespace, "pod": c.pod, "uid": c.uid, "name": c.name,
                 "started": c.started.timestamp(), "stopped": c.stopped.timestamp() if c.stopped else None,
                 "exit_code": c.exit_code}
                for r in self.runtimes for c in r.records]

    def now(self) -> float:
        return self._target.clock().timestamp()

    def advance(self, seconds: int) -> None:
        self._target.clock.advance(seconds)


def known_faults() -> list[tuple[str, str, str]]:
    """The builtin target's seeded faults: (name, invariant id it breaks, description)."""
    return [(f.name, f.invariant, f.description) for f in FAULTS]


def concurrent_fault(fault: str) -> bool:
    """Whether only concurrent clients reveal a seeded fault (controlplane/faults.py: Fault.concurrent)."""
    return any(f.concurrent for f in FAULTS if f.name == fault)


def consequences(fault: str) -> tuple[str, ...]:
    """The other invariants a seeded fault breaks as a consequence (controlplane/faults.py: Fault.also)."""
    return next((f.also for f in FAULTS if f.name == fault), ())
