"""The scheduler and leader-election conformance suite (builtin target: the harness drives every replica).

Two shards of the same state machine, so ``pytest -n auto`` keeps both cores busy.
"""

from __future__ import annotations

import pytest

from conformance.runner import run
from conformance.scheduling import SchedulerMachine


@pytest.mark.conformance
@pytest.mark.parametrize("shard", range(2))
def test_scheduler(kubeprop_machine, kubeprop_target_kind: str, shard: int) -> None:
    if kubeprop_target_kind != "builtin":
        pytest.skip("the scheduler machine steps replicas one at a time, which only the builtin target allows")
    run(kubeprop_machine(SchedulerMachine))
