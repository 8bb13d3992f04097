"""pytest wiring for kubeprop: options, profiles, markers and the target fixtures.

The logic lives beside this module (runner, machines, replay); this file only
connects it to pytest.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest
from hypothesis import settings

from conformance import profiles
from conformance.findings import REPORT_KNOWN_ENV
from conformance.invariants import TransportFailure
from conformance.reporting import Reporter

REPORTER = pytest.StashKey[Reporter]()

FAULTS_ENV = "KUBEPROP_FAULTS"

# at import, before Hypothesis' own plugin loads the profile named by --hypothesis-profile
profiles.register()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("kubeprop", "kubeprop conformance harness")
    group.addoption("--target", choices=["builtin", "http", "served"], default="builtin",
                    help="what the conformance suite runs against (default: builtin, the in-process control plane; "
                         "http: a server reached through --kubeconfig; served: the bundled server over HTTP, "
                         "one started per xdist worker)")
    group.addoption("--storage", choices=["memory", "etcd"], default="memory",
                    help="storage of the served target's server (etcd: each worker starts its own etcd)")
    group.addoption("--served-controls", action="store_true", default=False,
                    help="serve the served target with --test-controls (a manual clock and compaction over HTTP), "
                         "so the clock and compaction rules run too")
    group.addoption("--kubeconfig", default=None, metavar="PATH", help="kubeconfig of the http target")
    group.addoption("--context", default=None, metavar="NAME",
                    help="kubeconfig context of the http target (default: its current context)")
    group.addoption("--allow-writes", action="store_true", default=False,
                    help="let the http target write to the server: each example creates its own namespaces and "
                         "nodes (named with a run id, labelled kubeprop.io/run) and deletes them afterwards")
    group.addoption("--report-known", action="store_true", default=False,
                    help="report a failure the findings registry knows (conformance/findings.py) as a warning and go "
                         f"on, instead of failing (also {REPORT_KNOWN_ENV}=1)")
    group.addoption("--fault", action="append", default=[], metavar="NAME",
                    help="switch a seeded fault on in the builtin or served target (repeatable; also "
                         f"{FAULTS_ENV}=a,b); list them with: python -m controlplane.faults")


def pytest_configure(config: pytest.Config) -> None:
    if not config.getoption("hypothesis_profile", default=None):
        settings.load_profile(profiles.DEFAULT)
    config.addinivalue_line("markers", "conformance: a kubeprop conformance state machine")
    if config.getoption("report_known"):
        os.environ[REPORT_KNOWN_ENV] = "1"  # read by conformance/findings.py; inherited by xdist workers
    reporter = Reporter(config)
    config.stash[REPORTER] = reporter
    Reporter.session = reporter
    faults = selected_faults(config)
    if config.getoption("target") == "http":
        if not config.getoption("kubeconfig"):
            raise pytest.UsageError("kubeprop: --target http needs --kubeconfig PATH (the server to test)")
        if not config.getoption("allow_writes"):
            raise pytest.UsageError(
                "kubeprop: --target http writes to the server behind the kubeconfig: namespaces and nodes named "
                "<name>-<run id>, labelled kubeprop.io/run=<run id>, deleted when each example ends. Nothing else "
                "is read-modified-written. Add --allow-writes to go ahead.")
        if faults:
            raise pytest.UsageError("kubeprop: seeded faults (--fault, KUBEPROP_FAULTS) exist only in the bundled "
                                    "server (--target builtin or served) and cannot be used with --target http")
    elif faults:
        from conformance.replay import open_target

        if config.getoption("target") == "served" and any(
                f.split(".")[0] in ("scheduler", "lease", "kubelet", "nodelifecycle") for f in faults):
            raise pytest.UsageError("kubeprop: scheduler, lease and node faults live in scheduler replicas and hollow "
                                    "nodes, which the served target does not run (their machines are builtin only)")
        try:
            open_target("builtin", faults).close()  # checks the names (the served server gets the same ones)
        except ValueError as err:
            raise pytest.UsageError(f"kubeprop: {err}") from None


def selected_faults(config: pytest.Config) -> tuple[str, ...]:
    names = list(config.getoption("fault") or [])
    names += [n.strip() for n in os.environ.get(FAULTS_ENV, "").split(",") if n.strip()]
    return tuple(dict.fromkeys(names))


def pytest_report_header(config: pytest.Config) -> list[str]:
    faults = selected_faults(config)
    return [f"kubeprop: target={config.getoption('target')} profile={settings._current_profile} "
            f"faults={','.join(faults) or 'none'}"]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> object:
    """With --alluredir: a failed test's shrunk example becomes its Allure steps (conformance/reporting.py)."""
    reporter = item.config.stash[REPORTER]
    if not reporter.active:
        return (yield)
    reporter.begin_test()
    try:
        return (yield)
    except BaseException as exc:
        reporter.report_failure(item, exc)
        raise
    finally:
        reporter.end_test()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> object:
    report = yield
    if call.excinfo is not None and call.excinfo.errisinstance(TransportFailure):
        # the target is unreachable: every later test would fail the same way, so the session stops here
        item.session.shouldstop = f"kubeprop: {call.excinfo.value}"
    return report


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    reporter = Reporter.session
    if reporter is not None and reporter.active and report.when == "call" and report.failed:
        reporter.name_failure(report)


def pytest_sessionfinish(session: pytest.Session) -> None:
    reporter = session.config.stash[REPORTER]
    if reporter.active:
        reporter.write_metadata(selected_faults(session.config))


def pytest_unconfigure(config: pytest.Config) -> None:
    if Reporter.session is config.stash.get(REPORTER, None):
        Reporter.session = None


@pytest.fixture(scope="session")
def kubeprop_faults(request: pytest.FixtureRequest) -> tuple[str, ...]:
    return selected_faults(request.config)


@pytest.fixture(scope="session")
def kubeprop_target_kind(request: pytest.FixtureRequest) -> str:
    return request.config.getoption("target")


@pytest.fixture(scope="session")
def kubeprop_served(request: pytest.FixtureRequest, kubeprop_target_kind: str, kubeprop_faults: tuple[str, ...],
                    tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """With --target served: this worker's own bundled server (and etcd) for the whole session; else None."""
    if kubeprop_target_kind != "served":
        yield None
        return
    from adapters.served import ServedServer

    worker = getattr(request.config, "workerinput", {}).get("workerid", "main")
    served = ServedServer(tmp_path_factory.mktemp(f"served-{worker}"), storage=request.config.getoption("storage"),
                          faults=kubeprop_faults, test_controls=request.config.getoption("served_controls"))
    with served:
        yield served


@pytest.fixture
def kubeprop_machine(request: pytest.FixtureRequest, kubeprop_target_kind: str,
                     kubeprop_faults: tuple[str, ...]) -> Callable:
    """``kubeprop_machine(Base)`` → a subclass of the state machine bound to the selected target and faults."""
    from conformance.runner import machine_for

    reporter = request.config.stash[REPORTER]

    def bind(base: type) -> type:
        if kubeprop_target_kind == "served":
            # the faults are in the served server; each example is scoped (names, label, cleanup) on it
            served = request.getfixturevalue("kubeprop_served")
            suffix = "_" + "_".join(f.replace(".", "_").replace("-", "_") for f in kubeprop_faults)
            return machine_for(base, kind="http", kubeconfig=served.kubeconfig, test_controls=served.test_controls,
                               name_suffix=suffix if kubeprop_faults else "", reporter=reporter)
        return machine_for(base, kind=kubeprop_target_kind, faults=kubeprop_faults,
                           kubeconfig=request.config.getoption("kubeconfig"),
                           context=request.config.getoption("context"), reporter=reporter)

    return bind
