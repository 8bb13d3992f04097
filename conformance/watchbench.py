"""``python -m conformance.watchbench``: does a server keep answering while it holds many open watches?

    python -m conformance.watchbench [--watches 1000] [--clients 16] [--seconds 5] [--burst 20]
        [--storage memory,etcd] [--kubeconfig PATH ...] [--no-kube]

For each target: the bundled server served in its own process (``python -m
controlplane serve``) on memory and on etcd storage, a real kube-apiserver on
etcd when its binaries are built (``tools/kube/build.sh --print`` names their
folder; ``make kube-binaries`` builds them), and any server named by
``--kubeconfig``. On each it measures, with ``--clients`` clients each sending
GETs of one pod over its own keep-alive connection for ``--seconds``: the GET
latency (median, p99) and GETs per second, first with no watch open, then with
``--watches`` watches open (raw sockets, a few threads opening them). With the
watches open it also times one write reaching every watch, then ``--burst``
writes sent one after another reaching every watch, and reads the server
process's resident memory and threads. On the bundled server it then closes the
watches and times how long until the server counts none open
(``/debug/kubeprop/watches``). Nothing is asserted: it measures and prints.

:class:`WatchFleet` (many watches on raw sockets) and :func:`busy_clients` are
also what the tests in tests/served/test_many_watches.py use.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import secrets
import selectors
import socket
import ssl
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from kubernetes import client as k8s_client
from kubernetes.config import kube_config

from adapters.served import ServedServer
from conformance.kubecluster import cluster_module

JSON = dict[str, Any]
REQUEST_TIMEOUT = 30.0
DEBUG_WATCHES = "/debug/kubeprop/watches"


def raise_open_file_limit() -> None:
    """Every watch is a socket: lift this process's soft limit on open files to its hard limit."""
    try:
        import resource
    except ImportError:
        return
    with contextlib.suppress(ValueError, OSError):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft != resource.RLIM_INFINITY and (hard == resource.RLIM_INFINITY or soft < hard):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


# ----- where a kubeconfig points ----------------------------------------------------------------------------


@dataclass
class Endpoint:
    """The server a kubeconfig's current context names, with its TLS settings and authentication headers."""

    host: str
    port: int
    tls: ssl.SSLContext | None
    server_hostname: str | None
    headers: dict[str, str]

    @classmethod
    def from_kubeconfig(cls, path: str | os.PathLike[str], context: str | None = None) -> Endpoint:
        cfg = k8s_client.Configuration()
        kube_config.load_kube_config(config_file=str(path), context=context, client_configuration=cfg,
                                     persist_config=False)
        url = urlsplit(cfg.host)
        headers = {"Accept": "application/json", "Content-Type": "application/json"}
        for setting in cfg.auth_settings().values():
            if setting.get("in") == "header" and setting.get("value"):
                headers[setting["key"]] = setting["value"]
        tls = None
        if url.scheme == "https":
            tls = ssl.create_default_context(cafile=cfg.ssl_ca_cert or None)
            if not cfg.verify_ssl:
                tls.check_hostname = False
                tls.verify_mode = ssl.CERT_NONE
            if cfg.cert_file and cfg.key_file:
                tls.load_cert_chain(cfg.cert_file, cfg.key_file)
        assert url.hostname is not None
        return cls(url.hostname, url.port or (443 if tls else 80), tls,
                   getattr(cfg, "tls_server_name", None) or url.hostname, headers)

    def connect(self, timeout: float = REQUEST_TIMEOUT) -> socket.socket:
        sock = socket.create_connection((self.host, self.port), timeout=timeout)
        if self.tls is not None:
            sock = self.tls.wrap_socket(sock, server_hostname=self.server_hostname)
        return sock

    def connection(self, timeout: float = REQUEST_TIMEOUT) -> http.client.HTTPConnection:
        if self.tls is not None:
            return http.client.HTTPSConnection(self.host, self.port, timeout=timeout, context=self.tls)
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def call(self, method: str, path: str, body: JSON | None = None) -> tuple[int, Any]:
        """One request on a connection of its own: (status, decoded JSON body or None)."""
        conn = self.connection()
        try:
            conn.request(method, path, body=None if body is None else json.dumps(body), headers=self.headers)
            resp = conn.getresponse()
            data = resp.read()
        finally:
            conn.close()
        try:
            return resp.status, json.loads(data) if data else None
        except ValueError:
            return resp.status, None


def pod(name: str) -> JSON:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [{"name": "c", "image": "registry.k8s.io/pause:3.10"}]}}


# ----- many watches on raw sockets -------------------------------------------------------------------------


class _Stream:
    """One watch's socket and what came on it: a chunked body split into event lines."""

    __slots__ = ("sock", "raw", "body", "events", "ended")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.raw = bytearray()
        self.body = bytearray()
        self.events: list[bytes] = []
        self.ended = False

    def feed(self, data: bytes) -> None:
        self.raw += data
        while True:
            end = self.raw.find(b"\r\n")
            if end < 0:
                break
            size = int(bytes(self.raw[:end]).split(b";")[0] or b"0", 16)
            if size == 0:
                self.ended = True
                break
            if len(self.raw) < end + 2 + size + 2:
                break
            self.body += self.raw[end + 2:end + 2 + size]
            del self.raw[:end + 2 + size + 2]
        while (nl := self.body.find(b"\n")) >= 0:
            line = bytes(self.body[:nl]).strip()
            del self.body[:nl + 1]
            if line:
                self.events.append(line)


class WatchFleet:
    """``n`` watches of ``path`` (a watch URL), each on its own raw socket, opened by ``workers`` threads.

    ``open()`` returns once every watch has its 200 headers; ``wait_events(k)`` reads them all (one selector)
    until each has received at least ``k`` events; ``close()`` hangs them all up.
    """

    def __init__(self, endpoint: Endpoint, path: str, n: int, *, workers: int = 8,
                 timeout: float = REQUEST_TIMEOUT) -> None:
        self.endpoint = endpoint
        self.path = path
        self.n = n
        self.workers = workers
        self.timeout = timeout
        self.streams: list[_Stream] = []
        self._selector: selectors.BaseSelector | None = None

    def _open_one(self, _: int) -> _Stream:
        ep = self.endpoint
        sock = ep.connect(self.timeout)
        try:
            head = "".join(f"{k}: {v}\r\n" for k, v in ep.headers.items() if k != "Content-Type")
            sock.sendall(f"GET {self.path} HTTP/1.1\r\nHost: {ep.host}:{ep.port}\r\n{head}\r\n".encode())
            data = b""
            while b"\r\n\r\n" not in data:
                more = sock.recv(65536)
                if not more:
                    raise ConnectionError(f"the server closed a watch before answering: {data[:200]!r}")
                data += more
            header, _, rest = data.partition(b"\r\n\r\n")
            status = header.split(b"\r\n", 1)[0]
            if b" 200 " not in status + b" " or b"chunked" not in header.lower():
                raise ConnectionError(f"a watch was refused: {header[:300]!r} {rest[:300]!r}")
            stream = _Stream(sock)
            stream.feed(rest)
            return stream
        except BaseException:
            sock.close()
            raise

    def open(self) -> float:
        """Open every watch; the seconds it took."""
        started = time.monotonic()
        failure: BaseException | None = None
        with ThreadPoolExecutor(self.workers, thread_name_prefix="watchfleet") as pool:
            for future in [pool.submit(self._open_one, i) for i in range(self.n)]:
                try:
                    self.streams.append(future.result())
                except BaseException as e:  # noqa: BLE001 - the first failure is raised once all are settled
                    failure = failure or e
        if failure is not None:
            self.close()
            raise failure
        self._selector = selectors.DefaultSelector()
        for s in self.streams:
            s.sock.setblocking(False)
            self._selector.register(s.sock, selectors.EVENT_READ, s)
        return time.monotonic() - started

    def _read(self, stream: _Stream) -> None:
        while True:
            try:
                data = stream.sock.recv(65536)
            except (BlockingIOError, ssl.SSLWantReadError):
                return
            except OSError:
                data = b""
            if not data:
                stream.ended = True
                assert self._selector is not None
                self._selector.unregister(stream.sock)
                return
            stream.feed(data)

    def pump(self, timeout: float) -> None:
        """Read whatever the watches have been sent, waiting up to ``timeout`` for something to come."""
        assert self._selector is not None
        if not self._selector.get_map():
            time.sleep(timeout)
            return
        for key, _ in self._selector.select(timeout):
            self._read(key.data)

    def wait_events(self, count: int, timeout: float = 60.0) -> float:
        """Seconds until every watch has received at least ``count`` events; TimeoutError if some did not."""
        started = time.monotonic()
        deadline = started + timeout
        while True:
            behind = [s for s in self.streams if len(s.events) < count]
            if not behind:
                return time.monotonic() - started
            ended = [s for s in behind if s.ended]
            left = deadline - time.monotonic()
            if ended or left <= 0:
                raise TimeoutError(f"{len(behind)} of {len(self.streams)} watches have fewer than {count} events "
                                   f"({len(ended)} of them ended by the server); one has "
                                   f"{[e[:200] for e in behind[0].events]}")
            self.pump(min(left, 1.0))

    def close(self) -> None:
        if self._selector is not None:
            self._selector.close()
            self._selector = None
        for s in self.streams:
            with contextlib.suppress(OSError):
                s.sock.close()
        self.streams = []

    def __enter__(self) -> WatchFleet:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# ----- busy clients ---------------------------------------------------------------------------------------


@dataclass
class ClientRun:
    """What ``clients`` clients sending GETs for a while got back."""

    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]

    @property
    def median(self) -> float:
        return statistics.median(self.latencies) if self.latencies else float("nan")


def busy_clients(endpoint: Endpoint, path: str, clients: int, seconds: float,
                 timeout: float = REQUEST_TIMEOUT) -> ClientRun:
    """``clients`` threads, each on its own keep-alive connection, GET ``path`` for ``seconds``."""
    run = ClientRun()
    lock = threading.Lock()
    barrier = threading.Barrier(clients + 1)
    end = [0.0]

    def client() -> None:
        conn = endpoint.connection(timeout)
        latencies: list[float] = []
        errors: list[str] = []
        barrier.wait()
        try:
            while time.monotonic() < end[0]:
                t0 = time.perf_counter()
                try:
                    conn.request("GET", path, headers=endpoint.headers)
                    resp = conn.getresponse()
                    resp.read()
                except (OSError, http.client.HTTPException) as e:
                    errors.append(f"{type(e).__name__}: {e}")
                    conn.close()
                    conn = endpoint.connection(timeout)
                    continue
                if resp.status == 200:
                    latencies.append(time.perf_counter() - t0)
                else:
                    errors.append(f"HTTP {resp.status}")
        finally:
            conn.close()
            with lock:
                run.latencies += latencies
                run.errors += errors

    threads = [threading.Thread(target=client, name=f"busy-client-{i}", daemon=True) for i in range(clients)]
    for t in threads:
        t.start()
    end[0] = time.monotonic() + seconds
    started = time.monotonic()
    barrier.wait()
    for t in threads:
        t.join(seconds + timeout + 10)
    run.seconds = time.monotonic() - started
    return run


def process_stats(pid: int | None) -> tuple[float, int]:
    """(resident MiB, threads) of a local process, from /proc; (nan, 0) when it cannot be read."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except (OSError, TypeError):
        return float("nan"), 0
    fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
    rss_kib = int(fields.get("VmRSS", "0 kB").split()[0])
    return rss_kib / 1024, int(fields.get("Threads", "0").strip())


# ----- one target ----------------------------------------------------------------------------------------


@dataclass
class Row:
    target: str
    watches: int
    run: ClientRun
    open_seconds: float = float("nan")
    fanout_seconds: float = float("nan")
    burst_seconds: float = float("nan")
    rss_mib: float = float("nan")
    threads: int = 0
    freed_seconds: float = float("nan")
    note: str = ""


def _debug_open(endpoint: Endpoint) -> int | None:
    try:
        code, body = endpoint.call("GET", DEBUG_WATCHES)
    except (OSError, http.client.HTTPException):
        return None
    return int(body["open"]) if code == 200 and isinstance(body, dict) else None


def wait_until_freed(endpoint: Endpoint, timeout: float = 30.0) -> float:
    """Seconds until the bundled server counts no open watch (``/debug/kubeprop/watches``)."""
    started = time.monotonic()
    while _debug_open(endpoint) != 0:
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"the server still counts {_debug_open(endpoint)} open watches after {timeout:.0f}s")
        time.sleep(0.05)
    return time.monotonic() - started


def measure(name: str, endpoint: Endpoint, *, watches: int, clients: int, seconds: float, burst: int = 20,
            pid: int | None = None, bundled: bool = False, log: Callable[[str], None] = print) -> list[Row]:
    """The two rows of one target: GETs with no watch open, then with ``watches`` open."""
    ns = f"watchbench-{secrets.token_hex(3)}"
    code, body = endpoint.call("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                              "metadata": {"name": ns}})
    if code != 201:
        raise RuntimeError(f"{name}: creating namespace {ns}: HTTP {code} {body}")
    pods = f"/api/v1/namespaces/{ns}/pods"
    code, body = endpoint.call("POST", pods, pod("probe"))
    if code != 201:
        raise RuntimeError(f"{name}: creating a pod: HTTP {code} {body}")
    get = f"{pods}/probe"
    rows = []
    try:
        log(f"{name}: {clients} clients, {seconds:.0f}s of GETs, no watch open")
        rows.append(Row(name, 0, busy_clients(endpoint, get, clients, seconds)))
        rv = endpoint.call("GET", pods)[1]["metadata"]["resourceVersion"]
        fleet = WatchFleet(endpoint, f"{pods}?watch=1&resourceVersion={rv}", watches)
        log(f"{name}: opening {watches} watches")
        try:
            row = Row(name, watches, ClientRun(), open_seconds=fleet.open())
            log(f"{name}: {watches} watches open in {row.open_seconds:.1f}s; {clients} clients, {seconds:.0f}s of GETs")
            row.run = busy_clients(endpoint, get, clients, seconds)
            row.rss_mib, row.threads = process_stats(pid)
            t0 = time.monotonic()
            code, body = endpoint.call("POST", pods, pod("fanout"))
            if code != 201:
                raise RuntimeError(f"{name}: creating a pod with watches open: HTTP {code} {body}")
            fleet.wait_events(1)
            row.fanout_seconds = time.monotonic() - t0
            if burst:
                log(f"{name}: {burst} creates, one after another, to {watches} watches")
                conn = endpoint.connection()
                t0 = time.monotonic()
                try:
                    for i in range(burst):
                        conn.request("POST", pods, body=json.dumps(pod(f"burst-{i}")), headers=endpoint.headers)
                        resp = conn.getresponse()
                        data = resp.read()
                        if resp.status != 201:
                            raise RuntimeError(f"{name}: creating a pod with watches open: HTTP {resp.status} {data!r}")
                finally:
                    conn.close()
                fleet.wait_events(1 + burst, timeout=600)
                row.burst_seconds = time.monotonic() - t0
        finally:
            fleet.close()
        if bundled:
            row.freed_seconds = wait_until_freed(endpoint)
        rows.append(row)
    finally:
        with contextlib.suppress(Exception):
            endpoint.call("DELETE", f"/api/v1/namespaces/{ns}")
    return rows


# ----- targets ---------------------------------------------------------------------------------------------




@contextlib.contextmanager
def kube_apiserver() -> Iterator[tuple[str, int | None]]:
    """A throwaway etcd + kube-apiserver (no scheduler): (kubeconfig, apiserver pid); LookupError if not built."""
    kc = cluster_module()
    apiserver = kc.kube_bin_dir() / "kube-apiserver"
    etcd = kc.find_etcd()
    if not (apiserver.is_file() and os.access(apiserver, os.X_OK)) or not etcd:
        raise LookupError(f"binaries not built (kube-apiserver in {kc.kube_bin_dir()}: "
                          f"{'yes' if apiserver.is_file() else 'no'}; etcd: {etcd or 'none'})")
    binaries = kc.Binaries(apiserver=str(apiserver), scheduler="", etcd=etcd)
    with kc.Cluster(0, binaries=binaries, verbosity=0) as cluster:
        yield str(cluster.kubeconfig), cluster.apiserver.pid if cluster.apiserver is not None else None


def _ms(seconds: float) -> str:
    return "-" if seconds != seconds else f"{seconds * 1000:.1f}"


def _s(seconds: float) -> str:
    return "-" if seconds != seconds else f"{seconds:.2f}"


def print_table(rows: list[Row], watches: int, clients: int, seconds: float, burst: int) -> None:
    print(f"\n== GETs by {clients} clients for {seconds:.0f}s each, with 0 and {watches} watches open")
    head = (f"{'target':<28}{'watches':>8}{'GET p50 ms':>11}{'p99 ms':>9}{'GET/s':>8}{'errors':>8}"
            f"{'open s':>8}{'fan-out s':>10}{'burst s':>9}{'RSS MiB':>9}{'threads':>8}{'freed s':>8}")
    print(head)
    print("-" * len(head))
    for r in rows:
        print(f"{r.target:<28}{r.watches:>8}{_ms(r.run.median):>11}{_ms(r.run.percentile(99)):>9}"
              f"{r.run.rate:>8.0f}{len(r.run.errors):>8}{_s(r.open_seconds):>8}{_s(r.fanout_seconds):>10}"
              f"{_s(r.burst_seconds):>9}"
              f"{'-' if r.rss_mib != r.rss_mib else f'{r.rss_mib:.0f}':>9}{r.threads or '-':>8}"
              f"{_s(r.freed_seconds):>8}", flush=True)
        if r.run.errors:
            print(f"{'':<28}first error: {r.run.errors[0]}")
    print("open s: time to open every watch; fan-out s: from a create until every watch has its event; "
          f"burst s: from the first of {burst} creates sent one after another until every watch has them all; "
          "RSS and threads: the server process, with the watches open; freed s: after the client closed them, "
          "until the bundled server counts none open. One client process (Python) makes every request: "
          "its own speed bounds GET/s, more so over TLS (kube-apiserver) than over plain HTTP (bundled).")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--watches", type=int, default=1000, help="watches held open (default 1000)")
    parser.add_argument("--clients", type=int, default=16, help="clients sending GETs (default 16)")
    parser.add_argument("--seconds", type=float, default=5.0, help="how long the clients send GETs (default 5)")
    parser.add_argument("--burst", type=int, default=20,
                        help="creates sent one after another to the open watches (default 20; 0 for none)")
    parser.add_argument("--storage", default="memory,etcd",
                        help="the bundled server's storages, comma-separated (default memory,etcd; '' for none)")
    parser.add_argument("--kubeconfig", action="append", default=[], metavar="PATH",
                        help="also measure the server this kubeconfig names (repeatable)")
    parser.add_argument("--no-kube", action="store_true", help="do not start a real kube-apiserver")
    args = parser.parse_args(argv)
    if args.watches < 1 or args.clients < 1 or args.seconds <= 0 or args.burst < 0:
        parser.error("--watches and --clients must be 1 or more, --seconds more than 0, --burst 0 or more")
    raise_open_file_limit()
    rows: list[Row] = []
    common = {"watches": args.watches, "clients": args.clients, "seconds": args.seconds, "burst": args.burst}

    def log(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    for storage in [s.strip() for s in args.storage.split(",") if s.strip()]:
        with tempfile.TemporaryDirectory(prefix="kubeprop-watchbench-") as tmp, \
                ServedServer(tmp, storage=storage) as served:
            rows += measure(f"bundled, {storage}", Endpoint.from_kubeconfig(served.kubeconfig), pid=served.pid,
                            bundled=True, log=log, **common)
    if not args.no_kube:
        try:
            with kube_apiserver() as (kubeconfig, pid):
                rows += measure("kube-apiserver, etcd", Endpoint.from_kubeconfig(kubeconfig), pid=pid, log=log,
                                **common)
        except LookupError as e:
            print(f"kube-apiserver: {e}", flush=True)
    for path in args.kubeconfig:
        rows += measure(path, Endpoint.from_kubeconfig(path), log=log, **common)
    print_table(rows, args.watches, args.clients, args.seconds, args.burst)
    return 0


if __name__ == "__main__":
    sys.exit(main())
