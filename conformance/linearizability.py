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
keyed on its sources, and fed the history as JSON on stdin.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

BUILD_SCRIPT = Path(__file__).resolve().parent.parent / "tools" / "linearize" / "build.sh"

EXIT_BAD_INPUT = 3


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
    done = subprocess.run([str(binary())], input=json.dumps(history), capture_output=True, text=True,
                          check=False, timeout=None if timeout <= 0 else timeout + 60)
    message = done.stderr.strip()
    if done.returncode == EXIT_BAD_INPUT:
        raise ValueError(message.removeprefix("linearize: bad input: ") or "the checker rejected the history")
    try:
        verdict = json.loads(done.stdout)
    except json.JSONDecodeError:
        raise RuntimeError(f"the linearizability checker exited {done.returncode} without a verdict: "
                           f"{message or done.stdout!r}") from None
    return Result(result=verdict["result"], seconds=verdict["seconds"], operations=verdict["operations"],
                  visualization=None if verdict["visualization"] is None else Path(verdict["visualization"]),
                  partitions=verdict["partitions"])
