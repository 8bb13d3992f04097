"""Linearizability of a recorded history of Kubernetes API calls, checked by Porcupine.

Several clients call one resource type concurrently; each call is recorded with the monotonic
times it was sent and answered. The history is linearizable when the calls can be put in one
order, each taking effect at some instant between its call and its return, in which every
answer is the one a single, sequential API server would give: no stale read, no lost update,
no list that misses an acknowledged write, resourceVersions rising with the order of writes.

The search is Porcupine's (github.com/anishathalye/porcupine, pinned in tools/linearize/go.mod),
the checker etcd's robustness tests use for the same question about etcd (etcd-io/etcd:
tests/robustness/validate/validate.go, models in tests/robustness/model/), including for the
storage traffic kube-apiserver makes, writes conditioned on a key's revision
(tests/robustness/traffic/kubernetes.go). Here the question moves up one layer, to what clients
of the API server see. The sequential specification is kubeprop's own, in
tools/linearize/model.go; tools/linearize/README.md describes it and what it cannot judge. The
checker is a Go program, built once per process by tools/linearize/build.sh into a cache folder
keyed on its sources, and kept running: each history goes to it as one line of JSON on stdin.
"""

from __future__ import annotations

import atexit
import json
import os
import select
import subprocess
import tempfile
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

BUILD_SCRIPT = Path(__file__).resolve().parent.parent / "tools" / "linearize" / "build.sh"


@dataclass(frozen=True)
class Operation:
    """One recorded call: who made it, when (``time.monotonic_ns()``), what it asked and what came back.

    ``input`` is ``{"op": "create"|"update"|"delete"|"get"|"list", "key": "namespace/name", "value": digest,
    "rv": precondition}``, ``output`` is ``{"code": ..., "rv": ..., "value": ..., "items": [...]}`` as in
    tools/linearize/README.md; ``{"code": 0}`` is a call whose outcome is unknown (it timed out, the connection
    broke). ``return_ns`` may be ``None`` only for such a write.
    """

    client: int
    call_ns: int
    return_ns: int | None
    input: Mapping[str, Any]
    output: Mapping[str, Any]

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"client": self.client, "call": self.call_ns, "input": dict(self.input),
                               "output": dict(self.output)}
        if self.return_ns is not None:
            out["return"] = self.return_ns
        return out


@dataclass(frozen=True)
class Result:
    """The checker's verdict; ``unknown`` means the timeout ran out before the search ended."""

    result: Literal["ok", "illegal", "unknown"]
    seconds: float
    operations: int
    visualization: Path | None
    partitions: int

    @property
    def ok(self) -> bool:
        return self.result == "ok"


_binary: Path | None = None
_lock = threading.Lock()


def binary() -> Path:
    """The checker binary, built by tools/linearize/build.sh the first time it is asked for in this process."""
    global _binary
    with _lock:
        if _binary is None:
            _binary = _build()
        return _binary


def _build() -> Path:
    if not BUILD_SCRIPT.is_file():
        raise RuntimeError(f"the linearizability checker's build script is not there: {BUILD_SCRIPT}")
    done = subprocess.run([str(BUILD_SCRIPT)], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        with tempfile.NamedTemporaryFile("w", prefix="kubeprop-linearize-build-", suffix=".log",
                                         delete=False) as log:
            log.write(done.stdout + done.stderr)
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-10:])
        raise RuntimeError(f"building the linearizability checker failed ({BUILD_SCRIPT} exited "
                           f"{done.returncode}); build log: {log.name}\n{tail}")
    folder = Path(done.stdout.strip().splitlines()[-1])
    path = folder / "linearize"
    if not os.access(path, os.X_OK):
        raise RuntimeError(f"{BUILD_SCRIPT} succeeded but left no executable {path}")
    return path


class _Checker:
    """One checker process in serve mode (``linearize --serve``: a history per line in, a verdict per line out),
    kept for the life of this process: a shrinking concurrent example checks thousands of small histories, and
    a process start per history (about 3 ms, with Go's runtime start) was a third of each check. Calls are one
    at a time. A checker that dies or does not answer in time is stopped and started again at the next call."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[str] | None = None

    def _start(self) -> subprocess.Popen[str]:
        if self._proc is None or self._proc.poll() is not None:
            self._proc = subprocess.Popen([str(binary()), "--serve"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                          stderr=subprocess.PIPE, text=True, bufsize=1 << 16)
        return self._proc

    def _stop(self) -> str:
        proc, self._proc = self._proc, None
        if proc is None:
            return ""
        proc.kill()
        try:
            _, err = proc.communicate(timeout=5)
        except (subprocess.TimeoutExpired, ValueError):
            err = ""
        return (err or "").strip()[-2000:]

    def ask(self, line: str, timeout: float | None) -> dict[str, Any]:
        with self._lock:
            proc = self._start()
            assert proc.stdin is not None and proc.stdout is not None
            try:
                proc.stdin.write(line + "\n")
                proc.stdin.flush()
            except (BrokenPipeError, OSError):
                raise RuntimeError(f"the linearizability checker exited {proc.poll()} before reading the history: "
                                   f"{self._stop()}") from None
            ready, _, _ = select.select([proc.stdout], [], [], timeout)
            answer = proc.stdout.readline() if ready else None
            if not answer:
                why = "did not answer within the time allowed" if answer is None else f"exited {proc.poll()}"
                raise RuntimeError(f"the linearizability checker {why} without a verdict: {self._stop()}")
            try:
                return dict(json.loads(answer))
            except json.JSONDecodeError:
                raise RuntimeError(f"the linearizability checker answered no verdict: {answer[:500]!r}; "
                                   f"{self._stop()}") from None

    def close(self) -> None:
        with self._lock:
            self._stop()


_the_checker: _Checker | None = None


def _checker() -> _Checker:
    global _the_checker
    with _lock:
        if _the_checker is None:
            _the_checker = _Checker()
            atexit.register(_the_checker.close)
        return _the_checker


def check(operations: Iterable[Operation | Mapping[str, Any]], *, timeout: float = 10.0,
          visualize: Path | None = None, allow: Iterable[str] = ()) -> Result:
    """Check a history for linearizability, giving up after ``timeout`` seconds of search (0: no limit).

    ``operations`` are ``Operation`` records or the same as JSON-shaped dicts (``call``/``return`` keys). With
    ``visualize``, Porcupine's HTML view of the history and its (partial) linearizations is written there,
    whatever the verdict. ``allow`` names release behaviours that depart from the API's contract and are to be
    accepted (tools/linearize/model.go: behaviours; conformance/findings.py tells which release has which). A
    history the checker cannot read raises ValueError with the checker's message.
    """
    history: dict[str, Any] = {
        "timeout_seconds": timeout,
        "visualize": None if visualize is None else str(Path(visualize).resolve()),
        "allow": list(allow),
        "operations": [op.to_json() if isinstance(op, Operation) else dict(op) for op in operations],
    }
    verdict = _checker().ask(json.dumps(history), None if timeout <= 0 else timeout + 60)
    if "bad_input" in verdict:
        raise ValueError(verdict["bad_input"] or "the checker rejected the history")
    return Result(result=verdict["result"], seconds=verdict["seconds"], operations=verdict["operations"],
                  visualization=None if verdict["visualization"] is None else Path(verdict["visualization"]),
                  partitions=verdict["partitions"])
