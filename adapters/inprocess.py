"""The ``builtin`` target: the bundled API server in this process, deterministic.

A fake clock (moved only by :meth:`InProcessControls.advance_clock`) and uids
from a counter make the same sequence of calls give the same answers, so the
state machine alone decides every interleaving. Watch events arrive in the
watcher's queue at commit time, so ``drain`` never has to wait.

This is the only module outside ``controlplane/`` that imports it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from adapters.base import JSON, Response
from controlplane.apiserver import APIServer, MemoryStorage, Reply, Watcher
from controlplane.apiserver.meta import format_time
from controlplane.faults import FAULTS


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

    def __init__(self, watcher: Watcher) -> None:
        self._watcher = watcher

    def drain(self, *, until_rv: str | None = None, timeout: float = 0.0) -> list[JSON]:
        # delivery is synchronous at commit time: everything written so far is queued already
        return self._watcher.drain()

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

    def create(self, resource: str, namespace: str | None, body: JSON) -> Response:
        return _response(self.server.create(resource, namespace, body))

    def get(self, resource: str, namespace: str | None, name: str) -> Response:
        return _response(self.server.get(resource, namespace, name))

    def list(self, resource: str, namespace: str | None = None, *, label_selector: str | None = None) -> Response:
        return _response(self.server.list(resource, namespace, label_selector=label_selector))

    def update(self, resource: str, namespace: str | None, name: str, body: JSON) -> Response:
        return _response(self.server.update(resource, namespace, name, body))

    def delete(
        self, resource: str, namespace: str | None, name: str, *, options: JSON | None = None
    ) -> Response:
        return _response(self.server.delete(resource, namespace, name, options))

    def bind(self, namespace: str, name: str, body: JSON) -> Response:
        return _response(self.server.bind(namespace, name, body))

    def watch(
        self,
        resource: str,
        namespace: str | None = None,
        *,
        resource_version: str | None = None,
        label_selector: str | None = None,
    ) -> InProcessWatch:
        w = InProcessWatch(
            self.server.watch(resource, namespace, resource_version=resource_version, label_selector=label_selector)
        )
        if len(self._watches) >= 64:
            # forget streams the caller already ended, so a long run does not keep them all alive
            self._watches = [x for x in self._watches if not x.ended]
        self._watches.append(w)
        return w

    def close(self) -> None:
        for w in self._watches:
            w.close()
        self._watches.clear()


def known_faults() -> list[tuple[str, str, str]]:
    """The builtin target's seeded faults: (name, invariant id it breaks, description)."""
    return [(f.name, f.invariant, f.description) for f in FAULTS]
