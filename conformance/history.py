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
class Call:
    method: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    code: int | None = None
    body: Any = None
    receiver: str = "target"
    assign: str | None = None

    def render(self) -> str:
        parts = [_py(a) for a in self.args] + [f"{k}={_py(v)}" for k, v in self.kwargs.items()]
        return f"{self.receiver}.{self.method}({', '.join(parts)})"


def _py(value: Any) -> str:
    # JSON literals that are also Python literals
    return repr(json.loads(json.dumps(value))) if value is not None else "None"


@dataclass
class History:
    target_spec: dict[str, Any]
    calls: list[Call] = field(default_factory=list)

    def record(self, method: str, *args: Any, receiver: str = "target", assign: str | None = None,
               **kwargs: Any) -> Call:
        call = Call(method, args, kwargs, receiver=receiver, assign=assign)
        self.calls.append(call)
        return call

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
                lines.append(f"print({call.method!r}, r.code, r.body)  # answered {call.code}")
        lines.append("")
        lines.append(f"# expected: {invariant} holds")
        lines.append("target.close()")
        return "\n".join(lines) + "\n"


def write_reproduction(program: str, invariant: str, directory: str | os.PathLike[str] = "reports/repro") -> Path:
    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    out = path / f"repro_{re.sub(r'[^a-z0-9]+', '_', invariant)}.py"
    out.write_text(program)
    return out
