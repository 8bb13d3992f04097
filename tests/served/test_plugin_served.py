"""`pytest conformance --target served`: each worker serves its own server, runs the suite over HTTP, stops it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def pytest_run(*args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)


def serve_processes(under: Path) -> set[int]:
    """The served servers whose kubeconfig lies under ``under`` (other tests may run servers of their own)."""
    out = subprocess.run(["ps", "-eo", "pid=,args="], capture_output=True, text=True).stdout
    return {int(line.split(None, 1)[0]) for line in out.splitlines()
            if "-m controlplane serve" in line and str(under) in line}


def test_served_target_runs_the_suite_and_stops_its_server(tmp_path: Path) -> None:
    base = tmp_path / "base"
    r = pytest_run("conformance", "--target", "served", "--hypothesis-profile", "smoke", "--basetemp",
                   str(base), "-rs")
    assert r.returncode == 0, r.stdout + r.stderr
    # the scheduler (two shards) and node machines are builtin only
    assert "5 passed" in r.stdout and "3 skipped" in r.stdout, r.stdout
    assert serve_processes(base) == set()  # the session's servers are gone


def test_served_target_refuses_replica_faults() -> None:
    r = pytest_run("conformance/test_apiserver.py", "--target", "served", "--fault", "scheduler.ignores-taints",
                   timeout=60)
    assert r.returncode != 0
    assert "scheduler, lease and node faults live in scheduler replicas" in r.stdout + r.stderr
