"""The differential run proper: the API-server machine over HTTP against the real kube-apiserver and against the
bundled server served over HTTP in the same run, the scheduler differential against real kube-scheduler replicas,
and leader election under SIGKILL and SIGSTOP of the leading replica."""

from __future__ import annotations

import os
import signal
import time

import pytest
from hypothesis import HealthCheck, Phase, settings

from adapters.served import ServedServer
from conformance import findings
from conformance.concurrency import ConcurrentMachine, update_during_delete
from conformance.differential import lease_differential, scheduler_differential
from conformance.machines import APIServerMachine
from conformance.runner import machine_for, run

pytestmark = pytest.mark.differential

#: the bounded budget of the API-server machine on each target (KUBEPROP_DIFFERENTIAL_EXAMPLES overrides)
EXAMPLES = int(os.environ.get("KUBEPROP_DIFFERENTIAL_EXAMPLES", "150"))
STEPS = 25


def _budget() -> settings:
    return settings(max_examples=EXAMPLES, stateful_step_count=STEPS, deadline=None, database=None,
                    phases=[Phase.explicit, Phase.generate, Phase.shrink],
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])


def _steps_per_second(kubeconfig: str) -> tuple[int, float]:
    machine = machine_for(APIServerMachine, kind="http", kubeconfig=kubeconfig)
    before = APIServerMachine.steps
    start = time.perf_counter()
    run(machine, _budget())
    return APIServerMachine.steps - before, time.perf_counter() - start


def test_apiserver_machine_real_and_bundled(kubeconfig: str, tmp_path, figures: dict, release: str) -> None:
    steps, seconds = _steps_per_second(kubeconfig)
    figures[f"apiserver machine, real {release}"] = (
        f"{steps} steps in {seconds:.1f}s = {steps / seconds:.0f} steps/s ({EXAMPLES} examples x {STEPS} steps)")
    with ServedServer(tmp_path / "served", storage="memory") as served:
        steps_b, seconds_b = _steps_per_second(served.kubeconfig)
    figures["apiserver machine, bundled server over HTTP (memory)"] = (
        f"{steps_b} steps in {seconds_b:.1f}s = {steps_b / seconds_b:.0f} steps/s "
        f"({EXAMPLES} examples x {STEPS} steps)")


#: rounds of concurrent clients against the real kube-apiserver (KUBEPROP_DIFFERENTIAL_CONCURRENT_EXAMPLES changes it)
CONCURRENT_EXAMPLES = int(os.environ.get("KUBEPROP_DIFFERENTIAL_CONCURRENT_EXAMPLES", "40"))


def test_concurrent_clients_real(kubeconfig: str, figures: dict, release: str) -> None:
    """Real threads with their own connections against kube-apiserver (watch cache on, as shipped): every
    round's history must be linearizable, and its watches keep the guarantees across writers."""
    machine = machine_for(ConcurrentMachine, kind="http", kubeconfig=kubeconfig)
    rounds, ops = ConcurrentMachine.steps, ConcurrentMachine.operations
    start = time.perf_counter()
    run(machine, settings(max_examples=CONCURRENT_EXAMPLES, stateful_step_count=3, deadline=None, database=None,
                          phases=[Phase.explicit, Phase.generate, Phase.shrink],
                          suppress_health_check=list(HealthCheck)))
    seconds = time.perf_counter() - start
    known = [f"{fid} in {where} ({path})" for fid, where, path in findings.KNOWN_MET if where.startswith("round")]
    figures[f"concurrent clients, real {release}"] = (
        f"{ConcurrentMachine.steps - rounds} rounds, {ConcurrentMachine.operations - ops} calls, every history "
        f"linearizable but for known findings, every watch kept its guarantees, in {seconds:.1f}s; known findings "
        f"met: {', '.join(known) or 'none'}")


def test_pod_updates_racing_a_delete_real(kubeconfig: str, figures: dict, release: str) -> None:
    """kube-apiserver writes a pod's delete in two steps, and an update between them removes the pod instead of
    writing (store.go: Update, ShouldDeleteDuringUpdate, deleteWithoutFinalizers): the race is met, and every
    history with it is linearizable under the checker's model of that path."""
    met, failed = update_during_delete(kubeconfig, 20)
    figures[f"pod updates racing a delete, real {release}"] = (
        f"20 rounds, {met} met the marked pod, {len(failed)} failed")
    assert failed == []
    assert met > 0, "no update met a pod between the two writes of its delete in 20 rounds"


@pytest.mark.parametrize("seed", range(3))
def test_scheduler_differential(kubeconfig: str, seed: int, figures: dict) -> None:
    report = scheduler_differential(kubeconfig, nodes=4, pods=15, seed=seed)
    figures[f"scheduler differential, seed {seed}"] = report.summary()
    assert report.bound > 0
    assert report.cleanup_left == []


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGSTOP], ids=["sigkill", "sigstop"])
def test_leader_election_failover(cluster, sig: int, figures: dict, kubeconfig: str) -> None:
    if len(cluster.schedulers) < 2:
        pytest.skip("failover needs at least two kube-scheduler replicas")
    report = lease_differential(cluster, sig)
    figures[f"failover, {report.signal}"] = report.summary()
    # nobody renews a stopped or killed holder's Lease: the others wait for it to run out, then one takes over
    assert report.seconds <= cluster.lease_duration + 3 * cluster.retry_period + 5
    assert report.since_last_renew >= cluster.lease_duration - 0.05
    assert report.new_index is not None and report.new_index != report.old_index
    # the new leader schedules
    after = scheduler_differential(kubeconfig, nodes=2, pods=2, seed=100 + sig)
    assert after.bound + after.unschedulable == 2
