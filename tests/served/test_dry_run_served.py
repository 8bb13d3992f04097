"""Dry runs over HTTP: the served bundled server reads ``dryRun`` from the URL (every value of a repeated
parameter) and from a delete's DeleteOptions body, refuses an unsupported value, and stores nothing."""

from __future__ import annotations

from collections.abc import Callable

from adapters.http import HTTPTarget
from adapters.served import ServedServer

POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
       "spec": {"containers": [{"name": "c", "image": "busybox"}]}}


def test_dry_runs_over_http(serve: Callable[..., ServedServer]) -> None:
    t = HTTPTarget(serve().kubeconfig)
    try:
        assert t.create("namespaces", None, {"apiVersion": "v1", "kind": "Namespace",
                                             "metadata": {"name": "d"}}).code == 201
        dry = t.create("pods", "d", POD, dry_run=["All", "All"])
        assert dry.code == 201 and dry.body["metadata"]["uid"] and "resourceVersion" not in dry.body["metadata"]
        assert t.get("pods", "d", "p").code == 404
        refused = t.create("pods", "d", POD, dry_run=["All", "Some"])
        assert refused.code == 422, refused.body
        assert refused.body["message"] == ('CreateOptions.meta.k8s.io "" is invalid: dryRun: Unsupported value: '
                                           '["All","Some"]: supported values: "All"')
        rv = t.create("pods", "d", POD).body["metadata"]["resourceVersion"]
        marked = t.delete("pods", "d", "p", options={"gracePeriodSeconds": 0, "dryRun": ["All"]})
        assert marked.code == 200 and marked.body["metadata"]["deletionTimestamp"]
        assert marked.body["metadata"]["resourceVersion"] == rv
        assert t.delete("pods", "d", "p", options={"gracePeriodSeconds": 0}, dry_run=["All"]).code == 200
        assert t.delete("pods", "d", "p", dry_run=[""]).code == 422
        pod = t.get("pods", "d", "p").body
        assert pod["metadata"]["resourceVersion"] == rv and "deletionTimestamp" not in pod["metadata"]
    finally:
        t.close()
