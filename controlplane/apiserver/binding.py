"""The pods/binding subresource: assign a pod to a node, once (pkg/registry/core/pod/storage/storage.go)."""

from __future__ import annotations

from typing import Any

from . import resources, validation
from .errors import (
    BadRequest,
    Conflict,
    InternalError,
    Invalid,
    NotFound,
    aggregate,
    go_quote,
    invalid_value,
    not_supported,
    required,
)
from .meta import JSON, encode, without_rv
from .registry import Store
from .storage import KeyNotFound, RevisionConflict

BINDING_QUALIFIED = "pods/binding"
SUCCESS_201: JSON = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}


def _bad_binding(detail: str) -> BadRequest:
    return BadRequest(f'Binding in version "v1" cannot be handled as a Binding: {detail}')


def _parse(body: Any) -> tuple[JSON, JSON]:
    """(metadata, target) of a Binding body, type-checked like the Go decoder would."""
    if not isinstance(body, dict):
        raise _bad_binding("json: cannot unmarshal into Go value of type v1.Binding")
    meta, target = body.get("metadata"), body.get("target")
    if meta is None:
        meta = {}
    if target is None:
        target = {}
    if not isinstance(meta, dict):
        raise _bad_binding("json: cannot unmarshal into Go struct field Binding.metadata of type v1.ObjectMeta")
    if not isinstance(target, dict):
        raise _bad_binding("json: cannot unmarshal into Go struct field Binding.target of type v1.ObjectReference")
    for f in ("name", "namespace", "uid", "resourceVersion"):
        if meta.get(f) is not None and not isinstance(meta[f], str):
            raise _bad_binding(f"json: cannot unmarshal into Go struct field ObjectMeta.metadata.{f} of type string")
    annotations = meta.get("annotations")
    if annotations is not None and (
        not isinstance(annotations, dict) or not all(isinstance(v, str) for v in annotations.values())
    ):
        raise _bad_binding("json: cannot unmarshal into Go struct field ObjectMeta.metadata.annotations")
    for f in ("kind", "name"):
        if target.get(f) is not None and not isinstance(target[f], str):
            raise _bad_binding(f"json: cannot unmarshal into Go struct field ObjectReference.target.{f} of type string")
    return meta, target


def bind(pods: Store, namespace: str, name: str, body: Any) -> JSON:
    """POST pods/{name}/binding; the 201 Success Status, or an APIError."""
    ctx = pods.ctx
    meta, target = _parse(body)
    if meta.get("namespace") and meta["namespace"] != namespace:
        # apiserver/pkg/registry/rest/meta.go: EnsureObjectNamespaceMatchesRequestNamespace
        raise BadRequest("the namespace of the provided object does not match the namespace sent on the request")
    if ctx.storage.get(resources.NAMESPACES.key(None, namespace)) is None:
        # plugin/pkg/admission/namespace/lifecycle/admission.go: a create of any kind, a Binding too, into a
        # namespace that does not exist is refused before the registry looks at the pod
        r = resources.NAMESPACES
        raise NotFound(r.qualified_resource, r.group, r.plural, namespace)
    # storage.go: BindingREST.Create
    if (meta.get("name") or "") != name:
        raise BadRequest("name in URL does not match name in Binding object")
    # pkg/apis/core/validation/validation.go: ValidatePodBinding. Releases return these as a plain aggregate,
    # which the handler answers 500 (kubernetes#139488, a known finding: conformance/findings.py); a request
    # the server refuses for what it says is the client's error, so this server answers 422 Invalid on kind
    # Binding, as the fix under review does (kubernetes#139581)
    errs = []
    kind, node = target.get("kind") or "", target.get("name") or ""
    if kind and kind != "Node":
        errs.append(not_supported("target.kind", kind, ["Node", "<empty>"]))
    if not node:
        errs.append(required("target.name"))
    if errs:
        if ctx.faults.enabled("binding.invalid-target-500"):
            raise InternalError(aggregate([e.text() for e in errs]))
        raise Invalid("Binding", "", "Binding", meta.get("name") or "", errs)
    key = resources.PODS.key(namespace, name)
    pre_uid, pre_rv = meta.get("uid") or "", meta.get("resourceVersion") or ""
    for _ in range(64):
        value, cur_rev, pod = pods.load(key, name)
        pod_meta = pod["metadata"]
        # apiserver/pkg/storage/interfaces.go: Preconditions.Check, uid then resourceVersion
        if pre_uid and pre_uid != pod_meta.get("uid") and not ctx.faults.enabled("binding.ignores-uid"):
            raise pods.precondition_failed(
                namespace, name, f"UID in precondition: {pre_uid}, UID in object meta: {pod_meta.get('uid', '')}")
        if pre_rv and pre_rv != str(cur_rev):
            raise pods.precondition_failed(namespace, name, f"ResourceVersion in precondition: {pre_rv}, "
                                                            f"ResourceVersion in object meta: {cur_rev}")
        spec = pod.get("spec") or {}
        # storage.go: setPodNodeAndMetadata -- the checks, in this order
        if pod_meta.get("deletionTimestamp") and not ctx.faults.enabled("binding.ignores-deleting"):
            raise Conflict(BINDING_QUALIFIED, "", BINDING_QUALIFIED, name,
                           f"pod {name} is being deleted, cannot be assigned to a host")
        if spec.get("nodeName") and not ctx.faults.enabled("binding.overwrites"):
            raise Conflict(BINDING_QUALIFIED, "", BINDING_QUALIFIED, name,
                           f"pod {name} is already assigned to node {go_quote(spec['nodeName'])}")
        if spec.get("schedulingGates"):
            raise Conflict(BINDING_QUALIFIED, "", BINDING_QUALIFIED, name,
                           f"pod {name} has non-empty .spec.schedulingGates")
        new = without_rv(pod)
        new["spec"] = {**spec, "nodeName": node}
        new_meta = new["metadata"] = dict(new["metadata"])
        annotations = {**(pod_meta.get("annotations") or {}), **(meta.get("annotations") or {})}
        if annotations:
            new_meta["annotations"] = annotations
        # setPodNodeAndMetadata copies the Binding's annotations onto the pod, and releases validate none of them
        # (a finding: conformance/findings.py, binding-stores-invalid-annotations); the pod as the binding would
        # leave it must pass the annotation rules any write of it does (objectmeta.go: ValidateAnnotations)
        bad = [invalid_value("metadata.annotations", k, m)
               for k in sorted(meta.get("annotations") or {}) for m in validation.label_key(k.lower())]
        if bad and not ctx.faults.enabled("binding.copies-invalid-annotations"):
            raise Invalid(pods.res.qualified_kind, pods.res.group, pods.res.kind, name, bad)
        new["status"] = _scheduled(pod.get("status") or {}, ctx.now())
        new_value = encode(new)
        try:
            rev = ctx.storage.put(key, new_value, cur_rev)
        except (RevisionConflict, KeyNotFound):
            continue
        pods._note_write(key, pod, new, new_value, rev)
        return dict(SUCCESS_201)
    raise InternalError(f"too many conflicts binding {key}")


def _scheduled(status: JSON, now: str) -> JSON:
    """pkg/api/pod/util.go: UpdatePodCondition with PodScheduled=True (transition time moves on a change)."""
    conditions = [dict(c) for c in status.get("conditions") or [] if isinstance(c, dict)]
    fresh = {"type": "PodScheduled", "status": "True", "lastProbeTime": None, "lastTransitionTime": now}
    for i, c in enumerate(conditions):
        if c.get("type") == "PodScheduled":
            # the whole condition is replaced (reason and message go); the time stays if it was True already
            if c.get("status") == "True":
                fresh["lastTransitionTime"] = c.get("lastTransitionTime")
            conditions[i] = fresh
            break
    else:
        conditions.append(fresh)
    return {**status, "conditions": conditions}
