"""The ``served`` target's server: ``python -m controlplane serve`` in a child process, for one test session.

    with ServedServer(workdir, storage="etcd", faults=["watch.reorders"]) as served:
        target = ScopedTarget(HTTPTarget(served.kubeconfig))

``node_lifecycle=True`` runs the bundled node lifecycle controller in the
server process (``--node-lifecycle``, with ``node_monitor_grace_period`` and
``node_monitor_period`` when given), where ``nodelifecycle.*`` faults act.

The server listens on a free loopback port and writes its kubeconfig (with a
fresh bearer token, kept in ``workdir/token``) into ``workdir``; its output goes
to ``workdir/serve.log``. With ``storage="etcd"`` it starts and later stops its
own etcd, unless ``etcd_endpoint`` names one that runs already (two servers on
one etcd: the same endpoint and prefix). ``stop()`` sends SIGTERM and waits (the
server stops its etcd before it exits); if the process that started it dies
first, Linux sends the server SIGTERM too. ``kill()`` is a crash (SIGKILL) and
``restart()`` starts it again on the same port with the same token, so the
kubeconfig clients hold stays valid. Nothing here imports ``controlplane``: the
server is a separate program.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path

from adapters.base import TargetError

ROOT = Path(__file__).resolve().parents[1]
READY = "kubeconfig:"


def _free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _die_with_parent() -> None:
    # Linux: the server gets SIGTERM if the process that started it dies without stopping it
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class ServedServer:
    """One bundled API server process (memory or etcd storage, optional seeded faults and test controls)."""

    def __init__(self, workdir: str | os.PathLike[str], *, storage: str = "memory", faults: Iterable[str] = (),
                 test_controls: bool = False, schedulers: int = 0, start_timeout: float = 60.0,
                 etcd_endpoint: str | None = None, etcd_prefix: str = "", port: int = 0,
                 node_lifecycle: bool = False, node_monitor_grace_period: float | None = None,
                 node_monitor_period: float | None = None) -> None:
        self.workdir = Path(workdir)
        self.etcd_endpoint = etcd_endpoint
        self.etcd_prefix = etcd_prefix
        #: 0: a free port picked at the first start, which a restart takes again. Picked here rather than left to
        #: the kernel: a socket bound to port 0 gets no SO_REUSEADDR (cheroot sets it only for a given port), and
        #: without it the connections a killed server leaves in TIME_WAIT keep its port from being bound again
        self.port = port
        self.token_file = self.workdir / "token"
        self.storage = storage
        self.faults = tuple(faults)
        self.test_controls = test_controls
        self.schedulers = schedulers
        #: the node lifecycle controller and its flags (None: the server's defaults, 50 s and 5 s)
        self.node_lifecycle = node_lifecycle
        self.node_monitor_grace_period = node_monitor_grace_period
        self.node_monitor_period = node_monitor_period
        self.start_timeout = start_timeout
        self.kubeconfig = str(self.workdir / "kubeconfig")
        self.log_path = self.workdir / "serve.log"
        self.url = ""
        self.proc: subprocess.Popen[bytes] | None = None
        self._log_from = 0

    def command(self) -> list[str]:
        cmd = [sys.executable, "-m", "controlplane", "serve", "--storage", self.storage,
               "--kubeconfig", self.kubeconfig, "--token-file", str(self.token_file)]
        if self.etcd_endpoint is not None:
            cmd += ["--etcd-endpoint", self.etcd_endpoint]
        if self.etcd_prefix:
            cmd += ["--etcd-prefix", self.etcd_prefix]
        if self.port:
            cmd += ["--port", str(self.port)]
        for f in self.faults:
            cmd += ["--fault", f]
        if self.schedulers:
            cmd += ["--schedulers", str(self.schedulers)]
        if self.node_lifecycle:
            cmd.append("--node-lifecycle")
            if self.node_monitor_grace_period is not None:
                cmd += ["--node-monitor-grace-period", repr(float(self.node_monitor_grace_period))]
            if self.node_monitor_period is not None:
                cmd += ["--node-monitor-period", repr(float(self.node_monitor_period))]
        if self.test_controls:
            cmd.append("--test-controls")
        return cmd

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def start(self) -> ServedServer:
        if self.port:
            return self._start()
        for attempt in range(3):
            self.port = _free_port()
            try:
                return self._start()
            except TargetError:
                # taken between the pick and the bind: pick again
                if "cannot listen" not in self.log()[self._log_from:] or attempt == 2:
                    raise
                self.proc = None
        raise AssertionError("unreachable")

    def _start(self) -> ServedServer:
        self.workdir.mkdir(parents=True, exist_ok=True)
        if not self.token_file.exists():
            self.token_file.write_text(secrets.token_urlsafe(32) + "\n")
            self.token_file.chmod(0o600)
        mode = "ab" if self.url else "wb"  # a restart adds to the log of the first start
        with open(self.log_path, mode) as out:
            self._log_from = out.tell()
            self.proc = subprocess.Popen(
                self.command(), cwd=ROOT, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                # its own session: a terminal's Ctrl-C goes to pytest, whose teardown stops the server in order
                start_new_session=True,
                preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None)
        deadline = time.monotonic() + self.start_timeout
        try:
            while True:
                text = self.log()[self._log_from:]
                for line in text.splitlines():
                    if line.startswith("serving the bundled API server at "):
                        self.url = line.split(" at ", 1)[1].split(" ", 1)[0]
                        self.port = int(self.url.rsplit(":", 1)[1])
                if READY in text:
                    return self
                if self.proc.poll() is not None:
                    raise TargetError(f"the served server exited with code {self.proc.returncode}:\n{text}")
                if time.monotonic() > deadline:
                    raise TargetError(f"the served server did not start within {self.start_timeout:.0f}s:\n{text}")
                time.sleep(0.05)
        except BaseException:
            self.stop()
            raise

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def kill(self) -> None:
        """SIGKILL, as a crash: open connections and watches break, nothing is shut down in order."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def restart(self) -> ServedServer:
        """Start again (after :meth:`kill` or :meth:`stop`) on the same port, with the same token and storage."""
        if self.proc is not None and self.proc.poll() is None:
            self.kill()
        self.proc = None
        deadline = time.monotonic() + self.start_timeout
        while True:
            try:
                return self._start()
            except TargetError:
                # the port the killed process held may take a moment to be free again
                if "cannot listen" not in self.log()[self._log_from:] or time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM, then wait (kill after ``timeout``); the exit code, or None if it was not running."""
        proc, self.proc = self.proc, None
        if proc is None:
            return None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        return proc.returncode

    def __enter__(self) -> ServedServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
