"""tools/kube/cluster.py: which release's binaries a cluster uses (KUBE_VERSION), without starting anything."""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance.kubecluster import cluster_module

kc = cluster_module()


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("KUBE_BIN_DIR", "KUBE_VERSION", "KUBEBUILDER_ASSETS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    return tmp_path / "kubeprop" / "kube"


def _fake_binaries(folder: Path) -> None:
    folder.mkdir(parents=True)
    for name in ("kube-apiserver", "kube-scheduler", "kubectl", "etcd"):
        (folder / name).write_text("#!/bin/sh\n")
        (folder / name).chmod(0o755)


def test_the_pinned_release_by_default(cache: Path) -> None:
    assert kc.wanted_version() == kc.pinned_version()
    assert kc.kube_bin_dir() == cache / kc.pinned_version()


def test_kube_version_names_another_release(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBE_VERSION", "v1.34.4")
    assert kc.wanted_version() == "v1.34.4"
    assert kc.kube_bin_dir() == cache / "v1.34.4"
    assert kc.kube_bin_dir("v1.36.3") == cache / "v1.36.3"
    with pytest.raises(kc.ClusterError, match=r"v1\.34\.4: run `make kube-binaries KUBE_VERSION=v1\.34\.4`"):
        kc.find_binaries()
    _fake_binaries(cache / "v1.34.4")
    found = kc.find_binaries()
    assert found.apiserver == str(cache / "v1.34.4" / "kube-apiserver")
    assert found.etcd == str(cache / "v1.34.4" / "etcd")


def test_an_explicit_folder_brings_its_own_etcd(cache: Path) -> None:
    _fake_binaries(cache / kc.pinned_version())
    _fake_binaries(cache / "v1.36.3")
    found = kc.find_binaries(cache / "v1.36.3")
    assert found.scheduler == str(cache / "v1.36.3" / "kube-scheduler")
    assert found.etcd == str(cache / "v1.36.3" / "etcd")  # not the pinned release's


def test_kube_bin_dir_overrides_only_the_default(cache: Path, monkeypatch: pytest.MonkeyPatch,
                                                 tmp_path: Path) -> None:
    monkeypatch.setenv("KUBE_BIN_DIR", str(tmp_path / "mine"))
    assert kc.kube_bin_dir() == tmp_path / "mine"
    assert kc.kube_bin_dir("v1.34.4") == cache / "v1.34.4"  # make matrix names each release's folder
