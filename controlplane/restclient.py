"""The bundled scheduler's client when it runs as its own process: the REST API of any server, by kubeconfig.

A replica in ``serve --schedulers N`` calls the APIServer object directly.
``python -m controlplane scheduler`` runs one replica in its own process
against a server it reaches over HTTP (the bundled one, or a real
kube-apiserver), so that it can be killed, stopped and restarted as a
kube-scheduler replica can. :class:`RESTClient` offers the verbs the replica
uses (list, watch, get, create, update, bind) with the answers it expects
(``code`` and ``body``). The kubeconfig, its credentials and TLS are the
official client's (``kubernetes.client.ApiClient``); a watch is read by a
thread into a queue, which the replica's informer drains without blocking.

The hollow kubelets (controlplane/kubelet.py) use it too when they run against
a server over HTTP (adapters/hollow.py): lists by field and label selector,
PUTs of the status subresource, and deletes with a DeleteOptions body
(grace period, uid preconditions). A watch notes when each event arrived
(``drain_stamped``), for checks that judge how late a write was seen.

A request that gets no answer (refused connection, timeout) comes back as code
0 with the error in a Status body: the replica treats it as any failed call
and retries at its next poll, as client-go's reflector and elector do.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import urllib3
from kubernetes import client as k8s
from kubernetes.config import kube_config

JSON = dict[str, Any]

#: where each resource the scheduler uses lives: (group-version prefix, namespaced)
PATHS = {
    "pods": ("/api/v1", True),
    "nodes": ("/api/v1", False),
    "namespaces": ("/api/v1", False),
    "leases": ("/apis/coordination.k8s.io/v1", True),
}
#: seconds to connect, and to wait for a non-watch answer
TIMEOUT = 30.0


@dataclass(frozen=True)
class Answer:
    code: int
    body: Any


def _status(code: int, message: str) -> Answer:
    return Answer(code, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": code,
                         "message": message})


class _Stream:
    """A watch: a thread splits the chunked answer into events; ``drain()`` takes what arrived."""

    def __init__(self, resp: Any) -> None:
        self._resp = resp
        self._lock = threading.Lock()
        self._events: list[JSON] = []
        self._stamps: list[float] = []  # time.time() when each event in _events arrived
        self._ended = False
        threading.Thread(target=self._read, name="kubeprop-scheduler-watch", daemon=True).start()

    def _read(self) -> None:
        buf = b""
        try:
            for chunk in self._resp.stream(64 * 1024, decode_content=True):
                buf += chunk
                *lines, buf = buf.split(b"\n")
                events = [json.loads(line) for line in lines if line.strip()]
                now = time.time()
                with self._lock:
                    self._events.extend(events)
                    self._stamps.extend(now for _ in events)
        except Exception:  # noqa: BLE001 - a broken or closed stream ends the watch; the informer lists again
            pass
        finally:
            with self._lock:
                self._ended = True

    def drain(self) -> list[JSON]:
        return [e for _, e in self.drain_stamped()]

    def drain_stamped(self) -> list[tuple[float, JSON]]:
        """The events that arrived since the last drain, each with the time.time() it was read off the wire."""
        with self._lock:
            out = list(zip(self._stamps, self._events, strict=True))
            self._events, self._stamps = [], []
            return out

    @property
    def ended(self) -> bool:
        with self._lock:
            return self._ended and not self._events

    def close(self) -> None:
        try:
            self._resp.shutdown()  # urllib3 2.3+: wakes the reader blocked in recv
        except Exception:  # noqa: BLE001 - older urllib3: release_conn is enough once the server writes
            pass
        self._resp.release_conn()


class _Refused:
    """A watch the server did not open: ended at once, so the informer lists again at its next poll."""

    ended = True

    def drain(self) -> list[JSON]:
        return []

    def drain_stamped(self) -> list[tuple[float, JSON]]:
        return []

    def close(self) -> None:
        pass


class RESTClient:
    """The replica's verbs over HTTP; ``RESTClient(kubeconfig, context=None)``."""

    def __init__(self, kubeconfig: str, context: str | None = None) -> None:
        cfg = k8s.Configuration()
        kube_config.load_kube_config(config_file=kubeconfig, context=context, client_configuration=cfg,
                                     persist_config=False)
        # a connection for each bind thread, the informers' watches and the elector, kept for reuse
        cfg.connection_pool_maxsize = 32
        self.host = cfg.host
        self.api = k8s.ApiClient(cfg)

    @staticmethod
    def path(resource: str, namespace: str | None, name: str | None = None) -> str:
        prefix, namespaced = PATHS[resource]
        path = prefix + (f"/namespaces/{quote(namespace, safe='')}" if namespaced and namespace else "")
        path += f"/{resource}"
        return path + (f"/{quote(name, safe='')}" if name is not None else "")

    @staticmethod
    def _selectors(label_selector: str | None, field_selector: str | None) -> list[tuple[str, str]]:
        query = [("labelSelector", label_selector)] if label_selector else []
        return query + ([("fieldSelector", field_selector)] if field_selector else [])

    def _call(self, method: str, path: str, body: Any = None, query: list[tuple[str, str]] | None = None,
              *, stream: bool = False) -> Any:
        """The urllib3 response, whatever its status; an Answer with code 0 if none came."""
        rest = self.api.rest_client
        headers = {"Accept": "application/json", "Content-Type": "application/json"}
        self.api.update_params_for_auth(headers, [], ["BearerToken"], path, method, None)
        url = self.api.configuration.host + path
        if query:
            url += "?" + "&".join(f"{k}={quote(v, safe='')}" for k, v in query)
        try:
            return rest.pool_manager.request(method, url, body=None if body is None else json.dumps(body),
                                             headers=headers, preload_content=not stream,
                                             timeout=urllib3.Timeout(connect=TIMEOUT, read=None if stream else TIMEOUT))
        except Exception as e:  # noqa: BLE001 - no answer at all: the caller retries, as upstream clients do
            return _status(0, f"{method} {path}: {e}")

    def _answer(self, method: str, path: str, body: Any = None,
                query: list[tuple[str, str]] | None = None) -> Answer:
        resp = self._call(method, path, body, query)
        if isinstance(resp, Answer):
            return resp
        try:
            return Answer(resp.status, json.loads(resp.data or b"null"))
        except ValueError:
            return _status(resp.status, resp.data.decode("utf-8", "replace")[:500])

    def list(self, resource: str, namespace: str | None = None, *, label_selector: str | None = None,
             field_selector: str | None = None) -> Answer:
        """GET the collection (every namespace when ``namespace`` is None), filtered by the selectors given."""
        return self._answer("GET", self.path(resource, namespace), None,
                            self._selectors(label_selector, field_selector) or None)

    def get(self, resource: str, namespace: str | None, name: str, *, subresource: str = "") -> Answer:
        return self._answer("GET", self.path(resource, namespace, name) + (f"/{subresource}" if subresource else ""))

    def create(self, resource: str, namespace: str | None, body: JSON) -> Answer:
        return self._answer("POST", self.path(resource, namespace), body)

    def update(self, resource: str, namespace: str | None, name: str, body: JSON, subresource: str = "") -> Answer:
        """PUT the object, or with ``subresource="status"`` its status (pods/{name}/status, nodes/{name}/status)."""
        path = self.path(resource, namespace, name) + (f"/{subresource}" if subresource else "")
        return self._answer("PUT", path, body)

    def delete(self, resource: str, namespace: str | None, name: str, options: JSON | None = None) -> Answer:
        """DELETE with ``options`` as the DeleteOptions body (gracePeriodSeconds, preconditions: uid and
        resourceVersion, propagationPolicy ...); kind and apiVersion are filled in when left out."""
        body = None if options is None else {"kind": "DeleteOptions", "apiVersion": "v1", **options}
        return self._answer("DELETE", self.path(resource, namespace, name), body)

    def version(self) -> Answer:
        """GET /version (gitVersion and the like)."""
        return self._answer("GET", "/version")

    def bind(self, namespace: str, name: str, body: JSON) -> Answer:
        return self._answer("POST", self.path("pods", namespace, name) + "/binding", body)

    def watch(self, resource: str, namespace: str | None = None, *, resource_version: str | None = None,
              label_selector: str | None = None, field_selector: str | None = None) -> _Stream | _Refused:
        query = [("watch", "true")]
        if resource_version:
            query.append(("resourceVersion", resource_version))
        query += self._selectors(label_selector, field_selector)
        resp = self._call("GET", self.path(resource, namespace), None, query, stream=True)
        if isinstance(resp, Answer) or resp.status != 200:
            if not isinstance(resp, Answer):
                resp.release_conn()
            return _Refused()
        return _Stream(resp)

    def close(self) -> None:
        self.api.close()
