"""`python -m controlplane serve --storage etcd` as a user runs it: the official client through its kubeconfig."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from kubernetes import client, config, watch

from controlplane.apiserver.etcd import EtcdStorage
from controlplane.etcdproc import EtcdProcess

ROOT = Path(__file__).resolve().parents[2]


def read_until(proc: subprocess.Popen[str], marker: str, timeout: float = 60.0) -> list[str]:
    assert proc.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip("\n"))
        if line.startswith(marker):
            return lines
    proc.kill()
    raise AssertionError(f"no {marker!r} line; the server printed {lines}, stderr {proc.stderr.read()}")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_serve_with_etcd_then_sigterm(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    proc = subprocess.Popen([sys.executable, "-m", "controlplane", "serve", "--storage", "etcd", "--kubeconfig",
                             str(kubeconfig)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    etcd_pid = None
    try:
        lines = read_until(proc, "kubeconfig:")
        m = re.search(r"started etcd at \S+ \(pid (\d+)\)", "\n".join(lines))
        assert m, lines
        etcd_pid = int(m.group(1))
        assert alive(etcd_pid)

        v1 = client.CoreV1Api(config.new_client_from_config(config_file=str(kubeconfig)))
        v1.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="ns")))
        spec = client.V1PodSpec(containers=[client.V1Container(name="c", image="busybox")])
        p = v1.create_namespaced_pod("ns", client.V1Pod(metadata=client.V1ObjectMeta(name="p"), spec=spec))
        rv = p.metadata.resource_version
        p.metadata.labels = {"app": "x"}
        updated = v1.replace_namespaced_pod("p", "ns", p)
        assert int(updated.metadata.resource_version) > int(rv)
        try:
            v1.replace_namespaced_pod("p", "ns", p)  # still the old resourceVersion
        except client.ApiException as e:
            assert e.status == 409 and json.loads(e.body)["reason"] == "Conflict"
        else:
            raise AssertionError("expected 409")
        body = client.V1Binding(metadata=client.V1ObjectMeta(name="p"),
                                target=client.V1ObjectReference(kind="Node", name="n1"))
        resp = v1.create_namespaced_pod_binding("p", "ns", body, _preload_content=False)
        assert resp.status == 201
        assert v1.read_namespaced_pod("p", "ns").spec.node_name == "n1"
        assert [x.metadata.name for x in v1.list_namespaced_pod("ns", label_selector="app=x").items] == ["p"]
        # a watch from the first resourceVersion replays the later changes in order
        seen = [(e["type"], e["object"].metadata.resource_version)
                for e in watch.Watch().stream(v1.list_namespaced_pod, "ns", resource_version=rv, timeout_seconds=2)]
        assert [t for t, _ in seen] == ["MODIFIED", "MODIFIED"]
        assert int(seen[0][1]) == int(updated.metadata.resource_version) < int(seen[1][1])
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert code == 0, proc.stderr.read() if proc.stderr else ""
    assert proc.stdout is not None and "stopped" in proc.stdout.read()
    # the server stopped its etcd before exiting
    assert etcd_pid is not None and not alive(etcd_pid)


def test_serve_on_an_existing_etcd_leaves_it_running(etcd: EtcdProcess, tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    proc = subprocess.Popen([sys.executable, "-m", "controlplane", "serve", "--storage", "etcd", "--etcd-endpoint",
                             etcd.endpoint, "--etcd-prefix", "/served", "--kubeconfig", str(kubeconfig)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines = read_until(proc, "kubeconfig:")
        assert not any(line.startswith("started etcd") for line in lines)
        v1 = client.CoreV1Api(config.new_client_from_config(config_file=str(kubeconfig)))
        v1.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="shared")))
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=60)
    assert code == 0
    assert etcd.pid is not None and alive(etcd.pid)
    with EtcdStorage(etcd.endpoint, key_prefix="/served") as s:
        assert s.get("/registry/namespaces/shared") is not None
