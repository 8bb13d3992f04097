"""Binding a state machine to a target and running it under the active Hypothesis profile."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

from hypothesis import settings as Settings
from hypothesis.stateful import RuleBasedStateMachine, run_state_machine_as_test

from conformance.replay import open_target


def machine_for(base: type[RuleBasedStateMachine], *, kind: str = "builtin", faults: Iterable[str] = (),
                name_suffix: str = "") -> type[RuleBasedStateMachine]:
    """A subclass of ``base`` whose examples each run against a fresh target of ``kind``."""
    faults = tuple(sorted(faults))
    spec: dict[str, Any] = {"kind": kind, "faults": list(faults)}
    factory = functools.partial(open_target, kind, faults)
    suffix = name_suffix or ("_" + "_".join(f.replace(".", "_").replace("-", "_") for f in faults) if faults else "")
    return type(base.__name__ + suffix, (base,), {
        "target_factory": staticmethod(factory), "target_spec": spec, "__module__": base.__module__})


def run(machine: type[RuleBasedStateMachine], settings: Settings | None = None) -> None:
    run_state_machine_as_test(machine, settings=settings)
