"""Test-only controls of a served API server: a clock that moves when told, and compaction on request.

A conformance harness checks timestamps and watch expiry exactly only when it
can read and move the server's clock and compact its history, as it does in
process. ``python -m controlplane serve --test-controls`` (never on by default)
serves these under ``/kubeprop/v1/``:

- ``GET  /kubeprop/v1/now`` → ``{"now": "2026-01-01T00:00:00Z"}``
- ``POST /kubeprop/v1/clock`` with ``{"advanceSeconds": N}`` → the new ``now``
- ``POST /kubeprop/v1/compact`` → ``{"compacted": true}`` (history up to the current revision is gone)

They take the same bearer token as the API.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from .apiserver.meta import format_time
from .apiserver.server import APIServer

PREFIX = "/kubeprop/v1/"


class ManualClock:
    """A UTC clock that starts at the given time (default: now, whole seconds) and moves only when advanced."""

    def __init__(self, start: datetime | None = None) -> None:
        start = start if start is not None else datetime.now(UTC)
        self._now = start.astimezone(UTC).replace(microsecond=0)
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, seconds: int) -> datetime:
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        with self._lock:
            self._now += timedelta(seconds=seconds)
            return self._now


class HarnessControls:
    """Answers the ``/kubeprop/v1/`` requests for one API server and its manual clock."""

    def __init__(self, api: APIServer, clock: ManualClock) -> None:
        self.api = api
        self.clock = clock

    def handle(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        """(HTTP code, JSON body) for one request under PREFIX."""
        what = path[len(PREFIX):]
        if what == "now" and method == "GET":
            return 200, {"now": format_time(self.clock())}
        if what == "clock" and method == "POST":
            seconds = body.get("advanceSeconds") if isinstance(body, dict) else None
            if not isinstance(seconds, int) or isinstance(seconds, bool) or not 0 <= seconds <= 10**9:
                return 400, {"error": "advanceSeconds must be a non-negative integer"}
            return 200, {"now": format_time(self.clock.advance(seconds))}
        if what == "compact" and method == "POST":
            self.api.compact()
            return 200, {"compacted": True}
        if what in ("now", "clock", "compact"):
            return 405, {"error": f"{method} is not allowed on {path}"}
        return 404, {"error": f"no control {path}"}
