"""The ``served`` target's server: ``python -m controlplane serve`` in a child process, for one test session.

    with ServedServer(workdir, storage="etcd", faults=["watch.reorders"]) as served:
        target = ScopedTarget(HTTPTarget(served.kubeconfig))

The server listens on a free loopback port and writes its kubeconfig (with a
fresh bearer token) into ``workdir``; its output goes to ``workdir/serve.log``.
With ``storage="etcd"`` it starts and later stops its own etcd. ``stop()``
sends SIGTERM and waits (the server stops its etcd before it exits); if the
process that started it dies first, Linux sends the server SIGTERM too.
Nothing here imports ``controlplane``: the server is a separate program.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path

from adapters.base import TargetError

ROOT = Path(__file__).resolve().parents[1]
READY = "kubeconfig:"


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
                 test_controls: bool = False, schedulers: int = 0, start_timeout: float = 60.0) -> None:
        self.workdir = Path(workdir)
        self.storage = storage
        self.faults = tuple(faults)
        self.test_controls = test_controls
        self.schedulers = schedulers
        self.start_timeout = start_timeout
        self.kubeconfig = str(self.workdir / "kubeconfig")
        self.log_path = self.workdir / "serve.log"
        self.url = ""
        self.proc: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        cmd = [sys.executable, "-m", "controlplane", "serve", "--storage", self.storage,
               "--kubeconfig", self.kubeconfig]
        for f in self.faults:
            cmd += ["--fault", f]
        if self.schedulers:
            cmd += ["--schedulers", str(self.schedulers)]
        if self.test_controls:
            cmd.append("--test-controls")
        return cmd

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def start(self) -> ServedServer:
        self.workdir.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "wb") as out:
            self.proc = subprocess.Popen(
                self.command(), cwd=ROOT, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                # its own session: a terminal's Ctrl-C goes to pytest, whose teardown stops the server in order
                start_new_session=True,
                preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None)
        deadline = time.monotonic() + self.start_timeout
        try:
            while True:
                text = self.log()
                for line in text.splitlines():
                    if line.startswith("serving the bundled API server at "):
                        self.url = line.split(" at ", 1)[1].split(" ", 1)[0]
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
