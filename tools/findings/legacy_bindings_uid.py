"""A Binding that names another pod's uid, posted to each URL the API serves bindings at: is it refused?

The API's contract: a Binding's metadata.uid is a precondition (pkg/registry/core/pod/storage/storage.go:
BindingREST.Create); a Binding whose uid is not the pod's binds nothing and is answered 409. The API serves the
same request at two URLs: pods/{name}/binding, and the older namespaces/{ns}/bindings, which takes the pod's name
from the Binding. kube-apiserver's create handler clears metadata.uid on every create except on a subresource
whose storage asks to keep it (apiserver/pkg/endpoints/handlers/create.go, rest.SubresourceObjectMetaPreserver),
which only pods/{name}/binding does; on namespaces/{ns}/bindings the uid is gone before the precondition is set.
This script posts, TRIALS times, a Binding with a uid that is not the pod's to each URL and counts the outcomes.

    python tools/findings/legacy_bindings_uid.py --kubeconfig PATH [--trials 20]
    python tools/findings/legacy_bindings_uid.py --served [--trials 20]     # the bundled server
    python tools/findings/legacy_bindings_uid.py --start [--trials 20]      # starts etcd + kube-apiserver
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from races import NS, ScopedTarget, binding, main, unscheduled_pod  # noqa: E402

#: a uid no pod has
OTHER_UID = "00000000-0000-0000-0000-0000000000ff"


def trial(run: ScopedTarget, kubeconfig: str, i: int) -> str:
    outcomes = []
    for legacy in (False, True):
        name = f"{'l' if legacy else 's'}{i}"
        assert run.create("pods", NS, unscheduled_pod(name)).code == 201
        body = binding(name)
        body["metadata"]["uid"] = OTHER_UID
        code = run.bind(NS, name, body, legacy=legacy).code
        node = run.get("pods", NS, name).body["spec"].get("nodeName")
        where = "namespaces/NS/bindings" if legacy else "pods/NAME/binding"
        outcomes.append(f"{where}: {code}, {'bound' if node else 'not bound'}")
    return "; ".join(outcomes)


if __name__ == "__main__":
    sys.exit(main(__doc__, trial))
