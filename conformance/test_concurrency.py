"""Concurrent clients: rounds of client programs run at once, each round's history checked for linearizability.

On the builtin target Hypothesis also picks the interleaving (a failure replays exactly); over HTTP the clients
are real threads with their own connections.
"""

from __future__ import annotations

import pytest

from conformance.concurrency import ConcurrentMachine
from conformance.runner import run


@pytest.mark.conformance
def test_concurrent_clients(kubeprop_machine) -> None:
    run(kubeprop_machine(ConcurrentMachine))
