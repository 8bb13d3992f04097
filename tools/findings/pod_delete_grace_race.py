"""A pod deleted without a grace period while it is being bound: does the delete remove the bound pod at once?

The API's contract: a delete without ``gracePeriodSeconds`` uses the object's default
(apimachinery/pkg/apis/meta/v1/types.go: DeleteOptions.GracePeriodSeconds); for a pod that is the spec's
terminationGracePeriodSeconds (30 by default) once it is bound to a node, and 0 while it is not
(pkg/registry/core/pod/strategy.go: CheckGracefulDelete). A delete that overlaps a binding takes effect either
before it (the unbound pod is removed at once, and the binding gets 404) or after it (the bound pod gets a
pending deletion with grace 30, and stays): no order of the two removes a *bound* pod at once.

kube-apiserver decides the grace period on the pod as the delete first read it and writes that decision into
the request's DeleteOptions (CheckGracefulDelete sets options.GracePeriodSeconds); when the pod is bound before
the delete's write, the write (apiserver/pkg/registry/generic/registry/store.go: Delete,
updateForGracefulDeletionAndFinalizers, which calls BeforeDelete again on the pod as stored) applies grace 0 to
the bound pod and removes it. This script races the two, TRIALS times, and counts how often a bound pod was
removed at once.

    python tools/findings/pod_delete_grace_race.py --kubeconfig PATH [--trials 200]
    python tools/findings/pod_delete_grace_race.py --served [--trials 200]     # the bundled server
    python tools/findings/pod_delete_grace_race.py --start [--trials 200]      # starts etcd + kube-apiserver
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from races import NS, ScopedTarget, at_once, binding, main, unscheduled_pod  # noqa: E402


def trial(run: ScopedTarget, kubeconfig: str, i: int) -> str:
    name = f"p{i}"
    assert run.create("pods", NS, unscheduled_pod(name)).code == 201
    bound, resp = at_once(run, kubeconfig, lambda c: c.bind(NS, name, binding(name)).code,
                          lambda c: c.delete("pods", NS, name))
    meta = resp.body.get("metadata", {}) if isinstance(resp.body, dict) else {}
    node = (resp.body.get("spec") or {}).get("nodeName") if isinstance(resp.body, dict) else None
    grace = meta.get("deletionGracePeriodSeconds")
    if grace:  # pending: finish it, so the next trial starts clean
        run.delete("pods", NS, name, options={"gracePeriodSeconds": 0})
    if bound == 201 and node and grace == 0:
        return "bound pod removed at once"
    if bound == 201 and grace:
        return "bound, then deletion pending (grace 30)"
    return f"removed unbound, binding answered {bound}"


if __name__ == "__main__":
    sys.exit(main(__doc__, trial))
