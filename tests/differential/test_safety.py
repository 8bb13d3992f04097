"""DESIGN.md's rules for real clusters, on the bundled server: own names and label, cleanup on exit and on
Ctrl-C, objects of others never touched, writes only with --allow-writes."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import settings
from hypothesis.stateful import invariant

from adapters.inprocess import InProcessTarget
from adapters.scoped import RUN_LABEL, ScopedTarget
from conformance.machines import APIServerMachine
from conformance.runner import run

NS = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ns-a"}}


def _left(inner: InProcessTarget) -> list[tuple[str, str]]:
    out = []
    for resource in ("pods", "leases", "nodes", "namespaces"):
        for item in inner.list(resource, label_selector=RUN_LABEL).body["items"]:
            out.append((resource, item["metadata"]["name"]))
    return out


def test_ctrl_c_in_a_hypothesis_run_still_cleans_up() -> None:
    inner = InProcessTarget()
    opened: list[ScopedTarget] = []

    def factory() -> ScopedTarget:
        t = ScopedTarget(inner)
        t.inner.close = lambda: None  # the shared in-process server outlives each example
        opened.append(t)
        return t

    class Interrupted(APIServerMachine):
        target_factory = staticmethod(factory)

        @invariant()
        def ctrl_c(self) -> None:
            # Ctrl-C a few steps in, right after a write of the run
            if self._steps_done >= 3:
                self.target.create("nodes", None, {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "nx"}})
                raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(Interrupted, settings(max_examples=5, stateful_step_count=10, database=None, deadline=None))
    assert opened and _left(inner) == []


def test_cleanup_sweeps_what_carries_the_run_label_only() -> None:
    inner = InProcessTarget()
    t = ScopedTarget(inner, run_id="ksafe01")
    t.create("namespaces", None, NS)
    # an object of the run whose create answer was lost (Ctrl-C between request and answer)
    stored = inner.create

    def lost(*args, **kwargs):
        stored(*args, **kwargs)
        raise KeyboardInterrupt

    inner.create = lost
    with pytest.raises(KeyboardInterrupt):
        t.create("nodes", None, {"metadata": {"name": "lost"}})
    inner.create = stored
    # objects of others: unlabelled, and labelled by another run; one held by a finalizer
    theirs = {"metadata": {"name": "theirs", "finalizers": ["example.com/keep"]}}
    inner.create("nodes", None, theirs)
    inner.create("nodes", None, {"metadata": {"name": "other-run", "labels": {RUN_LABEL: "kother1"}}})
    before = inner.get("nodes", None, "theirs").body
    stored_list = inner.list
    assert t.cleanup() == []
    assert inner.get("nodes", None, "lost-ksafe01").code == 404
    # a run id made by the target, every answer received: nothing is listed, what the run created is known
    listed = []
    inner.list = lambda *a, **k: listed.append(a) or stored_list(*a, **k)
    own = ScopedTarget(inner)
    own.create("nodes", None, {"metadata": {"name": "known"}})
    assert own.cleanup() == [] and listed == [] and inner.get("nodes", None, own.outward_name("known")).code == 404
    # a run id shared with another target (concurrent clients of one example): what the other created goes too
    other = ScopedTarget(inner, run_id=own.run_id)
    other.create("nodes", None, {"metadata": {"name": "theirs-too"}})
    assert own.cleanup() == [] and listed and inner.get("nodes", None, own.outward_name("theirs-too")).code == 404
    inner.list = stored_list
    assert inner.get("namespaces", None, "ns-a-ksafe01").code == 404
    # never read-modify-written, never deleted
    assert inner.get("nodes", None, "theirs").body == before
    assert inner.get("nodes", None, "other-run").code == 200


def test_http_target_needs_the_opt_in_flag(tmp_path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n")
    out = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:randomly", "conformance/test_apiserver.py",
                          "--target", "http", "--kubeconfig", str(kubeconfig), "-q"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode != 0 and "--allow-writes" in out.stderr, out.stderr[-2000:]
