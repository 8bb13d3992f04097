"""Binding a state machine to a target and running it under the active Hypothesis profile."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

from hypothesis import settings as Settings
from hypothesis.errors import FlakyFailure, FlakyStrategyDefinition
from hypothesis.stateful import RuleBasedStateMachine, run_state_machine_as_test

from conformance.invariants import forget_first, seen_once
from conformance.replay import open_target
from conformance.reporting import Reporter

#: seconds a watch over HTTP may take to deliver an acknowledged write before it counts as lost
HTTP_WATCH_TIMEOUT = 5.0


def machine_for(base: type[RuleBasedStateMachine], *, kind: str = "builtin", faults: Iterable[str] = (),
                name_suffix: str = "", kubeconfig: str | None = None,
                context: str | None = None, test_controls: bool = False,
                reporter: Reporter | None = None) -> type[RuleBasedStateMachine]:
    """A subclass of ``base`` whose examples each run against a fresh target of ``kind``, reporting to
    ``reporter`` (default: the pytest session's, or none outside one)."""
    faults = tuple(sorted(faults))
    spec: dict[str, Any] = {"kind": kind, "faults": list(faults)}
    attrs: dict[str, Any] = {}
    if kind == "http":
        spec.update(kubeconfig=kubeconfig, context=context)
        if test_controls:
            spec["test_controls"] = True
        attrs["watch_timeout"] = HTTP_WATCH_TIMEOUT
    factory = functools.partial(open_target, **spec)
    suffix = name_suffix or ("_" + "_".join(f.replace(".", "_").replace("-", "_") for f in faults) if faults else "")
    return type(base.__name__ + suffix, (base,), {
        "target_factory": staticmethod(factory), "target_spec": spec, "__module__": base.__module__,
        "reporter": reporter if reporter is not None else Reporter.current(), **attrs})


def without_local_constants() -> None:
    """Hypothesis draws some values (one in twenty, where it may) from the constants in the non-test modules
    imported so far (hypothesis/internal/conjecture/providers.py: _get_local_constants). Which of kubeprop's
    modules a process has imported differs between a test run alone and the same test in a suite, so the same
    derandomized run would draw differently in each (the quality gates would not give one verdict per code
    version). kubeprop's strategies draw from explicit pools, so the pool of local constants is left empty; where
    a Hypothesis release no longer has that hook, nothing changes."""
    from hypothesis.internal.conjecture import providers

    if callable(getattr(providers, "_get_local_constants", None)) and hasattr(providers, "Constants"):
        empty = providers.Constants()
        providers._get_local_constants = lambda: empty  # type: ignore[attr-defined]


def run(machine: type[RuleBasedStateMachine], settings: Settings | None = None) -> None:
    """Run a machine as a test. Against a server (not the builtin target), a failure that a replay of the same
    steps did not repeat, or draws that came out differently because the answers did (Hypothesis' flaky errors),
    is reported as the violation that was seen, saying so."""
    without_local_constants()
    forget_first()
    try:
        run_state_machine_as_test(machine, settings=settings)
    except (FlakyFailure, FlakyStrategyDefinition) as flaky:
        if getattr(machine, "target_spec", {}).get("kind", "builtin") == "builtin":
            raise  # in process every answer is determined: a flaky run is kubeprop's own bug
        found = seen_once(flaky, "the server runs in real time and chooses its own resourceVersions")
        if found is None:
            raise
        raise found from flaky


def base_for_fault(fault: str) -> type[RuleBasedStateMachine]:
    """The state machine that exercises a seeded fault: scheduler and lease faults live in the replicas, and a
    fault only concurrent clients can reveal (``Fault.concurrent``) needs the concurrent machine."""
    from adapters.inprocess import concurrent_fault
    from conformance.concurrency import ConcurrentMachine
    from conformance.machines import APIServerMachine
    from conformance.scheduling import SchedulerMachine

    if concurrent_fault(fault):
        return ConcurrentMachine
    if fault.split(".")[0] in ("kubelet", "nodelifecycle"):
        from conformance.kubelet import KubeletMachine

        return KubeletMachine
    return SchedulerMachine if fault.split(".")[0] in ("scheduler", "lease") else APIServerMachine
