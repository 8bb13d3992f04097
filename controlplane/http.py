"""The bundled API server over real HTTP: upstream URL layout, JSON bodies, chunked watch streams.

Why cheroot: it is a mature, pure-Python, thread-pooled HTTP/1.1 server (the
one under CherryPy) that serves any WSGI app, writes a WSGI response with no
Content-Length as ``Transfer-Encoding: chunked`` and flushes every chunk to the
socket as it is yielded, so a watch reaches the client event by event. It also
keeps idle keep-alive connections in a selector rather than in a worker thread.
(waitress buffers application output before sending it, which would delay
watch events; the standard library's wsgiref is single-request and HTTP/1.0.)

Routes follow kube-apiserver (staging/src/k8s.io/apiserver/pkg/endpoints/installer.go):

- ``/api/v1/namespaces[/{name}]``, ``/api/v1/nodes[/{name}]``
- ``/api/v1/namespaces/{ns}/pods[/{name}[/binding]]``, ``/api/v1/pods``
- ``/apis/coordination.k8s.io/v1/namespaces/{ns}/leases[/{name}]``, ``/apis/coordination.k8s.io/v1/leases``
- discovery: ``/version``, ``/api``, ``/api/v1``, ``/apis``, ``/apis/coordination.k8s.io[/v1]``

Watches do not hold the request pool: once its headers are out, a watch is written by one loop thread that
serves every watch stream (:class:`WatchLoop`) and notices its client leaving, so a thousand open watches
leave the pool's threads to plain requests, and a client that vanishes frees what it held at once. The count
of open watches is at ``/debug/kubeprop/watches``.

Every failure is a Kubernetes ``Status``; bad input never produces a 500 and
never stops the server. Nothing here imports ``model``, ``adapters`` or
``conformance``.
"""

from __future__ import annotations

import contextlib
import heapq
import hmac
import itertools
import json
import logging
import os
import re
import select
import socket
import threading
import time
from collections.abc import Callable, Generator, Iterable, Iterator
from typing import Any
from urllib.parse import parse_qs

from cheroot import makefile, wsgi
from cheroot import server as server_module

from .apiserver import APIServer, Reply, Watcher
from .apiserver.errors import APIError
from .apiserver.patch import media_type
from .apiserver.registry import validate_watch_options
from .apiserver.resources import BY_PLURAL, Resource
from .harness import PREFIX, HarnessControls

log = logging.getLogger(__name__)

JSON = dict[str, Any]
StartResponse = Callable[..., Any]

# staging/src/k8s.io/apiserver/pkg/server/config.go: MaxRequestBodyBytes defaults to 3 MiB
MAX_BODY = 3 * 1024 * 1024
# how often a watch served by a request thread (without epoll) checks whether its client went away
WATCH_POLL = 0.5
# what a watch client may leave unread (beyond the kernel's buffers) before its watch is closed
WATCH_SEND_LIMIT = 8 * 1024 * 1024
# apiserver/pkg/server/secure_serving.go: defaultKeepAlivePeriod (3 minutes), TCP keep-alive on served connections
TCP_KEEPALIVE_PERIOD = 180
# staging/src/k8s.io/apiserver/pkg/server/config.go: MinRequestTimeout 1800 s caps a watch without timeoutSeconds
DEFAULT_WATCH_TIMEOUT = 1800.0
# apiserver/pkg/storage/cacher/cacher.go: defaultBookmarkFrequency; cache_watcher.go: nextBookmarkTime also sends
# one 2 s before the watch's deadline
BOOKMARK_FREQUENCY = 60.0
BOOKMARK_BEFORE_DEADLINE = 2.0
VERSION = {"major": "1", "minor": "33", "gitVersion": "v1.33.0-kubeprop", "gitCommit": "", "gitTreeState": "",
           "buildDate": "", "goVersion": "", "compiler": "", "platform": "python"}

# how many watches are open, and the process's threads (kubeprop's own; kube-apiserver serves nothing under
# /debug/kubeprop, its debug handlers are /debug/pprof, /debug/flags and /debug/api_priority_and_fairness)
DEBUG_WATCHES = "/debug/kubeprop/watches"

_GROUP_PREFIX = {"": "/api/v1", "coordination.k8s.io": "/apis/coordination.k8s.io/v1"}
_VERBS = ["create", "delete", "get", "list", "patch", "update", "watch"]
_SHORT_NAMES = {"namespaces": ["ns"], "nodes": ["no"], "pods": ["po"]}


def status(code: int, reason: str, message: str, details: JSON | None = None) -> JSON:
    """A failure Status (apimachinery/pkg/apis/meta/v1/types.go: Status), empty fields left out."""
    body: JSON = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure"}
    if message:
        body["message"] = message
    if reason:
        body["reason"] = reason
    if details:
        body["details"] = details
    body["code"] = code
    return body


class HTTPFailure(Exception):
    """A request the router rejects before it reaches the API server."""

    def __init__(self, code: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.body = status(code, reason, message)


def _not_found() -> HTTPFailure:
    # apiserver/pkg/endpoints/handlers/responsewriters/errors.go: the 404 for a path nothing serves, made by
    # apimachinery/pkg/api/errors/errors.go: NewGenericServerResponse, whose details are there with every field
    # empty (kube-apiserver v1.29.15, v1.36.3, v1.37.2 answer GET /api/v1/foo with "details":{})
    failure = HTTPFailure(404, "NotFound", "the server could not find the requested resource")
    failure.body = {**{k: v for k, v in failure.body.items() if k != "code"}, "details": {}, "code": 404}
    return failure


def _method_not_allowed() -> HTTPFailure:
    # a method no route serves at the path: apiserver/pkg/server/handler.go answers go-restful's 405 with
    # apimachinery/pkg/api/errors/errors.go: NewGenericServerResponse, whose message names no method (v1.37.2)
    return HTTPFailure(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")


def _bad_request(message: str) -> HTTPFailure:
    return HTTPFailure(400, "BadRequest", message)


_REASONS = {200: "OK", 201: "Created", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden",
            404: "Not Found", 405: "Method Not Allowed", 409: "Conflict", 410: "Gone",
            413: "Request Entity Too Large", 415: "Unsupported Media Type", 422: "Unprocessable Entity",
            500: "Internal Server Error", 504: "Gateway Timeout"}


def _status_line(code: int) -> str:
    return f"{code} {_REASONS.get(code, 'Unknown')}"


def _encode(body: Any) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()


# ----- discovery (apiserver/pkg/endpoints/discovery) ------------------------------------------------


def _resource_list(group: str) -> JSON:
    gv = f"{group}/v1" if group else "v1"
    resources: list[JSON] = []
    for res in sorted((r for r in BY_PLURAL.values() if r.group == group), key=lambda r: r.plural):
        entry: JSON = {"name": res.plural, "singularName": res.kind.lower(), "namespaced": res.namespaced,
                       "kind": res.kind, "verbs": list(_VERBS)}
        if res.plural in _SHORT_NAMES:
            entry["shortNames"] = _SHORT_NAMES[res.plural]
        resources.append(entry)
        if res.plural == "pods":
            resources.append({"name": "pods/binding", "singularName": "", "namespaced": True,
                              "kind": "Binding", "verbs": ["create"]})
        if res.plural in STATUS_SUBRESOURCE:
            resources.append({"name": f"{res.plural}/status", "singularName": "", "namespaced": res.namespaced,
                              "kind": res.kind, "verbs": ["get", "patch", "update"]})
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}


def _api_group(name: str) -> JSON:
    version = {"groupVersion": f"{name}/v1", "version": "v1"}
    return {"kind": "APIGroup", "apiVersion": "v1", "name": name, "versions": [version],
            "preferredVersion": version}


def _discovery(path: str, host: str) -> JSON | None:
    if path == "/version":
        return dict(VERSION)
    if path == "/api":
        return {"kind": "APIVersions", "versions": ["v1"],
                "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": host}]}
    if path == "/api/v1":
        return _resource_list("")
    if path == "/apis":
        groups = [_api_group(g) for g in sorted({r.group for r in BY_PLURAL.values() if r.group})]
        for g in groups:
            del g["kind"], g["apiVersion"]
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}
    for group in (r.group for r in BY_PLURAL.values() if r.group):
        if path == f"/apis/{group}":
            return _api_group(group)
        if path == f"/apis/{group}/v1":
            return _resource_list(group)
    return None


# ----- routing ----------------------------------------------------------------------------------------


class Route:
    """What a URL names: a resource, maybe a namespace, maybe an object, maybe its binding subresource; ``watch``:
    the URL has the deprecated ``watch/`` prefix, which serves only watches."""

    def __init__(self, res: Resource, namespace: str | None, name: str | None, binding: bool = False,
                 watch: bool = False, subresource: str = "") -> None:
        self.res = res
        self.namespace = namespace
        self.name = name
        self.binding = binding
        self.watch = watch
        #: "status" for pods/{name}/status and nodes/{name}/status (GET, PUT, PATCH)
        self.subresource = subresource


#: the resources served with a status subresource (pkg/registry/core/{pod,node}/storage/storage.go: StatusREST)
STATUS_SUBRESOURCE = ("pods", "nodes")


def route(path: str) -> Route:
    """Resolve a resource URL, or raise the 404 a kube-apiserver gives for a path it does not serve."""
    group = None
    for g, prefix in _GROUP_PREFIX.items():
        if path.startswith(prefix + "/"):
            group, rest = g, path[len(prefix) + 1:]
            break
    if group is None:
        raise _not_found()
    parts = rest.split("/")
    if any(p == "" for p in parts):
        raise _not_found()
    # a group version's watch/ (or proxy/) prefix with no resource after it, trailing slash or not, names nothing:
    # 404 below ("watch" and "proxy" are no resources here). kube-apiserver fails earlier, parsing such a URL for
    # its RequestInfo, and answers 500 (apiserver/pkg/endpoints/request/requestinfo.go: NewRequestInfo; filters/
    # requestinfo.go: WithRequestInfo); a client's URL is a client's mistake (api.no-5xx-for-client-errors)
    if parts[0] == "watch" and len(parts) > 1:
        # apiserver/pkg/endpoints/installer.go: the WATCHLIST and WATCH actions serve every collection and object
        # URL again under "watch/" (deprecated; no subresource, and the older namespaces/{ns}/bindings is no
        # collection of its own)
        r = route(f"{_GROUP_PREFIX[group]}/{'/'.join(parts[1:])}")
        if r.binding or r.watch or r.subresource:
            raise _not_found()
        return Route(r.res, r.namespace, r.name, watch=True)

    def lookup(plural: str) -> Resource:
        res = BY_PLURAL.get(plural)
        if res is None or res.group != group:
            raise _not_found()
        return res

    # installer.go: namespaced resources live under namespaces/{ns}/, and also list across namespaces at the top
    if parts[0] == "namespaces" and len(parts) >= 3:
        ns, plural, tail = parts[1], parts[2], parts[3:]
        if group == "" and plural == "bindings" and not tail:
            # pkg/registry/core/rest/storage_core.go: the older POST namespaces/{ns}/bindings, name in the body
            return Route(BY_PLURAL["pods"], ns, None, binding=True)
        res = lookup(plural)
        if not res.namespaced:
            raise _not_found()
        if not tail:
            return Route(res, ns, None)
        if len(tail) == 1:
            return Route(res, ns, tail[0])
        if len(tail) == 2 and res.plural == "pods" and tail[1] == "binding":
            return Route(res, ns, tail[0], binding=True)
        if len(tail) == 2 and res.plural in STATUS_SUBRESOURCE and tail[1] == "status":
            return Route(res, ns, tail[0], subresource="status")
        raise _not_found()
    res = lookup(parts[0])
    if len(parts) == 1:
        return Route(res, None, None)
    if len(parts) == 2 and not res.namespaced:
        return Route(res, None, parts[1])
    if len(parts) == 3 and not res.namespaced and res.plural in STATUS_SUBRESOURCE and parts[2] == "status":
        return Route(res, None, parts[1], subresource="status")
    raise _not_found()


def _dry_run(environ: JSON) -> list[str] | None:
    """Every value of the ``dryRun`` query parameter (a list, as apimachinery decodes it), or None when absent."""
    values = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True).get("dryRun")
    return list(values) if values is not None else None


def _query(environ: JSON) -> dict[str, str]:
    # a repeated parameter keeps its first value, as Go's url.Values.Get does
    return {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True).items()}


def _parse_bool(name: str, text: str) -> bool:
    # strconv.ParseBool, which apimachinery's query parameter conversion uses
    if text in ("1", "t", "T", "true", "TRUE", "True"):
        return True
    if text in ("", "0", "f", "F", "false", "FALSE", "False"):
        return False
    raise _bad_request(f"invalid value for query parameter {name}: {text!r} is not a boolean")


def _parse_int(name: str, text: str) -> int:
    # strconv.ParseInt(text, 10, 64): an optional sign and decimal digits, nothing else (no spaces, no "_")
    if re.fullmatch(r"[+-]?[0-9]+", text) and -(2**63) <= int(text) < 2**63:
        return int(text)
    raise _bad_request(f"invalid value for query parameter {name}: {text!r} is not an integer")


def _read_body(environ: JSON) -> bytes:
    """The request body, refused with 413 beyond MAX_BODY (handlers/rest.go: limitedReadBody)."""
    length_text = environ.get("CONTENT_LENGTH") or ""
    if length_text:
        try:
            length = int(length_text)
        except ValueError:
            raise _bad_request("invalid Content-Length") from None
        if length > MAX_BODY:
            raise HTTPFailure(413, "RequestEntityTooLarge", f"Request entity too large: limit is {MAX_BODY}")
        data = environ["wsgi.input"].read(length) if length > 0 else b""
    else:
        # a chunked body: read one byte past the limit to know it is too large without reading all of it
        data = environ["wsgi.input"].read(MAX_BODY + 1)
    if len(data) > MAX_BODY:
        raise HTTPFailure(413, "RequestEntityTooLarge", f"Request entity too large: limit is {MAX_BODY}")
    return data


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _no_constant(name: str) -> Any:
    raise ValueError(f"invalid character {name[0]!r} looking for beginning of value")


def _finite(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        # encoding/json: a number beyond float64 cannot be decoded
        raise ValueError(f"json: cannot unmarshal number {text} into Go value of type float64")
    return value


def _valid_text(value: Any) -> Any:
    """encoding/json decodes an escaped lone surrogate as U+FFFD; Python keeps it (and could not encode it)."""
    if isinstance(value, str):
        return _LONE_SURROGATE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {_valid_text(k): _valid_text(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_valid_text(v) for v in value]
    return value


def _loads(data: bytes) -> Any:
    """JSON as Go's encoding/json reads it: no NaN or Infinity, no number beyond float64, no lone surrogates."""
    value = json.loads(data.decode("utf-8"), parse_constant=_no_constant, parse_float=_finite)
    if re.search(rb"\\u[dD][89a-fA-F]", data):
        value = _valid_text(value)
    return value


# the request media types this server decodes (kube-apiserver also takes YAML, protobuf and CBOR)
_INPUT_TYPES = ["application/json"]


def _check_input_type(environ: JSON) -> None:
    """apiserver/pkg/endpoints/handlers/negotiation/negotiate.go: NegotiateInputSerializerForMediaType -- 415."""
    content_type = environ.get("CONTENT_TYPE") or ""
    base = content_type.split(";", 1)[0].strip().lower()
    if content_type and base not in _INPUT_TYPES:
        raise HTTPFailure(415, "UnsupportedMediaType",
                          "the body of the request was in an unknown format - accepted media types include: "
                          + ", ".join(_INPUT_TYPES))


def _decode_json(data: bytes, *, required: bool = True) -> Any:
    if not data.strip():
        if required:
            raise _bad_request("the request needs a JSON body")
        return None
    try:
        return _loads(data)
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise _bad_request(f"the request body is not valid JSON: {e}") from None


def _event_rv(event: JSON) -> int:
    obj = event.get("object")
    rv = (obj.get("metadata") or {}).get("resourceVersion") if isinstance(obj, dict) else None
    return int(rv) if isinstance(rv, str) and rv.isdigit() else 0


# ----- watch streams ------------------------------------------------------------------------------------


def _client_gone(sock: socket.socket | None) -> bool:
    """Whether the peer closed its end: readable with nothing to read (a watch client sends nothing).

    poll, not select: select cannot take a descriptor numbered 1024 or more, and a server holding a thousand
    watches has those (select raised, which read as "gone" and ended every such watch at once)."""
    if sock is None:
        return False
    try:
        fd = sock.fileno()
        if fd < 0:
            return True
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        if not poller.poll(0):
            return False
        return sock.recv(1, socket.MSG_PEEK) == b""
    except (OSError, ValueError):
        return True


def _next_bookmark(now: float, deadline: float) -> float | None:
    # apiserver/pkg/storage/cacher/cache_watcher.go: nextBookmarkTime -- every minute, and 2 s before the end
    at = min(now + BOOKMARK_FREQUENCY, deadline - BOOKMARK_BEFORE_DEADLINE)
    return None if at < now else at


class WatchStream:
    """One open watch: its Watcher's events as chunks of JSON lines, until the deadline, the watch's end, the
    client leaving or the server stopping.

    Iterating it serves the stream from the iterating thread (so any WSGI server can serve it); the cheroot
    gateway below instead hands a live stream to the :class:`WatchLoop`.
    """

    def __init__(self, app: APIApp, watcher: Watcher, first: list[JSON], sock: socket.socket | None,
                 timeout: float, bookmark: Callable[[], JSON] | None = None) -> None:
        self.app = app
        self.watcher = watcher
        self.first = first
        self.sock = sock
        self.timeout = timeout
        self.bookmark = bookmark
        self.client_gone = False  # the client hung up: nothing more is written to it
        self._iter: Iterator[bytes] | None = None

    @property
    def live(self) -> bool:
        """Whether the stream waits for events (not one that only carries an ERROR already known, then ends)."""
        return self.timeout > 0

    def chunks(self) -> Iterator[bytes]:
        """The stream's chunks, for a thread that serves it alone (with nothing to send it looks at the client
        every WATCH_POLL seconds); the watch loop does the same for every stream at once."""
        watcher, bookmark = self.watcher, self.bookmark
        start = time.monotonic()
        deadline = start + self.timeout
        next_mark = _next_bookmark(start, deadline) if bookmark is not None else None
        last_rv = 0
        try:
            for e in self.first:
                yield _encode(e) + b"\n"
            while not self.app.stopping and not self.client_gone:
                now = time.monotonic()
                left = deadline - now
                if left <= 0:
                    break
                wait = min(WATCH_POLL, left) if next_mark is None else max(0.0, min(WATCH_POLL, left,
                                                                                     next_mark - now))
                watcher.wait(wait)
                if self.client_gone:
                    break
                events = watcher.drain()
                if bookmark is not None and next_mark is not None and time.monotonic() >= next_mark \
                        and not watcher.ended:
                    mark = bookmark()
                    events += watcher.drain()  # every change up to the bookmark's revision goes out before it
                    for e in events:
                        last_rv = max(last_rv, _event_rv(e))
                    # a bookmark never promises less than an event already sent
                    mark["object"]["metadata"]["resourceVersion"] = str(max(last_rv, _event_rv(mark)))
                    events.append(mark)
                    next_mark = _next_bookmark(time.monotonic(), deadline) if now < deadline - \
                        BOOKMARK_BEFORE_DEADLINE else None
                for e in events:
                    last_rv = max(last_rv, _event_rv(e))
                if events:
                    yield b"".join(_encode(e) + b"\n" for e in events)
                if watcher.ended:
                    break
                if not events and _client_gone(self.sock):
                    self.client_gone = True
                    break
        finally:
            self.finish()

    def finish(self) -> None:
        """Cancel the storage watch and stop counting this stream (idempotent)."""
        self.watcher.close()
        self.app.forget(self)

    # ---- as a WSGI response, served by the thread that iterates it ----

    def __iter__(self) -> Iterator[bytes]:
        if self._iter is None:
            self._iter = self.chunks()
        return self._iter

    def close(self) -> None:
        if isinstance(self._iter, Generator):
            self._iter.close()
        self.finish()


def _tcp_keep_alive(sock: socket.socket) -> None:
    # apiserver/pkg/server/secure_serving.go: tcpKeepAliveListener -- keep-alive probes every defaultKeepAlivePeriod,
    # so a watch client whose host vanished without closing is also noticed (the probes fail, the socket errors)
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        for name in ("TCP_KEEPIDLE", "TCP_KEEPINTVL"):
            if hasattr(socket, name):
                sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, name), TCP_KEEPALIVE_PERIOD)


def _chunk(data: bytes, chunked: bool) -> bytes:
    return b"%x\r\n%b\r\n" % (len(data), data) if chunked else data


class _Served:
    """A watch stream in the loop: its socket, what is not sent yet, and when the loop must next look at it."""

    __slots__ = ("stream", "conn", "sock", "fd", "chunked", "keep_alive", "out", "deadline", "next_mark", "last_rv",
                 "ending", "want_write", "done")

    def __init__(self, stream: WatchStream, conn: Any, chunked: bool, keep_alive: bool) -> None:
        self.stream = stream
        self.conn = conn
        self.sock: socket.socket = conn.socket
        self.fd = -1
        self.chunked = chunked
        self.keep_alive = keep_alive
        self.out = bytearray()
        now = time.monotonic()
        self.deadline = now + stream.timeout
        self.next_mark = _next_bookmark(now, self.deadline) if stream.bookmark is not None else None
        self.last_rv = 0
        self.ending = False  # the last chunk is queued (or the client is gone): no more events
        self.want_write = False  # the socket took less than was queued: wait until it can take more
        self.done = False

    @property
    def wake_at(self) -> float:
        return self.deadline if self.next_mark is None else min(self.deadline, self.next_mark)


class WatchLoop:
    """One thread that writes every live watch stream, off cheroot's request pool, and notices clients leaving.

    A watch lasts up to 30 minutes. Served as cheroot serves any streamed WSGI response it would hold one of the
    pool's threads all along: as many open watches as threads, and every further request waited (cheroot 11's
    ThreadPool never grows by itself: ``grow()`` is there, but nothing in cheroot calls it). kube-apiserver gives
    each watch a goroutine and keeps long-running requests out of its in-flight limits
    (apiserver/pkg/server/filters/maxinflight.go: WithMaxInFlightLimit skips them). A thread per watch would free
    the pool, but a change then wakes a thousand threads that contend for the interpreter lock: a write with a
    thousand watchers took a quarter of a second. So once a watch's headers are sent, the request thread hands
    its socket to this loop and returns to the pool. Each Watcher tells the loop when it has something
    (``Watcher.listen``); the loop encodes and sends it without blocking, keeps what a slow client has not taken
    yet, and sends bookmarks and ends streams on timers.

    The loop waits on every watch socket at once (epoll, EPOLLRDHUP), so a client that closes or dies ends its
    watch at once, which cancels the storage watch; Go's net/http does the same with its background read
    (net/http/server.go: connReader.backgroundRead cancels the request's context at EOF). A watch that ends
    cleanly (its timeout, or an ERROR event) gives its connection back to cheroot for the client's next request.
    """

    def __init__(self, server: wsgi.Server) -> None:
        self.server = server
        self._epoll = select.epoll()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._epoll.register(self._wake_r, select.EPOLLIN)
        self._lock = threading.Lock()
        self._new: list[_Served] = []
        self._ready: dict[_Served, None] = {}  # streams whose watcher has something, in the order they said so
        self._woken = False
        self._stopping = threading.Event()  # no connection goes back to cheroot any more
        self._stopped = False  # the loop ends every stream still open and returns
        # the loop thread's own
        self._by_fd: dict[int, _Served] = {}
        self._timers: list[tuple[float, int, _Served]] = []
        self._seq = itertools.count()
        self._thread: threading.Thread | None = None

    @staticmethod
    def available() -> bool:
        return hasattr(select, "epoll") and hasattr(select, "EPOLLRDHUP")

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="kubeprop-watch-loop", daemon=True)
            self._thread.start()

    def serve(self, stream: WatchStream, conn: Any, chunked: bool, keep_alive: bool) -> None:
        """Take over a watch whose headers are sent (called by a request thread, which then lets the socket go);
        RuntimeError if the loop has stopped."""
        served = _Served(stream, conn, chunked, keep_alive)
        with self._lock:
            if self._stopped or self._thread is None:
                raise RuntimeError("the watch loop is not running")
            self._new.append(served)
        self._wake()
        # from now on every event or end marks it ready (at once if the watcher already has something)
        stream.watcher.listen(lambda: self._mark_ready(served))

    def _mark_ready(self, served: _Served) -> None:
        with self._lock:
            self._ready[served] = None
            if self._woken:
                return
            self._woken = True
        self._write_wake()

    def _wake(self) -> None:
        with self._lock:
            if self._woken:
                return
            self._woken = True
        self._write_wake()

    def _write_wake(self) -> None:
        with contextlib.suppress(BlockingIOError, OSError):
            os.write(self._wake_w, b"\0")

    # ---- the loop ----

    def _run(self) -> None:
        try:
            while True:
                timeout = 1.0
                if self._timers:
                    timeout = min(timeout, max(0.0, self._timers[0][0] - time.monotonic()))
                for fd, mask in self._epoll.poll(timeout):
                    if fd == self._wake_r:
                        with contextlib.suppress(BlockingIOError):
                            while os.read(self._wake_r, 4096):
                                pass
                        continue
                    served = self._by_fd.get(fd)
                    if served is None:
                        continue
                    if mask & (select.EPOLLRDHUP | select.EPOLLHUP | select.EPOLLERR):
                        served.stream.client_gone = True
                        self._finish(served)
                    elif mask & select.EPOLLOUT:
                        self._flush(served)
                with self._lock:
                    new, self._new = self._new, []
                    ready, self._ready = self._ready, {}
                    self._woken = False
                    stopped = self._stopped
                for served in new:
                    self._guarded(self._register, served)
                now = time.monotonic()
                for served in ready:
                    if not served.done:
                        self._guarded(self._pump, served, now)
                while self._timers and self._timers[0][0] <= now:
                    at, _, served = heapq.heappop(self._timers)
                    if not served.done and not served.ending and at == served.wake_at:
                        self._guarded(self._pump, served, now)
                if stopped:
                    for served in list(self._by_fd.values()):
                        served.stream.client_gone = True  # nothing more is written: the server is going
                        self._finish(served)
                    return
        finally:
            with self._lock:
                self._stopped = True
                new, self._new = self._new, []
            for served in new:
                served.stream.client_gone = True
                self._finish(served)
            self._epoll.close()
            os.close(self._wake_r)
            os.close(self._wake_w)

    def _guarded(self, step: Callable[..., None], served: _Served, *args: Any) -> None:
        try:
            step(served, *args)
        except Exception:  # a bug in kubeprop ends this stream, never the loop that serves every other one
            log.exception("watch stream failed; closing it")
            served.stream.client_gone = True
            self._finish(served)

    def _register(self, served: _Served) -> None:
        sock = served.sock
        try:
            sock.setblocking(False)
            _tcp_keep_alive(sock)
            served.fd = sock.fileno()
            # EPOLLRDHUP: the peer closed (or shut down writing); EPOLLHUP and EPOLLERR (a reset, failed keep-alive
            # probes) come anyway. Data a client sends is not asked for, so it cannot spin this loop.
            self._epoll.register(served.fd, select.EPOLLRDHUP)
        except (OSError, ValueError):
            served.stream.client_gone = True
            self._finish(served)
            return
        self._by_fd[served.fd] = served
        for e in served.stream.first:
            served.out += _chunk(_encode(e) + b"\n", served.chunked)
        heapq.heappush(self._timers, (served.wake_at, next(self._seq), served))
        self._pump(served, time.monotonic())

    def _pump(self, served: _Served, now: float) -> None:
        """Send what the watcher has (and a bookmark when one is due); end the stream at its end or deadline."""
        if served.ending:
            return
        stream, watcher = served.stream, served.stream.watcher
        events = watcher.drain()
        if stream.bookmark is not None and served.next_mark is not None and now >= served.next_mark \
                and not watcher.ended:
            mark = stream.bookmark()
            events += watcher.drain()  # every change up to the bookmark's revision goes out before it
            for e in events:
                served.last_rv = max(served.last_rv, _event_rv(e))
            # a bookmark never promises less than an event already sent
            mark["object"]["metadata"]["resourceVersion"] = str(max(served.last_rv, _event_rv(mark)))
            events.append(mark)
            served.next_mark = _next_bookmark(now, served.deadline) \
                if now < served.deadline - BOOKMARK_BEFORE_DEADLINE else None
            heapq.heappush(self._timers, (served.wake_at, next(self._seq), served))
        for e in events:
            served.last_rv = max(served.last_rv, _event_rv(e))
        if events:
            served.out += _chunk(b"".join(_encode(e) + b"\n" for e in events), served.chunked)
        if watcher.ended or now >= served.deadline:
            served.ending = True
            if served.chunked:
                served.out += b"0\r\n\r\n"
        self._flush(served)

    def _flush(self, served: _Served) -> None:
        while served.out:
            try:
                sent = served.sock.send(served.out)
            except BlockingIOError:
                break
            except OSError:
                served.stream.client_gone = True
                self._finish(served)
                return
            del served.out[:sent]
        if served.out:
            if len(served.out) > WATCH_SEND_LIMIT:
                # apiserver/pkg/storage/cacher/cache_watcher.go: add -- a watcher that does not keep up is closed
                served.stream.client_gone = True
                self._finish(served)
                return
            if not served.want_write:
                served.want_write = True
                self._epoll.modify(served.fd, select.EPOLLRDHUP | select.EPOLLOUT)
        else:
            if served.want_write:
                served.want_write = False
                self._epoll.modify(served.fd, select.EPOLLRDHUP)
            if served.ending:
                self._finish(served)

    def _finish(self, served: _Served) -> None:
        """The stream is over: cancel its storage watch, stop counting it, and give its connection back or close."""
        if served.done:
            return
        served.done = True
        if self._by_fd.pop(served.fd, None) is not None:
            # before the socket is closed or handed back: a closed descriptor's number is soon another socket's
            with contextlib.suppress(OSError, ValueError):
                self._epoll.unregister(served.fd)
        served.stream.watcher.listen(None)
        served.stream.finish()
        clean = served.ending and not served.stream.client_gone
        if clean and served.chunked and served.keep_alive and not self._stopping.is_set():
            self._hand_back(served.conn)
        else:
            self._close(served.conn)

    def _hand_back(self, conn: Any) -> None:
        """After a watch that ended cleanly the connection serves the client's next request, as after any other.

        A fresh connection object, made as cheroot/connections.py: ConnectionManager._from_server_socket makes
        one, goes back to cheroot's keep-alive selector (cheroot/server.py: HTTPServer.put_conn). Bytes the client
        pipelined behind its watch request are lost with the old one's read buffer."""
        server = self.server
        if server.ssl_adapter is not None or not server.ready:
            self._close(conn)
            return
        try:
            conn.socket.settimeout(server.timeout)
            fresh = server.ConnectionClass(server, conn.socket, makefile.MakeFile)
            fresh.remote_addr, fresh.remote_port = conn.remote_addr, conn.remote_port
            fresh.ssl_env = getattr(conn, "ssl_env", {})
            server.put_conn(fresh)
        except (OSError, ValueError, KeyError):
            self._close(conn)

    @staticmethod
    def _close(conn: Any) -> None:
        sock = conn.socket
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(Exception):
            conn.wfile.close()
        with contextlib.suppress(OSError):
            sock.close()

    # ---- stopping ----

    def stopping(self) -> None:
        """From now on a watch that ends closes its connection (the server is stopping)."""
        self._stopping.set()

    def stop(self, timeout: float) -> None:
        """End every stream still open (its client gets no last chunk) and wait for the loop to return."""
        self._stopping.set()
        with self._lock:
            self._stopped = True
        self._wake()
        if self._thread is not None:
            self._thread.join(timeout)


# ----- the WSGI application -----------------------------------------------------------------------


class _SocketReader:
    """What cheroot reads a plain connection through, in place of cheroot/makefile.py: StreamReader.

    That one is built on ``_pyio``, the pure-Python ``io``, and its ``readline`` was a third of the served server's
    time per request (each header line is one call). This keeps one byte buffer and finds line ends with
    ``bytes.find``. Reads block as a buffered reader's do: ``read(n)`` returns n bytes unless the peer closes
    first, ``readline`` a whole line (or at most ``size`` bytes, or what came before the close); a socket
    timeout propagates and leaves the buffer as it was."""

    def __init__(self, sock: socket.socket, bufsize: int) -> None:
        self._sock = sock
        self._bufsize = max(bufsize, 1024)
        self._buf = bytearray()
        self._eof = False
        self.bytes_read = 0

    def _fill(self) -> bool:
        if self._eof:
            return False
        data = self._sock.recv(self._bufsize)
        if not data:
            self._eof = True
            return False
        self._buf += data
        return True

    def _take(self, n: int) -> bytes:
        out = bytes(self._buf[:n])
        del self._buf[:n]
        self.bytes_read += len(out)
        return out

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            while self._fill():
                pass
            return self._take(len(self._buf))
        while len(self._buf) < size and self._fill():
            pass
        return self._take(min(size, len(self._buf)))

    def readline(self, size: int | None = -1) -> bytes:
        limit = -1 if size is None else size
        start = 0
        while True:
            end = self._buf.find(b"\n", start)
            if end >= 0 and (limit < 0 or end < limit):
                return self._take(end + 1)
            if 0 <= limit <= len(self._buf):
                return self._take(limit)
            start = len(self._buf)
            if not self._fill():
                return self._take(len(self._buf))

    def readlines(self, hint: int = -1) -> list[bytes]:
        lines: list[bytes] = []
        total = 0
        while line := self.readline():
            lines.append(line)
            total += len(line)
            if 0 < hint <= total:
                break
        return lines

    def __iter__(self) -> _SocketReader:
        return self

    def __next__(self) -> bytes:
        line = self.readline()
        if not line:
            raise StopIteration
        return line

    def has_data(self) -> bool:
        """Whether bytes are buffered (cheroot serves such a connection at once, without waiting on select)."""
        return bool(self._buf)

    def close(self) -> None:
        self._buf.clear()
        self._eof = True


class _Connection(server_module.HTTPConnection):
    """cheroot's connection, reading a plain socket through :class:`_SocketReader` (a TLS socket keeps the
    adapter's reader)."""

    def __init__(self, server: Any, sock: Any, makefile_: Any = makefile.MakeFile) -> None:
        super().__init__(server, sock, makefile_)
        if makefile_ is makefile.MakeFile and isinstance(sock, socket.socket):
            self.rfile.close()
            self.rfile = _SocketReader(sock, self.rbufsize)


class _Server(wsgi.Server):
    """cheroot's WSGI server, with the loop that serves its watches (for the gateway to find)."""

    watch_loop: WatchLoop | None = None
    ConnectionClass = _Connection


class _Gateway(wsgi.Gateway_10):
    """cheroot's WSGI 1.0 gateway; it hands the app the client socket, and a live watch to the watch loop."""

    def get_environ(self) -> JSON:
        env = super().get_environ()
        env["kubeprop.socket"] = getattr(self.req.conn, "socket", None)
        return env

    def respond(self) -> None:
        # cheroot/wsgi.py: Gateway.respond, except that a live watch leaves the request thread once its headers
        # are sent
        response = self.req.server.wsgi_app(self.env, self.start_response)
        if isinstance(response, WatchStream) and response.live and self._detach(response):
            return
        try:
            for chunk in filter(None, response):
                if not isinstance(chunk, bytes):
                    raise ValueError("WSGI Applications must yield bytes")
                self.write(chunk)
        finally:
            self.req.ensure_headers_sent()
            if hasattr(response, "close"):
                response.close()

    def _detach(self, stream: WatchStream) -> bool:
        req = self.req
        loop = getattr(req.server, "watch_loop", None)
        if loop is None or req.server.ssl_adapter is not None or not req.sent_headers \
                or not isinstance(req.conn.socket, socket.socket):
            return False
        chunked, keep_alive = bool(req.chunked_write), not req.close_connection
        # from here cheroot neither writes to the socket (no last chunk) nor shuts or closes it when this request
        # ends (cheroot/server.py: HTTPConnection.close does neither with linger): the watch loop owns it
        req.chunked_write, req.close_connection, req.conn.linger = False, True, True
        try:
            loop.serve(stream, req.conn, chunked, keep_alive)
        except RuntimeError:  # the loop is not running: serve the watch from this thread
            req.chunked_write, req.close_connection, req.conn.linger = chunked, not keep_alive, False
            return False
        return True


class APIApp:
    """The WSGI application: routes a request to the APIServer and writes its Reply as JSON."""

    def __init__(self, api: APIServer, token: str | None = None, controls: HarnessControls | None = None) -> None:
        self.api = api
        self.token = token
        self.controls = controls  # test-only /kubeprop/v1/ endpoints (serve --test-controls); None: not served
        self._stopping = threading.Event()
        self._watches: set[WatchStream] = set()
        self._lock = threading.Lock()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    @property
    def open_watches(self) -> int:
        """How many watch streams are open (each holds a storage watch until it ends)."""
        with self._lock:
            return len(self._watches)

    def forget(self, stream: WatchStream) -> None:
        with self._lock:
            self._watches.discard(stream)

    def stop_watches(self) -> None:
        """End every open watch stream so its thread returns (the server is stopping)."""
        self._stopping.set()
        with self._lock:
            streams = list(self._watches)
        for s in streams:
            s.watcher.close()

    def __call__(self, environ: JSON, start_response: StartResponse) -> Iterable[bytes]:
        try:
            return self._handle(environ, start_response)
        except HTTPFailure as e:
            return self._json(start_response, e.code, e.body)
        except APIError as e:
            return self._json(start_response, e.code, e.status())
        except Exception as e:  # a bug in kubeprop: still a Status, and the server keeps serving
            return self._json(start_response, 500, status(500, "InternalError", f"{type(e).__name__}: {e}"))

    @staticmethod
    def _json(start_response: StartResponse, code: int, body: Any) -> list[bytes]:
        data = _encode(body)
        start_response(_status_line(code), [("Content-Type", "application/json"),
                                            ("Content-Length", str(len(data)))])
        return [data]

    def _authorized(self, environ: JSON) -> bool:
        if self.token is None:
            return True
        header = environ.get("HTTP_AUTHORIZATION", "")
        scheme, _, given = header.partition(" ")
        # apiserver/pkg/authentication/request/bearertoken/bearertoken.go: "Bearer <token>", scheme case-insensitive
        return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), self.token.encode())

    def _handle(self, environ: JSON, start_response: StartResponse) -> Iterable[bytes]:
        if not self._authorized(environ):
            # apiserver/pkg/endpoints/filters/authentication.go: Unauthorized
            return self._json(start_response, 401, status(401, "Unauthorized", "Unauthorized"))
        method = environ.get("REQUEST_METHOD", "GET")
        # PEP 3333 hands the decoded path over as latin-1 text; its bytes are UTF-8, as Go reads them
        path = environ.get("PATH_INFO", "").encode("latin-1", "replace").decode("utf-8", "replace") or "/"
        if path != "/" and path.endswith("/"):
            path = path.rstrip("/")
        if path in ("/healthz", "/livez", "/readyz"):
            data = b"ok"
            start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
            return [data]
        if path == DEBUG_WATCHES:
            if method != "GET":
                raise _method_not_allowed()
            return self._json(start_response, 200, {"open": self.open_watches,
                                                    "threads": threading.active_count()})
        if self.controls is not None and path.startswith(PREFIX):
            code, body = self.controls.handle(method, path, _decode_json(_read_body(environ), required=False))
            return self._json(start_response, code, body)
        host = f"{environ.get('SERVER_NAME', '127.0.0.1')}:{environ.get('SERVER_PORT', '')}"
        disc = _discovery(path, host)
        if disc is not None:
            if method != "GET":
                raise _method_not_allowed()
            return self._json(start_response, 200, disc)
        r = route(path)
        q = _query(environ)
        if r.watch:
            if method != "GET":
                raise _method_not_allowed()
            # apiserver/pkg/endpoints/handlers/get.go: ListResource with forceWatch -- a watch whatever ?watch says
            return self._watch(environ, start_response, r, q)
        if r.subresource and method not in ("GET", "PUT", "PATCH"):
            raise _method_not_allowed()
        if method == "GET":
            if r.binding:
                raise _method_not_allowed()
            if r.name is None and _parse_bool("watch", q.get("watch", "")):
                return self._watch(environ, start_response, r, q)
            if r.name is None:
                reply = self.api.list(r.res.plural, r.namespace, label_selector=q.get("labelSelector") or None,
                                      field_selector=q.get("fieldSelector") or None,
                                      limit=_parse_int("limit", q["limit"]) if q.get("limit") else 0,
                                      continue_=q.get("continue", ""), resource_version=q.get("resourceVersion", ""),
                                      resource_version_match=q.get("resourceVersionMatch", ""))
            else:
                reply = self.api.get(r.res.plural, r.namespace, r.name, q.get("resourceVersion", ""),
                                     subresource=r.subresource)
        elif method == "POST":
            if r.name is not None and not r.binding:
                raise _method_not_allowed()
            _check_input_type(environ)
            body = _decode_json(_read_body(environ))
            if r.binding:
                assert r.namespace is not None
                reply = self.api.bind(r.namespace, r.name, body, dry_run=_dry_run(environ))
            elif r.res.namespaced and r.namespace is None:
                raise _method_not_allowed()  # no create across all namespaces
            else:
                reply = self.api.create(r.res.plural, r.namespace, body, dry_run=_dry_run(environ))
        elif method == "PUT":
            if r.name is None or r.binding:
                raise _method_not_allowed()
            _check_input_type(environ)
            reply = self.api.update(r.res.plural, r.namespace, r.name, _decode_json(_read_body(environ)),
                                    dry_run=_dry_run(environ), subresource=r.subresource)
        elif method == "PATCH":
            if r.name is None or r.binding:
                raise _method_not_allowed()
            reply = self._patch(environ, r)
        elif method == "DELETE":
            if r.name is None or r.binding:
                raise _method_not_allowed()
            reply = self.api.delete(r.res.plural, r.namespace, r.name, self._delete_options(environ, q),
                                    dry_run=_dry_run(environ))
        else:
            raise _method_not_allowed()
        return self._reply(start_response, reply)

    def _patch(self, environ: JSON, r: Route) -> Reply:
        # apiserver/pkg/endpoints/handlers/patch.go: PatchResource -- the media type first (415), then the body
        # (413), which must be JSON (400 "invalid JSON patch", validateAndTranscodePatch), then the update path
        content_type = environ.get("CONTENT_TYPE") or ""
        kind = media_type(content_type)
        data = _read_body(environ)
        try:
            body = _loads(data)
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise _bad_request("invalid JSON patch") from None
        assert r.name is not None
        return self.api.patch(r.res.plural, r.namespace, r.name, kind, body, dry_run=_dry_run(environ),
                              subresource=r.subresource)

    def _reply(self, start_response: StartResponse, reply: Reply) -> list[bytes]:
        return self._json(start_response, reply.code, reply.body)

    @staticmethod
    def _delete_options(environ: JSON, q: dict[str, str]) -> Any:
        # apiserver/pkg/endpoints/handlers/delete.go: DeleteResource takes query parameters, then a body on top
        options: Any = {}
        if "gracePeriodSeconds" in q:
            options["gracePeriodSeconds"] = _parse_int("gracePeriodSeconds", q["gracePeriodSeconds"])
        body = _decode_json(_read_body(environ), required=False)
        if body is None:
            return options or None
        if isinstance(body, dict):
            return {**options, **body}
        return body  # not an object: the API server answers it with its own 400

    def _watch(self, environ: JSON, start_response: StartResponse, r: Route, q: dict[str, str]) -> Iterable[bytes]:
        timeout = DEFAULT_WATCH_TIMEOUT
        # apiserver/pkg/endpoints/handlers/get.go: ListResource -- timeoutSeconds 0 (or none) means the default
        if q.get("timeoutSeconds") and _parse_int("timeoutSeconds", q["timeoutSeconds"]) != 0:
            timeout = float(_parse_int("timeoutSeconds", q["timeoutSeconds"]))
        bookmarks = _parse_bool("allowWatchBookmarks", q.get("allowWatchBookmarks", ""))
        send_initial = q.get("sendInitialEvents")
        validate_watch_options(q.get("resourceVersionMatch", ""), q.get("continue", ""),
                               None if send_initial is None else _parse_bool("sendInitialEvents", send_initial))
        watcher = self.api.watch(r.res.plural, r.namespace, resource_version=q.get("resourceVersion") or None,
                                 label_selector=q.get("labelSelector") or None,
                                 field_selector=q.get("fieldSelector") or None, name=r.name)
        if watcher.ended:
            events = watcher.drain()
            # a request the server refuses outright (bad selector, bad resourceVersion) is an HTTP error;
            # only "too old" arrives inside a 200 stream (apiserver/pkg/storage/cacher/cacher.go: newErrWatcher)
            if len(events) == 1 and events[0].get("type") == "ERROR" and events[0]["object"].get("code") != 410:
                obj = events[0]["object"]
                return self._json(start_response, int(obj.get("code") or 500), obj)
            return self._stream(start_response, watcher, events, environ, 0.0)
        mark = (lambda: self.api.bookmark(r.res.plural, watcher)) if bookmarks else None
        return self._stream(start_response, watcher, [], environ, timeout, mark)

    def _stream(self, start_response: StartResponse, watcher: Watcher, first: list[JSON], environ: JSON,
                timeout: float, bookmark: Callable[[], JSON] | None = None) -> WatchStream:
        # apiserver/pkg/endpoints/handlers/watch.go: 200, chunked, one JSON-encoded watch event per line
        stream = WatchStream(self, watcher, first, environ.get("kubeprop.socket"), timeout, bookmark)
        with self._lock:
            self._watches.add(stream)
        if self._stopping.is_set():
            watcher.close()  # the server began stopping while this watch opened
        try:
            write = start_response("200 OK", [("Content-Type", "application/json")])
            # cheroot sends headers with the first non-empty chunk; an empty write sends them now, so a client
            # sees its watch open before any event (a blank line instead would be read as a bogus event)
            write(b"")
        except BaseException:
            stream.finish()  # the client left before its headers went out: the storage watch goes too
            raise
        return stream


# ----- the server ---------------------------------------------------------------------------------


class HTTPAPIServer:
    """The bundled APIServer on a cheroot HTTP server; ``start()`` / ``stop()``, or use it as a context manager.

    ``threads`` is the pool that serves plain requests; live watches are written by one WatchLoop thread.
    """

    def __init__(self, api: APIServer | None = None, *, host: str = "127.0.0.1", port: int = 0,
                 token: str | None = None, threads: int = 32, controls: HarnessControls | None = None) -> None:
        # the wall clock and random uids: a served API is a real one (the in-process target keeps its fake clock)
        self.api = api if api is not None else APIServer()
        self.app = APIApp(self.api, token, controls)
        # timeout is also how long an idle keep-alive connection lives: longer than any wait between a client's
        # calls (a watch check may wait seconds), so a pooled connection is not closed under a request in flight
        self._server = _Server((host, port), self.app, numthreads=threads, timeout=60, shutdown_timeout=5,
                               request_queue_size=_listen_backlog())
        self._server.gateway = _Gateway
        # net/http keeps any number of idle keep-alive connections; cheroot keeps 10 and answers the others with
        # "Connection: close", so a few busy clients would reconnect for every request
        self._server.keep_alive_conn_limit = None
        # without epoll (not Linux) watches are served by request threads, as any streamed response
        self.watch_loop = WatchLoop(self._server) if WatchLoop.available() else None
        self._server.watch_loop = self.watch_loop
        self._thread: threading.Thread | None = None
        self.host = host

    @property
    def port(self) -> int:
        return int(self._server.bind_addr[1])

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> HTTPAPIServer:
        _raise_open_file_limit()
        # bind in the caller's thread, so a busy port fails here and port=0 is resolved before start returns
        self._server.prepare()
        if self.watch_loop is not None:
            self.watch_loop.start()
        self._thread = threading.Thread(target=self._server.serve, name=f"kubeprop-http-{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is None:
            return
        if self.watch_loop is not None:
            self.watch_loop.stopping()
        self.app.stop_watches()
        if self.watch_loop is not None:
            self.watch_loop.stop(timeout=5)
        self._server.stop()
        self._thread.join(timeout=10)
        self._thread = None

    def __enter__(self) -> HTTPAPIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _listen_backlog() -> int:
    # Go's net.Listen uses the kernel's limit (net/sock_linux.go: maxListenerBacklog reads
    # /proc/sys/net/core/somaxconn); cheroot's default of 5 drops the SYNs of a burst of new watches, which the
    # clients then resend only after a second or more
    try:
        with open("/proc/sys/net/core/somaxconn") as f:
            return max(128, int(f.read().strip()))
    except (OSError, ValueError):
        return socket.SOMAXCONN


def _raise_open_file_limit() -> None:
    """Raise this process's soft limit on open files to its hard limit, as Go does for kube-apiserver at start
    (os/rlimit.go): every open watch holds a socket, and 1024 (a common soft limit) is too few."""
    try:
        import resource
    except ImportError:  # not a Unix
        return
    with contextlib.suppress(ValueError, OSError):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft != resource.RLIM_INFINITY and (hard == resource.RLIM_INFINITY or soft < hard):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


@contextlib.contextmanager
def serve(api: APIServer | None = None, *, host: str = "127.0.0.1", port: int = 0,
          token: str | None = None) -> Iterator[HTTPAPIServer]:
    """Serve ``api`` (a fresh one with the wall clock by default) for the duration of a ``with`` block."""
    server = HTTPAPIServer(api, host=host, port=port, token=token)
    server.start()
    try:
        yield server
    finally:
        server.stop()
