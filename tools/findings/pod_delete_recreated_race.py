"""A pod deleted while another delete removes it and a pod of the same name is created and bound: does the
first delete remove the new pod?

The API's contract: a delete acts on the object stored under the name when it takes effect; the new pod, bound
to a node, gets a pending deletion with its terminationGracePeriodSeconds (30 by default), or the delete finds
nothing and answers 404 (pkg/registry/core/pod/strategy.go: CheckGracefulDelete). No order of the calls removes
a bound pod at once.

kube-apiserver's delete of an unbound pod is two writes (apiserver/pkg/registry/generic/registry/store.go:
Delete): it marks the pod with grace 0 (updateForGracefulDeletionAndFinalizers), then removes what is stored
under the key (Storage.Delete) with only the request's own preconditions, none here. A delete that first reads
a pod already marked with grace 0 skips the mark and goes to the removal (apiserver/pkg/registry/rest/delete.go:
BeforeDelete answers graceful=false for it). When the old pod goes and a new one is created and bound between
the decision and the removal, the removal takes the new pod: bound, never marked, removed at once, and the
answer is the new pod. This script races two deletes against a create-and-bind, TRIALS times, and counts how
often a delete removed the pod created after it began.

    python tools/findings/pod_delete_recreated_race.py --kubeconfig PATH [--trials 200]
    python tools/findings/pod_delete_recreated_race.py --served [--trials 200]     # the bundled server
    python tools/findings/pod_delete_recreated_race.py --start [--trials 200]      # starts etcd + kube-apiserver
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from races import NS, ScopedTarget, at_once, binding, main, unscheduled_pod  # noqa: E402

#: how many times the third client tries to create the pod again while the old one is still there
CREATE_TRIES = 200


def recreate_and_bind(c: ScopedTarget, name: str) -> str:
    """The pod created again under the same name as soon as the name is free, then bound; its uid, or ""."""
    for _ in range(CREATE_TRIES):
        resp = c.create("pods", NS, unscheduled_pod(name))
        if resp.code == 201:
            c.bind(NS, name, binding(name))
            return resp.body["metadata"]["uid"]
    return ""


def trial(run: ScopedTarget, kubeconfig: str, i: int) -> str:
    name = f"p{i}"
    old = run.create("pods", NS, unscheduled_pod(name))
    assert old.code == 201, old
    d1, d2, new_uid = at_once(run, kubeconfig, lambda c: c.delete("pods", NS, name),
                              lambda c: c.delete("pods", NS, name), lambda c: recreate_and_bind(c, name))
    outcome = "each delete answered the old pod or 404"
    for resp in (d1, d2):
        if resp.code != 200 or not new_uid:
            continue
        meta, spec = resp.body.get("metadata", {}), resp.body.get("spec", {})
        if meta.get("uid") != new_uid:
            continue
        if "deletionTimestamp" in meta:
            outcome = f"a delete marked the re-created pod (grace {meta.get('deletionGracePeriodSeconds')})"
        else:
            outcome = (f"a delete removed the re-created pod without marking it "
                       f"({'bound' if spec.get('nodeName') else 'not bound yet'})")
    run.delete("pods", NS, name, options={"gracePeriodSeconds": 0})  # the next trial starts clean
    return outcome if new_uid else "the pod could not be created again"


if __name__ == "__main__":
    sys.exit(main(__doc__, trial))
