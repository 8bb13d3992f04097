"""The pytest plugin against a served server: writes need an explicit opt-in, then the suite runs scoped."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _pytest(*args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "conformance/test_apiserver.py",
           "-k", "test_apiserver[0]", *args]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_http_target_refuses_to_write_without_opt_in(kubeconfig: str) -> None:
    out = _pytest("--target", "http", "--kubeconfig", kubeconfig)
    assert out.returncode == 4, out.stdout + out.stderr
    assert "--allow-writes" in out.stderr


def test_http_target_runs_scoped_with_opt_in(kubeconfig: str) -> None:
    out = _pytest("--target", "http", "--kubeconfig", kubeconfig, "--allow-writes", "--hypothesis-profile=smoke")
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "1 passed" in out.stdout
