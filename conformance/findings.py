"""Findings: where a real release breaks a promise of the API, found by kubeprop, with what is known about each.

A finding is reported, never turned into a model rule: the check that found it stays as strict as the API's
contract. What this registry adds is recognition. When a history fails its check against a real server, it is
checked again with each known finding's departure allowed (``allow``, a behaviour the linearizability checker
can be told to accept, tools/linearize/model.go); if that explains it, the failure is that finding, said by
name, with its reproduction. By default a known finding is reported and does not fail the run
(``KUBEPROP_FAIL_ON_KNOWN=1`` makes it fail); anything else fails as "not a known finding: possibly new".
"""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Finding:
    id: str
    invariant: str
    title: str
    #: the behaviour name the linearizability checker accepts when told to (tools/linearize/model.go)
    allow: str
    #: which servers it was seen on (kube-apiserver gitVersions), and where it comes from upstream
    seen_on: tuple[str, ...]
    cause: str
    reproduction: str
    upstream: str


FINDINGS: tuple[Finding, ...] = (
    Finding(
        id="pod-delete-grace-race",
        invariant="api.linearizable",
        title="a pod deleted without a grace period while it is being bound is removed at once, bound",
        allow="pod-grace-as-first-read",
        seen_on=("v1.34.4", "v1.36.3", "v1.37.2"),
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
)


def fail_on_known() -> bool:
    return os.environ.get("KUBEPROP_FAIL_ON_KNOWN", "") not in ("", "0")


def applicable(server_version: str) -> tuple[Finding, ...]:
    """The findings that may explain a failure against a server: real kube-apiserver releases only (the bundled
    server is held to the contract, whatever a release does)."""
    if not server_version.startswith("v1.") or "kubeprop" in server_version:
        return ()
    return FINDINGS
