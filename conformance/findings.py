"""Findings: where a real release breaks a promise of the API, found by kubeprop, with what is known about each.

A finding is reported, never turned into a model rule: the check that found it stays as strict as the API's
contract. What this registry adds is recognition, in two ways. A history that fails its linearizability check
against a real server is checked again with each known finding's departure allowed (``allow``, a behaviour the
linearizability checker can be told to accept, tools/linearize/model.go); if that explains it, the failure is
that finding. A single answer that breaks a promise checked call by call (``conformance/checks/api.py``) is
held to each finding's ``matches``. Either way the failure says the finding's name and upstream links
("known upstream: kubernetes#139488"), in the console, the reproduction and the Allure category; anything
else says "not in the registry: possibly new".

A known finding still fails the run, like any broken promise. ``KUBEPROP_REPORT_KNOWN=1`` (or pytest's
``--report-known``) reports known ones as warnings instead and goes on; the differential and matrix runs set
it, so one known upstream bug does not hide what else a release does.
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from model import releases


def _message(body: Any) -> str:
    return str(body.get("message", "")) if isinstance(body, dict) else ""


def _hides_dry_run_query(op: Any) -> bool:
    """A DELETE with a DeleteOptions body whose dryRun does not say what its URL's does."""
    body = op.options if isinstance(op.options, dict) else None
    return op.verb == "delete" and bool(op.dry_run) and body is not None \
        and list(body.get("dryRun") or []) != list(op.dry_run)


def _only_invalid_annotations(resource: str, body: Any) -> bool:
    """Pods an answer shows whose only values the API refuses are annotation keys."""
    from conformance.checks.api import invalid_values

    if resource != "pods" or not isinstance(body, dict):
        return False
    objects = body.get("items") if isinstance(body.get("items"), list) else [body]
    found = [v for obj in objects for v in invalid_values(obj)]
    return bool(found) and all(v.startswith("annotation key") for v in found)


def _legacy_binding_with_uid(op: Any) -> bool:
    """A Binding posted to namespaces/{ns}/bindings that names a uid."""
    meta = (op.body.get("metadata") if isinstance(op.body, dict) else None) or {}
    return op.verb == "bind" and getattr(op, "form", "") == "bindings" and bool(meta.get("uid"))


def _sets_resource_version(op: Any) -> bool:
    """A create whose body sets metadata.resourceVersion."""
    meta = (op.body.get("metadata") if isinstance(op.body, dict) else None) or {}
    return op.verb == "create" and bool(meta.get("resourceVersion"))


def _malformed_resource_version_500(read: str) -> Callable[[str, str, int, Any], bool]:
    """An answer 500 to a ``read`` (get or list) whose resourceVersion parameter the storage cannot parse."""
    return lambda verb, resource, code, body: (
        verb == read and code == 500 and _message(body).startswith("resourceVersion: Invalid value: "))


@dataclass(frozen=True)
class Finding:
    id: str
    invariant: str
    title: str
    #: which servers it was seen on (kube-apiserver gitVersions), and where it comes from upstream
    seen_on: tuple[str, ...]
    cause: str
    reproduction: str
    upstream: str
    #: the behaviour name the linearizability checker accepts when told to (tools/linearize/model.go)
    allow: str = ""
    #: for a promise checked call by call: whether (verb, resource, code, body) of one answer is this finding
    matches: Callable[[str, str, int, Any], bool] | None = None
    #: the Allure category and console label
    label: str = ""
    #: for a promise checked call by call: whether the request (a conformance.ops.Op) is one this finding is about
    request: Callable[[Any], bool] | None = None
    #: for an api.dry-run finding reported without failing, what the server did with the write: "query-ignored"
    #: (the answer is held to the model's verdict on the same request without the URL's dryRun) or
    #: "nothing-stored" (the answer is not held to the model, which keeps its state)
    then: str = ""
    #: the first release that no longer has it (upstream changed it there, ``upstream`` says how): from that
    #: release on the finding explains nothing, and the same answer is reported as possibly new
    fixed_in: releases.Release | None = None

    def category(self) -> str:
        return f"known upstream: {self.label or self.id}"


FINDINGS: tuple[Finding, ...] = (
    Finding(
        id="pod-delete-grace-race",
        invariant="api.linearizable",
        title="a pod deleted without a grace period while it is being bound is removed at once, bound",
        allow="pod-grace-as-first-read",
        seen_on=("v1.34.0", "v1.34.4", "v1.36.1", "v1.36.3", "v1.37.2"),
        cause="pkg/registry/core/pod/strategy.go: CheckGracefulDelete decides the grace period on the pod as the "
              "delete first read it (0 while unscheduled) and writes it into the request's DeleteOptions; "
              "apiserver/pkg/registry/generic/registry/store.go: Delete applies those options again, in "
              "updateForGracefulDeletionAndFinalizers, to the pod as stored at the write, by then bound: it is "
              "marked with grace 0 and removed. No order of the binding and the delete does that: before the "
              "binding the unbound pod goes (the binding gets 404); after it the bound pod's deletion is pending "
              "with its terminationGracePeriodSeconds (30).",
        reproduction="python tools/findings/pod_delete_grace_race.py --start --trials 200 (v1.37.2: 41 of 200 "
                     "races removed the bound pod at once; the bundled server: 0 of 200)",
        upstream="not found in kubernetes/kubernetes issues; not reported yet",
    ),
    Finding(
        id="pod-graceful-delete-stale-answer",
        label="concurrent pod deletes: stale answer",
        invariant="api.linearizable",
        title="of two graceful deletes of a pod at once, the one that finds the deletion already pending answers "
              "the pod marked for deletion at the resourceVersion it had before any deletion, a state it never had",
        allow="mark-answers-own-read",
        seen_on=("v1.36.3", "v1.37.2"),
        cause="apiserver/pkg/registry/generic/registry/store.go: Delete reads the pod and lets rest.BeforeDelete "
              "(apiserver/pkg/registry/rest/delete.go) set deletionTimestamp and deletionGracePeriodSeconds on that "
              "copy; updateForGracefulDeletionAndFinalizers then calls BeforeDelete again inside GuaranteedUpdate on "
              "the pod as stored, and when another delete marked it in between that reports the deletion pending "
              "(errAlreadyDeleting), upon which Delete answers finalizeDelete of the copy it marked in memory, "
              "at the revision it read. Answering the pod as stored (marked, at the other delete's revision) is "
              "what an order of the two calls gives",
        reproduction="python tools/findings/pod_graceful_delete_race.py --start --trials 200 (v1.37.2: 105 of 200 "
                     "races; KUBE_VERSION=v1.36.3, 100 trials: 59; the bundled server, --served: 0 of 200)",
        upstream="not found in kubernetes/kubernetes issues; not reported yet",
    ),
    Finding(
        id="pod-delete-removes-recreated-pod",
        label="pod delete removes a pod created again",
        invariant="api.linearizable",
        title="a pod delete that decided on removal at once removes the pod created again under the name meanwhile, "
              "bound or not, without marking it, and answers that pod",
        allow="remove-unmarked",
        seen_on=("v1.37.2",),
        cause="apiserver/pkg/registry/generic/registry/store.go: Delete decides on the pod it read first: unbound "
              "(grace 0, pkg/registry/core/pod/strategy.go: CheckGracefulDelete) or already marked with grace 0 "
              "(apiserver/pkg/registry/rest/delete.go: BeforeDelete answers graceful=false) means removal at once. "
              "Its last write, Storage.Delete (apiserver/pkg/storage/etcd3/store.go: conditionalDelete), then removes "
              "whatever is stored under the key, checked only against the request's own preconditions (none without "
              "a uid or resourceVersion in DeleteOptions), and retries on the latest state when the revision moved. "
              "When another delete removes the pod and a client creates it again in between, the new pod goes "
              "unmarked, bound or not, and the answer is the new pod at the removal's revision. No order of the "
              "calls does that: the new pod, once bound, has to get a pending deletion with grace 30",
        reproduction="python tools/findings/pod_delete_recreated_race.py --start --trials 400 (two deletes against "
                     "a create-and-bind; v1.37.2: 27 of 400 trials removed the new pod unmarked, 1 of them bound; "
                     "the bundled server, --served: 0 of 400)",
        upstream="not found in kubernetes/kubernetes issues; not reported yet",
    ),
    Finding(
        id="binding-invalid-target-500",
        label="kubernetes#139488",
        invariant="api.no-5xx-for-client-errors",
        title="a Binding whose target fails validation (kind other than Node, no name) is answered 500, not 422",
        matches=lambda verb, resource, code, body: (
            verb == "bind" and code == 500 and _message(body).lstrip("[").startswith("target.")),
        seen_on=("v1.29.15", "v1.34.0", "v1.34.4", "v1.36.1", "v1.36.3", "v1.37.2"),
        cause="pkg/registry/core/pod/storage/storage.go: BindingREST.Create returns ValidatePodBinding's field "
              "errors as a plain aggregate error, which the handler turns into an InternalError (500)",
        reproduction="POST /api/v1/namespaces/NS/pods/NAME/binding with target {\"kind\": \"foo\"}",
        upstream="https://github.com/kubernetes/kubernetes/issues/139488 (open); fix "
                 "https://github.com/kubernetes/kubernetes/pull/139581 (open, not merged); an earlier fix "
                 "https://github.com/kubernetes/kubernetes/pull/130894 was closed unmerged",
    ),
    Finding(
        id="get-with-malformed-resourceversion-500",
        label="kubernetes#139485",
        invariant="api.no-5xx-for-client-errors",
        title="a get whose resourceVersion parameter is not a decimal revision is answered 500, not 400",
        matches=_malformed_resource_version_500("get"),
        seen_on=("v1.29.15", "v1.34.0", "v1.34.4", "v1.36.1", "v1.36.3", "v1.37.2"),
        cause="apiserver/pkg/storage/api_object_versioner.go: ParseResourceVersion returns a storage InvalidError, "
              "which a list turns into a BadRequest (storage/interfaces.go: ValidateListOptions; from 1.33 on, "
              "list-with-malformed-resourceversion-500 before) but a get, and a watch, hand on to the handler as "
              "an InternalError (500)",
        reproduction="GET /api/v1/namespaces/NS/pods/NAME?resourceVersion=abc",
        upstream="https://github.com/kubernetes/kubernetes/issues/139485 (open); fix "
                 "https://github.com/kubernetes/kubernetes/pull/139525 (open, not merged); the same for gets since "
                 "https://github.com/kubernetes/kubernetes/issues/101350 (2021, closed unfixed) and "
                 "https://github.com/kubernetes/kubernetes/issues/113939 (open)",
    ),
    Finding(
        id="watch-without-resource-500",
        label="watch/ prefix without a resource: 500",
        invariant="api.no-5xx-for-client-errors",
        title="a GET of a group version's watch/ prefix with no resource after it (/api/v1/watch) is answered 500 "
              "in plain text, not 404",
        matches=lambda verb, resource, code, body: (
            verb == "list" and code == 500 and isinstance(body, str)
            and "failed to create RequestInfo: unable to determine kind and namespace from url" in body),
        seen_on=("v1.29.15", "v1.36.3", "v1.37.2"),
        cause="apiserver/pkg/endpoints/request/requestinfo.go: NewRequestInfo takes a path segment watch or proxy "
              "right after the group version as a verb that needs a resource after it, and returns an error when "
              "nothing follows (the path's slashes trimmed first, so a trailing slash changes nothing); "
              "apiserver/pkg/endpoints/filters/requestinfo.go: WithRequestInfo answers any such error with "
              "responsewriters.InternalError, a plain-text 500, before a handler could answer the 404 the URL "
              "deserves. The same for every group version, served or not (/api/v9/watch, "
              "/apis/nosuch.example/v1/watch) and for proxy (/api/v1/proxy); /api/v1/watch/namespaces/NS is a "
              "watch of that namespace and /api/watch a 404",
        reproduction="GET /api/v1/watch (also /api/v1/watch/, /apis/coordination.k8s.io/v1/watch, /api/v1/proxy): "
                     "500 'Internal Server Error: \"/api/v1/watch\": failed to create RequestInfo: unable to "
                     "determine kind and namespace from url, /api/v1/watch' on v1.29.15, v1.36.3, v1.37.2; the "
                     "bundled server 404 NotFound",
        upstream="not found in kubernetes/kubernetes issues; not reported yet",
    ),
    Finding(
        id="list-with-malformed-resourceversion-500",
        label="list with malformed resourceVersion: 500 before 1.33",
        invariant="api.no-5xx-for-client-errors",
        title="a list whose resourceVersion parameter is not a decimal revision is answered 500, not 400",
        matches=_malformed_resource_version_500("list"),
        seen_on=("v1.29.15",),
        cause="apiserver/pkg/storage/cacher/cacher.go: GetList (the watch cache, which serves a list with a "
              "resourceVersion and no limit or continue) returns ParseResourceVersion's storage InvalidError "
              "as it is, which the handler turns into an InternalError (500); the etcd3 store, which serves "
              "the rest, wraps it in a BadRequest. From 1.33 the watch cache's CacheDelegator.GetList "
              "(cacher/delegator.go) first calls storage.ValidateListOptions (storage/interfaces.go), which "
              "answers the BadRequest for both (k8s.io/apiserver v0.32.x lacks the call, v0.33.0 has it)",
        reproduction="GET /api/v1/namespaces/NS/pods?resourceVersion=abc: 500 on v1.29.15 (pods, nodes, leases, "
                     "namespaces; abc, -1, 1.5, \" 7\", 18446744073709551616 alike); 400 on v1.34.0 and later",
        upstream="fixed in 1.33 by https://github.com/kubernetes/kubernetes/pull/130688 (\"Use "
                 "ValidateListOptions in watch cache\", after https://github.com/kubernetes/kubernetes/pull/130637 "
                 "moved the etcd3 store's list checks into storage.ValidateListOptions); gets still answer 500 "
                 "(get-with-malformed-resourceversion-500)",
        fixed_in=(1, 33, 0),
    ),
    Finding(
        id="create-with-resourceversion-500",
        label="create with resourceVersion: 500",
        invariant="api.no-5xx-for-client-errors",
        title="a create whose body sets metadata.resourceVersion is answered 500, not a 4xx",
        matches=lambda verb, resource, code, body: (
            verb == "create" and code == 500
            and _message(body) == "resourceVersion should not be set on objects to be created"),
        seen_on=("v1.29.15", "v1.34.0", "v1.34.4", "v1.36.1", "v1.36.3", "v1.37.2"),
        cause="apiserver/pkg/storage/etcd3/store.go: Create returns the plain error ErrResourceVersionSetOnCreate, "
              "which the handler turns into an InternalError (500); the request is refused on purpose, only the "
              "code says the server failed",
        reproduction="POST /api/v1/namespaces/NS/configmaps with metadata.resourceVersion \"1\"",
        upstream="long-standing: https://github.com/kubernetes/kubernetes/pull/62836 (2018, closed) kept the "
                 "refusal and left the code; no open kubernetes/kubernetes issue found about the 500",
    ),
    Finding(
        id="create-on-update-keeps-deletion",
        label="create by PUT keeps deletionTimestamp",
        invariant="api.server-owned-fields",
        title="an object created by a PUT (a Lease, where a PUT may create) keeps the deletionTimestamp and "
              "deletionGracePeriodSeconds the client sent: it is born being deleted",
        matches=lambda verb, resource, code, body: (
            verb in ("update", "patch") and code == 201 and isinstance(body, dict)
            and bool(((body.get("metadata") or {}).get("deletionTimestamp"))
                     or (body.get("metadata") or {}).get("deletionGracePeriodSeconds") is not None)),
        seen_on=("v1.29.15", "v1.34.0", "v1.34.4", "v1.36.1", "v1.36.3"),
        cause="apiserver/pkg/registry/generic/registry/store.go: Update creates a missing object after "
              "rest.FillObjectMetaSystemFields only (uid, creationTimestamp); the create path's "
              "rest.WipeObjectMetaSystemFields (rest/meta.go), which clears deletionTimestamp and "
              "deletionGracePeriodSeconds, is not called there before 1.37 (k8s.io/apiserver v0.34.4 and v0.36.3 "
              "lack it; v0.37.2 calls it, 'to match create behavior')",
        reproduction="PUT /apis/coordination.k8s.io/v1/namespaces/NS/leases/NEW with metadata.deletionTimestamp "
                     "\"2001-02-03T04:05:06Z\": 201, and the Lease carries it (v1.34.4); v1.37.2 answers 201 "
                     "without it",
        upstream="fixed in 1.37 (the wipe in store.go Update); the kubernetes/kubernetes issue or pull request that "
                 "made the change was not located",
        fixed_in=releases.CREATE_ON_UPDATE_WIPES_DELETION,
    ),
    Finding(
        id="delete-body-hides-dry-run-query",
        label="DELETE body hides ?dryRun",
        invariant="api.dry-run",
        title="a DELETE with a DeleteOptions body ignores its URL's dryRun: a URL that says dryRun=All beside a "
              "body without dryRun is carried out (the object deleted or marked), and an unsupported value in the "
              "URL is not refused",
        request=_hides_dry_run_query,
        seen_on=("v1.29.15", "v1.34.0", "v1.34.4", "v1.36.1", "v1.36.3", "v1.37.2"),
        cause="apiserver/pkg/endpoints/handlers/delete.go: DeleteResource decodes the DeleteOptions from the body "
              "when there is one and reads the query parameters only when there is none, so the URL's dryRun "
              "(which the API's reference lists as a parameter of every delete) is dropped without an error",
        reproduction="DELETE /api/v1/namespaces/NS/pods/BOUND?dryRun=All with body {\"gracePeriodSeconds\": 20}: 200, "
                     "and the pod is marked for deletion (a new resourceVersion, a MODIFIED event); with "
                     "gracePeriodSeconds 0 it is removed. Without a body the same URL changes nothing",
        upstream="not found in kubernetes/kubernetes issues; not reported yet",
        then="query-ignored",
    ),
    Finding(
        id="dry-run-create-with-resourceversion",
        label="dry-run create with resourceVersion: 201",
        invariant="api.dry-run",
        title="a dry-run create whose body sets metadata.resourceVersion is answered 201 with that resourceVersion, "
              "where the same create without dryRun is refused: the dry run does not tell what the write does",
        matches=lambda verb, resource, code, body: code == 201,
        request=_sets_resource_version,
        seen_on=("v1.29.15", "v1.34.0", "v1.34.4", "v1.36.1", "v1.36.3", "v1.37.2"),
        cause="apiserver/pkg/storage/etcd3/store.go: Create is where a create with a resourceVersion is refused "
              "(ErrResourceVersionSetOnCreate, itself answered 500: create-with-resourceversion-500); "
              "apiserver/pkg/registry/generic/registry/dryrun.go: DryRunnableStorage.Create never calls it for a "
              "dry run, and copies the object, the client's resourceVersion with it, into the answer",
        reproduction="POST /api/v1/namespaces/NS/pods?dryRun=All with metadata.resourceVersion \"12345\": 201 and "
                     "resourceVersion \"12345\"; without dryRun: 500",
        upstream="not found in kubernetes/kubernetes issues; not reported yet",
        then="nothing-stored",
    ),
    Finding(
        id="legacy-bindings-ignore-uid",
        label="namespaces/NS/bindings ignores the uid",
        invariant="binding.preconditions",
        title="a Binding posted to the older namespaces/{ns}/bindings binds the pod whatever uid it names: the uid "
              "precondition that pods/{name}/binding honours is dropped, so a binding meant for a pod that was "
              "deleted and created again under its name lands on the new one",
        matches=lambda verb, resource, code, body: code == 201,
        request=_legacy_binding_with_uid,
        seen_on=("v1.29.15", "v1.36.3", "v1.37.2"),
        cause="apiserver/pkg/endpoints/handlers/create.go: createHandler wipes metadata.uid (with the other system "
              "fields, rest.WipeObjectMetaSystemFields in registry/rest/meta.go) on every create unless the "
              "request is for a subresource whose storage implements rest.SubresourceObjectMetaPreserver; "
              "BindingREST does (pkg/registry/core/pod/storage/storage.go, since kubernetes#116550), but "
              "bindings is a top-level resource served by LegacyBindingREST, so BindingREST.Create receives the "
              "Binding without its uid and sets no uid precondition (the resourceVersion one, not wiped, holds)",
        reproduction="python tools/findings/legacy_bindings_uid.py --start --trials 20 (v1.37.2 and, with "
                     "KUBE_VERSION=v1.36.3, v1.36.3: 20 of 20 bound through namespaces/NS/bindings, 0 of 20 through "
                     "pods/NAME/binding; the bundled server, --served: 0 of 20 either way)",
        upstream="not found in kubernetes/kubernetes issues; kubernetes#110646 (1.25) began the wipe that dropped "
                 "the binding's uid, kubernetes#116550 restored it for pods/{name}/binding only; not reported yet",
    ),
    Finding(
        id="binding-stores-invalid-annotations",
        label="binding stores invalid annotations",
        invariant="api.validation",
        title="a Binding's annotations are copied onto the pod without validation: a key the pod itself may not "
              "carry is stored, and every later update of the pod that keeps it is refused",
        matches=lambda verb, resource, code, body: code < 300 and _only_invalid_annotations(resource, body),
        seen_on=("v1.29.15", "v1.34.0", "v1.34.4", "v1.36.1", "v1.36.3", "v1.37.2"),
        cause="pkg/registry/core/pod/storage/storage.go: BindingREST.Create validates only the target "
              "(pkg/apis/core/validation/validation.go: ValidatePodBinding), and setPodNodeAndMetadata merges "
              "binding.Annotations into the pod and writes it through GuaranteedUpdate, which runs no pod "
              "validation; apimachinery/pkg/api/validation/objectmeta.go ValidateAnnotations refuses the same key "
              "on any create or update of the pod",
        reproduction="POST .../pods/p/binding with metadata.annotations {\"bad key\": \"v\"}: 201, and the pod "
                     "carries the annotation; a PUT of the pod as read is then 422 for it",
        upstream="not found in kubernetes/kubernetes issues (kubernetes#5005, 2015, added the copying); not "
                 "reported yet",
    ),
    Finding(
        id="node-lease-write-holds-off-unknown",
        label="node Lease write holds off Unknown",
        invariant="node.unknown-in-time",
        title="a silent node whose Lease is written without its renewTime moving forward (an annotation, a label, a "
              "storage migration's rewrite, a renewal from a clock that stepped back) is never marked Unknown: it "
              "stays Ready=True, its pods are neither marked not ready nor evicted",
        seen_on=("v1.37.2",),
        cause="pkg/controller/nodelifecycle/node_lifecycle_controller.go: tryUpdateNodeHealth, with the "
              "NodeControllerLeaseCircuitBreaker gate (beta and on by default since 1.37, pkg/features/"
              "kube_features.go), reads the live Lease of a node past its grace period and compares its "
              "resourceVersion with that of the Lease it saved when renewTime last moved forward; when they differ "
              "it records the write for the consistency store and skips the node for the pass (shortCircuitError). "
              "The saved Lease is replaced only when renewTime moves forward, so after one such write the two "
              "never match again and every pass skips the node. With the gate off the node is marked Unknown after "
              "the grace period",
        reproduction="python tools/findings/node_lease_write_holds_off_unknown.py --trials 3 (v1.37.2, grace 8 s: "
                     "the untouched node Unknown 8.9 s after its last renewal, the annotated one and the one whose "
                     "renewTime went back still Ready=True after 40 s, 3 of 3; with --gate-off all three Unknown "
                     "8.7 to 8.9 s after); python -m conformance.nodes_real --start --lease-writes",
        upstream="the check came with kubernetes#138698 (merged 2026-05); this case not found in kubernetes/"
                 "kubernetes issues; not reported yet",
    ),
)

#: set to 1 (or pass pytest's --report-known) to report known findings without failing
REPORT_KNOWN_ENV = "KUBEPROP_REPORT_KNOWN"


def fail_on_known() -> bool:
    """Whether a known finding fails the run (the default) or is reported as a warning (KUBEPROP_REPORT_KNOWN=1)."""
    return os.environ.get(REPORT_KNOWN_ENV, "") in ("", "0")


def matching(invariant: str, verb: str, resource: str, code: int, body: Any,
             server_version: str, request: Any = None) -> Finding | None:
    """The known finding one answer that broke ``invariant`` is, on a server of that version, if any; ``request``
    is the call (a conformance.ops.Op) for a finding that is recognised by what was asked."""
    for finding in applicable(server_version):
        if finding.invariant != invariant or (finding.matches is None and finding.request is None):
            continue
        if finding.matches is not None and not finding.matches(verb, resource, code, body):
            continue
        if finding.request is not None and (request is None or not finding.request(request)):
            continue
        return finding
    return None



def describe(finding: Finding | None) -> str:
    """How a failure names what the registry knows of it."""
    if finding is None:
        return "not in the registry: possibly new"
    return (f"{finding.category()} -- {finding.title}; upstream: {finding.upstream} "
            f"(conformance/findings.py: {finding.id})")


def applicable(server_version: str) -> tuple[Finding, ...]:
    """The findings that may explain a failure against a server: real kube-apiserver releases only (the bundled
    server is held to the contract, whatever a release does), and of those the ones not fixed by that release."""
    if not server_version.startswith("v1.") or "kubeprop" in server_version:
        return ()
    release = releases.parse(server_version)
    return tuple(f for f in FINDINGS if f.fixed_in is None or release is None or release < f.fixed_in)


class KnownFinding(UserWarning):
    """A failure against a real server that a known finding explains, reported without failing the run."""


#: the known findings met in this process: (finding id, where, file with what was seen)
KNOWN_MET: list[tuple[str, str, str]] = []


def record(finding: Finding, where: str, detail: str) -> str:
    """Keep what a known finding looked like under reports/findings/ and say so as a warning; the file's path.
    Only its first meeting in a process is written and warned about; later ones are counted in KNOWN_MET."""
    first = next((p for fid, _, p in KNOWN_MET if fid == finding.id), None)
    if first is not None:
        KNOWN_MET.append((finding.id, where, first))
        return first
    out = Path("reports") / "findings"
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{finding.id}-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}-{len(KNOWN_MET)}.txt"
    path.write_text(f"{finding.id}: {finding.title}\n{finding.category()}\ninvariant: {finding.invariant}\n"
                    f"cause: {finding.cause}\nreproduction: {finding.reproduction}\nupstream: {finding.upstream}\n"
                    f"\n{where}:\n{detail}\n")
    KNOWN_MET.append((finding.id, where, str(path)))
    warnings.warn(KnownFinding(f"{finding.category()}: {finding.id} ({finding.title}) in {where}; seen: {path}"),
                  stacklevel=3)
    return str(path)
