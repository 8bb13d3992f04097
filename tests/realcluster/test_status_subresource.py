"""The status subresource of the real kube-apiserver: the probe's fixed sequence, every call held to the model for
the release the server reports (conformance/statusprobe.py)."""

from __future__ import annotations

import pytest

from conformance.statusprobe import probe

pytestmark = pytest.mark.realcluster


def test_status_subresource_as_the_model_says(cluster, measurements) -> None:
    p = probe({"kind": "http", "kubeconfig": str(cluster.kubeconfig)})
    measurements.append(f"status subresource probe: {len(p.results) - len(p.disagreements)} of {len(p.results)} "
                        "calls as the model says")
    assert p.disagreements == [], "\n".join(p.results)
