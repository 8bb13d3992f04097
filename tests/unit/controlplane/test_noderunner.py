"""controlplane/noderunner.py and ``serve --node-lifecycle``'s options: the controller's loop outlives a failed pass,
marks a silent node through any client with the APIServer's verbs, stops cleanly; seeded faults go where they act."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta

import pytest

from controlplane.__main__ import main, route_faults
from controlplane.apiserver.server import APIServer
from controlplane.noderunner import GRACE_PERIOD, MONITOR_PERIOD, NodeLifecycleThread

T0 = datetime(2026, 1, 1, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def _api_with_node() -> APIServer:
    api = APIServer()
    stamp = T0.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert api.create("namespaces", None, {"metadata": {"name": "kube-node-lease"}}).code == 201
    assert api.create("nodes", None, {"metadata": {"name": "n0"}}).code == 201
    node = api.get("nodes", None, "n0").body
    node["status"] = {"conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                                      "lastHeartbeatTime": stamp, "lastTransitionTime": stamp}]}
    assert api.update("nodes", None, "n0", node, subresource="status").code == 200
    lease = {"metadata": {"name": "n0", "namespace": "kube-node-lease"},
             "spec": {"holderIdentity": "n0", "renewTime": T0.strftime("%Y-%m-%dT%H:%M:%S.%fZ")}}
    assert api.create("leases", "kube-node-lease", lease).code == 201
    return api


def _ready(api: APIServer) -> str:
    return next(c["status"] for c in api.get("nodes", None, "n0").body["status"]["conditions"]
                if c["type"] == "Ready")


def test_a_pass_marks_a_silent_node_after_the_grace_period() -> None:
    api, clock, lines = _api_with_node(), Clock(), []
    ctl = NodeLifecycleThread(api, grace=8.0, period=1.0, clock=clock, report=lines.append)
    assert ctl.step() == []  # the first pass dates the heartbeat it sees
    clock.now = T0 + timedelta(seconds=8)
    assert ctl.step() == [] and _ready(api) == "True"
    clock.now = T0 + timedelta(seconds=8.5)
    assert ctl.step() == ["mark n0 Unknown: 200"] and _ready(api) == "Unknown"
    assert ctl.passes == 3 and ctl.errors == 0
    assert lines == ["00:00:08.500 node lifecycle: mark n0 Unknown: 200"]


def test_a_faulty_controller_gets_its_fault() -> None:
    api, clock = _api_with_node(), Clock()
    ctl = NodeLifecycleThread(api, grace=8.0, period=1.0, clock=clock, faults=["nodelifecycle.never-marks"])
    ctl.step()
    clock.now = T0 + timedelta(seconds=60)
    assert ctl.step() == [] and _ready(api) == "True"


class Broken:
    def list(self, *args: object, **kwargs: object) -> object:
        raise ConnectionError("the server went away")


def test_a_failed_pass_is_logged_and_the_loop_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    ctl = NodeLifecycleThread(Broken(), grace=8.0, period=0.01)
    with caplog.at_level(logging.ERROR, logger="controlplane.noderunner"):
        ctl.start()
        deadline = time.monotonic() + 5
        while ctl.errors < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        ctl.stop()
    assert ctl.errors >= 3 and ctl.passes == 0
    assert not ctl._thread.is_alive()
    assert "monitorNodeHealth failed" in caplog.text and "the server went away" in caplog.text


def test_periods_must_be_positive() -> None:
    with pytest.raises(ValueError):
        NodeLifecycleThread(APIServer(), grace=0, period=1.0)
    with pytest.raises(ValueError):
        NodeLifecycleThread(APIServer(), grace=8.0, period=-1.0)
    # kube-controller-manager's defaults (pkg/controller/nodelifecycle/config/v1alpha1/defaults.go)
    assert (GRACE_PERIOD, MONITOR_PERIOD) == (50.0, 5.0)


def test_seeded_faults_go_where_they_act() -> None:
    assert route_faults(["watch.reorders", "scheduler.no-assume", "lease.ignores-expiry", "nodelifecycle.marks-early",
                         "kubelet.runs-unbound"]) == {
        "api": ["watch.reorders"], "schedulers": ["scheduler.no-assume", "lease.ignores-expiry"],
        "node-lifecycle": ["nodelifecycle.marks-early"], "kubelets": ["kubelet.runs-unbound"]}
    assert route_faults([]) == {"api": [], "schedulers": [], "node-lifecycle": [], "kubelets": []}


def test_serve_refuses_a_period_that_is_not_positive() -> None:
    with pytest.raises(SystemExit) as e:
        main(["serve", "--kubeconfig", "kc", "--node-lifecycle", "--node-monitor-period", "0"])
    assert e.value.code == 2
