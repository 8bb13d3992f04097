"""The API-server conformance machine over HTTP against a served server, on memory and on etcd storage.

One server process per test; each example runs scoped on it (its own names and
run label, cleaned up afterwards), as against any shared server.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import settings

from adapters.served import ServedServer
from conformance import profiles
from conformance.machines import APIServerMachine
from conformance.runner import machine_for, run

# a bounded pass: tens of seconds on two cores, the same sequences on every run
BUDGET = settings(profiles.PROFILES["smoke"], max_examples=40, stateful_step_count=20, database=None,
                  derandomize=True)


@pytest.mark.parametrize("storage", ["memory", "etcd"])
@pytest.mark.parametrize("controls", [False, True], ids=["wall-clock", "test-controls"])
def test_conformance_over_served_http(serve: Callable[..., ServedServer], storage: str, controls: bool) -> None:
    served = serve(storage=storage, test_controls=controls)
    machine = machine_for(APIServerMachine, kind="http", kubeconfig=served.kubeconfig, test_controls=controls)
    run(machine, BUDGET)
    assert served.stop() == 0, served.log()
