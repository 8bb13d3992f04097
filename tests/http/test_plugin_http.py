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


def test_unreachable_server_is_a_transport_failure(tmp_path: Path) -> None:
    """A refused connection stops the run as a transport failure naming the request: no shrinking, no Flaky."""
    import socket

    with socket.socket() as s:  # a port nothing listens on once the socket is closed
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: gone\n"
        f"clusters: [{{name: gone, cluster: {{server: 'http://127.0.0.1:{port}'}}}}]\n"
        "users: [{name: u, user: {token: t}}]\n"
        "contexts: [{name: gone, context: {cluster: gone, user: u}}]\n")
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "conformance/test_apiserver.py",
           "--target", "http", "--kubeconfig", str(kubeconfig), "--allow-writes", "--hypothesis-profile=smoke"]
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120)
    text = out.stdout + out.stderr
    assert out.returncode == 2, text[-3000:]  # pytest's "interrupted": the session stopped at the failure
    assert "TransportFailure: transport failure, not a finding" in text, text[-3000:]
    assert f"port={port}" in text or f"127.0.0.1:{port}" in text  # the request that failed
    assert "Flaky" not in text and "Falsifying" not in text
    assert "1 failed" in text and "Interrupted: kubeprop: transport failure" in text  # the other shards did not run
