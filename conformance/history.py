"""The record of one example: every call sent to the target and its answer.

On failure the record becomes a runnable Python program that replays the same
calls against the same kind of target and prints each answer, so a bug report
is a file anyone can run.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Check:
    """One answer compared with the model: what the model expected, what came back, and how they differ."""

    expected: dict[str, Any]
    code: int | None
    body: Any
    difference: str | None = None


@dataclass
class Call:
    method: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    code: int | None = None
    body: Any = None
    receiver: str = "target"
    assign: str | None = None
    #: the answers checked while this call ran (kept only by a detailed history)
    checks: list[Check] = field(default_factory=list)

    def render(self) -> str:
        parts = [_py(a) for a in self.args] + [f"{k}={_py(v)}" for k, v in self.kwargs.items()]
        return f"{self.receiver}.{self.method}({', '.join(parts)})"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"receiver": self.receiver, "method": self.method, "args": jsonable(self.args),
                               "kwargs": jsonable(self.kwargs)}
        if self.assign:
            out["assign"] = self.assign
        if self.code is not None:
            out["code"] = self.code
        if self.body is not None:
            out["body"] = jsonable(self.body)
        if self.checks:
            out["checks"] = [jsonable(vars(c)) for c in self.checks]
        return out


@dataclass
class Step:
    """One rule of the state machine as it ran: its name, its arguments (as Hypothesis prints them) and the
    calls it made, ``calls[start:end]`` of the history."""

    rule: str
    params: dict[str, str]
    start: int
    end: int


@dataclass
class Failure:
    """The invariant an example broke, where, and the reproduction written for it."""

    invariant: str
    detail: str
    program: str
    path: str
    #: steps run when it broke; ``in_invariant``: it broke in the checks after the last step, not in a rule
    steps: int
    in_invariant: bool
    watches: list[dict[str, Any]] = field(default_factory=list)
    #: more files to attach to the report: name -> (path, MIME type); e.g. Porcupine's view of a history
    files: dict[str, tuple[str, str]] = field(default_factory=dict)


def _py(value: Any) -> str:
    # JSON literals that are also Python literals
    return repr(json.loads(json.dumps(value))) if value is not None else "None"


def jsonable(value: Any) -> Any:
    """A JSON-safe deep copy: patterns as /pattern/, anything else unknown as its repr."""
    def default(v: Any) -> Any:
        if isinstance(v, re.Pattern):
            return f"/{v.pattern}/"
        if isinstance(v, set | frozenset):
            return sorted(v, key=repr)
        return repr(v)

    return json.loads(json.dumps(value, default=default))


@dataclass
class History:
    """Every call of one example. A ``detailed`` history (kept for an example that is being reported) also
    keeps the rule steps, each answer's check against the model, and the failure."""

    target_spec: dict[str, Any]
    calls: list[Call] = field(default_factory=list)
    detailed: bool = False
    steps: list[Step] = field(default_factory=list)
    failure: Failure | None = None

    def record(self, method: str, *args: Any, receiver: str = "target", assign: str | None = None,
               **kwargs: Any) -> Call:
        call = Call(method, args, kwargs, receiver=receiver, assign=assign)
        self.calls.append(call)
        return call

    def mark_step(self, rule: str, params: dict[str, str]) -> None:
        """Close a rule step: the calls recorded since the previous step are its calls."""
        if self.detailed:
            start = self.steps[-1].end if self.steps else 0
            self.steps.append(Step(rule, dict(params), start, len(self.calls)))

    def note_check(self, expected: dict[str, Any], code: int | None, body: Any) -> Check | None:
        """Keep a check on the call being made (the last recorded one), if this history is detailed."""
        if not self.detailed or not self.calls:
            return None
        check = Check(expected, code, jsonable(body))
        self.calls[-1].checks.append(check)
        return check

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"target": jsonable(self.target_spec), "calls": [c.to_json() for c in self.calls]}
        if self.steps:
            out["steps"] = [vars(s) for s in self.steps]
        if self.failure is not None:
            f = self.failure
            out["failure"] = {"invariant": f.invariant, "detail": f.detail, "steps": f.steps,
                              "in_invariant_check": f.in_invariant, "reproduction": f.path}
        return out

    def program(self, invariant: str, message: str) -> str:
        lines = [
            f'"""kubeprop reproduction: breaks {invariant}.',
            "",
            *[f"    {ln}" for ln in message.splitlines()[:6]],
            '"""',
            "from conformance.replay import open_target",
            "",
            f"target = open_target(**{self.target_spec!r})",
        ]
        for call in self.calls:
            if call.assign:
                lines.append(f"{call.assign} = {call.render()}")
            elif call.receiver != "target":
                lines.append(call.render())
            else:
                lines.append(f"r = {call.render()}")
                expected = f", the model expects {call.checks[0].expected.get('code')}" if call.checks else ""
                lines.append(f"print({call.method!r}, r.code, r.body)  # answered {call.code}{expected}")
        lines.append("")
        lines.append(f"# expected: {invariant} holds")
        lines.append("target.close()")
        return "\n".join(lines) + "\n"


#: where reproductions go unless a caller names a folder (``make matrix`` gives each release and shard its own)
REPRO_DIR_ENV = "KUBEPROP_REPRO_DIR"


def write_reproduction(program: str, invariant: str, directory: str | os.PathLike[str] | None = None) -> Path:
    path = Path(directory or os.environ.get(REPRO_DIR_ENV) or "reports/repro")
    path.mkdir(parents=True, exist_ok=True)
    out = path / f"repro_{re.sub(r'[^a-z0-9]+', '_', invariant)}.py"
    out.write_text(program)
    return out
