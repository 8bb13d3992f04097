"""Where Kubernetes releases answer the same request differently on purpose or by their own history, and which
release the model holds a server to.

A release is ``(major, minor, patch)``, parsed from the ``gitVersion`` a server's ``/version`` answers. The model
speaks for :data:`PINNED` (the release ``tools/kube/go.mod`` builds, and the one the bundled server follows) unless
it is told another; each rule below names the first release that answers as the model does by default, and what
the releases before it answer, with the evidence.

A rule here is a fact about what a release does. It is never a way to excuse a broken promise of the API: those
are the separate checks of ``conformance/checks/api.py`` and the findings registry (``conformance/findings.py``).
"""

from __future__ import annotations

import re

Release = tuple[int, int, int]

#: the release the model describes when it is told none (tools/kube/go.mod)
PINNED: Release = (1, 37, 2)

#: An update refused for what it does to server-owned metadata carries each cause once from 1.37 on, twice before:
#: both apiserver/pkg/registry/rest/update.go (BeforeUpdate, validateCommonFields calls
#: ValidateObjectMetaAccessorUpdate) and the type's strategy (ValidateObjectMetaUpdate) run
#: apimachinery/pkg/api/validation/objectmeta.go (ValidateNoNewFinalizers, ValidateImmutableField for uid,
#: deletionTimestamp, deletionGracePeriodSeconds), and errors.go NewInvalid keeps every cause while its message
#: (ErrorList.ToAggregate) folds equal texts into one. Measured: a finalizer added to a lease, node or pod being
#: deleted on v1.34.0, v1.34.4, v1.36.1, v1.36.3 (two equal causes) and v1.37.2 (one); a lease's uid (patch),
#: deletionTimestamp and deletionGracePeriodSeconds changed by PUT and patch on v1.34.0 (two) and v1.37.2 (one).
#: The upstream change that made it one was not located (rest/update.go and objectmeta.go read the same in
#: v0.36.3 and v0.37.2 for these checks). The same holds for an update refused for invalid values: on v1.36.3 a
#: PUT or merge patch carrying an invalid label or annotation key is answered with that cause three times for a
#: Lease and four times for a pod, node or namespace, and a node's invalid taint twice (ValidateNode, then
#: ValidateNodeUpdate, each calling validateNodeTaints); a Lease's spec cause once; v1.37.2 lists each once.
SINGLE_META_UPDATE_CAUSES: Release = (1, 37, 0)

#: An object a PUT creates (where the strategy allows it: leases) has its deletionTimestamp and
#: deletionGracePeriodSeconds cleared from 1.37 on, and keeps what the client sent before:
#: apiserver/pkg/registry/generic/registry/store.go Update calls rest.WipeObjectMetaSystemFields before
#: FillObjectMetaSystemFields in v0.37.2 and only the latter in v0.34.4 and v0.36.3. Seen on v1.34.4 (a Lease
#: created with the client's deletionTimestamp); it breaks api.server-owned-fields, a finding
#: (conformance/findings.py: create-on-update-keeps-deletion).
CREATE_ON_UPDATE_WIPES_DELETION: Release = (1, 37, 0)

#: Label keys and values (and every field checked as one: annotation keys, taint keys and values, toleration keys,
#: nodeSelector) are refused with apimachinery/pkg/api/validate/content/kube.go IsLabelKey and IsLabelValue from
#: 1.35 on ("a valid label key must consist of ...", "must be no more than 63 bytes"); before, with
#: pkg/util/validation/validation.go IsQualifiedName and IsValidLabelValue ("a qualified name must consist of
#: ...", "must be no more than 63 characters"). Read in apimachinery v0.34.4 and v0.35.0; measured on v1.34.4
#: (the older texts) and v1.36.3, v1.37.2 (the newer).
LABEL_KEY_TEXTS: Release = (1, 35, 0)

#: A pod carries metadata.generation from 1.33 on: 1 when created, one more for each update that changes its spec
#: (pkg/registry/core/pod/strategy.go PrepareForCreate and setGenerationForPodSpecUpdate, kubernetes#130181, whose
#: change note says pods now always populate .metadata.generation). Before, a pod has none, so a graceful delete
#: bumps none either (apiserver/pkg/registry/rest/delete.go BeforeDelete bumps a generation only when it is set).
#: Measured: a pod created on v1.29.15 has no metadata.generation.
POD_GENERATION: Release = (1, 33, 0)

#: A field error shows the value it refuses (apimachinery/pkg/util/validation/field/errors.go: ErrorBody) as JSON
#: from 1.34 on when it is not a string, bool, int32, int64 or float (kubernetes#132314, "Nicer value rendering in
#: API errors", apimachinery v0.34.0). Before, a pointer is followed and the value printed by its String() if it
#: has one, else in Go syntax (%#v): a []string as ``[]string{"Some"}``, a uint64 as ``0x0``, a metav1.Time as
#: ``2001-02-03 04:05:06 +0000 UTC`` (in the server's local zone), a core.Taint as ``core.Taint{Key:"k", ...}``.
#: Read in apimachinery v0.33.0 and v0.34.0; measured on v1.29.15 (server zone UTC): an unsupported dryRun value,
#: a PUT without resourceVersion, a changed deletionTimestamp and a duplicate taint.
FIELD_VALUES_AS_JSON: Release = (1, 34, 0)

#: A PUT of an object that does not exist, whose body carries a uid, is answered 404 from 1.34 on where a PUT may
#: not create (pods, nodes, namespaces): apiserver/pkg/registry/generic/registry/store.go Update passes
#: ignoreNotFound = AllowCreateOnUpdate to GuaranteedUpdate (kubernetes#132470, apiserver v0.34.0, for
#: kubernetes#124347). Before, it passed true: the missing object is read as an empty one and the body's uid, a
#: storage precondition (rest/update.go: DefaultUpdatedObjectInfo.Preconditions), fails against its empty uid, a
#: 409 Conflict, before the NotFound that comes after it. Without a uid, and for a patch, 404 in every release;
#: for a Lease (a PUT may create) 409 in every release. Measured on v1.29.15: pods, nodes, namespaces and leases.
UPDATE_MISSING_NOT_FOUND: Release = (1, 34, 0)

#: A toleration whose operator is Exists and which has a value is refused with a cause on ``operator`` that shows
#: the value from 1.32 on, and the whole toleration before (pkg/apis/core/validation/validation.go
#: ValidateTolerations: field.Invalid(..., toleration.Value, ...) in k8s.io/kubernetes v1.32.0, ``toleration`` in
#: v1.31.0; kubernetes#128119, CHANGELOG-1.32.md: "Clarified an API validation error for toleration if `operator`
#: is `Exists` and `value` is not empty"). Before 1.34 (FIELD_VALUES_AS_JSON) that struct shows in Go syntax:
#: ``core.Toleration{Key:"dedicated", Operator:"Exists", Value:"v", Effect:"", TolerationSeconds:(*int64)(nil)}``,
#: measured on v1.29.15.
TOLERATION_VALUE_CAUSE: Release = (1, 32, 0)

#: pods/status keeps the stored status.qosClass when a write leaves it out, and refuses one that changes it, from 1.32
#: on (pkg/registry/core/pod/strategy.go: podStatusStrategy.PrepareForUpdate backfills it; pkg/apis/core/validation/
#: validation.go: ValidatePodStatusUpdate calls ValidateImmutableField on it; kubernetes#127744, for
#: kubernetes#126662). Before, a status write stores whatever qosClass it carries, none included. Read in
#: k8s.io/kubernetes v1.31.0 (neither) and v1.32.0 (both).
POD_QOS_CLASS_KEPT: Release = (1, 32, 0)

#: An invalid condition type in a pods/status write is refused on ``status.conditions[i].Type`` from 1.33 on, and
#: on ``metadata.conditions[i].Type`` before (pkg/apis/core/validation/validation.go: ValidatePodStatusUpdate called
#: validatePodConditions with the metadata path in k8s.io/kubernetes v1.32.0 and v1.29.15, with the status path in
#: v1.33.0).
POD_CONDITIONS_STATUS_PATH: Release = (1, 33, 0)

#: Which terminated containers a pods/status write may report running or waiting again, from 1.35 on: the one whose
#: restart policy (the container's, else the pod's; Always when neither says) would restart it after its exit code,
#: so a status for a name the spec has no container for never may; and each terminated status is refused once,
#: however many new statuses name it (pkg/apis/core/validation/validation.go: ValidateContainerStateTransition with
#: AllowContainerRestartPolicyRules, pkg/api/v1/pod/util.go: ContainerShouldRestart; the feature gate
#: ContainerRestartRules is on by default from 1.35, pkg/features/kube_features.go). Before, only the pod's
#: restartPolicy counts: Always allows every transition, OnFailure those after a non-zero exit code, and every new
#: status naming a terminated container is refused on its own. Measured on v1.37.2: a status named "zz" (no such
#: container) of a restartPolicy Always pod refused running after terminated, two running statuses for one
#: terminated container refused once.
CONTAINER_RESTART_RULES: Release = (1, 35, 0)

_VERSION = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)")


def parse(git_version: str) -> Release | None:
    """``"v1.36.3"`` (or ``"v1.36.3-rc.0+abc"``) → ``(1, 36, 3)``; None for anything else."""
    found = _VERSION.match(git_version or "")
    return (int(found[1]), int(found[2]), int(found[3])) if found else None


def text(release: Release) -> str:
    return "v" + ".".join(map(str, release))
