"""Helpers for the report tests: run pytest with --alluredir in a subprocess and read what it wrote."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
#: rule lines of the example Hypothesis reports ("state.create_pod(...)", in pytest's E-lines, maybe grouped)
STATE_LINE = re.compile(r"^[E\s|+-]*state\.(\w+)\(")
NOT_RULES = {"teardown", "watches_deliver_the_log"}


@dataclass
class Run:
    returncode: int
    output: str
    results: Path

    def result(self, name_part: str) -> dict[str, Any]:
        found = [r for r in self.all_results() if name_part in r["fullName"] + r["name"]]
        assert len(found) == 1, f"{len(found)} results match {name_part!r}: {[r['name'] for r in self.all_results()]}"
        return found[0]

    def all_results(self) -> list[dict[str, Any]]:
        return [json.loads(p.read_text()) for p in self.results.glob("*-result.json")]

    def attachment(self, owner: dict[str, Any], name_part: str) -> tuple[dict[str, Any], str]:
        found = [a for a in owner.get("attachments", []) if name_part in a["name"]]
        assert found, f"no attachment {name_part!r} in {[a['name'] for a in owner.get('attachments', [])]}"
        return found[0], (self.results / found[0]["source"]).read_text()


def reported_rules(output: str, test_name: str, invariant: str) -> list[str]:
    """The rules of the shrunk example Hypothesis printed for the failure of ``test_name`` on ``invariant``."""
    lines = output[output.index(f"_ {test_name} _"):].splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("E") and f"[{invariant}] " in line)
    rules: list[str] = []
    for line in lines[start:]:
        m = STATE_LINE.match(line)
        if m and m.group(1) == "teardown":
            break
        if m and m.group(1) not in NOT_RULES:
            rules.append(m.group(1))
    return rules


def shrunk_sequence(result: dict[str, Any], invariant: str) -> list[dict[str, Any]]:
    """The steps of the failure on ``invariant``: the test's steps, or its group when it broke more than one."""
    steps = result.get("steps", [])
    group = [s for s in steps if s["name"] == f"{invariant}: shrunk sequence"]
    return group[0]["steps"] if group else steps


def run_pytest(tmp_path: Path, *args: str, timeout: float = 300) -> Run:
    """pytest in a subprocess, in ``tmp_path`` (so its reproductions and example database stay there)."""
    results = tmp_path / "allure-results"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "KUBEPROP_"))}
    cmd = [sys.executable, "-m", "pytest", "--rootdir", str(REPO), "-c", str(REPO / "pyproject.toml"),
           "-p", "no:cacheprovider", "-p", "no:xdist", "--alluredir", str(results), "-q", *args]
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=timeout)
    return Run(proc.returncode, proc.stdout + proc.stderr, results)


#: set on a test item whose call failed (the browser test then keeps a screenshot in its tmp_path)
FAILED = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Any:
    rep = yield
    if rep.when == "call" and rep.failed:
        item.stash[FAILED] = True
    return rep
