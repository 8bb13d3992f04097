"""Per-resource rules the generic registry calls: what the server fills in or keeps, what it validates.

Each strategy follows the upstream strategy.go of its resource (cited per rule).
"""

from __future__ import annotations

from typing import Any

from . import fields, resources, validation
from .errors import FieldError, forbidden, invalid_value, not_supported, required
from .meta import JSON, _cannot_handle, expect, normalize_micro_time
from .resources import Resource

DEFAULT_GRACE_SECONDS = 30


class Strategy:
    """Defaults: no status, deleted at once, the Success Status returned on delete."""

    resource: Resource
    # store.go: ReturnDeletedObject -- pods and namespaces answer a delete with the object
    returns_deleted_object = False
    # whether deletes go through a grace period (rest.RESTGracefulDeleteStrategy); only pods do
    graceful = False
    # labels the strategy's Canonicalize sets, after validation (rest/create.go: BeforeCreate)
    canonical_labels: tuple[str, ...] = ()
    # rest.RESTUpdateStrategy: AllowCreateOnUpdate (a PUT of a missing object creates it) and
    # AllowUnconditionalUpdate (a PUT without resourceVersion overwrites)
    allow_create_on_update = False
    allow_unconditional_update = True
    # metadata the strategy's PrepareForUpdate clears from the body before the registry compares what an update may
    # not change (whatever is sent there then changes nothing)
    cleared_on_update: tuple[str, ...] = ()

    def check_types(self, body: JSON) -> None:
        """Resource-specific body shapes the decoder would refuse (400)."""

    def prepare_for_create(self, obj: JSON, now: str) -> None:
        """Fill or reset server-owned fields of a new object."""

    def prepare_for_update(self, new: JSON, old: JSON) -> None:
        """Carry over what an update may not change."""

    def validate(self, obj: JSON) -> list[FieldError]:
        return []

    def validate_update(self, new: JSON, old: JSON) -> list[FieldError]:
        """What an update is checked against; by default what a create is."""
        return self.validate(new)

    def grace_period(self, obj: JSON, asked: int | None) -> int:
        # apiserver/pkg/registry/rest/delete.go: BeforeDelete -- no graceful strategy means delete at once
        return 0

    #: the field labels a field selector may name and what each stands for (the kind's field label conversion,
    #: pkg/apis/core/v1/conversion.go); None: the kind registers none, so only the metadata fields are known
    field_labels: dict[str, str] | None = None

    def field_label(self, label: str) -> str:
        """The field a selector's ``label`` names; FieldSelectorError with the API's message if unknown."""
        if self.field_labels is None:
            return fields.default_conversion(label)
        if label not in self.field_labels:
            raise fields.FieldSelectorError(f"field label not supported: {label}")
        return self.field_labels[label]

    def selectable_fields(self, obj: JSON) -> dict[str, str]:
        """The values a field selector matches (the registry's GetAttrs; apiserver/pkg/registry/generic/matcher.go:
        DefaultNamespaceScopedAttr / DefaultClusterScopedAttr by default)."""
        return fields.meta_fields(obj, self.resource.namespaced)


def _keep(new: JSON, old: JSON, field: str) -> None:
    if field in old:
        new[field] = old[field]
    else:
        new.pop(field, None)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _go_bool(value: Any) -> str:
    # strconv.FormatBool of a field that is false when absent
    return "true" if value is True else "false"


def _labels(*names: str) -> dict[str, str]:
    return {n: n for n in names}


class PodStrategy(Strategy):
    resource = resources.PODS
    returns_deleted_object = True
    graceful = True
    # pkg/apis/core/v1/conversion.go: the Pod field label conversion (spec.host is the old name of spec.nodeName)
    field_labels = {**_labels("metadata.name", "metadata.namespace", "spec.nodeName", "spec.restartPolicy",
                              "spec.schedulerName", "spec.serviceAccountName", "spec.hostNetwork", "status.phase",
                              "status.podIP", "status.podIPs", "status.nominatedNodeName"),
                    "spec.host": "spec.nodeName"}

    def selectable_fields(self, obj: JSON) -> dict[str, str]:
        # pkg/registry/core/pod/strategy.go: ToSelectableFields (status.podIPs is accepted but not offered: it
        # reads as ""); status.podIP is the first of podIPs, where the v1 podIP wins when set
        # (pkg/apis/core/v1/conversion.go: Convert_v1_PodStatus_To_core_PodStatus)
        spec, status = obj.get("spec") or {}, obj.get("status") or {}
        ips = status.get("podIPs")
        first = ips[0] if isinstance(ips, list) and ips and isinstance(ips[0], dict) else {}
        return {**super().selectable_fields(obj),
                **{f"spec.{f}": _text(spec.get(f)) for f in ("nodeName", "restartPolicy", "schedulerName",
                                                             "serviceAccountName")},
                "spec.hostNetwork": _go_bool(spec.get("hostNetwork")),
                "status.phase": _text(status.get("phase")),
                "status.podIP": _text(status.get("podIP")) or _text(first.get("ip")),
                "status.nominatedNodeName": _text(status.get("nominatedNodeName"))}

    def check_types(self, body: JSON) -> None:
        spec = body.get("spec") or {}
        expect(self.resource, spec.get("nodeName"), str, "PodSpec.spec.nodeName", "string")
        expect(self.resource, spec.get("terminationGracePeriodSeconds"), int,
               "PodSpec.spec.terminationGracePeriodSeconds", "int64")
        expect(self.resource, spec.get("schedulingGates"), list, "PodSpec.spec.schedulingGates",
               "[]v1.PodSchedulingGate")
        status = body.get("status") or {}
        expect(self.resource, status.get("phase"), str, "PodStatus.status.phase", "v1.PodPhase")

    def prepare_for_create(self, obj: JSON, now: str) -> None:
        # pkg/registry/core/pod/strategy.go: PrepareForCreate -- status reset, generation starts at 1
        obj["metadata"]["generation"] = 1
        obj["status"] = {"phase": "Pending"}

    def prepare_for_update(self, new: JSON, old: JSON) -> None:
        # pod/strategy.go: PrepareForUpdate -- status is kept (it has its own subresource)
        _keep(new, old, "status")
        # nodeName is set only through pods/binding
        old_spec = old.get("spec") or {}
        if "nodeName" in old_spec:
            new.setdefault("spec", {})["nodeName"] = old_spec["nodeName"]
        elif isinstance(new.get("spec"), dict):
            new["spec"].pop("nodeName", None)
        # pod/strategy.go: PrepareForUpdate -- generation bumps only on a spec change
        generation = old["metadata"].get("generation", 1)
        if (new.get("spec") or {}) != old_spec:
            generation += 1
        new["metadata"]["generation"] = generation

    def validate(self, obj: JSON) -> list[FieldError]:
        # pkg/apis/core/validation/validation.go: ValidatePodSpec, in its order, for the fields checked here:
        # container names, host ports, nodeSelector, tolerations
        spec = obj.get("spec") or {}
        errs: list[FieldError] = []
        for i, c in enumerate(spec.get("containers") or []):
            name = c.get("name") if isinstance(c, dict) else None
            if isinstance(name, str) and name:
                errs.extend(invalid_value(f"spec.containers[{i}].name", name, m)
                            for m in validation.dns1123_label(name))
        errs.extend(self._host_ports(spec))
        selector = spec.get("nodeSelector")
        # apimachinery/pkg/apis/meta/v1/validation/validation.go: ValidateLabels on spec.nodeSelector
        for key in sorted(selector) if isinstance(selector, dict) else ():
            errs.extend(invalid_value("spec.nodeSelector", key, m) for m in validation.label_key(key))
            errs.extend(invalid_value("spec.nodeSelector", selector[key], m)
                        for m in validation.label_value(str(selector[key])))
        for i, tol in enumerate(spec.get("tolerations") or []):
            if isinstance(tol, dict):
                errs.extend(_toleration_errors(f"spec.tolerations[{i}]", tol))
        return errs

    @staticmethod
    def _host_ports(spec: JSON) -> list[FieldError]:
        # pkg/apis/core/validation/validation.go: AccumulateUniqueHostPorts -- a protocol/hostIP/hostPort
        # triple may appear once among the pod's containers
        errs: list[FieldError] = []
        seen: set[str] = set()
        for i, c in enumerate(spec.get("containers") or []):
            for j, port in enumerate((c or {}).get("ports") or []):
                if not isinstance(port, dict) or not port.get("hostPort"):
                    continue
                triple = f"{port.get('protocol') or 'TCP'}/{port.get('hostIP') or ''}/{port['hostPort']}"
                if triple in seen:
                    errs.append(FieldError("FieldValueDuplicate", f"spec.containers[{i}].ports[{j}].hostPort",
                                           "", triple, True))
                seen.add(triple)
        return errs

    def grace_period(self, obj: JSON, asked: int | None) -> int:
        # pkg/registry/core/pod/strategy.go: CheckGracefulDelete
        spec = obj.get("spec") or {}
        if asked is not None:
            period = asked
        elif spec.get("terminationGracePeriodSeconds") is not None:
            period = spec["terminationGracePeriodSeconds"]
        else:
            period = DEFAULT_GRACE_SECONDS
        if not spec.get("nodeName"):
            period = 0
        if (obj.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            period = 0
        return 1 if period < 0 else period


class NamespaceStrategy(Strategy):
    resource = resources.NAMESPACES
    returns_deleted_object = True
    canonical_labels = ("kubernetes.io/metadata.name",)
    # pkg/apis/core/v1/conversion.go: AddFieldLabelConversionsForNamespace
    field_labels = _labels("status.phase", "metadata.name")

    def selectable_fields(self, obj: JSON) -> dict[str, str]:
        # pkg/registry/core/namespace/strategy.go: NamespaceToSelectableFields
        return {**super().selectable_fields(obj), "status.phase": _text((obj.get("status") or {}).get("phase"))}

    def prepare_for_create(self, obj: JSON, now: str) -> None:
        # pkg/registry/core/namespace/strategy.go: PrepareForCreate -- Active, "kubernetes" finalizer
        obj["spec"] = {**(obj.get("spec") or {}), "finalizers": ["kubernetes"]}
        obj["status"] = {"phase": "Active"}
        self._label(obj)

    def prepare_for_update(self, new: JSON, old: JSON) -> None:
        # namespace/strategy.go: PrepareForUpdate -- spec.finalizers and status have their own subresources
        old_spec = old.get("spec") or {}
        if "finalizers" in old_spec:
            new.setdefault("spec", {})["finalizers"] = old_spec["finalizers"]
        elif isinstance(new.get("spec"), dict):
            new["spec"].pop("finalizers", None)
        _keep(new, old, "status")
        self._label(new)

    @staticmethod
    def _label(obj: JSON) -> None:
        # namespace/strategy.go: Canonicalize -- the name label always matches the name
        meta = obj["metadata"]
        if meta.get("name"):  # a nameless namespace is refused by validation, which runs after this
            meta["labels"] = {**(meta.get("labels") or {}), "kubernetes.io/metadata.name": meta["name"]}


TAINT_EFFECTS = ["NoSchedule", "PreferNoSchedule", "NoExecute"]


def _toleration_errors(at: str, tol: JSON) -> list[FieldError]:
    """pkg/apis/core/validation/validation.go: ValidateTolerations, for one toleration (the operators Lt and Gt,
    which have rules of their own since v1.37, are refused here as unsupported)."""
    errs: list[FieldError] = []
    key, op, value = str(tol.get("key") or ""), str(tol.get("operator") or ""), str(tol.get("value") or "")
    effect = str(tol.get("effect") or "")
    if key:
        errs.extend(invalid_value(f"{at}.key", key, m) for m in validation.label_key(key))
    else:
        if op != "Exists":
            errs.append(invalid_value(f"{at}.operator", op, 'operator must be Exists when `key` is empty, which '
                                                            'means "match all values and all keys"'))
    if tol.get("tolerationSeconds") is not None and effect != "NoExecute":
        errs.append(invalid_value(f"{at}.effect", effect, "effect must be 'NoExecute' when `tolerationSeconds` is set"))
    if op in ("", "Equal"):
        bad = validation.label_value(value)
        if bad:
            errs.append(invalid_value(f"{at}.operator", value, ";".join(bad)))  # upstream names the operator
    elif op == "Exists":
        if value:
            errs.append(invalid_value(f"{at}.operator", value, "value must be empty when `operator` is 'Exists'"))
    else:
        errs.append(not_supported(f"{at}.operator", op, ["Equal", "Exists"]))
    if effect and effect not in TAINT_EFFECTS:
        errs.append(not_supported(f"{at}.effect", effect, TAINT_EFFECTS))
    return errs


class NodeStrategy(Strategy):
    resource = resources.NODES
    # pkg/apis/core/v1/conversion.go: the Node field label conversion
    field_labels = _labels("metadata.name", "spec.unschedulable")

    def selectable_fields(self, obj: JSON) -> dict[str, str]:
        # pkg/registry/core/node/strategy.go: NodeToSelectableFields
        return {**super().selectable_fields(obj), "spec.unschedulable": _go_bool((obj.get("spec") or {}).get(
            "unschedulable"))}

    def prepare_for_update(self, new: JSON, old: JSON) -> None:
        # pkg/registry/core/node/strategy.go: PrepareForUpdate -- status only through nodes/status
        _keep(new, old, "status")

    def validate(self, obj: JSON) -> list[FieldError]:
        # pkg/apis/core/validation/validation.go: validateNodeTaints, called by ValidateNode with the metadata's
        # path (so the causes name metadata.taints[i]); ValidateNodeUpdate repeats it, and an update's causes
        # hold each once (measured on v1.37.2)
        errs: list[FieldError] = []
        seen: set[tuple[str, str]] = set()
        for i, taint in enumerate((obj.get("spec") or {}).get("taints") or []):
            if not isinstance(taint, dict):
                continue
            at = f"metadata.taints[{i}]"
            key, value, effect = str(taint.get("key") or ""), str(taint.get("value") or ""), taint.get("effect") or ""
            errs.extend(invalid_value(f"{at}.key", key, m) for m in validation.label_key(key))
            bad_value = validation.label_value(value)
            if bad_value:
                errs.append(invalid_value(f"{at}.value", value, ";".join(bad_value)))
            if not effect:
                errs.append(required(f"{at}.effect"))
            elif effect not in TAINT_EFFECTS:
                errs.append(not_supported(f"{at}.effect", effect, TAINT_EFFECTS))
            if (key, effect) in seen:
                # field.Duplicate prints the internal Taint struct as JSON (no json tags: Go's field names)
                shown = {"Key": key, "Value": value, "Effect": effect, "TimeAdded": taint.get("timeAdded")}
                errs.append(FieldError("FieldValueDuplicate", at, "taints must be unique by key and effect pair",
                                       shown, True))
                continue
            seen.add((key, effect))
        return errs


class LeaseStrategy(Strategy):
    resource = resources.LEASES
    # pkg/registry/coordination/lease/strategy.go: AllowCreateOnUpdate, AllowUnconditionalUpdate
    allow_create_on_update = True
    allow_unconditional_update = False

    def check_types(self, body: JSON) -> None:
        spec: dict[str, Any] = body.get("spec") or {}
        res = self.resource
        expect(res, spec.get("holderIdentity"), str, "LeaseSpec.spec.holderIdentity", "string")
        expect(res, spec.get("leaseDurationSeconds"), int, "LeaseSpec.spec.leaseDurationSeconds", "int32")
        expect(res, spec.get("leaseTransitions"), int, "LeaseSpec.spec.leaseTransitions", "int32")
        for f in ("acquireTime", "renewTime"):
            value = spec.get(f)
            expect(res, value, str, f"LeaseSpec.spec.{f}", "v1.MicroTime")
            if isinstance(value, str):
                try:
                    normalize_micro_time(value)
                except Exception:
                    raise _cannot_handle(res, f"parsing time {value!r} as RFC 3339 failed") from None

    def prepare_for_create(self, obj: JSON, now: str) -> None:
        self._canonical_times(obj)

    def prepare_for_update(self, new: JSON, old: JSON) -> None:
        self._canonical_times(new)

    @staticmethod
    def _canonical_times(obj: JSON) -> None:
        # apimachinery/pkg/apis/meta/v1/micro_time.go: MicroTime prints with exactly six decimals
        spec = obj.get("spec")
        if isinstance(spec, dict):
            for f in ("acquireTime", "renewTime"):
                if isinstance(spec.get(f), str):
                    spec[f] = normalize_micro_time(spec[f])

    def validate(self, obj: JSON) -> list[FieldError]:
        # pkg/apis/coordination/validation/validation.go: ValidateLeaseSpec
        spec = obj.get("spec") or {}
        errs: list[FieldError] = []
        duration = spec.get("leaseDurationSeconds")
        if duration is not None and duration <= 0:
            errs.append(invalid_value("spec.leaseDurationSeconds", duration, "must be greater than 0"))
        transitions = spec.get("leaseTransitions")
        if transitions is not None and transitions < 0:
            errs.append(
                invalid_value("spec.leaseTransitions", transitions, "must be greater than or equal to 0")
            )
        return errs


TERMINAL_PHASES = ("Succeeded", "Failed")
SYSTEM_CONDITIONS = ("PodScheduled", "Ready", "Initialized")


class PodStatusStrategy(PodStrategy):
    """pods/status: the kubelet's way to write what it sees (pkg/registry/core/pod/strategy.go:
    podStatusStrategy)."""

    # podStatusStrategy.PrepareForUpdate sets DeletionTimestamp to nil; rest/update.go BeforeUpdate then restores
    # the stored one, so a status write never changes it, nor is refused for it
    cleared_on_update = ("deletionTimestamp",)

    def prepare_for_update(self, new: JSON, old: JSON) -> None:
        # podStatusStrategy.PrepareForUpdate -- spec and ownerReferences are the stored ones; the generation is
        # therefore never bumped; a status that leaves out the QoS class gets the stored one back
        _keep(new, old, "spec")
        meta, old_meta = new["metadata"], old["metadata"]
        _keep(meta, old_meta, "ownerReferences")
        meta["generation"] = old_meta.get("generation", 1)
        status = new.setdefault("status", {})
        if not status.get("qosClass") and (old.get("status") or {}).get("qosClass"):
            status["qosClass"] = old["status"]["qosClass"]

    def validate(self, obj: JSON) -> list[FieldError]:
        return []  # the spec is the stored one, validated when it was written

    def validate_update(self, new: JSON, old: JSON) -> list[FieldError]:
        # pkg/apis/core/validation/validation.go: ValidatePodStatusUpdate, for the fields a kubelet writes here
        status, old_status = new.get("status") or {}, old.get("status") or {}
        errs: list[FieldError] = []
        for i, cond in enumerate(status.get("conditions") or []):
            # validatePodConditions -- a condition type of the system's own is taken as it is, any other must be
            # a qualified name (the path's "Type" is upstream's spelling)
            kind = cond.get("type") if isinstance(cond, dict) else None
            if isinstance(kind, str) and kind not in SYSTEM_CONDITIONS:
                errs.extend(invalid_value(f"status.conditions[{i}].Type", kind, m) for m in validation.label_key(kind))
        if (old_status.get("qosClass") or "") != (status.get("qosClass") or ""):
            # the QoS class is immutable (checked before the containers, as upstream does)
            errs.append(invalid_value("status.qosClass", status.get("qosClass") or "", "field is immutable"))
        errs.extend(_container_state_transitions(new.get("spec") or {}, status, old_status))
        ips = status.get("hostIPs")
        if isinstance(ips, list) and ips and isinstance(ips[0], dict) and ips[0].get("ip") != status.get("hostIP"):
            # validateHostIPs -- hostIP is the first of hostIPs
            errs.append(invalid_value("status.hostIPs[0].ip", ips[0].get("ip"), "must be equal to `hostIP`"))
        return errs


def _container_state_transitions(spec: JSON, status: JSON, old_status: JSON) -> list[FieldError]:
    """validation.go: ValidateContainerStateTransition as it runs with the ContainerRestartRules gate on (the
    default since v1.35) -- a container reported terminated may be reported running or waiting again only if it
    would be restarted after that exit (pkg/api/v1/pod/util.go: ContainerShouldRestart, decided here by the pod's
    restartPolicy, Always when unset); a status naming no container of the spec never may. Each terminated
    status is refused once, at its index in the old list, whatever number of new statuses name it."""
    by_name = {c.get("name"): c for c in spec.get("containers") or [] if isinstance(c, dict)}
    policy = spec.get("restartPolicy") or "Always"
    errs: list[FieldError] = []
    for i, old in enumerate(old_status.get("containerStatuses") or []):
        state = (old.get("state") or {}) if isinstance(old, dict) else {}
        ended = state.get("terminated") if isinstance(state, dict) else None
        if not isinstance(ended, dict):
            continue
        for c in status.get("containerStatuses") or []:
            if not isinstance(c, dict) or c.get("name") != old.get("name") or (c.get("state") or {}).get("terminated"):
                continue
            code = ended.get("exitCode") or 0
            restarts = old.get("name") in by_name and (policy == "Always" or policy == "OnFailure" and code != 0)
            if not restarts:
                errs.append(forbidden(f"status.containerStatuses[{i}].state",
                                      "may not be transitioned to non-terminated state"))
            break
    return errs


class NodeStatusStrategy(NodeStrategy):
    """nodes/status: heartbeats and conditions (pkg/registry/core/node/strategy.go: nodeStatusStrategy)."""

    def prepare_for_update(self, new: JSON, old: JSON) -> None:
        # nodeStatusStrategy.PrepareForUpdate -- the spec is the stored one
        _keep(new, old, "spec")

    def validate_update(self, new: JSON, old: JSON) -> list[FieldError]:
        # pkg/apis/core/validation/validation.go: ValidateNodeUpdate -- besides the (stored, already valid) taints,
        # no address may be listed twice; the value shown is the internal NodeAddress, without json tags
        errs = self.validate(new)
        seen: set[tuple[Any, Any]] = set()
        for i, address in enumerate((new.get("status") or {}).get("addresses") or []):
            if not isinstance(address, dict):
                continue
            pair = (address.get("type") or "", address.get("address") or "")
            if pair in seen:
                errs.append(FieldError("FieldValueDuplicate", f"status.addresses[{i}]", "",
                                       {"Type": pair[0], "Address": pair[1]}, True))
            seen.add(pair)
        return errs


STRATEGIES: dict[str, Strategy] = {
    s.resource.plural: s for s in (PodStrategy(), NamespaceStrategy(), NodeStrategy(), LeaseStrategy())
}
#: the resources with a status subresource, and its strategy
STATUS_STRATEGIES: dict[str, Strategy] = {s.resource.plural: s for s in (PodStatusStrategy(), NodeStatusStrategy())}
