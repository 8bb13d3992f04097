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

Every failure is a Kubernetes ``Status``; bad input never produces a 500 and
never stops the server. Nothing here imports ``model``, ``adapters`` or
``conformance``.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import re
import select
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from urllib.parse import parse_qs

from cheroot import wsgi

from .apiserver import APIServer, Reply, Watcher
from .apiserver.errors import APIError
from .apiserver.patch import media_type
from .apiserver.registry import validate_watch_options
from .apiserver.resources import BY_PLURAL, Resource
from .harness import PREFIX, HarnessControls

JSON = dict[str, Any]
StartResponse = Callable[..., Any]

# staging/src/k8s.io/apiserver/pkg/server/config.go: MaxRequestBodyBytes defaults to 3 MiB
MAX_BODY = 3 * 1024 * 1024
# how often a watch with nothing to send checks whether its client went away or the server is stopping
WATCH_POLL = 0.5
# staging/src/k8s.io/apiserver/pkg/server/config.go: MinRequestTimeout 1800 s caps a watch without timeoutSeconds
DEFAULT_WATCH_TIMEOUT = 1800.0
# apiserver/pkg/storage/cacher/cacher.go: defaultBookmarkFrequency; cache_watcher.go: nextBookmarkTime also sends
# one 2 s before the watch's deadline
BOOKMARK_FREQUENCY = 60.0
BOOKMARK_BEFORE_DEADLINE = 2.0
VERSION = {"major": "1", "minor": "33", "gitVersion": "v1.33.0-kubeprop", "gitCommit": "", "gitTreeState": "",
           "buildDate": "", "goVersion": "", "compiler": "", "platform": "python"}

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
    # apiserver/pkg/endpoints/handlers/responsewriters/errors.go: the 404 for a path nothing serves
    return HTTPFailure(404, "NotFound", "the server could not find the requested resource")


def _method_not_allowed(method: str) -> HTTPFailure:
    # apimachinery/pkg/api/errors/errors.go: NewMethodNotSupported
    return HTTPFailure(405, "MethodNotAllowed", f"{method} is not supported on this resource")


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
    """What a URL names: a resource, maybe a namespace, maybe an object, maybe its binding subresource."""

    def __init__(self, res: Resource, namespace: str | None, name: str | None, binding: bool = False) -> None:
        self.res = res
        self.namespace = namespace
        self.name = name
        self.binding = binding


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
        raise _not_found()
    res = lookup(parts[0])
    if len(parts) == 1:
        return Route(res, None, None)
    if len(parts) == 2 and not res.namespaced:
        return Route(res, None, parts[1])
    raise _not_found()


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


# ----- the WSGI application -----------------------------------------------------------------------


class _SocketGateway(wsgi.Gateway_10):
    """cheroot's WSGI 1.0 gateway, also handing the app the client socket (to notice a watcher leaving)."""

    def get_environ(self) -> JSON:
        env = super().get_environ()
        env["kubeprop.socket"] = getattr(self.req.conn, "socket", None)
        return env


def _client_gone(sock: socket.socket | None) -> bool:
    """Whether the peer closed its end: readable with nothing to read (a watch client sends nothing)."""
    if sock is None:
        return False
    try:
        readable, _, _ = select.select([sock], [], [], 0)
        if not readable:
            return False
        return sock.recv(1, socket.MSG_PEEK) == b""
    except (OSError, ValueError):
        return True


class APIApp:
    """The WSGI application: routes a request to the APIServer and writes its Reply as JSON."""

    def __init__(self, api: APIServer, token: str | None = None, controls: HarnessControls | None = None) -> None:
        self.api = api
        self.token = token
        self.controls = controls  # test-only /kubeprop/v1/ endpoints (serve --test-controls); None: not served
        self._stopping = threading.Event()
        self._watchers: set[Watcher] = set()
        self._lock = threading.Lock()

    def stop_watches(self) -> None:
        """End every open watch stream so its worker thread returns (the server is stopping)."""
        self._stopping.set()
        with self._lock:
            watchers = list(self._watchers)
        for w in watchers:
            w.close()

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
        if self.controls is not None and path.startswith(PREFIX):
            code, body = self.controls.handle(method, path, _decode_json(_read_body(environ), required=False))
            return self._json(start_response, code, body)
        host = f"{environ.get('SERVER_NAME', '127.0.0.1')}:{environ.get('SERVER_PORT', '')}"
        disc = _discovery(path, host)
        if disc is not None:
            if method != "GET":
                raise _method_not_allowed(method)
            return self._json(start_response, 200, disc)
        r = route(path)
        q = _query(environ)
        if method == "GET":
            if r.binding:
                raise _method_not_allowed(method)
            if r.name is None and _parse_bool("watch", q.get("watch", "")):
                return self._watch(environ, start_response, r, q)
            if r.name is None:
                reply = self.api.list(r.res.plural, r.namespace, label_selector=q.get("labelSelector") or None,
                                      limit=_parse_int("limit", q["limit"]) if q.get("limit") else 0,
                                      continue_=q.get("continue", ""), resource_version=q.get("resourceVersion", ""),
                                      resource_version_match=q.get("resourceVersionMatch", ""))
            else:
                reply = self.api.get(r.res.plural, r.namespace, r.name)
        elif method == "POST":
            if r.name is not None and not r.binding:
                raise _method_not_allowed(method)
            _check_input_type(environ)
            body = _decode_json(_read_body(environ))
            if r.binding:
                assert r.namespace is not None
                name = r.name
                if name is None:
                    meta = body.get("metadata") if isinstance(body, dict) else None
                    name = meta.get("name") if isinstance(meta, dict) else None
                    if not isinstance(name, str) or not name:
                        raise _bad_request("a Binding posted to bindings needs metadata.name")
                reply = self.api.bind(r.namespace, name, body)
            elif r.res.namespaced and r.namespace is None:
                raise _method_not_allowed(method)  # no create across all namespaces
            else:
                reply = self.api.create(r.res.plural, r.namespace, body)
        elif method == "PUT":
            if r.name is None or r.binding:
                raise _method_not_allowed(method)
            _check_input_type(environ)
            reply = self.api.update(r.res.plural, r.namespace, r.name, _decode_json(_read_body(environ)))
        elif method == "PATCH":
            if r.name is None or r.binding:
                raise _method_not_allowed(method)
            reply = self._patch(environ, r)
        elif method == "DELETE":
            if r.name is None or r.binding:
                raise _method_not_allowed(method)
            reply = self.api.delete(r.res.plural, r.namespace, r.name, self._delete_options(environ, q))
        else:
            raise _method_not_allowed(method)
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
        return self.api.patch(r.res.plural, r.namespace, r.name, kind, body)

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
                                 label_selector=q.get("labelSelector") or None)
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
                timeout: float, bookmark: Callable[[], JSON] | None = None) -> Iterator[bytes]:
        # apiserver/pkg/endpoints/handlers/watch.go: 200, chunked, one JSON-encoded watch event per line
        write = start_response("200 OK", [("Content-Type", "application/json")])
        # cheroot sends headers with the first non-empty chunk; an empty write sends them now, so a client
        # sees its watch open before any event (a blank line instead would be read as a bogus event)
        write(b"")
        with self._lock:
            self._watchers.add(watcher)
        return self._events(watcher, first, environ.get("kubeprop.socket"), timeout, bookmark)

    @staticmethod
    def _next_bookmark(now: float, deadline: float) -> float | None:
        # apiserver/pkg/storage/cacher/cache_watcher.go: nextBookmarkTime -- every minute, and 2 s before the end
        at = min(now + BOOKMARK_FREQUENCY, deadline - BOOKMARK_BEFORE_DEADLINE)
        return None if at < now else at

    def _events(self, watcher: Watcher, first: list[JSON], sock: socket.socket | None,
                timeout: float, bookmark: Callable[[], JSON] | None = None) -> Iterator[bytes]:
        start = time.monotonic()
        deadline = start + timeout
        next_mark = self._next_bookmark(start, deadline) if bookmark is not None else None
        last_rv = 0
        try:
            for e in first:
                yield _encode(e) + b"\n"
            while not self._stopping.is_set():
                now = time.monotonic()
                left = deadline - now
                if left <= 0:
                    break
                wait = min(WATCH_POLL, left) if next_mark is None else max(0.0, min(WATCH_POLL, left, next_mark - now))
                watcher.wait(wait)
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
                    next_mark = self._next_bookmark(time.monotonic(), deadline) if now < deadline - \
                        BOOKMARK_BEFORE_DEADLINE else None
                for e in events:
                    last_rv = max(last_rv, _event_rv(e))
                if events:
                    yield b"".join(_encode(e) + b"\n" for e in events)
                if watcher.ended:
                    break
                if not events and _client_gone(sock):
                    break
        finally:
            watcher.close()
            with self._lock:
                self._watchers.discard(watcher)


# ----- the server ---------------------------------------------------------------------------------


class HTTPAPIServer:
    """The bundled APIServer on a cheroot HTTP server; ``start()`` / ``stop()``, or use it as a context manager."""

    def __init__(self, api: APIServer | None = None, *, host: str = "127.0.0.1", port: int = 0,
                 token: str | None = None, threads: int = 32, controls: HarnessControls | None = None) -> None:
        # the wall clock and random uids: a served API is a real one (the in-process target keeps its fake clock)
        self.api = api if api is not None else APIServer()
        self.app = APIApp(self.api, token, controls)
        # timeout is also how long an idle keep-alive connection lives: longer than any wait between a client's
        # calls (a watch check may wait seconds), so a pooled connection is not closed under a request in flight
        self._server = wsgi.Server((host, port), self.app, numthreads=threads, timeout=60,
                                   shutdown_timeout=5)
        self._server.gateway = _SocketGateway
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
        # bind in the caller's thread, so a busy port fails here and port=0 is resolved before start returns
        self._server.prepare()
        self._thread = threading.Thread(target=self._server.serve, name=f"kubeprop-http-{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is None:
            return
        self.app.stop_watches()
        self._server.stop()
        self._thread.join(timeout=10)
        self._thread = None

    def __enter__(self) -> HTTPAPIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


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
