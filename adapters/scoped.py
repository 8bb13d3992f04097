"""One example's own corner of a shared server: fresh names, a run label on everything, cleanup at the end.

A real or long-lived server cannot be emptied between Hypothesis examples and
holds objects kubeprop did not make. :class:`ScopedTarget` wraps any target so
that the state machines still see the world they expect:

- the names the machines use for namespaces and nodes (``ns-a``, ``n0``) become
  names of this run (``ns-a-k3f9c2``), in requests; answers (objects, Status
  messages, watch events) are translated back;
- every object it creates or updates carries the label ``kubeprop.io/run`` with
  the run id; lists and watches ask for that label as well, so only this run's
  objects come back; the label is removed from every answer;
- :meth:`close` deletes what the run created (finalizers cleared first, pods
  with grace 0) and then closes the inner target.

Pods and leases keep their names: they live in the run's namespaces.
"""

from __future__ import annotations

import copy
import secrets
from typing import Any

from adapters.base import JSON, Response, Target, Watch

RUN_LABEL = "kubeprop.io/run"
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
CLUSTER_SCOPED = {"namespaces", "nodes"}


def new_run_id() -> str:
    """A short id that keeps every mapped name a valid DNS label (``k`` + 6 hex digits)."""
    return "k" + secrets.token_hex(3)


class ScopedWatch:
    """A watch whose events come back in the machine's names, without the run label."""

    def __init__(self, inner: Watch, scope: ScopedTarget) -> None:
        self._inner = inner
        self._scope = scope

    def drain(self, *, until_rv: str | None = None, timeout: float = 0.0) -> list[JSON]:
        return [self._scope.inward(e) for e in self._inner.drain(until_rv=until_rv, timeout=timeout)]

    @property
    def ended(self) -> bool:
        return self._inner.ended

    def close(self) -> None:
        self._inner.close()


class ScopedTarget:
    """adapters.base.Target over another target, confined to one run's names and label."""

    def __init__(self, inner: Target, run_id: str | None = None) -> None:
        self.inner = inner
        self.run_id = run_id or new_run_id()
        self.name = inner.name
        self.controls = inner.controls
        self._suffix = "-" + self.run_id
        self._created: set[tuple[str, str | None, str]] = set()  # physical (resource, namespace, name)

    # ----- name translation -------------------------------------------------------------------

    def outward_name(self, name: str) -> str:
        return name + self._suffix

    def _ns(self, namespace: str | None) -> str | None:
        return None if namespace is None else self.outward_name(namespace)

    def _name(self, resource: str, name: str) -> str:
        return self.outward_name(name) if resource in CLUSTER_SCOPED else name

    def _outward_body(self, resource: str, body: Any) -> Any:
        if not isinstance(body, dict):
            return body
        body = copy.deepcopy(body)
        meta = body.get("metadata")
        if isinstance(meta, dict):
            if isinstance(meta.get("name"), str) and resource in CLUSTER_SCOPED:
                meta["name"] = self.outward_name(meta["name"])
            if isinstance(meta.get("namespace"), str):
                meta["namespace"] = self.outward_name(meta["namespace"])
            labels = meta.get("labels")
            if resource != "bindings" and (labels is None or isinstance(labels, dict)):
                labels = dict(labels or {})
                if isinstance(labels.get(NAMESPACE_NAME_LABEL), str) and resource == "namespaces":
                    labels[NAMESPACE_NAME_LABEL] = self.outward_name(labels[NAMESPACE_NAME_LABEL])
                labels[RUN_LABEL] = self.run_id
                meta["labels"] = labels
        spec = body.get("spec")
        if isinstance(spec, dict) and isinstance(spec.get("nodeName"), str):
            spec["nodeName"] = self.outward_name(spec["nodeName"])
        target = body.get("target")
        if isinstance(target, dict) and isinstance(target.get("name"), str):
            target["name"] = self.outward_name(target["name"])
        return body

    def inward(self, value: Any) -> Any:
        """An answer in the machine's names: run suffixes removed from every string, the run label dropped."""
        if isinstance(value, dict):
            out = {k: self.inward(v) for k, v in value.items()}
            labels = out.get("labels")
            if isinstance(labels, dict) and labels.get(RUN_LABEL) == self.run_id:
                del labels[RUN_LABEL]
                if not labels:
                    del out["labels"]
            return out
        if isinstance(value, list):
            return [self.inward(v) for v in value]
        if isinstance(value, str) and self._suffix in value:
            return value.replace(self._suffix, "")
        return value

    def _selector(self, label_selector: str | None) -> str:
        own = f"{RUN_LABEL}={self.run_id}"
        return f"{label_selector},{own}" if label_selector else own

    def _answer(self, resp: Response) -> Response:
        return Response(resp.code, self.inward(resp.body))

    # ----- the Target protocol ----------------------------------------------------------------

    def create(self, resource: str, namespace: str | None, body: JSON) -> Response:
        out = self._outward_body(resource, body)
        ns = self._ns(namespace)
        resp = self.inner.create(resource, ns, out)
        if resp.ok and isinstance(resp.body, dict):
            self._created.add((resource, ns, resp.body.get("metadata", {}).get("name", "")))
        return self._answer(resp)

    def get(self, resource: str, namespace: str | None, name: str) -> Response:
        return self._answer(self.inner.get(resource, self._ns(namespace), self._name(resource, name)))

    def list(self, resource: str, namespace: str | None = None, *, label_selector: str | None = None) -> Response:
        return self._answer(self.inner.list(resource, self._ns(namespace),
                                            label_selector=self._selector(label_selector)))

    def update(self, resource: str, namespace: str | None, name: str, body: JSON) -> Response:
        return self._answer(self.inner.update(resource, self._ns(namespace), self._name(resource, name),
                                              self._outward_body(resource, body)))

    def patch(self, resource: str, namespace: str | None, name: str, patch: Any, *,
              patch_type: str = "merge") -> Response:
        if patch_type == "json" and isinstance(patch, list):
            out: Any = [self._outward_op(resource, op) for op in patch]
        else:
            out = self._outward_body(resource, patch)
        return self._answer(self.inner.patch(resource, self._ns(namespace), self._name(resource, name), out,
                                             patch_type=patch_type))

    def _outward_op(self, resource: str, op: Any) -> Any:
        """One JSON-patch operation in this run's names: a whole label map set keeps the run label."""
        if not isinstance(op, dict):
            return op
        op = copy.deepcopy(op)
        if op.get("path") == "/metadata/labels" and isinstance(op.get("value"), dict):
            op["value"] = {**op["value"], RUN_LABEL: self.run_id}
        if op.get("path") == "/metadata" and isinstance(op.get("value"), dict):
            op["value"] = self._outward_body(resource, {"metadata": op["value"]})["metadata"]
        return op

    def delete(self, resource: str, namespace: str | None, name: str, *, options: JSON | None = None) -> Response:
        return self._answer(self.inner.delete(resource, self._ns(namespace), self._name(resource, name),
                                              options=options))

    def bind(self, namespace: str, name: str, body: JSON) -> Response:
        out = self._outward_body("bindings", body)
        return self._answer(self.inner.bind(self.outward_name(namespace), name, out))

    def watch(self, resource: str, namespace: str | None = None, *, resource_version: str | None = None,
              label_selector: str | None = None) -> ScopedWatch:
        inner = self.inner.watch(resource, self._ns(namespace), resource_version=resource_version,
                                 label_selector=self._selector(label_selector))
        return ScopedWatch(inner, self)

    # ----- cleanup ----------------------------------------------------------------------------

    def cleanup(self) -> list[str]:
        """Delete everything this run created; returns what could not be deleted (and why)."""
        left: list[str] = []
        order = {"pods": 0, "leases": 1, "nodes": 2, "namespaces": 3}
        for resource, ns, name in sorted(self._created, key=lambda k: (order.get(k[0], 9), k[1] or "", k[2])):
            got = self.inner.get(resource, ns, name)
            if got.code == 404:
                continue
            if got.ok and isinstance(got.body, dict) and got.body.get("metadata", {}).get("finalizers"):
                body = copy.deepcopy(got.body)
                body["metadata"]["finalizers"] = []
                self.inner.update(resource, ns, name, body)
            options = {"kind": "DeleteOptions", "apiVersion": "v1", "gracePeriodSeconds": 0}
            resp = self.inner.delete(resource, ns, name, options=options)
            if resp.code not in (200, 202, 404):
                left.append(f"{resource} {ns or ''}/{name}: {resp.code}")
        self._created.clear()
        return left

    def close(self) -> None:
        try:
            self.cleanup()
        finally:
            self.inner.close()
