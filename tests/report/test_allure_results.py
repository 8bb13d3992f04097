"""What the kubeprop plugin writes into Allure results: only the shrunk example of a failure, as steps.

One pytest subprocess runs a clean machine and two with seeded faults (one
caught on a call's answer, one on a watch, in the checks after a step) under a
small fixed budget, writing Allure results; the tests read those files.
"""

from __future__ import annotations

import inspect
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from conformance import reporting
from conformance.findings import FINDINGS
from conformance.history import Call, Check, History
from conformance.invariants import INVARIANTS
from conformance.machines import APIServerMachine
from tests.report.conftest import REPO, Run, reported_rules, run_pytest, shrunk_sequence

STALE = "api.optimistic-concurrency"

MODULE = '''
from hypothesis import settings

from conformance import profiles
from conformance.machines import APIServerMachine, CheckedMachine
from conformance.runner import machine_for, run

BUDGET = settings(profiles.PROFILES["smoke"], database=None, derandomize=True)


class WatchMachine(CheckedMachine):
    """Only the rules a duplicated MODIFIED event needs, so that it is found within a small budget."""

    create_pod = APIServerMachine.create_pod
    update_labels = APIServerMachine.update_labels
    open_watch = APIServerMachine.open_watch
    watches_deliver_the_log = APIServerMachine.watches_deliver_the_log
    _pick = APIServerMachine._pick
    _write = APIServerMachine._write
    _dry_next = APIServerMachine._dry_next
    teardown = APIServerMachine.teardown


def test_clean():
    run(machine_for(APIServerMachine), BUDGET)


def test_stale_update_accepted():
    run(machine_for(APIServerMachine, faults=["update.ignores-rv"]), BUDGET)


def test_watch_duplicates_event():
    run(machine_for(WatchMachine, faults=["watch.duplicates-event"]), settings(BUDGET, max_examples=300))


def test_concurrent_create_race():
    from conformance.concurrency import ConcurrentMachine

    run(machine_for(ConcurrentMachine, faults=["create.racy-exists"]), settings(BUDGET, max_examples=300))
'''


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    tmp = tmp_path_factory.mktemp("allure-run")
    (tmp / "test_machines.py").write_text(MODULE)
    result = run_pytest(tmp, str(tmp / "test_machines.py"))
    assert result.returncode == 1, result.output
    return result


def _titles(steps: list[dict[str, Any]]) -> list[str]:
    return [s["name"] for s in steps]


def test_passing_test_has_no_steps_or_attachments(run: Run) -> None:
    clean = run.result("test_clean")
    assert clean["status"] == "passed"
    assert clean.get("steps", []) == []
    assert clean.get("attachments", []) == []


def test_failure_shows_only_the_shrunk_steps(run: Run) -> None:
    r = run.result("test_stale_update_accepted")
    assert r["status"] == "failed"
    assert r["name"].startswith(f"test_stale_update_accepted: {STALE}")
    assert f"[{STALE}] " in r["statusDetails"]["message"]
    assert {"name": "invariant", "value": STALE} in r["labels"]
    # the same steps as the minimal example Hypothesis reports, and nothing from the examples before it
    expected = reported_rules(run.output, "test_stale_update_accepted", STALE)
    assert expected and len(expected) <= 12, run.output
    steps = shrunk_sequence(r, STALE)
    assert _titles(steps) == expected
    assert [s["status"] for s in steps] == ["passed"] * (len(expected) - 1) + ["failed"]
    assert steps[-1]["statusDetails"]["message"].startswith(f"[{STALE}] ")


def test_each_step_holds_its_arguments_calls_and_expectations(run: Run) -> None:
    steps = shrunk_sequence(run.result("test_stale_update_accepted"), STALE)
    last = steps[-1]
    rule_args = set(inspect.signature(getattr(APIServerMachine, last["name"])).parameters) - {"self"}
    assert {p["name"] for p in last["parameters"]} == rule_args
    assert {"name": "rv_mode", "value": "'stale'"} in last["parameters"]
    for step in steps:
        assert step["steps"], f"{step['name']} made no call"
        for call in step["steps"]:
            if re.match(r"w\d+ = target\.watch\(.*\)$", call["name"]):
                continue  # a watch opened in the step: its events are judged by the checks after the step
            assert re.match(r"target\.\w+\(.*\) → \d{3}$", call["name"]), call["name"]
            names = [a["name"] for a in call["attachments"]]
            assert names[:3] == ["request", "response", "expected (model)"], names
    update = last["steps"][0]
    assert update["status"] == "failed"
    _, request = run.attachment(update, "request")
    assert json.loads(request)["method"] in ("target.update", "target.patch")  # a write with a stale version
    _, response = run.attachment(update, "response")
    assert json.loads(response)["code"] == 200
    _, expected = run.attachment(update, "expected (model)")
    assert json.loads(expected)["code"] == 409
    _, difference = run.attachment(update, "difference")
    assert "expected HTTP 409" in difference and "got 200" in difference


def test_attachments_reproduction_and_history(run: Run, tmp_path: Path) -> None:
    r = run.result("test_stale_update_accepted")
    meta, program = run.attachment(r, "reproduction: repro_api_optimistic_concurrency.py")
    assert meta["source"].endswith(".py") and meta["type"] == "text/x-python"
    assert "'faults': ['update.ignores-rv']" in program
    # it runs, and replays the stale update that the faulty server accepts
    script = tmp_path / "repro.py"
    script.write_text(program)
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1].startswith(("update 200 ", "patch 200 "))  # the stale write, taken
    histories = [json.loads(run.attachment(r, a["name"])[1]) for a in r["attachments"]
                 if a["name"].startswith("operation history")]
    data = next(h for h in histories if h["failure"]["invariant"] == STALE)
    assert [s["rule"] for s in data["steps"]] == _titles(shrunk_sequence(r, STALE))
    assert data["calls"][-1]["checks"][0]["difference"]


def test_watch_failure_in_the_checks_after_a_step(run: Run) -> None:
    r = run.result("test_watch_duplicates_event")
    assert "[watch.unique] " in r["statusDetails"]["message"]
    rules = reported_rules(run.output, "test_watch_duplicates_event", "watch.unique")
    steps = shrunk_sequence(r, "watch.unique")
    # the events are checked in the invariants after each step: the failure is a step of its own
    assert _titles(steps) == [*rules, f"invariants checked after step {len(rules)}"]
    assert steps[-1]["status"] == "failed"
    assert steps[-1]["statusDetails"]["message"].startswith("[watch.unique] ")
    assert [a["name"] for a in steps[-1]["attachments"]] == ["difference", "watch streams"]
    _, streams = run.attachment(r, "watch streams")
    watches = json.loads(streams)
    assert watches and {"watch", "from_resource_version", "delivered", "expected"} <= set(watches[0])


def test_session_metadata(run: Run) -> None:
    categories = json.loads((run.results / "categories.json").read_text())
    # the known upstream findings first (Allure takes the first category that matches), then one per invariant
    assert [c["name"] for c in categories] == [f.category() for f in FINDINGS] + list(INVARIANTS)
    known = next(c for c in categories if c["name"] == "known upstream: kubernetes#139488")
    assert re.fullmatch(known["messageRegex"], "[api.no-5xx-for-client-errors] x answered 500; known upstream: "
                                               "kubernetes#139488 -- a Binding ...")
    categories = categories[len(FINDINGS):]
    for name, invariant in (("test_stale_update_accepted", STALE), ("test_watch_duplicates_event", "watch.unique")):
        r = run.result(name)
        first = r["statusDetails"]["message"].split("]")[0] + "]"
        matching = [c["name"] for c in categories if re.fullmatch(c["messageRegex"], r["statusDetails"]["message"])]
        assert matching == [first[1:-1]] and r["status"] in categories[0]["matchedStatuses"]
        assert f"[{invariant}] " in r["statusDetails"]["message"]
    props = dict(line.split("=", 1) for line in (run.results / "environment.properties").read_text().splitlines())
    assert props["target"] == "builtin"
    assert props["server.version"].startswith("v1.")
    assert props["kubeprop.version"]
    assert props["hypothesis.profile"] == "kubeprop"
    assert "hypothesis.seed" in props


class FakeReporter:
    """Takes what reporting sends to allure-pytest's reporter."""

    def __init__(self) -> None:
        self.attachments: dict[str, str] = {}

    def attach_data(self, uuid: str, body: str, name: str, attachment_type: str, extension: str) -> None:
        self.attachments[name] = body


def test_http_target_attaches_the_context_name_only(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\ncurrent-context: kind-kubeprop\ncontexts: []\n"
                          "users: [{name: u, user: {token: s3cr3t-token}}]\n")
    history = History({"kind": "http", "kubeconfig": str(kubeconfig), "context": None}, detailed=True)
    history.record("get", "pods", "ns-a", "p0")
    history.calls[0].code = 404
    reporter = FakeReporter()
    reporting._attach_all(reporter, history)
    assert reporter.attachments["kubeconfig context"] == "kind-kubeprop"
    assert not any("s3cr3t" in body for body in reporter.attachments.values())


def test_nothing_is_kept_without_alluredir() -> None:
    reporter = reporting.Reporter.current()
    assert not reporter.active  # this session writes no Allure results
    history = reporter.new_history({"kind": "builtin"})
    assert not history.detailed
    history.record("get", "pods", "ns-a", "p0")
    history.mark_step("get_object", {"index": "0"})
    assert history.steps == [] and history.calls[0].checks == []


def test_call_titles() -> None:
    call = Call("update", ("pods", "ns-a", "p0", {"metadata": {}}), {}, code=409)
    assert reporting.call_title(call) == "target.update('pods', 'ns-a', 'p0', {…}) → 409"
    watch = Call("watch", ("pods", None), {"resource_version": "5"}, assign="w1")
    assert reporting.call_title(watch) == "w1 = target.watch('pods', None, resource_version='5')"
    history = History({"kind": "builtin"}, calls=[call], detailed=True)
    assert isinstance(history.note_check({"code": 200}, 409, {"kind": "Status"}), Check)


def test_concurrent_failure_attaches_porcupines_view_and_a_replay(run: Run) -> None:
    r = run.result("test_concurrent_create_race")
    assert r["status"] == "failed"
    assert r["name"].startswith("test_concurrent_create_race: api.linearizable")
    _, html = run.attachment(r, "linearizability (Porcupine)")
    assert "<html" in html.lower() and "n0" in html  # the history drawn, with the contended node
    _, program = run.attachment(r, "reproduction")
    assert "replay(['create.racy-exists']" in program
