"""tools/kube/gomod.py: the go.mod that builds one Kubernetes release, generated from that release's own go.mod
(no network: sample go.mod text)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

GOMOD_PY = Path(__file__).resolve().parents[3] / "tools" / "kube" / "gomod.py"
_spec = importlib.util.spec_from_file_location("kubeprop_kube_gomod", GOMOD_PY)
assert _spec is not None and _spec.loader is not None
gomod = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = gomod
_spec.loader.exec_module(gomod)

# the shape of k8s.io/kubernetes' go.mod: staging modules required at v0.0.0 and replaced by local folders,
# etcd's server an indirect requirement, a staging module replaced but not required (sample-controller)
SAMPLE = """\
// This is a generated file. Do not edit directly.

module k8s.io/kubernetes

go 1.24.0

godebug default=go1.24

require (
	github.com/blang/semver/v4 v4.0.0
	go.etcd.io/etcd/client/v3 v3.6.4
	k8s.io/api v0.0.0
	k8s.io/apimachinery v0.0.0
	k8s.io/client-go v0.0.0 // a comment
)

require (
	go.etcd.io/etcd/server/v3 v3.6.4 // indirect
	k8s.io/kms v0.0.0 // indirect
)

require k8s.io/utils v0.0.0-20250604170112-4c0f3b243397

replace (
	k8s.io/api => ./staging/src/k8s.io/api
	k8s.io/apimachinery => ./staging/src/k8s.io/apimachinery
	k8s.io/client-go => ./staging/src/k8s.io/client-go
	k8s.io/kms => ./staging/src/k8s.io/kms
	k8s.io/sample-controller => ./staging/src/k8s.io/sample-controller
)

replace github.com/example/fork => github.com/example/fork v1.2.3
"""


def test_parse_reads_blocks_single_lines_and_comments() -> None:
    mod = gomod.parse(SAMPLE)
    assert mod.module == "k8s.io/kubernetes"
    assert mod.go == "1.24.0"
    assert mod.godebug == ["default=go1.24"]
    assert mod.require["k8s.io/client-go"] == "v0.0.0"
    assert mod.require["go.etcd.io/etcd/server/v3"] == "v3.6.4"
    assert mod.require["k8s.io/utils"] == "v0.0.0-20250604170112-4c0f3b243397"
    assert mod.replace["k8s.io/kms"] == "./staging/src/k8s.io/kms"
    assert mod.replace["github.com/example/fork"] == "github.com/example/fork v1.2.3"


def test_staging_version() -> None:
    assert gomod.staging_version("v1.34.4") == "v0.34.4"
    assert gomod.staging_version("v1.36.10") == "v0.36.10"
    for bad in ("1.34.4", "v1.34", "v2.0.0", "v1.34.4-rc.0"):
        with pytest.raises(gomod.GoModError, match="not a Kubernetes release"):
            gomod.staging_version(bad)


def test_replace_block_names_every_required_staging_module_at_the_published_tag() -> None:
    replacements = gomod.staging_replacements(gomod.parse(SAMPLE), "v1.34.4")
    assert replacements == {
        "k8s.io/api": "k8s.io/api v0.34.4",
        "k8s.io/apimachinery": "k8s.io/apimachinery v0.34.4",
        "k8s.io/client-go": "k8s.io/client-go v0.34.4",
        "k8s.io/kms": "k8s.io/kms v0.34.4",  # an indirect requirement counts
    }  # not sample-controller (replaced, not required), not the fork (not a local folder)


def test_generate_whole_file() -> None:
    text = gomod.generate(SAMPLE, "v1.34.4")
    body = [ln for ln in text.splitlines() if ln and not ln.startswith("//")]
    assert body == [
        "module kubeprop/tools/kube/v1.34.4",
        "go 1.24.0",
        "godebug default=go1.24",
        "require k8s.io/kubernetes v1.34.4",
        "require go.etcd.io/etcd/server/v3 v3.6.4",
        "replace (",
        "\tk8s.io/api => k8s.io/api v0.34.4",
        "\tk8s.io/apimachinery => k8s.io/apimachinery v0.34.4",
        "\tk8s.io/client-go => k8s.io/client-go v0.34.4",
        "\tk8s.io/kms => k8s.io/kms v0.34.4",
        ")",
    ]
    # what was generated parses back
    again = gomod.parse(text)
    assert again.require == {"k8s.io/kubernetes": "v1.34.4", "go.etcd.io/etcd/server/v3": "v3.6.4"}


def test_the_pinned_release_generates_the_checked_in_replace_block() -> None:
    """tools/kube/go.mod is what the generator gives for its own release (the same rule, written by hand)."""
    pinned = gomod.parse((GOMOD_PY.parent / "go.mod").read_text())
    release = pinned.require["k8s.io/kubernetes"]
    staging = {path: "./staging/src/" + path for path in pinned.replace}
    text = "module k8s.io/kubernetes\n\nrequire (\n" + "".join(
        f"\t{p} v0.0.0\n" for p in staging) + "\tgo.etcd.io/etcd/server/v3 " + \
        pinned.require["go.etcd.io/etcd/server/v3"] + "\n)\n\nreplace (\n" + "".join(
        f"\t{p} => {d}\n" for p, d in staging.items()) + ")\n"
    assert gomod.parse(gomod.generate(text, release)).replace == pinned.replace


@pytest.mark.parametrize("text, message", [
    ("module example.com/other\n", "expected the go.mod of k8s.io/kubernetes"),
    ("module k8s.io/kubernetes\nrequire k8s.io/api v0.0.0\nreplace k8s.io/api => ./staging/src/k8s.io/api\n",
     "does not require go.etcd.io/etcd/server/v3"),
    ("module k8s.io/kubernetes\nrequire go.etcd.io/etcd/server/v3 v3.6.4\n", "replaces no required module"),
    ("module k8s.io/kubernetes\nrequire (\n\tk8s.io/api v0.0.0\n", "unclosed 'require' block"),
])
def test_errors_name_the_problem(text: str, message: str) -> None:
    with pytest.raises(gomod.GoModError, match=message):
        gomod.generate(text, "v1.34.4")


def test_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    release_mod = tmp_path / "v1.34.4.mod"
    release_mod.write_text(SAMPLE)
    assert gomod.main(["v1.34.4", str(release_mod)]) == 0
    assert "require k8s.io/kubernetes v1.34.4" in capsys.readouterr().out
    assert gomod.main(["v1.34.4", str(tmp_path / "missing.mod")]) == 1
    assert "gomod.py:" in capsys.readouterr().err
