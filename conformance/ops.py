"""One API call as a value: the verb, the resource, where, the body and the options, built once.

An :class:`Op` knows how to send itself to a target (:meth:`Op.send`), what the
model requires of its answer (:meth:`Op.expect`) and how it reads in a
reproduction program (:meth:`Op.call_args`). Every rule, every scheduler
replica's client and every differential builds an ``Op`` and hands it to the
one checked client (``conformance/client.py``); nothing else names a target
method by string.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from adapters.base import LIST_FORMS, Response, Target
from adapters.resources import BY_PLURAL
from model.apiserver import APIModel, Expect
from model.resources import resource as model_resource
from model.selectors import Selector

JSON = dict[str, Any]

VERBS = ("create", "get", "list", "update", "patch", "delete", "bind")
#: the verbs that may name a subresource (Op.subresource), and the subresources they may name
SUBRESOURCE_VERBS = ("get", "update", "patch")
SUBRESOURCES = ("status",)
#: the verbs that change what the server stores: their object is read back after them
WRITES = frozenset({"create", "update", "patch", "delete", "bind"})


@dataclass(frozen=True)
class Op:
    """One API call. ``namespace`` is normalised: ``None`` for cluster-scoped resources."""

    verb: str
    resource: str
    namespace: str | None = None
    name: str | None = None
    body: Any = None
    #: list: the label selector; patch: "merge" or "json"; delete: the DeleteOptions body
    selector: Selector | None = None
    patch_type: str = "merge"
    options: JSON | None = field(default=None, compare=False)
    #: get and list: the resourceVersion parameter ("" sends none)
    resource_version: str = ""
    #: writes: the values of the ``dryRun`` query parameter (none sent when empty); a delete may also carry
    #: ``dryRun`` in its DeleteOptions body (``options``)
    dry_run: tuple[str, ...] = ()
    #: bind: which URL the API serves it at: "" for pods/{name}/binding, "bindings" for the older
    #: namespaces/{ns}/bindings that takes the pod's name from the Binding (pkg/registry/core/rest/storage_core.go);
    #: the API promises both the same answer; list: "" for the collection, or a URL with no resource in it
    #: (adapters.base.LIST_FORMS: the group version's watch/ or proxy/ prefix and nothing after it)
    form: str = ""
    #: get, update and patch: "" for the object itself, "status" for its status subresource
    #: (``{plural}/{name}/status``; pods and nodes)
    subresource: str = ""

    def __post_init__(self) -> None:
        if self.verb not in VERBS:
            raise ValueError(f"unknown verb {self.verb!r}; known: {', '.join(VERBS)}")
        res = BY_PLURAL.get(self.resource)
        if res is None:
            raise ValueError(f"unknown resource {self.resource!r}; known: {', '.join(sorted(BY_PLURAL))}")
        if not res.namespaced and self.namespace is not None:
            object.__setattr__(self, "namespace", None)
        if self.subresource and (self.verb not in SUBRESOURCE_VERBS or self.subresource not in SUBRESOURCES
                                 or not model_resource(self.resource).status_subresource):
            raise ValueError(f"no {self.verb} of {self.resource}/{self.subresource}: the status subresource of pods "
                             f"and nodes takes {', '.join(SUBRESOURCE_VERBS)}")

    # ----- constructors, one per verb -------------------------------------------------------------

    @classmethod
    def create(cls, resource: str, namespace: str | None, body: JSON) -> Op:
        return cls("create", resource, namespace, (body.get("metadata") or {}).get("name"), body)

    @classmethod
    def get(cls, resource: str, namespace: str | None, name: str, resource_version: str = "",
            subresource: str = "") -> Op:
        return cls("get", resource, namespace, name, resource_version=resource_version, subresource=subresource)

    @classmethod
    def list(cls, resource: str, namespace: str | None, selector: Selector | None = None,
             resource_version: str = "") -> Op:
        return cls("list", resource, namespace, selector=selector, resource_version=resource_version)

    @classmethod
    def resourceless(cls, resource: str, form: str) -> Op:
        """A list asked at ``resource``'s group version followed by ``form`` and no resource (``/api/v1/watch``)."""
        if form not in LIST_FORMS or not form:
            raise ValueError(f"unknown resourceless URL form {form!r}; known: {', '.join(LIST_FORMS[1:])}")
        return cls("list", resource, None, form=form)

    @classmethod
    def update(cls, resource: str, namespace: str | None, name: str, body: JSON, subresource: str = "") -> Op:
        return cls("update", resource, namespace, name, body, subresource=subresource)

    @classmethod
    def patch(cls, resource: str, namespace: str | None, name: str, patch: Any, patch_type: str,
              subresource: str = "") -> Op:
        return cls("patch", resource, namespace, name, patch, patch_type=patch_type, subresource=subresource)

    @classmethod
    def delete(cls, resource: str, namespace: str | None, name: str, options: JSON | None = None) -> Op:
        return cls("delete", resource, namespace, name, options=options)

    @classmethod
    def bind(cls, namespace: str, name: str, body: JSON, form: str = "") -> Op:
        if form not in ("", "bindings"):
            raise ValueError(f"unknown binding URL form {form!r}; known: '' (pods/NAME/binding), 'bindings'")
        return cls("bind", "pods", namespace, name, body, form=form)

    # ----- what an Op does ------------------------------------------------------------------------

    def without_uid(self) -> Op:
        """This binding with no uid in its Binding: what a server that drops it decides on."""
        meta = {k: v for k, v in ((self.body.get("metadata") or {}) if isinstance(self.body, dict) else {}).items()
                if k != "uid"}
        return replace(self, body={**self.body, "metadata": meta})

    @property
    def is_write(self) -> bool:
        return self.verb in WRITES

    def dry_values(self) -> list[str]:
        """Every dryRun value the request carries, in its URL and (a delete's) DeleteOptions body."""
        body = (self.options or {}).get("dryRun") if self.verb == "delete" else None
        return [*self.dry_run, *(body if isinstance(body, list) else [])]

    @property
    def asks_dry_run(self) -> bool:
        return bool(self.dry_values())

    def without_query_dry_run(self) -> Op:
        """The same request without the URL's dryRun (a delete keeps its DeleteOptions body's): what a server
        that reads a delete's options from its body alone carries out."""
        return replace(self, dry_run=())

    def read_back(self) -> Op:
        """The read that shows what a write left behind (the object itself, after a status write too)."""
        if self.name is None:
            raise ValueError(f"{self.verb} of {self.resource} names no object to read back")
        return Op.get(self.resource, self.namespace, self.name)

    def call_args(self) -> tuple[tuple[Any, ...], JSON]:
        """The target method's positional and keyword arguments (the Target protocol, adapters/base.py)."""
        args, kwargs = self._call_args()
        if self.dry_run:
            kwargs["dry_run"] = list(self.dry_run)
        if self.subresource:
            kwargs["subresource"] = self.subresource
        return args, kwargs

    def _call_args(self) -> tuple[tuple[Any, ...], JSON]:
        if self.verb == "create":
            return (self.resource, self.namespace, self.body), {}
        rv = {"resource_version": self.resource_version} if self.resource_version else {}
        if self.verb == "list" and self.form:
            return (self.resource,), {"form": self.form}
        if self.verb == "list":
            return (self.resource, self.namespace), (
                {"label_selector": self.selector.render()} if self.selector is not None else {}) | rv
        if self.verb == "bind":
            return (self.namespace, self.name, self.body), ({"legacy": True} if self.form == "bindings" else {})
        if self.verb in ("update", "patch"):
            kwargs = {"patch_type": self.patch_type} if self.verb == "patch" else {}
            return (self.resource, self.namespace, self.name, self.body), kwargs
        if self.verb == "delete":
            return (self.resource, self.namespace, self.name), {"options": self.options}
        return (self.resource, self.namespace, self.name), rv

    def send(self, target: Target) -> Response:
        args, kwargs = self.call_args()
        method = getattr(target, self.verb)
        return method(*args, **kwargs)

    def expect(self, model: APIModel) -> Expect:
        """What the model requires of this call's answer, on the model's state now."""
        if not self.is_write or not self.asks_dry_run:
            return self._expect(model)
        refused = model.dry_run_refused(self.verb, self.dry_values())
        if refused is not None:
            return refused
        meta = (self.body.get("metadata") if isinstance(self.body, dict) else None) or {}
        if self.verb == "create" and meta.get("resourceVersion") and not model.keeps_promises:
            # a release's dry run never reaches the storage check that refuses a create's resourceVersion
            # (conformance/findings.py: dry-run-create-with-resourceversion): what is left decides the answer
            body = {**self.body, "metadata": {k: v for k, v in meta.items() if k != "resourceVersion"}}
            return model.dry_run(replace(self, body=body)._expect(model), self.resource, self.namespace, self.name)
        return model.dry_run(self._expect(model), self.resource, self.namespace, self.name)

    def _expect(self, model: APIModel) -> Expect:
        ns, name = self.namespace, self.name or ""
        if self.verb == "create":
            return model.create(self.resource, ns, self.body)
        if self.verb == "get":
            return model.get(self.resource, ns, name, self.resource_version, self.subresource)
        if self.verb == "list" and self.form:
            return model.resourceless(self.form)
        if self.verb == "list":
            return model.list(self.resource, ns, self.selector, self.resource_version)
        if self.verb == "update":
            return model.update(self.resource, ns, name, self.body, subresource=self.subresource)
        if self.verb == "patch":
            return model.patch(self.resource, ns, name, self.patch_type, self.body, self.subresource)
        if self.verb == "delete":
            return model.delete(self.resource, ns, name, self.options)
        if self.form == "bindings" and not model.keeps_promises:
            # a release drops the Binding's uid at this URL (conformance/findings.py: legacy-bindings-ignore-uid),
            # so every other answer follows from the Binding without it; binding.preconditions is judged apart
            return model.bind(ns or "", name, self.without_uid().body)
        return model.bind(ns or "", name, self.body)
