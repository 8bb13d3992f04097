"""The wire between scheduler replicas and the API server: an HTTP proxy that sees, holds and refuses Bindings.

A scheduler's binding cycle runs apart from its scheduling cycles
(pkg/scheduler/schedule_one.go: bindingCycle in a goroutine of its own): while a
Binding is on its way, the pod counts as assumed on its node
(internal/cache/cache.go: AssumePod), and when the API server refuses it the
scheduler must forget the pod there and try it again (handleBindingCycleError:
ForgetPod, then the pod back to the queue with backoff). On a loopback API
server a Binding is answered within milliseconds and is never refused, so
neither path is ever taken where a test can see it. Networks and API servers
under load are slower and do refuse (a timeout, an etcd error): the wire makes
both happen on purpose, where the black-box machine chooses.

:class:`Wire` listens on loopback (plain HTTP) and forwards every request to
the server a kubeconfig names, with that kubeconfig's credentials, as
``kubectl proxy`` does; responses stream through, so watches work. Replicas
get :attr:`Wire.kubeconfig`, which points at it. For the Binding of one named
pod it can be armed to

- ``hold``: keep the request until :meth:`Held.release` (or a bound of
  ``HOLD_MAX`` seconds) before it is sent on: the binding is slow;
- ``refuse``: answer it 500 InternalError itself, as an API server whose
  storage timed out does, without sending it on.

Every Binding that passes is recorded (:class:`WireBind`: pod, uid and node it
names, when it arrived and when it was answered, on the harness's monotonic
clock, and the code), so checks may count a pod whose Binding was in flight or
refused as assumed for exactly as long as the wire saw it so.

A Binding's body is read as JSON: the bundled scheduler sends JSON; kube-scheduler
sends protobuf unless told otherwise (``--kube-api-content-type``), and then
the node and uid are not read.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import urllib3
import yaml
from kubernetes import client as k8s
from kubernetes.config import kube_config

JSON = dict[str, Any]
log = logging.getLogger(__name__)

#: the longest a held Binding waits for its release, whatever happens to the harness
HOLD_MAX = 30.0
#: seconds to connect upstream, and to wait for an answer that is not a watch
TIMEOUT = 30.0
# a Binding to pods/NAME/binding (the older namespaces/NS/bindings names its pod in the body)
_BINDING = re.compile(r"^/api/v1/namespaces/(?P<ns>[^/]+)/pods/(?P<name>[^/]+)/binding$")
_LEGACY = re.compile(r"^/api/v1/namespaces/(?P<ns>[^/]+)/bindings$")
# hop-by-hop headers (RFC 9110 7.6.1) and those the wire sets itself
_DROP = {"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade",
         "content-length", "host", "authorization"}


@dataclass
class WireBind:
    """One Binding the wire passed on (or answered itself)."""

    namespace: str
    pod: str
    uid: str | None  # the uid its metadata named (None: none, or not read)
    node: str | None  # its target (None: not read)
    arrived: float  # harness monotonic clock
    answered: float | None = None
    code: int | None = None
    held: bool = False
    refused: bool = False
    #: who sent it: the token of the kubeconfig it came by (:meth:`Wire.kubeconfig_for`), "" for the shared one
    client: str = ""


class Held:
    """An armed hold: :meth:`wait` until the Binding arrives (its record), :meth:`release` to send it on,
    :meth:`finish` to wait for its answer."""

    def __init__(self) -> None:
        self.arrived = threading.Event()
        self.released = threading.Event()
        self.answered = threading.Event()
        self.record: WireBind | None = None

    def wait(self, timeout: float) -> WireBind | None:
        return self.record if self.arrived.wait(timeout) else None

    def release(self) -> None:
        self.released.set()

    def finish(self, timeout: float) -> WireBind | None:
        """Release it and wait (at most ``timeout`` s) for its answer; the record, once answered."""
        self.release()
        return self.record if self.arrived.is_set() and self.answered.wait(timeout) else None


def _status(code: int, reason: str, message: str) -> bytes:
    return json.dumps({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                       "message": message, "reason": reason, "code": code}).encode()


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], OSError):
            return  # a client that closed its connection (a watch ended, a killed replica) is no error of the wire's
        log.exception("the wire failed a request from %s", client_address)


class Wire:
    """See the module doc. ``Wire(kubeconfig, workdir)``; :meth:`close` when done."""

    def __init__(self, kubeconfig: str | Path, workdir: str | Path) -> None:
        cfg = k8s.Configuration()
        kube_config.load_kube_config(config_file=str(kubeconfig), client_configuration=cfg, persist_config=False)
        self.upstream = cfg.host.rstrip("/")
        self._auth = cfg.api_key.get("authorization") or cfg.api_key.get("BearerToken")
        if self._auth and cfg.api_key_prefix.get("authorization"):
            self._auth = f"{cfg.api_key_prefix['authorization']} {self._auth}"
        tls: dict[str, Any] = {}
        if self.upstream.startswith("https:"):
            tls = {"cert_reqs": "CERT_REQUIRED" if cfg.verify_ssl else "CERT_NONE", "ca_certs": cfg.ssl_ca_cert,
                   "cert_file": cfg.cert_file, "key_file": cfg.key_file}
            if not cfg.verify_ssl:
                urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
        self._pool = urllib3.PoolManager(maxsize=64, **tls)
        self.lock = threading.Lock()
        self.binds: list[WireBind] = []
        self._holds: dict[tuple[str, str], Held] = {}
        self._refusals: set[tuple[str, str]] = set()
        #: client -> until when (monotonic) its Lease writes are refused
        self._starved: dict[str, float] = {}
        #: Lease writes refused: (client, when, path)
        self.refused_lease_writes: list[tuple[str, float, str]] = []
        self._workdir = Path(workdir)
        self._server = _Server(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="kubeprop-wire", daemon=True)
        self._thread.start()
        self._workdir.mkdir(parents=True, exist_ok=True)
        self.kubeconfig = self.kubeconfig_for("")

    def kubeconfig_for(self, client: str) -> str:
        """A kubeconfig that reaches the server through the wire as ``client`` (its token; the wire sends its own
        credentials on), so that what it sends is told apart: a replica's identity, say. "": the shared one."""
        path = self._workdir / (f"wire-kubeconfig-{client}" if client else "wire-kubeconfig")
        config = {"apiVersion": "v1", "kind": "Config",
                  "clusters": [{"name": "wire", "cluster": {"server": self.url}}],
                  "users": [{"name": "wire", "user": {"token": client or "wire"}}],
                  "contexts": [{"name": "wire", "context": {"cluster": "wire", "user": "wire"}}],
                  "current-context": "wire"}
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            yaml.safe_dump(config, f, sort_keys=False)
        return str(path)

    # ----- arming ---------------------------------------------------------------------------------

    def hold(self, namespace: str, pod: str) -> Held:
        """Hold the next Binding of ``namespace/pod`` until released."""
        held = Held()
        with self.lock:
            self._holds[(namespace, pod)] = held
        return held

    def refuse(self, namespace: str, pod: str) -> None:
        """Answer the next Binding of ``namespace/pod`` with a 500 instead of sending it on."""
        with self.lock:
            self._refusals.add((namespace, pod))

    def starve(self, client: str, seconds: float) -> None:
        """Refuse (500) every write of a Lease ``client`` sends for the next ``seconds``: a holder that cannot renew
        (an API server or network that fails it, while its other requests go through)."""
        with self.lock:
            self._starved[client] = time.monotonic() + seconds

    def disarm(self, namespace: str, pod: str) -> None:
        """Whatever is still armed for that pod (a hold is released)."""
        with self.lock:
            held = self._holds.pop((namespace, pod), None)
            self._refusals.discard((namespace, pod))
        if held is not None:
            held.release()

    def records(self) -> list[WireBind]:
        with self.lock:
            return [WireBind(**vars(b)) for b in self.binds]

    def close(self) -> None:
        with self.lock:
            holds = list(self._holds.values())
            self._holds.clear()
        for h in holds:
            h.release()
        self._server.shutdown()
        self._server.server_close()
        self._pool.clear()

    # ----- serving --------------------------------------------------------------------------------

    def _binding(self, path: str, body: bytes) -> WireBind | None:
        route = path.split("?", 1)[0]
        m = _BINDING.match(route) or _LEGACY.match(route)
        if m is None:
            return None
        try:
            doc = json.loads(body or b"null")
        except ValueError:
            doc = None
        meta = (doc.get("metadata") or {}) if isinstance(doc, dict) else {}
        target = (doc.get("target") or {}) if isinstance(doc, dict) else {}
        name = m.groupdict().get("name") or meta.get("name")
        if not isinstance(name, str):
            return None
        return WireBind(m.group("ns"), name, meta.get("uid") if isinstance(meta.get("uid"), str) else None,
                        target.get("name") if isinstance(target.get("name"), str) else None, time.monotonic())

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        wire = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
                pass

            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                auth = self.headers.get("Authorization") or ""
                client = auth[len("Bearer "):] if auth.startswith("Bearer ") and auth != "Bearer wire" else ""
                if self.command in ("POST", "PUT", "PATCH") and "/leases" in self.path and client:
                    now = time.monotonic()
                    with wire.lock:
                        starved = wire._starved.get(client, 0.0) > now
                        if starved:
                            wire.refused_lease_writes.append((client, now, self.path))
                    if starved:
                        self._send_whole(500, {"Content-Type": "application/json"},
                                         _status(500, "InternalError", "Internal error occurred: the wire refused "
                                                 "this Lease write (kubeprop fault injection)"))
                        return
                bind = wire._binding(self.path, body) if self.command == "POST" else None
                held = None
                if bind is not None:
                    bind.client = client
                    key = (bind.namespace, bind.pod)
                    with wire.lock:
                        wire.binds.append(bind)
                        held = wire._holds.pop(key, None)
                        refuse = key in wire._refusals
                        wire._refusals.discard(key)
                    if held is not None:
                        bind.held = True
                        held.record = bind
                        held.arrived.set()
                        held.released.wait(HOLD_MAX)
                    if refuse:
                        bind.refused = True
                        bind.answered, bind.code = time.monotonic(), 500
                        self._send_whole(500, {"Content-Type": "application/json"},
                                         _status(500, "InternalError", "Internal error occurred: the wire refused "
                                                 "this binding (kubeprop fault injection)"))
                        return
                try:
                    self._forward(body, bind)
                finally:
                    if held is not None:
                        held.answered.set()

            def _forward(self, body: bytes, bind: WireBind | None) -> None:
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _DROP}
                if wire._auth:
                    headers["Authorization"] = wire._auth
                watch = "watch=" in self.path or "/watch/" in self.path
                try:
                    resp = wire._pool.request(
                        self.command, wire.upstream + self.path, body=body or None, headers=headers,
                        preload_content=False, redirect=False,
                        # a pooled connection the server closed meanwhile: tried again once on a fresh one (a read
                        # error only for methods that are safe to repeat: not a Binding's POST)
                        retries=urllib3.Retry(total=1, connect=1, read=1, redirect=False, status=None,
                                              raise_on_redirect=False, raise_on_status=False),
                        timeout=urllib3.Timeout(connect=TIMEOUT, read=None if watch else TIMEOUT))
                except Exception as e:  # noqa: BLE001 - no answer upstream: the client sees a gateway error
                    if bind is not None:
                        bind.answered, bind.code = time.monotonic(), 502
                    self._send_whole(502, {"Content-Type": "application/json"},
                                     _status(502, "InternalError", f"the wire reached no server: {e}"))
                    return
                out = {k: v for k, v in resp.headers.items() if k.lower() not in _DROP}
                try:
                    if resp.headers.get("Content-Length") is not None or not watch:
                        # whole, with its length, so the client's connection stays usable: an answer the server
                        # chunked (net/http chunks a body it did not buffer whole) is still a bounded one
                        data = resp.read(decode_content=False)
                        if bind is not None:  # recorded before the client has the answer
                            bind.answered, bind.code = time.monotonic(), resp.status
                        self._send_whole(resp.status, out, data)
                    else:
                        self._send_stream(resp, out)
                except OSError:
                    self.close_connection = True  # the client went away (a watch closed)
                finally:
                    resp.release_conn()
                if bind is not None and bind.code is None:
                    bind.answered, bind.code = time.monotonic(), resp.status

            def _send_whole(self, code: int, headers: dict[str, str], data: bytes) -> None:
                self.send_response(code)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _send_stream(self, resp: Any, headers: dict[str, str]) -> None:
                self.send_response(resp.status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Transfer-Encoding", "chunked")
                # the connection ends with the stream, and says so: a client that reused it for its next request
                # would meet a closed connection, and a POST or PATCH is not sent again (net/http transport.go,
                # shouldRetryRequest), so kube-scheduler lost pod status writes ("EOF") before this was said
                self.send_header("Connection", "close")  # http.server then closes it after this answer
                self.end_headers()
                try:
                    for chunk in resp.stream(64 * 1024, decode_content=False):
                        if chunk:
                            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                            self.wfile.flush()
                except urllib3.exceptions.HTTPError:
                    return  # the server cut the stream short: so does the wire, without the final chunk
                self.wfile.write(b"0\r\n\r\n")

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _any

        return Handler
