"""Hollow kubelets against the bundled API server served over HTTP, node health judged by the bundled node
lifecycle controller in the server process (``python -m controlplane serve --node-lifecycle``;
conformance/nodes_real.py with ``--served``): a short clean scenario passes every node check, with the controller's
Unknown marks inside the contract's window; the controller's seeded fault ``nodelifecycle.never-marks`` is caught on
``node.unknown-in-time``, and ``nodelifecycle.trusts-renew-time`` (one kubelet's clock 20 s behind) on
``node.unknown-not-early``. About 50 s.

Seed 1008, 13 actions: two kubelets crash at once and one stays down for about 14 s, longer than the 8 s grace
period, the 1 s monitor period three times and the 1.5 s slack together, so a controller that never marks its node
is caught, and a working one marks both nodes Unknown.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from adapters.hollow import Periods
from adapters.served import ServedServer
from conformance.nodes_real import GRACE, MONITOR_PERIOD, SLACK, NodesRun, RunResult
from model.kubelet import NodeTiming

PERIODS = Periods(renew=2.0, sync=1.0)
TIMING = NodeTiming(grace=GRACE, monitor_period=MONITOR_PERIOD, renew_interval=PERIODS.renew, sync=PERIODS.sync,
                    slack=SLACK)
SEED, STEPS = 1008, 13


def _run(serve: Callable[..., ServedServer], faults: list[str], lines: list[str],
         clock_skew: float = 0.0) -> tuple[RunResult, ServedServer]:
    served = serve(node_lifecycle=True, node_monitor_grace_period=GRACE, node_monitor_period=MONITOR_PERIOD,
                   faults=[f for f in faults if f.startswith("nodelifecycle.")])
    # the controller starts before the server says it is ready
    since = time.time()
    assert "node lifecycle controller: grace period 8 s, monitor period 1 s" in served.log(), served.log()
    run = NodesRun(served.kubeconfig, seed=SEED, steps=STEPS, faults=faults, timing=TIMING, periods=PERIODS,
                   controller_since=since, until_caught=bool(faults), served=True, clock_skew=clock_skew,
                   log=lines.append)
    result = run.execute()
    assert served.proc is not None and served.proc.poll() is None, served.log()
    return result, served


def test_clean_kubelets_and_controller_keep_the_node_contract(serve: Callable[..., ServedServer]) -> None:
    lines: list[str] = []
    result, served = _run(serve, [], lines)
    assert result.passed and not result.violations, "\n".join(lines)
    assert result.actions == result.planned, "\n".join(lines)
    # both crashed nodes were marked Unknown by the bundled controller, each after the grace period (the check
    # node.unknown-not-early passed) and within the contract's window
    marked = {node for node, _ in result.unknown_after}
    assert len(marked) == 2, (result.unknown_after, "\n".join(lines))
    assert all(GRACE <= d <= TIMING.latest_unknown(0) + SLACK for _, d in result.unknown_after), result.unknown_after
    assert served.log().count(" Unknown: 200") >= 2, served.log()
    assert not result.kubelet_errors and not result.left_behind, (result.kubelet_errors, result.left_behind)
    assert "monitorNodeHealth failed" not in served.log(), served.log()
    # SIGTERM stops the controller with the server: the process exits 0
    assert served.stop() == 0, served.log()


def test_a_controller_that_never_marks_is_caught_on_unknown_in_time(serve: Callable[..., ServedServer]) -> None:
    lines: list[str] = []
    result, served = _run(serve, ["nodelifecycle.never-marks"], lines)
    assert result.caught == {"nodelifecycle.never-marks": True}, "\n".join(lines)
    assert set(result.violations) == {"node.unknown-in-time"}, "\n".join(lines)
    assert not result.unknown_after and " Unknown: " not in served.log(), served.log()


def test_a_controller_that_trusts_a_clock_behind_is_caught_on_unknown_not_early(
        serve: Callable[..., ServedServer]) -> None:
    # node 1's kubelet runs 20 s behind: its renewTime is 20 s old when written; the faulty controller dates the
    # renewal by it and marks the node Unknown once the kubelet heartbeats again after its restart
    lines: list[str] = []
    result, _ = _run(serve, ["nodelifecycle.trusts-renew-time"], lines, clock_skew=20.0)
    assert result.caught == {"nodelifecycle.trusts-renew-time": True}, "\n".join(lines)
    assert set(result.violations) == {"node.unknown-not-early"}, "\n".join(lines)
    assert "-n1 was marked Unknown" in result.violations["node.unknown-not-early"].message, "\n".join(lines)
