"""conformance/matrix.py: folding shard results into the release-by-invariant table (no cluster)."""

from __future__ import annotations

import json

from conformance.matrix import (
    Broken,
    ReleaseResult,
    collect,
    cut_off_rows,
    first_line,
    release_status,
    render_markdown,
    write_reports,
)


def test_collect_counts_shards_keeps_first_line_and_reproductions() -> None:
    result = ReleaseResult("v1.34.4")
    collect(result, [
        {"test": "t[0]", "invariant": "api.status-shape", "message": "\nstatus differs\nmore",
         "reproduction": "reports/repro/v1.34.4/shard0/repro_api_status_shape.py"},
        {"test": "t[0]", "invariant": "api.status-shape", "message": "again", "reproduction": None},
    ])
    collect(result, [{"test": "t[2]", "invariant": "api.status-shape", "message": "other",
                      "reproduction": "reports/repro/v1.34.4/shard2/repro_api_status_shape.py"}, {"steps": 400}])
    collect(result, [{"steps": 500}])
    assert result.steps == 900
    assert list(result.broken) == ["api.status-shape"]
    b = result.broken["api.status-shape"]
    assert b.count == 2  # two shards, however many rows each
    assert b.first_line == "status differs"
    assert b.reproductions == ["reports/repro/v1.34.4/shard0/repro_api_status_shape.py",
                               "reports/repro/v1.34.4/shard2/repro_api_status_shape.py"]


def test_first_line_is_bounded() -> None:
    assert first_line("x" * 300, width=10) == "x" * 9 + "…"
    assert first_line("") == ""


def test_reports(tmp_path) -> None:
    ok = ReleaseResult("v1.37.2", status="passed", etcd="3.7.0", run_seconds=61, steps=2000, seeds={"0": 7})
    bad = ReleaseResult("v1.34.4", status="failed", etcd="3.6.4", build_seconds=700, run_seconds=80,
                        broken={"api.matches-model": Broken("api.matches-model", 1, "a | b", ["r.py"])})
    text = render_markdown([ok, bad], examples=20)
    assert "| v1.37.2 | 3.7.0 | passed | there | 61 s | 2000 | 0: 7 |" in text
    assert "| v1.34.4 | `api.matches-model` | 1 | a \\| b | `r.py` |" in text
    md, js = write_reports([ok, bad], 20, tmp_path)
    data = json.loads(js.read_text())
    assert [r["version"] for r in data["releases"]] == ["v1.37.2", "v1.34.4"]
    assert data["releases"][1]["broken"]["api.matches-model"]["count"] == 1
    assert md.read_text() == text
    assert "nothing failed" in render_markdown([ok], examples=20)


def test_a_shard_cut_off_while_shrinking_is_reported_from_its_reproductions(tmp_path) -> None:
    (tmp_path / "repro_api_finalizers.py").write_text(
        '"""kubeprop reproduction: breaks api.finalizers.\n\n    update: Status differs: kind\n"""\nx = 1\n')
    (tmp_path / "other.py").write_text("ignored\n")
    rows = cut_off_rows(tmp_path, "t[0]")
    assert rows == [{"test": "t[0]", "invariant": "api.finalizers",
                     "reproduction": str(tmp_path / "repro_api_finalizers.py"),
                     "message": "(cut off while shrinking) update: Status differs: kind"}]


def test_a_release_that_met_only_known_findings_passed() -> None:
    known = {"test": "shard0", "known": True, "invariant": "api.no-5xx-for-client-errors (known upstream: k#1)",
             "message": "a bug (3 times)", "reproduction": None}
    result = ReleaseResult("v1.37.2", shards={"0": "passed", "1": "passed"})
    assert release_status(result) == "passed"
    collect(result, [known])
    assert release_status(result) == "passed, known findings only"
    collect(result, [{"test": "t[1]", "invariant": "api.matches-model", "message": "m", "reproduction": None}])
    assert release_status(result) == "failed"
    assert release_status(ReleaseResult("v1.37.2", shards={"0": "passed", "1": "rc 3"})) == "failed"
