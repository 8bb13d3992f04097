"""conformance/timetofind.py: reading what a hunt reported, judging it, and summing hunts up (nothing is timed)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from conformance import timetofind as ttf
from conformance.invariants import INVARIANTS, violation_class

WANTED = ("scheduler.fits", "scheduler.fit-error")


def test_campaign_failure_reads_the_first_failure_line() -> None:
    out = ("campaign: 2 workers, machines api, faults update.ignores-rv, database /tmp/db; until Ctrl-C\n"
           "campaign [     10 s] 300 examples, 12 behaviours, 0 failures\n"
           "campaign: failure in api after 12.3 s (worker 1): api.optimistic-concurrency: update: expected 409: "
           "got 200\n"
           "campaign: failure in api after 14.0 s (worker 0): api.rv-changes: later\n")
    assert ttf.campaign_failure(out) == ("api", "api.optimistic-concurrency", "update: expected 409: got 200")
    assert ttf.campaign_failure("campaign: every worker ended\n") is None
    # a failure that is no invariant is named by its exception type
    line = "campaign: failure in scheduler after 3.0 s (worker 0): FlakyFailure: Inconsistent results\n"
    assert ttf.campaign_failure(line) == ("scheduler", "FlakyFailure", "Inconsistent results")


@pytest.mark.parametrize(("reported", "outcome"), [
    (["scheduler.fits"], ttf.FOUND),
    (["scheduler.fit-error"], ttf.FOUND),  # a registered consequence
    (["api.matches-model", "scheduler.fits"], ttf.FOUND),  # one of several distinct failures
    (["api.matches-model"], ttf.OTHER),
    (["FlakyFailure"], ttf.ERROR),
    ([], ttf.ERROR),
])
def test_judge_counts_only_the_faults_invariants_as_found(reported: list[str], outcome: str) -> None:
    assert ttf.judge(WANTED, reported, INVARIANTS) == outcome


def _hunt(fault: str, mode: str, seed: int, seconds: float | None, outcome: str = ttf.FOUND,
          reported: tuple[str, ...] = (), first: float | None = None, detail: str = "") -> ttf.Hunt:
    return ttf.Hunt(fault, mode, seed, outcome=outcome, seconds=seconds, reported=list(reported),
                    first_example=first, detail=detail)


def test_summarize_takes_medians_over_the_hunts_that_found_and_flags_the_slow_and_the_missed() -> None:
    hunts = [
        _hunt("a", "campaign", 1, 3.0), _hunt("a", "pytest", 1, 9.0, first=2.0),
        _hunt("a", "campaign", 2, 5.0), _hunt("a", "pytest", 2, 70.0, first=4.0),
        _hunt("a", "campaign", 3, 4.0), _hunt("a", "pytest", 3, 11.0, first=3.0),
        _hunt("b", "campaign", 1, None, ttf.NOT_FOUND, detail="stopped at the 120 s cap"),
        _hunt("b", "pytest", 1, 2.0, ttf.OTHER, ("api.matches-model",)),
    ]
    rows = ttf.summarize(hunts, {"a": "api.rv-changes", "b": "watch.unique"})
    assert [r.fault for r in rows] == ["a", "b"]
    a, b = rows
    assert a.invariant == "api.rv-changes"
    assert a.modes["campaign"] == {"median": 4.0, "found": 3, "hunts": 3, "max": 5.0, "first": None,
                                   "over": False, "otherwise": []}
    assert a.modes["pytest"]["first"] == 3.0
    assert a.modes["pytest"]["median"] == 11.0 and a.modes["pytest"]["over"]  # one seed took 70 s
    assert b.modes["campaign"]["median"] is None and b.modes["campaign"]["over"]
    assert b.modes["pytest"]["found"] == 0  # another invariant is not the fault found
    assert b.modes["pytest"]["otherwise"] == ["1: other invariant (api.matches-model)"]

    md = ttf.render_markdown(rows)
    assert "| a | api.rv-changes | 4.0 (3/3) | 5.0 | 11.0 (3/3) | 70.0 | 3.0 | pytest |" in md
    assert "| b | watch.unique | - (0/1) | - | - (0/1) | - | - | campaign, pytest |" in md
    assert "- b, campaign: 1: not found (stopped at the 120 s cap)" in md
    assert "- b, pytest: 1: other invariant (api.matches-model)" in md
    assert ttf.render_text(rows).splitlines()[1].startswith("a ")


def _call(exc: BaseException, when: str = "call") -> SimpleNamespace:
    with pytest.raises(type(exc)) as raised:
        raise exc
    return SimpleNamespace(when=when, excinfo=raised)


def test_the_plugin_writes_the_first_failure_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from conformance.concurrency import ConcurrentMachine
    from conformance.machines import CheckedMachine

    mark = tmp_path / "first.json"
    monkeypatch.setenv(ttf.MARK_ENV, str(mark))
    monkeypatch.setattr(CheckedMachine, "first_failure_at", time.perf_counter() - 5.0)  # five seconds ago
    # an earlier test in the same process (a seeded fault caught by the concurrent machine) may have noted its own
    monkeypatch.setattr(ConcurrentMachine, "first_failure_at", None)
    item = SimpleNamespace(nodeid="conformance/test_scheduler.py::test_scheduler[1]")
    group = ExceptionGroup("two", [violation_class("api.matches-model")("one"),
                                   violation_class("scheduler.fits")("two")])
    ttf.pytest_runtest_makereport(item, _call(group))
    ttf.pytest_runtest_makereport(item, _call(violation_class("api.rv-changes")("later")))
    row = json.loads(mark.read_text())
    assert row["test"] == item.nodeid and row["invariants"] == ["api.matches-model", "scheduler.fits"]
    assert 4.0 < row["at"] - row["first_example_at"] < 60.0  # the first failing example, before shrinking


def test_the_plugin_records_an_error_with_no_invariant_and_ignores_skips(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    mark = tmp_path / "first.json"
    monkeypatch.setenv(ttf.MARK_ENV, str(mark))
    item = SimpleNamespace(nodeid="t")
    with pytest.raises(pytest.skip.Exception) as skipped:
        pytest.skip("not here")
    ttf.pytest_runtest_makereport(item, SimpleNamespace(when="setup", excinfo=skipped))
    assert not mark.exists()
    ttf.pytest_runtest_makereport(item, _call(RuntimeError("boom\nmore")))
    row = json.loads(mark.read_text())
    assert row["invariants"] == [] and row["error"] == "RuntimeError: boom"


def test_commands_pick_the_faults_machine_and_a_fresh_database(tmp_path: Path) -> None:
    cmd, env = ttf.command("campaign", "scheduler.no-assume", 7, workers=2, scratch=tmp_path, pytest_seed="per-test")
    assert cmd[cmd.index("--machine") + 1] == "scheduler" and cmd[cmd.index("--seed") + 1] == "7"
    assert cmd[cmd.index("--db") + 1] == str(tmp_path / "db") and "KUBEPROP_DATABASE" not in env
    cmd, env = ttf.command("pytest", "list.torn-read", 7, workers=2, scratch=tmp_path, pytest_seed="per-test")
    assert "conformance/test_concurrency.py" in cmd and not any(c.startswith("--hypothesis-seed") for c in cmd)
    assert env[ttf.SEED_ENV] == "7" and env["KUBEPROP_DATABASE"] == str(tmp_path / "db")
    cmd, env = ttf.command("pytest", "update.ignores-rv", 7, workers=2, scratch=tmp_path, pytest_seed="hypothesis")
    assert "conformance/test_apiserver.py" in cmd and "--hypothesis-seed=7" in cmd and ttf.SEED_ENV not in env


def test_node_faults_are_hunted_by_the_node_machine(tmp_path: Path) -> None:
    cmd, _ = ttf.command("campaign", "kubelet.keeps-orphans", 7, workers=2, scratch=tmp_path, pytest_seed="per-test")
    assert cmd[cmd.index("--machine") + 1] == "nodes"
    cmd, _ = ttf.command("pytest", "nodelifecycle.marks-early", 7, workers=2, scratch=tmp_path,
                         pytest_seed="per-test")
    assert "conformance/test_nodes.py" in cmd
