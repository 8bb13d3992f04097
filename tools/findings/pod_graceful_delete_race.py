"""Two graceful deletes of one bound pod at once: does the one that finds the deletion already pending answer
with a state the pod never had?

The API's contract: a write's answer is the object as stored by some order of the calls, at the
resourceVersion that state carries. Two deletes without ``gracePeriodSeconds`` of a bound pod (default grace
30) take effect one after the other: the first marks the pod (deletionTimestamp, deletionGracePeriodSeconds 30,
a new resourceVersion R); the second finds the same deletion pending, changes nothing, and may answer the pod as
stored, at R.

kube-apiserver's Delete (apiserver/pkg/registry/generic/registry/store.go) reads the pod, lets
rest.BeforeDelete (apiserver/pkg/registry/rest/delete.go) mark that copy in memory, then writes through
updateForGracefulDeletionAndFinalizers, whose GuaranteedUpdate calls BeforeDelete again on the pod as stored.
When another delete marked it in between, that second call reports the deletion pending (errAlreadyDeleting),
and Delete answers finalizeDelete of the copy it marked in memory: a pod being deleted at the resourceVersion
it had *before* any deletion. No state the pod went through looks like that. This script races two deletes,
TRIALS times, and counts how often one of them was answered so.

    python tools/findings/pod_graceful_delete_race.py --kubeconfig PATH [--trials 200]
    python tools/findings/pod_graceful_delete_race.py --served [--trials 200]     # the bundled server
    python tools/findings/pod_graceful_delete_race.py --start [--trials 200]      # starts etcd + kube-apiserver
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from races import NS, ScopedTarget, at_once, binding, main, unscheduled_pod  # noqa: E402


def trial(run: ScopedTarget, kubeconfig: str, i: int) -> str:
    name = f"p{i}"
    assert run.create("pods", NS, unscheduled_pod(name)).code == 201
    assert run.bind(NS, name, binding(name)).code == 201
    before = run.get("pods", NS, name).body["metadata"]["resourceVersion"]
    answers = at_once(run, kubeconfig, lambda c: c.delete("pods", NS, name), lambda c: c.delete("pods", NS, name))
    stored = run.get("pods", NS, name).body["metadata"]
    run.delete("pods", NS, name, options={"gracePeriodSeconds": 0})
    seen = []
    for resp in answers:
        meta = resp.body.get("metadata", {}) if resp.code == 200 else {}
        if resp.code != 200 or meta.get("deletionGracePeriodSeconds") is None:
            return f"a delete answered {resp.code}: {resp.body}"
        seen.append(meta["resourceVersion"])
    if stored.get("deletionGracePeriodSeconds") is None:
        return "both answered 200, but the pod is not being deleted"
    if before in seen:
        return "one delete answered the pod marked, at the resourceVersion it had before any deletion"
    return "both answers are the pod as stored, marked"


if __name__ == "__main__":
    sys.exit(main(__doc__, trial))
