"""The HTTP adapter authenticates as real clients do: client certificates and the in-cluster service account."""

from __future__ import annotations

import base64
import subprocess
from pathlib import Path

import pytest
import yaml

from adapters.base import TargetError
from adapters.http import IN_CLUSTER, HTTPTarget


def _cert_pair(tmp: Path) -> tuple[bytes, bytes]:
    key, crt = tmp / "k.pem", tmp / "c.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=kubeprop",
                    "-keyout", str(key), "-out", str(crt)], check=True, capture_output=True)
    return crt.read_bytes(), key.read_bytes()


def test_client_certificate_from_kubeconfig_is_presented(tmp_path: Path) -> None:
    crt, key = _cert_pair(tmp_path)
    b64 = lambda b: base64.b64encode(b).decode()  # noqa: E731
    cfg = {"apiVersion": "v1", "kind": "Config", "current-context": "c",
           "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:6443",
                                                  "certificate-authority-data": b64(crt)}}],
           "users": [{"name": "u", "user": {"client-certificate-data": b64(crt), "client-key-data": b64(key)}}],
           "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}]}
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(cfg))
    t = HTTPTarget(str(path))
    cert, keyfile = t.session.cert
    assert Path(cert).read_bytes() == crt and Path(keyfile).read_bytes() == key
    assert Path(t.session.verify).read_bytes() == crt
    assert "authorization" not in {k.lower() for k in t._auth_headers()}
    t.close()


def test_in_cluster_uses_the_service_account(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    crt, _ = _cert_pair(tmp_path)
    sa = tmp_path / "sa"
    sa.mkdir()
    (sa / "token").write_text("sa-token-123")
    (sa / "ca.crt").write_bytes(crt)
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")
    t = HTTPTarget(IN_CLUSTER, service_account_dir=str(sa))
    assert t.url == "https://10.0.0.1:443"
    # the official loader writes the scheme in lower case; servers compare it case-insensitively
    assert {k: v.lower() for k, v in t._auth_headers().items()} == {"authorization": "bearer sa-token-123"}
    assert Path(t.session.verify).read_bytes() == crt
    t.close()


def test_in_cluster_outside_a_pod_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    with pytest.raises(TargetError, match="Service host/port is not set"):
        HTTPTarget(IN_CLUSTER, service_account_dir=str(tmp_path))
