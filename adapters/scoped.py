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
- every node it writes carries the taint ``kubeprop.io/run=<run id>:NoSchedule``,
  which real workloads do not tolerate, so a real scheduler never places a real
  pod on a node that has no kubelet behind it; every pod it writes names the
  scheduler ``kubeprop-unscheduled`` (``spec.schedulerName``), which no scheduler
  serves, so a real scheduler leaves the state machine's pods alone (the
  scheduler differential passes ``scheduler_name=None`` and adds its own
  affinity and toleration). Both are removed from answers;
- :meth:`close` deletes what the run created (finalizers cleared first, pods
  with grace 0) and then closes the inner target.

Pods and leases keep their names: they live in the run's namespaces.
"""

from __future__ import annotations

import copy
import re
import secrets
from typing import Any

from adapters.base import JSON, Response, Target, Watch
from adapters.resources import RESOURCES, cluster_scoped

RUN_LABEL = "kubeprop.io/run"
#: the taint every node of a run carries (key RUN_TAINT_KEY, value the run id); pods of the run that should
#: be scheduled onto them tolerate exactly that
RUN_TAINT_KEY = "kubeprop.io/run"
RUN_TAINT_EFFECT = "NoSchedule"
#: spec.schedulerName of the state machines' pods: no scheduler serves it, so none acts on them
#: (pkg/scheduler/profile/profile.go: a scheduler handles only pods naming one of its profiles)
UNSCHEDULED = "kubeprop-unscheduled"
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"


def _dry(dry_run: list[str] | None) -> dict[str, Any]:
    """The keyword a write passes on to the inner target: none when the request asks no dry run."""
    return {"dry_run": dry_run} if dry_run is not None else {}


def _sub(subresource: str) -> dict[str, Any]:
    """The keyword a get, update or patch passes on: none for the object itself, so an inner target that takes
    no subresource still serves the rest."""
    return {"subresource": subresource} if subresource else {}


def new_run_id() -> str:
    """A short id that keeps every mapped name a valid DNS label (``k`` + 10 hex digits). Names a deleted
    example leaves behind may stay for good (a namespace stays Terminating where no namespace controller runs), so
    ids must not repeat within a run of thousands of examples: 40 random bits make that about one in a million
    for two thousand examples (24 bits made it one in nine)."""
    return "k" + secrets.token_hex(5)


class ScopedWatch:
    """A watch whose events come back in the machine's names, without the run label."""

    def __init__(self, inner: Watch, scope: ScopedTarget) -> None:
        self._inner = inner
        self._scope = scope

    def drain(self, *, until_rv: str | None = None, timeout: float = 0.0) -> list[JSON]:
        return [self._scope.inward(e) for e in self._inner.drain(until_rv=until_rv, timeout=timeout)]

    def tick(self) -> None:
        """A bookmark now, where the server sends them on request (the builtin target); else nothing."""
        getattr(self._inner, "tick", lambda: None)()

    @property
    def ended(self) -> bool:
        return self._inner.ended

    def close(self) -> None:
        self._inner.close()


_TAINT_INDEX = re.compile(r"(\.taints\[)(\d+)(\])")


def _taints_unshifted(status: JSON) -> JSON:
    """A refusal of a node as the machine sent it: every ``taints[i]`` it names one lower, the run taint gone."""
    def shift(text: Any) -> Any:
        return _TAINT_INDEX.sub(lambda m: f"{m[1]}{int(m[2]) - 1}{m[3]}", text) if isinstance(text, str) else text

    out = {**status, "message": shift(status.get("message"))}
    details = status.get("details")
    if isinstance(details, dict) and isinstance(details.get("causes"), list):
        out["details"] = {**details, "causes": [{**c, "field": shift(c.get("field")),
                                                 "message": shift(c.get("message"))} if isinstance(c, dict) else c
                                                for c in details["causes"]]}
    return out


#: run ids some target was given rather than made: other targets (concurrent clients of one example) write under
#: them too, so the cleanup of any of them sweeps by label
_SHARED: set[str] = set()


class ScopedTarget:
    """adapters.base.Target over another target, confined to one run's names and label."""

    def __init__(self, inner: Target, run_id: str | None = None, *, scheduler_name: str | None = UNSCHEDULED) -> None:
        self.inner = inner
        if run_id:
            _SHARED.add(run_id)
        self.run_id = run_id or new_run_id()
        self.scheduler_name = scheduler_name
        self.name = inner.name
        self.controls = inner.controls
        self._suffix = "-" + self.run_id
        self._created: set[tuple[str, str | None, str]] = set()  # physical (resource, namespace, name)
        # a write that may have created an object without an answer that says so (no answer: Ctrl-C or a
        # transport failure; or a 5xx): cleanup then also lists what carries the run's label
        self._unsure = False

    # ----- name translation -------------------------------------------------------------------

    def outward_name(self, name: str) -> str:
        return name + self._suffix

    def _ns(self, namespace: str | None) -> str | None:
        return None if namespace is None else self.outward_name(namespace)

    def _name(self, resource: str, name: str) -> str:
        return self.outward_name(name) if cluster_scoped(resource) else name

    def _outward_body(self, resource: str, body: Any, *, patch: bool = False) -> Any:
        if not isinstance(body, dict):
            return body
        body = copy.deepcopy(body)
        meta = body.get("metadata")
        if isinstance(meta, dict):
            if isinstance(meta.get("name"), str) and cluster_scoped(resource):
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
        # a patch that does not set the taints leaves them as they are (a merge patch would replace the list)
        touches_taints = not patch or (isinstance(spec, dict) and "taints" in spec)
        if resource == "nodes" and isinstance(meta, dict) and (spec is None or isinstance(spec, dict)) \
                and touches_taints:
            spec = body.setdefault("spec", {})
            taints = spec.get("taints")
            if taints is None or isinstance(taints, list):
                # first, so a body read back and written again keeps the order the server stored
                spec["taints"] = [self.run_taint()] + [t for t in taints or [] if not self._is_run_taint(t)]
        if resource == "pods" and self.scheduler_name and isinstance(spec, dict) and "containers" in spec:
            spec.setdefault("schedulerName", self.scheduler_name)
        target = body.get("target")
        if isinstance(target, dict) and isinstance(target.get("name"), str):
            target["name"] = self.outward_name(target["name"])
        return body

    def run_taint(self) -> dict[str, str]:
        return {"key": RUN_TAINT_KEY, "value": self.run_id, "effect": RUN_TAINT_EFFECT}

    def _is_run_taint(self, taint: Any) -> bool:
        return isinstance(taint, dict) and taint.get("key") == RUN_TAINT_KEY and taint.get("value") == self.run_id

    def inward(self, value: Any) -> Any:
        """An answer in the machine's names: run suffixes removed from every string, the run label, the run
        taint and the placeholder scheduler name dropped."""
        if isinstance(value, dict):
            out = {k: self.inward(v) for k, v in value.items()}
            labels = out.get("labels")
            if isinstance(labels, dict) and labels.get(RUN_LABEL) == self.run_id:
                del labels[RUN_LABEL]
                if not labels:
                    del out["labels"]
            taints = out.get("taints")
            if isinstance(taints, list) and any(self._is_run_taint(t) for t in value.get("taints") or []):
                out["taints"] = [t for t, raw in zip(taints, value["taints"], strict=True)
                                 if not self._is_run_taint(raw)]
                if not out["taints"]:
                    del out["taints"]
            if self.scheduler_name and out.get("schedulerName") == self.scheduler_name:
                del out["schedulerName"]
            return out
        if isinstance(value, list):
            return [self.inward(v) for v in value]
        if isinstance(value, str) and self._suffix in value:
            return value.replace(self._suffix, "")
        return value

    def _selector(self, label_selector: str | None) -> str:
        own = f"{RUN_LABEL}={self.run_id}"
        return f"{label_selector},{own}" if label_selector else own

    def _answer(self, resp: Response, sent: Any = None) -> Response:
        """``resp`` in the machine's names; ``sent`` is the node body or patch sent, whose run taint (put first)
        shifted the index of every other taint a refusal names."""
        body = self.inward(resp.body)
        taints = ((sent.get("spec") if isinstance(sent, dict) else None) or {}).get("taints")
        if resp.code == 422 and isinstance(body, dict) and isinstance(taints, list) and taints \
                and self._is_run_taint(taints[0]):
            body = _taints_unshifted(body)
        return Response(resp.code, body)

    # ----- the Target protocol ----------------------------------------------------------------

    def create(self, resource: str, namespace: str | None, body: JSON, *, dry_run: list[str] | None = None
               ) -> Response:
        out = self._outward_body(resource, body)
        ns = self._ns(namespace)
        resp = self._may_create(lambda: self.inner.create(resource, ns, out, **_dry(dry_run)), dry_run)
        if resp.ok and isinstance(resp.body, dict) and not dry_run:
            self._created.add((resource, ns, resp.body.get("metadata", {}).get("name", "")))
        return self._answer(resp, out)

    def get(self, resource: str, namespace: str | None, name: str, *, resource_version: str = "",
            subresource: str = "") -> Response:
        return self._answer(self.inner.get(resource, self._ns(namespace), self._name(resource, name),
                                           resource_version=resource_version, **_sub(subresource)))

    def list(self, resource: str, namespace: str | None = None, *, label_selector: str | None = None,
             limit: int = 0, continue_: str = "", resource_version: str = "",
             resource_version_match: str = "", form: str = "") -> Response:
        if form:
            # a URL with no resource in it names nothing of the run's, and nothing to scope (adapters.base.LIST_FORMS)
            return self._answer(self.inner.list(resource, form=form))
        return self._answer(self.inner.list(resource, self._ns(namespace),
                                            label_selector=self._selector(label_selector), limit=limit,
                                            continue_=continue_, resource_version=resource_version,
                                            resource_version_match=resource_version_match))

    def update(self, resource: str, namespace: str | None, name: str, body: JSON, *,
               dry_run: list[str] | None = None, subresource: str = "") -> Response:
        ns, physical = self._ns(namespace), self._name(resource, name)
        out = self._outward_body(resource, body)
        resp = self._may_create(lambda: self.inner.update(resource, ns, physical, out, **_dry(dry_run),
                                                          **_sub(subresource)), dry_run)
        if resp.code == 201 and not dry_run:
            self._created.add((resource, ns, physical))  # a PUT that created (leases allow it)
        return self._answer(resp, out)

    def patch(self, resource: str, namespace: str | None, name: str, patch: Any, *,
              patch_type: str = "merge", dry_run: list[str] | None = None, subresource: str = "") -> Response:
        if patch_type == "json" and isinstance(patch, list):
            out: Any = [self._outward_op(resource, op) for op in patch]
        else:
            out = self._outward_body(resource, patch, patch=True)
        ns, physical = self._ns(namespace), self._name(resource, name)
        resp = self._may_create(lambda: self.inner.patch(resource, ns, physical, out, patch_type=patch_type,
                                                         **_dry(dry_run), **_sub(subresource)), dry_run)
        if resp.code == 201 and not dry_run:
            self._created.add((resource, ns, physical))  # an apply patch creates
        return self._answer(resp, out)

    def _may_create(self, send: Any, dry_run: list[str] | None) -> Response:
        """Send a write that can create an object; one whose outcome the answer does not tell marks the run
        unsure, so that cleanup sweeps by label too."""
        try:
            resp = send()
        except BaseException:
            self._unsure = self._unsure or not dry_run
            raise
        if resp.code >= 500 and not dry_run:
            self._unsure = True
        return resp

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

    def delete(self, resource: str, namespace: str | None, name: str, *, options: JSON | None = None,
               dry_run: list[str] | None = None) -> Response:
        return self._answer(self.inner.delete(resource, self._ns(namespace), self._name(resource, name),
                                              options=options, **_dry(dry_run)))

    def bind(self, namespace: str, name: str, body: JSON, *, dry_run: list[str] | None = None,
             legacy: bool = False) -> Response:
        out = self._outward_body("bindings", body)
        return self._answer(self.inner.bind(self.outward_name(namespace), name, out, **_dry(dry_run),
                                            **({"legacy": True} if legacy else {})))

    def watch(self, resource: str, namespace: str | None = None, *, resource_version: str | None = None,
              label_selector: str | None = None, bookmarks: bool = False, timeout_seconds: int = 0,
              name: str | None = None, form: str = "") -> ScopedWatch:
        # a name and a form go on only when asked, so an inner target that takes neither still serves the rest
        named = {} if name is None else {"name": self._name(resource, name)}
        inner = self.inner.watch(resource, self._ns(namespace), resource_version=resource_version,
                                 label_selector=self._selector(label_selector), bookmarks=bookmarks,
                                 timeout_seconds=timeout_seconds, **named, **({"form": form} if form else {}))
        return ScopedWatch(inner, self)

    def server_version(self) -> JSON:
        version = getattr(self.inner, "server_version", None)
        return version() if version is not None else {}

    # ----- cleanup ----------------------------------------------------------------------------

    def _labelled(self) -> set[tuple[str, str | None, str]]:
        """Objects carrying this run's label that the run did not record (an answer lost to Ctrl-C, say)."""
        found: set[tuple[str, str | None, str]] = set()
        for resource in (r.plural for r in RESOURCES):
            try:
                resp = self.inner.list(resource, None, label_selector=f"{RUN_LABEL}={self.run_id}")
            except Exception:  # noqa: BLE001 - cleanup goes on with what it knows
                continue
            items = resp.body.get("items") if resp.ok and isinstance(resp.body, dict) else None
            for item in items or []:
                meta = item.get("metadata") or {}
                # only what carries the run's own label: nothing of anyone else is touched
                if (meta.get("labels") or {}).get(RUN_LABEL) == self.run_id and meta.get("name"):
                    found.add((resource, None if cluster_scoped(resource) else meta.get("namespace"),
                               meta["name"]))
        return found

    def cleanup(self, *, sweep: bool = False) -> list[str]:
        """Delete everything this run created, and whatever else carries its label when a write's outcome was
        unknown, when the run id is shared with other targets (given, not made here), or with ``sweep``; returns
        what could not be deleted (and why). Only objects of this run are read, changed (finalizers cleared) or
        deleted. Each is deleted with grace 0 first; one that a finalizer holds (the delete's answer shows it still
        there) has its finalizers cleared from that answer and goes."""
        left: list[str] = []
        order = {r.plural: i for i, r in enumerate(RESOURCES)}
        todo = self._created | (self._labelled() if self._unsure or sweep or self.run_id in _SHARED else set())
        options = {"kind": "DeleteOptions", "apiVersion": "v1", "gracePeriodSeconds": 0}
        for resource, ns, name in sorted(todo, key=lambda k: (order.get(k[0], 9), k[1] or "", k[2])):
            resp = self.inner.delete(resource, ns, name, options=options)
            held = resp.body if resp.ok and isinstance(resp.body, dict) else None
            for _ in range(3):  # a conflict with a writer still at work: read again and retry
                if not (held and held.get("metadata", {}).get("finalizers")):
                    break
                body = copy.deepcopy(held)
                body["metadata"]["finalizers"] = []
                cleared = self.inner.update(resource, ns, name, body)
                if cleared.code != 409:
                    resp = cleared
                    break
                got = self.inner.get(resource, ns, name)
                held = got.body if got.ok and isinstance(got.body, dict) else None
            if resp.code not in (200, 202, 404):
                left.append(f"{resource} {ns or ''}/{name}: {resp.code}")
        self._created.clear()
        self._unsure = False
        return left

    def close(self) -> None:
        try:
            self.cleanup()
        finally:
            self.inner.close()
