"""The status-subresource probe on the builtin target: every call as the model says."""

from __future__ import annotations

from conformance.statusprobe import main, probe


def test_the_bundled_server_answers_the_whole_sequence_as_the_model_says(capsys) -> None:
    p = probe({"kind": "builtin"})
    assert p.disagreements == [] and len(p.results) == 30
    assert main([]) == 0
    assert capsys.readouterr().out.rstrip().endswith("30 of 30 calls as the model says")
