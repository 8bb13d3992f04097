"""Allure reporting of state-machine runs.

Hypothesis runs many examples of a state machine, then replays the minimal
failing one last, as its "final" run. Only a final run keeps a detailed
history: its rule steps (marked as Hypothesis prints them), every answer with
the model's expectation, and the broken invariant. When the test has failed,
that history becomes the test's Allure steps (one per rule call, its arguments
as parameters; inside, each call with its request, response, expectation and
difference), with the reproduction, the operation history and the watch
streams attached. Examples that passed leave nothing behind, and a passing
test has no steps at all.

At the end of the session the results directory gets ``categories.json`` (one
category per invariant, matched on the message prefix ``[invariant-id]``) and
``environment.properties`` (target, server version, kubeprop version,
Hypothesis seed and profile).

Nothing here runs unless allure-pytest writes results (``--alluredir``).
"""

from __future__ import annotations

import json
import platform
import re
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from hypothesis.control import current_build_context

from conformance.history import Call, Check, Failure, History, jsonable
from conformance.invariants import INVARIANTS, InvariantViolation, violations_in

if TYPE_CHECKING:  # the machines import this module outside pytest too (the benchmark): pytest and allure load lazily
    import pytest

JSON_TYPE = "application/json"
PYTHON_TYPE = "text/x-python"
TEXT_TYPE = "text/plain"


def _final_run() -> bool:
    try:
        return current_build_context().is_final
    except Exception:  # not inside a Hypothesis test
        return False


class Reporter:
    """The reporting of one pytest session (or none): made by the plugin, handed to every machine by the runner.

    Inactive (``Reporter()``, the default outside a reporting session) it keeps nothing: histories are not
    detailed and no Allure result is written.
    """

    #: the reporter of the pytest session running now, set by the plugin; machines bound outside one get
    #: an inactive reporter
    session: ClassVar[Reporter | None] = None

    def __init__(self, config: pytest.Config | None = None) -> None:
        self.config = config
        self.active = bool(config is not None and getattr(config.option, "allure_report_dir", None))
        self._histories: list[History] = []  # the detailed histories of the test running now (its final runs)
        self._messages: dict[str, str] = {}  # nodeid -> the status message of its failure

    @classmethod
    def current(cls) -> Reporter:
        return cls.session if cls.session is not None else cls()

    # ----- what the machines call -----------------------------------------------------------------

    def new_history(self, target_spec: dict[str, Any]) -> History:
        """The history of a new example: detailed only when it is the one to report."""
        history = History(dict(target_spec), detailed=self.active and _final_run())
        if history.detailed:
            self._histories.append(history)
        return history

    @staticmethod
    def note_check(history: History, expect: Any, code: int | None, body: Any) -> Check | None:
        if not history.detailed:
            return None
        return history.note_check(expectation(expect), code, body)

    @staticmethod
    def failed(history: History, err: InvariantViolation, program: str, path: Path | str, *,
               in_invariant: bool, watches: list[Any], files: dict[str, tuple[str, str]] | None = None) -> None:
        if history.detailed:
            history.failure = Failure(err.invariant, err.detail, program, str(path), err.steps, in_invariant,
                                      [watch_stream(w) for w in watches], dict(files or {}))

    # ----- what the pytest plugin calls -----------------------------------------------------------

    def begin_test(self) -> None:
        self._histories.clear()

    def end_test(self) -> None:
        self._histories.clear()

    def report_failure(self, item: pytest.Item, exc: BaseException) -> None:
        """Turn the final runs of a failed test into its Allure steps and attachments."""
        import pytest

        try:
            _report_failure(item, exc, self._histories, self._messages)
        except Exception as err:  # the report must never hide the test's own failure
            item.warn(pytest.PytestWarning(f"kubeprop: the Allure steps of this failure were not written: {err!r}"))

    def name_failure(self, report: pytest.TestReport) -> None:
        """Start the failure's message with its invariant id (allure-pytest starts it with the exception class)."""
        message = self._messages.pop(report.nodeid, None)
        reporter = _reporter(self.config) if self.config is not None and message else None
        test = reporter.get_test(None) if reporter is not None else None
        if test is not None and test.statusDetails is not None:
            from allure_commons.model2 import Status

            test.statusDetails.message = message
            test.status = Status.FAILED  # broken invariants, also when Hypothesis groups several

    def write_metadata(self, faults: tuple[str, ...]) -> None:
        """categories.json and environment.properties into the results directory (once, not in xdist workers)."""
        config = self.config
        if config is None or hasattr(config, "workerinput"):
            return
        out = Path(config.option.allure_report_dir)
        out.mkdir(parents=True, exist_ok=True)
        (out / "categories.json").write_text(json.dumps(categories(), indent=2) + "\n")
        (out / "environment.properties").write_text(_properties(environment(config, faults)))


def expectation(expect: Any) -> dict[str, Any]:
    """The model's expectation (model.apiserver.Expect) as JSON."""
    out: dict[str, Any] = {"op": expect.op, "code": expect.code, "invariant": expect.rule}
    if expect.why:
        out["why"] = expect.why
    if expect.status is not None:
        out["status"] = jsonable(expect.status)
    if expect.obj is not None:
        out["object"] = jsonable(expect.obj)
    if expect.items is not None:
        out["items"] = jsonable(expect.items)
    if expect.rv is not None:
        out["resourceVersion"] = expect.rv
    elif expect.fresh_rv:
        out["resourceVersion"] = "(one never seen before)"
    if expect.new_uid:
        out["uid"] = "(one never given before)"
    return out


def watch_stream(w: Any) -> dict[str, Any]:
    """An open watch (conformance.watching.WatchCheck): what it delivered and what the model expects of it."""
    return {
        "watch": w.label,
        "from_resource_version": w.start_rv,
        "delivered": jsonable(list(w.received)),
        "expected": [{"type": c.type, "object": jsonable(c.obj)} for c in w.expected],
    }


def _reporter(config: pytest.Config) -> Any:
    listener = config.pluginmanager.get_plugin("allure_listener")
    return getattr(listener, "allure_logger", None)


def _report_failure(item: pytest.Item, exc: BaseException, histories: list[History],
                    messages: dict[str, str]) -> None:
    import pytest
    from allure_commons.model2 import Label

    if isinstance(exc, pytest.skip.Exception | pytest.xfail.Exception):
        return
    reporter = _reporter(item.config)
    test = reporter.get_test(None) if reporter is not None else None
    if test is None:
        return
    violations = violations_in(exc)
    last: dict[str, History] = {}
    for h in histories:
        if h.failure is not None:
            last[h.failure.invariant] = h
    chosen: list[History] = []
    for v in violations:
        h = last.get(v.invariant)
        if h is not None and h not in chosen:
            chosen.append(h)
    if not chosen and histories:
        chosen = [histories[-1]]  # the final run failed in some other way: still show what it did
    ids = list(dict.fromkeys(v.invariant for v in violations))
    if ids:
        test.name = f"{item.name}: {', '.join(ids)}"
        test.labels += [Label(name="invariant", value=i) for i in ids] + [Label(name="tag", value=i) for i in ids]
        messages[item.nodeid] = "\n\n".join(_message(v, last.get(v.invariant)) for v in violations)
    for h in chosen:
        if len(chosen) > 1:
            outer = _start(reporter, f"{h.failure.invariant}: shrunk sequence" if h.failure else "sequence", {})
        _emit_steps(reporter, h)
        if len(chosen) > 1:
            _stop(reporter, outer, _failure_message(h.failure))
        _attach_all(reporter, h, suffix=f" ({h.failure.invariant})" if len(chosen) > 1 and h.failure else "")


def _message(v: InvariantViolation, h: History | None) -> str:
    text = f"[{v.invariant}] {v.detail}"
    if h is not None and h.failure is not None:
        text += f"\n\nShrunk to {len(h.steps) or h.failure.steps} steps; reproduction: {h.failure.path}"
    return text


# ----- steps and attachments ----------------------------------------------------------------------


def _start(reporter: Any, title: str, params: dict[str, Any]) -> str:
    from allure_commons.model2 import Parameter, TestStepResult
    from allure_commons.utils import now, uuid4

    uuid = uuid4()
    step = TestStepResult(name=title, start=now(),
                          parameters=[Parameter(name=k, value=str(v)) for k, v in params.items()])
    reporter.start_step(None, uuid, step)
    return uuid


def _stop(reporter: Any, uuid: str, failure: str | None = None) -> None:
    from allure_commons.model2 import Status, StatusDetails
    from allure_commons.utils import now

    reporter.stop_step(uuid, stop=now(), status=Status.FAILED if failure else Status.PASSED,
                       statusDetails=StatusDetails(message=failure) if failure else None)


def _attach(reporter: Any, name: str, body: Any, mime: str = JSON_TYPE, extension: str = "json") -> None:
    from allure_commons.utils import uuid4

    text = body if isinstance(body, str) else json.dumps(body, indent=2, sort_keys=True, default=repr)
    reporter.attach_data(uuid4(), text, name=name, attachment_type=mime, extension=extension)


def _failure_message(f: Failure | None) -> str | None:
    return f"[{f.invariant}] {f.detail}" if f is not None else None


def _emit_steps(reporter: Any, h: History) -> None:
    f = h.failure
    for n, s in enumerate(h.steps, 1):
        breaks_here = f is not None and not f.in_invariant and n == len(h.steps)
        uuid = _start(reporter, s.rule, s.params)
        calls = h.calls[s.start:s.end]
        for call in calls:
            _emit_call(reporter, call)
        if breaks_here and not any(c.difference for call in calls for c in call.checks):
            _attach(reporter, "difference", f.detail, TEXT_TYPE, "txt")
        _stop(reporter, uuid, _failure_message(f) if breaks_here else None)
    covered = h.steps[-1].end if h.steps else 0
    if covered < len(h.calls):
        # calls no step claims (a Hypothesis that no longer reports its steps to the machine)
        uuid = _start(reporter, "calls", {})
        for call in h.calls[covered:]:
            _emit_call(reporter, call)
        _stop(reporter, uuid, _failure_message(f) if f is not None and not f.in_invariant else None)
    if f is not None and f.in_invariant:
        uuid = _start(reporter, f"invariants checked after step {len(h.steps)}", {})
        _attach(reporter, "difference", f.detail, TEXT_TYPE, "txt")
        if f.watches:
            _attach(reporter, "watch streams", f.watches)
        _stop(reporter, uuid, _failure_message(f))


def _short(value: Any) -> str:
    if isinstance(value, dict):
        return "{…}"
    if isinstance(value, list | tuple):
        return "[…]"
    return repr(value)


def call_title(call: Call) -> str:
    parts = [_short(a) for a in call.args] + [f"{k}={_short(v)}" for k, v in call.kwargs.items()]
    title = f"{call.receiver}.{call.method}({', '.join(parts)})"
    if call.assign:
        title = f"{call.assign} = {title}"
    return f"{title} → {call.code}" if call.code is not None else title


def _emit_call(reporter: Any, call: Call) -> None:
    in_process = call.receiver != "target"
    uuid = _start(reporter, call_title(call), {})
    _attach(reporter, "call" if in_process else "request",
            {"method": f"{call.receiver}.{call.method}", "args": jsonable(call.args), "kwargs": jsonable(call.kwargs)})
    if call.code is not None:
        _attach(reporter, "response", {"code": call.code, "body": jsonable(call.body)})
    elif call.body is not None:
        _attach(reporter, "result", jsonable(call.body))
    differences = [c.difference for c in call.checks if c.difference]
    if len(call.checks) == 1 and call.checks[0].code == call.code:
        # the call's own answer: its expectation sits beside it
        _attach(reporter, "expected (model)", call.checks[0].expected)
        if differences:
            _attach(reporter, "difference", differences[0], TEXT_TYPE, "txt")
    else:
        # answers checked while the call ran (a scheduler replica's API calls)
        for check in call.checks:
            sub = _start(reporter, f"check {check.expected.get('op')} → {check.code}", {})
            _attach(reporter, "answer", {"code": check.code, "body": check.body})
            _attach(reporter, "expected (model)", check.expected)
            if check.difference:
                _attach(reporter, "difference", check.difference, TEXT_TYPE, "txt")
            _stop(reporter, sub, check.difference)
    _stop(reporter, uuid, differences[0] if differences else None)


def _attach_all(reporter: Any, h: History, suffix: str = "") -> None:
    f = h.failure
    if f is not None:
        _attach(reporter, f"reproduction: {Path(f.path).name}{suffix}", f.program, PYTHON_TYPE, "py")
    _attach(reporter, f"operation history{suffix}", h.to_json())
    if f is not None and f.watches:
        _attach(reporter, f"watch streams{suffix}", f.watches)
    for name, (file, mime) in (f.files if f is not None else {}).items():
        if Path(file).is_file():
            _attach(reporter, f"{name}{suffix}", Path(file).read_text(), mime, Path(file).suffix.lstrip(".") or "txt")
    spec = h.target_spec
    if spec.get("kind") == "http":
        context = spec.get("context") or current_context(spec.get("kubeconfig"))
        _attach(reporter, f"kubeconfig context{suffix}", str(context), TEXT_TYPE, "txt")


# ----- session metadata ---------------------------------------------------------------------------


def current_context(kubeconfig: str | None) -> str | None:
    """The kubeconfig's current-context: only its name is read out."""
    import yaml

    try:
        with open(kubeconfig or "") as fh:
            return (yaml.safe_load(fh) or {}).get("current-context")
    except (OSError, yaml.YAMLError, AttributeError):
        return None


def categories() -> list[dict[str, Any]]:
    """One Allure category per known upstream finding (a failure its registry entry names: Allure takes the first
    category that matches), then one per invariant, matched on the failure message's ``[invariant-id]`` prefix."""
    from conformance.findings import FINDINGS

    known = [{"name": f.category(), "matchedStatuses": ["failed"],
              "messageRegex": r"[\s\S]*" + re.escape(f.category() + " --") + r"[\s\S]*"} for f in FINDINGS]
    return known + [{"name": inv, "matchedStatuses": ["failed"],
                     "messageRegex": r"^\[" + inv.replace(".", r"\.") + r"\][\s\S]*"} for inv in INVARIANTS]


def server_version(kind: str, kubeconfig: str | None, context: str | None) -> str:
    if kind == "builtin":
        from controlplane.http import VERSION

        return f"{VERSION['gitVersion']} (bundled control plane, in process)"
    try:
        from adapters.http import HTTPTarget

        target = HTTPTarget(kubeconfig or "", context=context)
        try:
            body = target._call("GET", "/version").body
        finally:
            target.close()
        return str(body.get("gitVersion")) if isinstance(body, dict) else f"unknown ({body!r})"
    except Exception as err:
        return f"unknown ({type(err).__name__})"


def environment(config: pytest.Config, faults: tuple[str, ...]) -> dict[str, str]:
    from hypothesis import __version__ as hypothesis_version
    from hypothesis import settings

    from conformance import profiles

    kind = config.getoption("target")
    kubeconfig, context = config.getoption("kubeconfig"), config.getoption("context")
    env = {"target": kind}
    if kind == "http":
        env["kubeconfig.context"] = str(context or current_context(kubeconfig))
    else:
        env["faults"] = ",".join(faults) or "none"
    seed = config.getoption("hypothesis_seed", default=None)
    env |= {
        "server.version": server_version(kind, kubeconfig, context),
        "kubeprop.version": metadata.version("kubeprop"),
        "hypothesis.version": hypothesis_version,
        "hypothesis.profile": config.getoption("hypothesis_profile", default=None) or profiles.DEFAULT,
        "hypothesis.seed": str(seed) if seed is not None else
        ("derandomized" if settings.default.derandomize else "random (a new one for each test)"),
        "python.version": platform.python_version(),
    }
    return env


def _properties(values: dict[str, str]) -> str:
    def esc(text: str, key: bool = False) -> str:
        text = text.replace("\\", "\\\\").replace("\n", "\\n")
        return re.sub(r"([=: ])", r"\\\1", text) if key else text

    return "".join(f"{esc(k, key=True)}={esc(v)}\n" for k, v in values.items())
