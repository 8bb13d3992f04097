"""A short conformance run over HTTP: the API-server state machine against the bundled server, served.

Examples need an empty server each (the model starts empty); rather than a new
listener per example, the one served in the fixture gets a fresh APIServer
behind it before each example.
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings

from adapters.http import HTTPTarget
from conformance.machines import APIServerMachine
from conformance.runner import HTTP_WATCH_TIMEOUT, machine_for, run
from controlplane.apiserver import APIServer
from controlplane.http import HTTPAPIServer


def test_conformance_over_http(server: HTTPAPIServer, kubeconfig: str) -> None:
    bound = machine_for(APIServerMachine, kind="http", kubeconfig=kubeconfig)
    assert bound.target_spec == {"kind": "http", "faults": [], "kubeconfig": kubeconfig, "context": None}
    assert bound.watch_timeout == HTTP_WATCH_TIMEOUT

    def fresh_target() -> HTTPTarget:
        server.api = server.app.api = APIServer()  # the wall clock, as served
        return HTTPTarget(kubeconfig)

    machine = type("APIServerMachineOverHTTP", (bound,), {"target_factory": staticmethod(fresh_target)})
    run(machine, settings(max_examples=20, stateful_step_count=15, deadline=None, database=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]))
