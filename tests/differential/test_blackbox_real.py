"""The black-box scheduling machine (conformance/blackbox.py) against real kube-scheduler replicas: checked only
from what the real kube-apiserver shows, it must pass."""

from __future__ import annotations

import os
import time

import pytest

from conformance.blackbox import run_blackbox

pytestmark = pytest.mark.differential

EXAMPLES = int(os.environ.get("KUBEPROP_BLACKBOX_EXAMPLES", "4"))
STEPS = 12


def test_blackbox_machine_real_scheduler(kubeconfig: str, figures: dict) -> None:
    started = time.monotonic()
    # a real kube-apiserver's Priority admission refuses a bare spec.priority (plugin/pkg/admission/priority),
    # and kube-scheduler reports every pod that fits nowhere (PodScheduled=False, reason Unschedulable)
    machine = run_blackbox(kubeconfig, examples=EXAMPLES, steps=STEPS, priorities=False, reports_unschedulable=True)
    figures["blackbox real kube-scheduler"] = {**machine.stats, "examples": EXAMPLES,
                                               "seconds": round(time.monotonic() - started, 1)}
