"""The API-server conformance suite.

Four shards of the same state machine, so ``pytest -n auto`` keeps both cores
busy; each shard explores its own random sequences under the active profile.
"""

from __future__ import annotations

import pytest

from conformance.machines import APIServerMachine
from conformance.runner import run


@pytest.mark.conformance
@pytest.mark.parametrize("shard", range(4))
def test_apiserver(kubeprop_machine, shard: int) -> None:
    run(kubeprop_machine(APIServerMachine))
