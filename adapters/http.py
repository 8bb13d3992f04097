"""The ``http`` target: any server that speaks the Kubernetes REST API, reached through a kubeconfig.

The kubeconfig is read by the official ``kubernetes`` client's loader
(``kubernetes.config.kube_config``), so whatever it supports works here:
bearer tokens, client certificates, a cluster CA, exec credential plugins; and
``in-cluster`` in place of a path uses the pod's service account
(their tokens are refreshed through the loader's hook on every request).
Requests go through one ``requests.Session``.

A watch is read by a background thread that splits the chunked stream into
lines (one JSON event each) and queues them; :meth:`HTTPWatch.drain` waits on
that queue with a bound. There is no clock or compaction control over HTTP:
``controls`` is ``None``, except against the bundled server started with
``serve --test-controls`` and opened with ``test_controls=True``, whose
``/kubeprop/v1/`` endpoints move its clock and compact its history.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import requests
import urllib3
from kubernetes import client as k8s_client
from kubernetes.config import incluster_config, kube_config

from adapters.base import JSON, LIST_FORMS, WATCH_FORMS, Response, TargetError
from adapters.resources import BY_PLURAL

#: the Content-Type of each patch type (apimachinery/pkg/types/patch.go)
PATCH_CONTENT_TYPES = {"merge": "application/merge-patch+json", "json": "application/json-patch+json",
                       "strategic": "application/strategic-merge-patch+json",
                       "apply": "application/apply-patch+yaml"}
#: ``--kubeconfig in-cluster``: authenticate as the pod's service account, as in-cluster clients do
IN_CLUSTER = "in-cluster"
SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
#: seconds to wait for a connection or for a non-watch answer
REQUEST_TIMEOUT = 30.0
#: seconds the credentials the kubeconfig loader hands out are reused before it is asked again
AUTH_REFRESH_SECONDS = 5.0


class CallTimes:
    """Where plain requests spend their time, summed over every HTTP target of the process while
    ``adapters.http.CALL_TIMES`` holds one (``python -m conformance.httpbench`` sets it; None otherwise)."""

    def __init__(self) -> None:
        self.calls = 0
        self.total = 0.0  # seconds inside HTTPTarget._call
        self.wire = 0.0  # from handing the request to urllib3 until its whole answer was read
        self.decode = 0.0  # the answer's JSON decoding
        self.received = 0  # bytes of answers


CALL_TIMES: CallTimes | None = None


def _seg(text: str) -> str:
    return quote(text, safe="")


def escape_field_value(value: str) -> str:
    """A value as a field selector term carries it (apimachinery/pkg/fields/selector.go: EscapeValue)."""
    return value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=")


def _dry(dry_run: list[str] | None) -> dict[str, list[str]] | None:
    """The ``dryRun`` query parameter, once per value (requests repeats a key for a list)."""
    return {"dryRun": list(dry_run)} if dry_run is not None else None


def _decode(resp: requests.Response) -> Any:
    try:
        return resp.json()
    except ValueError:
        # not JSON (a proxy's error page, say): hand the text on so a check can report it
        return resp.text


def _socket_of(resp: requests.Response) -> socket.socket | None:
    """The socket under a streamed response (urllib3 keeps it on the connection, or only in the reader)."""
    raw = resp.raw
    conn = getattr(raw, "connection", None) or getattr(raw, "_connection", None)
    sock = getattr(conn, "sock", None)
    if isinstance(sock, socket.socket):
        return sock
    fp = getattr(getattr(raw, "_fp", None), "fp", None)  # http.client.HTTPResponse.fp: a reader over SocketIO
    sock = getattr(getattr(fp, "raw", None), "_sock", None)
    return sock if isinstance(sock, socket.socket) else None


class HTTPWatch:
    """adapters.base.Watch over one chunked watch response read by a background thread."""

    def __init__(self, resp: requests.Response) -> None:
        self._resp = resp
        self._cond = threading.Condition()
        self._queue: list[JSON] = []
        self._seen_rvs: set[str] = set()
        self._ended = False
        self._closing = False
        self._sock = _socket_of(resp)
        self._thread = threading.Thread(target=self._read, name="kubeprop-watch", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            for line in self._resp.iter_lines(chunk_size=None):
                if not line:
                    continue
                try:
                    event = json.loads(line)
                except ValueError:
                    # a line that is not an event is reported as one, so the check sees what arrived
                    event = {"type": "ERROR", "object": {"kind": "Status", "message": f"unparsable line {line!r}"}}
                rv = None
                obj = event.get("object") if isinstance(event, dict) else None
                if isinstance(obj, dict):
                    rv = (obj.get("metadata") or {}).get("resourceVersion")
                with self._cond:
                    self._queue.append(event)
                    if rv:
                        self._seen_rvs.add(rv)
                    self._cond.notify_all()
        except Exception:  # noqa: BLE001 - a closed or broken stream ends the watch, whatever the cause
            pass
        finally:
            with self._cond:
                self._ended = True
                self._cond.notify_all()

    def drain(self, *, until_rv: str | None = None, timeout: float = 0.0) -> list[JSON]:
        """Events since the last call. With ``until_rv``, first wait (at most ``timeout`` s) until an event
        carrying it has arrived; without, wait (at most ``timeout`` s) for at least one event."""
        with self._cond:
            if timeout > 0:
                if until_rv is not None:
                    self._cond.wait_for(lambda: until_rv in self._seen_rvs or self._ended, timeout=timeout)
                else:
                    self._cond.wait_for(lambda: bool(self._queue) or self._ended, timeout=timeout)
            out, self._queue = self._queue, []
            return out

    @property
    def ended(self) -> bool:
        with self._cond:
            return self._ended

    def close(self) -> None:
        with self._cond:
            if self._closing:
                return
            self._closing = True
        # shut the socket down first: the reader blocked in recv() wakes up and leaves; closing the response
        # while it is blocked would wait on the reader's buffer lock for as long as the server sends nothing
        if self._sock is not None:
            try:
                self._sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._thread.join(timeout=5)
        if not self._thread.is_alive():
            self._resp.close()


class HTTPControls:
    """adapters.base.Controls through the test-only endpoints of ``python -m controlplane serve --test-controls``."""

    def __init__(self, target: HTTPTarget) -> None:
        self._target = target

    def _control(self, method: str, what: str, body: JSON | None = None) -> JSON:
        resp = self._target._request(method, "/kubeprop/v1/" + what, body=body)
        if resp.status_code != 200:
            raise TargetError(f"{method} /kubeprop/v1/{what}: {resp.status_code} {resp.text[:200]} (is the server "
                              "the bundled one, served with --test-controls?)")
        return resp.json()

    def now(self) -> str:
        return str(self._control("GET", "now")["now"])

    def advance_clock(self, seconds: int) -> None:
        self._control("POST", "clock", {"advanceSeconds": seconds})

    def compact(self) -> None:
        self._control("POST", "compact")


class HTTPTarget:
    """adapters.base.Target over the Kubernetes REST API; ``HTTPTarget(kubeconfig, context=None)``."""

    name = "http"
    controls: HTTPControls | None = None

    def __init__(self, kubeconfig: str, context: str | None = None, *, test_controls: bool = False,
                 service_account_dir: str = SERVICE_ACCOUNT_DIR) -> None:
        cfg = k8s_client.Configuration()
        try:
            if kubeconfig == IN_CLUSTER:
                # inside a pod: the service account's token and CA, the API server from the environment
                incluster_config.InClusterConfigLoader(
                    token_filename=os.path.join(service_account_dir, "token"),
                    cert_filename=os.path.join(service_account_dir, "ca.crt"),
                ).load_and_set(cfg)
            else:
                kube_config.load_kube_config(config_file=kubeconfig, context=context, client_configuration=cfg,
                                             persist_config=False)
        except Exception as e:
            raise TargetError(f"cannot load kubeconfig {kubeconfig!r}"
                              f"{' context ' + repr(context) if context else ''}: {e}") from e
        self._cfg = cfg
        self.url = cfg.host.rstrip("/")
        self.session = requests.Session()
        # the environment's proxy settings are read once here: a session that trusts the environment reads
        # every variable of it again on each request, a sixth of a step's time against a fast server; a
        # kubeconfig's proxy-url wins over them
        self.session.trust_env = False
        proxy = getattr(cfg, "proxy", None)
        self.session.proxies = ({"http": proxy, "https": proxy} if proxy
                                else requests.utils.get_environ_proxies(self.url))
        if cfg.ssl_ca_cert:
            self.session.verify = cfg.ssl_ca_cert
        else:
            self.session.verify = bool(cfg.verify_ssl)
        if cfg.cert_file and cfg.key_file:
            self.session.cert = (cfg.cert_file, cfg.key_file)
        self.session.headers.update({"Accept": "application/json", "Content-Type": "application/json"})
        self._pool = self._plain_pool()
        self._watches: list[HTTPWatch] = []
        self._auth: tuple[float, dict[str, str]] | None = None
        if test_controls:
            self.controls = HTTPControls(self)

    def _auth_headers(self) -> dict[str, str]:
        # auth_settings() asks the loader's refresh hook first, so exec-plugin and service-account tokens stay
        # current; the hook reloads the whole kubeconfig (and the environment's proxies) each time, a millisecond,
        # so its answer is kept for AUTH_REFRESH_SECONDS: client-go rereads a service-account token every minute
        # (client-go/transport/token_source.go: cachingTokenSource)
        now = time.monotonic()
        if self._auth is None or now - self._auth[0] > AUTH_REFRESH_SECONDS:
            headers: dict[str, str] = {}
            for setting in self._cfg.auth_settings().values():
                if setting.get("in") == "header" and setting.get("value"):
                    headers[setting["key"]] = setting["value"]
            self._auth = (now, headers)
        return self._auth[1]

    def _path(self, resource: str, namespace: str | None, name: str | None = None, subresource: str = "") -> str:
        res = BY_PLURAL.get(resource)
        if res is None:
            raise TargetError(f"unknown resource {resource!r}")
        path = res.prefix
        if res.namespaced and namespace is not None:
            path += f"/namespaces/{_seg(namespace)}"
        path += f"/{resource}"
        if name is not None:
            path += f"/{_seg(name)}"
        if subresource:
            path += f"/{_seg(subresource)}"  # pods/{name}/status, nodes/{name}/status
        return path

    def _request(self, method: str, path: str, *, body: Any = None, params: dict[str, Any] | None = None,
                 stream: bool = False, timeout: Any = REQUEST_TIMEOUT,
                 headers: dict[str, str] | None = None) -> requests.Response:
        data = None if body is None else json.dumps(body)
        try:
            resp = self.session.request(method, self.url + path, data=data, params=params,
                                        headers={**self._auth_headers(), **(headers or {})}, stream=stream,
                                        timeout=timeout)
        except requests.RequestException as e:
            raise TargetError(f"{method} {path}: {e}") from e
        if resp.status_code == 401:
            self._auth = None  # expired credentials: the next request asks the loader again
        return resp

    def _plain_pool(self) -> urllib3.PoolManager | None:
        """The urllib3 pool that plain (not streamed) requests go through, with the session's TLS settings and
        proxy: requests' own layers (preparing, hooks, cookies, merging settings) were a fifth of a step's time
        against a fast server. None where the session's proxy is one urllib3 cannot reach by itself (SOCKS)."""
        tls: dict[str, Any] = {}
        if isinstance(self.session.verify, str):
            tls.update(cert_reqs="CERT_REQUIRED", ca_certs=self.session.verify)
        elif self.session.verify:
            tls.update(cert_reqs="CERT_REQUIRED", ca_certs=requests.certs.where())
        else:
            tls.update(cert_reqs="CERT_NONE")
        if self.session.cert:
            tls.update(cert_file=self.session.cert[0], key_file=self.session.cert[1])
        proxy = self.session.proxies.get(urlsplit(self.url).scheme) or self.session.proxies.get("all")
        if proxy and not proxy.startswith(("http://", "https://")):
            return None
        # as many kept connections as requests keeps (requests/adapters.py: DEFAULT_POOLSIZE), never blocking
        kept = {"num_pools": 4, "maxsize": requests.adapters.DEFAULT_POOLSIZE, **tls}
        return urllib3.ProxyManager(proxy, **kept) if proxy else urllib3.PoolManager(**kept)

    def _call(self, method: str, path: str, *, body: Any = None, params: dict[str, Any] | None = None,
              headers: dict[str, str] | None = None, timeout: Any = REQUEST_TIMEOUT) -> Response:
        """One plain request: its status and decoded body."""
        if self._pool is None:
            resp = self._request(method, path, body=body, params=params, headers=headers, timeout=timeout)
            return Response(resp.status_code, _decode(resp))
        times, t0 = CALL_TIMES, time.perf_counter()
        url = self.url + path
        if params:
            url += "?" + urlencode(params, doseq=True)  # a list value repeats its key, as requests does
        wait = urllib3.Timeout(connect=timeout[0], read=timeout[1]) if isinstance(timeout, tuple) else timeout
        data = None if body is None else json.dumps(body).encode()
        sent_headers = {**self.session.headers, **self._auth_headers(), **(headers or {})}
        t1 = time.perf_counter()
        try:
            # no retries and no redirects followed, as the session's adapter does (requests/adapters.py)
            got = self._pool.request(method, url, body=data, headers=sent_headers, timeout=wait, retries=False,
                                     redirect=False)
        except urllib3.exceptions.HTTPError as e:
            raise TargetError(f"{method} {path}: {e}") from e
        t2 = time.perf_counter()
        if got.status == 401:
            self._auth = None
        try:
            answer = Response(got.status, json.loads(got.data))
        except ValueError:
            # not JSON (a proxy's error page, say): hand the text on so a check can report it
            answer = Response(got.status, got.data.decode("utf-8", "replace"))
        if times is not None:
            t3 = time.perf_counter()
            times.calls += 1
            times.total += t3 - t0
            times.wire += t2 - t1
            times.decode += t3 - t2
            times.received += len(got.data)
        return answer

    def create(self, resource: str, namespace: str | None, body: JSON, *, dry_run: list[str] | None = None
               ) -> Response:
        return self._call("POST", self._path(resource, namespace), body=body, params=_dry(dry_run))

    def get(self, resource: str, namespace: str | None, name: str, *, resource_version: str = "",
            subresource: str = "") -> Response:
        params = {"resourceVersion": resource_version} if resource_version else None
        return self._call("GET", self._path(resource, namespace, name, subresource), params=params)

    def list(self, resource: str, namespace: str | None = None, *, label_selector: str | None = None,
             limit: int = 0, continue_: str = "", resource_version: str = "",
             resource_version_match: str = "", form: str = "") -> Response:
        if form:
            return self._resourceless(resource, form)
        params: dict[str, Any] = {"labelSelector": label_selector} if label_selector else {}
        if limit > 0:
            params["limit"] = str(limit)
        if continue_:
            params["continue"] = continue_
        if resource_version:
            params["resourceVersion"] = resource_version
        if resource_version_match:
            params["resourceVersionMatch"] = resource_version_match
        return self._call("GET", self._path(resource, namespace), params=params or None)

    def _resourceless(self, resource: str, form: str) -> Response:
        """GET the resource's group version followed by ``form`` (adapters.base.LIST_FORMS) and nothing else."""
        res = BY_PLURAL.get(resource)
        if form not in LIST_FORMS or res is None:
            raise TargetError(f"unknown list URL form {form!r} or resource {resource!r}; known forms: {LIST_FORMS}")
        return self._call("GET", f"{res.prefix}/{form}")

    def update(self, resource: str, namespace: str | None, name: str, body: JSON, *,
               dry_run: list[str] | None = None, subresource: str = "") -> Response:
        return self._call("PUT", self._path(resource, namespace, name, subresource), body=body, params=_dry(dry_run))

    def patch(self, resource: str, namespace: str | None, name: str, patch: Any, *,
              patch_type: str = "merge", dry_run: list[str] | None = None, subresource: str = "") -> Response:
        try:
            content_type = PATCH_CONTENT_TYPES[patch_type]
        except KeyError:
            content_type = patch_type  # a media type given as it is
        return self._call("PATCH", self._path(resource, namespace, name, subresource), body=patch,
                          headers={"Content-Type": content_type}, params=_dry(dry_run))

    def delete(self, resource: str, namespace: str | None, name: str, *, options: JSON | None = None,
               dry_run: list[str] | None = None) -> Response:
        return self._call("DELETE", self._path(resource, namespace, name), body=options, params=_dry(dry_run))

    def delete_collection(self, resource: str, namespace: str | None, *, options: JSON | None = None) -> Response:
        """DELETE on the collection: every object of ``resource`` in ``namespace``."""
        return self._call("DELETE", self._path(resource, namespace), body=options)

    def bind(self, namespace: str, name: str, body: JSON, *, dry_run: list[str] | None = None,
             legacy: bool = False) -> Response:
        path = (f"{BY_PLURAL['pods'].prefix}/namespaces/{_seg(namespace)}/bindings" if legacy
                else self._path("pods", namespace, name) + "/binding")
        return self._call("POST", path, body=body, params=_dry(dry_run))

    def watch(
        self,
        resource: str,
        namespace: str | None = None,
        *,
        resource_version: str | None = None,
        label_selector: str | None = None,
        bookmarks: bool = False,
        timeout_seconds: int = 0,
        name: str | None = None,
        form: str = "",
    ) -> HTTPWatch | _FailedWatch:
        path, params = self._watch_url(resource, namespace, name, form)
        if bookmarks:
            params["allowWatchBookmarks"] = "true"
        if timeout_seconds > 0:
            params["timeoutSeconds"] = str(timeout_seconds)
        if resource_version is not None:
            params["resourceVersion"] = resource_version
        if label_selector:
            params["labelSelector"] = label_selector
        # no read timeout: a quiet watch is not a dead one; close() ends it
        resp = self._request("GET", path, params=params, stream=True, timeout=(REQUEST_TIMEOUT, None))
        if resp.status_code != 200:
            # a refused watch (bad selector, say) answers with a Status: deliver it as the ERROR event it means
            body = _decode(resp)
            resp.close()
            return _FailedWatch({"type": "ERROR", "object": body})
        w = HTTPWatch(resp)
        if len(self._watches) >= 64:
            # forget streams that already ended, so a long run does not keep them all
            self._watches = [x for x in self._watches if not x.ended]
        self._watches.append(w)
        return w

    def _watch_url(self, resource: str, namespace: str | None, name: str | None, form: str
                   ) -> tuple[str, dict[str, str]]:
        """The path and first query parameters of a watch asked in ``form`` (adapters.base.WATCH_FORMS)."""
        if form not in WATCH_FORMS:
            raise TargetError(f"unknown watch URL form {form!r}; known: {WATCH_FORMS}")
        collection = self._path(resource, namespace)
        prefix = BY_PLURAL[resource].prefix
        if form == "":
            path, params = collection, {"watch": "true"}
        elif name is not None and (namespace is not None or not BY_PLURAL[resource].namespaced):
            # apiserver/pkg/endpoints/installer.go: WATCH -- the object's own URL under watch/ (a namespaced
            # object's names its namespace; across namespaces the name goes in the selector, as below)
            return f"{prefix}/watch{self._path(resource, namespace, name)[len(prefix):]}", {}
        else:
            path, params = f"{prefix}/watch{collection[len(prefix):]}", {}
        if name is not None:
            params["fieldSelector"] = f"metadata.name={escape_field_value(name)}"
        return path, params

    def server_version(self) -> JSON:
        """The server's ``/version`` (gitVersion, platform, ...); an empty dict if it does not answer one."""
        resp = self._request("GET", "/version")
        body = _decode(resp)
        return body if resp.status_code == 200 and isinstance(body, dict) else {}

    def close(self) -> None:
        for w in self._watches:
            w.close()
        self._watches.clear()
        self.session.close()
        if self._pool is not None:
            self._pool.clear()


class _FailedWatch:
    """A watch the server refused: one ERROR event, already ended."""

    def __init__(self, event: JSON) -> None:
        self._events = [event]

    def drain(self, *, until_rv: str | None = None, timeout: float = 0.0) -> list[JSON]:
        out, self._events = self._events, []
        return out

    @property
    def ended(self) -> bool:
        return True

    def close(self) -> None:
        self._events = []
