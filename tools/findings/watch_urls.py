"""What each URL a watch may be asked at answers: the deprecated watch/ prefix and a field selector on metadata.name.

kube-apiserver serves a watch at the collection with ?watch=true and again under the deprecated watch/ prefix,
for a collection and for one object (apiserver/pkg/endpoints/installer.go: WATCHLIST, WATCH). A name in the URL
becomes the field selector metadata.name=NAME, and a fieldSelector beside it that does not require exactly that
name is refused; a field the kind does not offer is refused first (apiserver/pkg/endpoints/handlers/get.go:
ListResource). This script asks each form once per trial (trial i asks form i modulo their number) with
timeoutSeconds=1 and counts the answers: the events' types and names, or the Status's code, reason and message.

    python tools/findings/watch_urls.py --kubeconfig PATH [--trials 16]
    python tools/findings/watch_urls.py --served [--trials 16]     # the bundled server
    python tools/findings/watch_urls.py --start [--trials 16]      # starts etcd + kube-apiserver
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from races import NS, ScopedTarget, main, unscheduled_pod  # noqa: E402

#: (method, path, query) with NS and N1 standing for the run's namespace and node
FORMS = [
    ("GET", "/api/v1/watch/namespaces/NS/pods", ""),
    ("GET", "/api/v1/watch/namespaces/NS/pods/pa", ""),
    ("GET", "/api/v1/watch/namespaces/NS/pods/pa", "watch=false"),
    ("GET", "/api/v1/watch/namespaces/NS/pods/zz", ""),
    ("GET", "/api/v1/watch/nodes/N1", ""),
    ("GET", "/apis/coordination.k8s.io/v1/watch/namespaces/NS/leases/la", ""),
    ("GET", "/api/v1/namespaces/NS/pods", "watch=true&fieldSelector=metadata.name%3Dpb"),
    ("GET", "/api/v1/watch/namespaces/NS/pods/pa", "fieldSelector=metadata.name%3D%3Dpa"),
    ("GET", "/api/v1/watch/namespaces/NS/pods/pa", "fieldSelector=metadata.name%3Dpb"),
    ("GET", "/api/v1/watch/namespaces/NS/pods/pa", "fieldSelector=metadata.namespace%3DNS"),
    ("GET", "/api/v1/watch/namespaces/NS/pods/pa", "fieldSelector=foo%3Dbar"),
    ("GET", "/api/v1/nodes", "watch=true&fieldSelector=metadata.namespace%3DNS"),
    ("GET", "/apis/coordination.k8s.io/v1/namespaces/NS/leases", "watch=true&fieldSelector=foo%3Dbar"),
    ("GET", "/api/v1/watch/namespaces/NS/pods/pa/binding", ""),
    ("GET", "/api/v1/watch/pods/pa", ""),
    ("POST", "/api/v1/watch/namespaces/NS/pods/pa", ""),
]


def _objects(run: ScopedTarget) -> None:
    """Pods pa and pb and lease la in the run's namespace, node n1: made once, before the first trial's call."""
    if run.get("pods", NS, "pa").code == 200:
        return
    for name in ("pa", "pb"):
        assert run.create("pods", NS, unscheduled_pod(name)).code == 201
    assert run.create("nodes", None, {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}}).code == 201
    assert run.create("leases", NS, {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                                     "metadata": {"name": "la"}, "spec": {}}).code == 201


def trial(run: ScopedTarget, kubeconfig: str, i: int) -> str:
    _objects(run)
    method, path, query = FORMS[i % len(FORMS)]
    physical = {"NS": run.outward_name(NS), "N1": run.outward_name("n1")}
    url, params = path, query + ("&" if query else "") + "timeoutSeconds=1"
    for word, name in physical.items():
        url, params = url.replace(word, name), params.replace(word, name)
    resp = run.inner._request(method, f"{url}?{params}", stream=True, timeout=(10, 10))
    try:
        if resp.status_code == 200:
            events = [json.loads(line) for line in resp.iter_lines() if line]
            said = " ".join(f"{e['type']} {e['object']['metadata']['name']}" for e in events) or "no event"
        else:
            body = resp.json()
            said = f"{body.get('reason')}: {body.get('message')}"
    finally:
        resp.close()
    for word, name in physical.items():
        said = said.replace(name, word.lower() if word == "N1" else word)
    return f"{method} {path}{'?' + query if query else ''}: {resp.status_code} {said}"


if __name__ == "__main__":
    sys.exit(main(__doc__, trial))
