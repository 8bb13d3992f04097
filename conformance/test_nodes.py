"""The node conformance suite: hollow kubelets and the node lifecycle controller (builtin target: the harness
steps every kubelet and the controller, and moves time)."""

from __future__ import annotations

import pytest

from conformance.kubelet import KubeletMachine
from conformance.runner import run


@pytest.mark.conformance
def test_nodes(kubeprop_machine, kubeprop_target_kind: str) -> None:
    if kubeprop_target_kind != "builtin":
        pytest.skip("the node machine steps hollow kubelets one at a time, which only the builtin target allows")
    run(kubeprop_machine(KubeletMachine))
