"""kubectl against the served bundled API server: create, apply, get, list, patch and delete parse and agree.

kubectl is looked for in ``$KUBECTL``, then in ``~/.cache/kubeprop/kube/*/kubectl`` (``make kube-binaries``),
then on ``PATH`` (``make kubectl-tools`` installs Debian's package when apt has one). Without one the tests
are skipped with the reason.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from controlplane.__main__ import write_kubeconfig
from controlplane.http import HTTPAPIServer

# client-go sends no bearer token over plain http, so this server takes requests without one
TOKEN = "unused-over-http"


def find_kubectl() -> str | None:
    if os.environ.get("KUBECTL"):
        return os.environ["KUBECTL"]
    built = sorted(glob.glob(os.path.expanduser("~/.cache/kubeprop/kube/*/kubectl")))
    if built and os.access(built[-1], os.X_OK):
        return built[-1]
    return shutil.which("kubectl")


KUBECTL = find_kubectl()
pytestmark = pytest.mark.skipif(KUBECTL is None, reason="no kubectl: set KUBECTL, run `make kube-binaries`, "
                                                        "or `make kubectl-tools` where apt has kubectl")


@pytest.fixture(scope="module")
def kube(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    server = HTTPAPIServer(port=0).start()
    home = tmp_path_factory.mktemp("kubectl")
    config = home / "kubeconfig"
    write_kubeconfig(str(config), server.url, TOKEN)

    def run(*args: str, stdin: str | None = None, ok: bool = True) -> subprocess.CompletedProcess[str]:
        assert KUBECTL is not None
        env = {**os.environ, "KUBECONFIG": str(config), "HOME": str(home), "KUBECACHEDIR": str(home / "cache")}
        done = subprocess.run([KUBECTL, *args], input=stdin, capture_output=True, text=True, env=env, timeout=60)
        if ok:
            assert done.returncode == 0, f"kubectl {' '.join(args)}: {done.stderr}"
            # warnings (deprecations, discovery trouble) are failures too: kubectl should run quietly
            assert done.stderr.strip() == "", f"kubectl {' '.join(args)} warned: {done.stderr}"
        return done

    try:
        # "kubectl create namespace" posts protobuf, which this server does not decode; a manifest goes as JSON.
        # --validate=false: kubectl's client-side validation needs an OpenAPI document, which is not served
        namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "kc"}}
        run("create", "--validate=false", "-f", "-", stdin=json.dumps(namespace))
        yield run
    finally:
        server.stop()


def _json(done: subprocess.CompletedProcess[str]) -> Any:
    return json.loads(done.stdout)


POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "kc", "labels": {"app": "web"}},
       "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]}}
NODE = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "kc-n0", "labels": {"zone": "a"}}}


def test_create_get_list_delete_pod(kube: Any, tmp_path: Path) -> None:
    manifest = tmp_path / "pod.json"
    manifest.write_text(json.dumps(POD))
    kube("create", "--validate=false", "-f", str(manifest))
    got = _json(kube("get", "pod", "web", "-n", "kc", "-o", "json"))
    assert got["metadata"]["labels"] == {"app": "web"} and got["status"]["phase"] == "Pending"
    listed = _json(kube("get", "pods", "-n", "kc", "-o", "json"))
    assert [p["metadata"]["name"] for p in listed["items"]] == ["web"]
    assert "web" in kube("get", "pods", "-n", "kc").stdout
    assert "web" in kube("get", "pods", "-A", "-l", "app=web").stdout
    kube("delete", "pod", "web", "-n", "kc", "--grace-period=0", "--wait=false")
    assert kube("get", "pod", "web", "-n", "kc", ok=False).returncode != 0


def test_apply_then_patch_merge_and_json(kube: Any, tmp_path: Path) -> None:
    manifest = tmp_path / "node.json"
    manifest.write_text(json.dumps(NODE))
    kube("apply", "--validate=false", "-f", str(manifest))
    node = _json(kube("get", "node", "kc-n0", "-o", "json"))
    assert node["metadata"]["labels"] == {"zone": "a"}
    kube("patch", "node", "kc-n0", "--type", "merge", "-p", '{"metadata":{"labels":{"tier":"gold"}}}')
    kube("patch", "node", "kc-n0", "--type", "json", "-p",
         '[{"op":"test","path":"/metadata/labels/zone","value":"a"},'
         '{"op":"replace","path":"/metadata/labels/zone","value":"b"}]')
    node = _json(kube("get", "node", "kc-n0", "-o", "json"))
    assert node["metadata"]["labels"] == {"zone": "b", "tier": "gold"}
    failed = kube("patch", "node", "kc-n0", "--type", "json", "-p",
                  '[{"op":"test","path":"/metadata/labels/zone","value":"zzz"}]', ok=False)
    assert failed.returncode != 0 and "the server rejected our request due to an error in our request" in failed.stderr
    # a strategic merge patch (kubectl's default) on the pod's containers, merged by name
    pod = {**POD, "metadata": {**POD["metadata"], "name": "smp"}}
    (tmp_path / "smp.json").write_text(json.dumps(pod))
    kube("apply", "--validate=false", "-f", str(tmp_path / "smp.json"))
    kube("patch", "pod", "smp", "-n", "kc", "-p", '{"spec":{"containers":[{"name":"c","image":"nginx:1.28"}]}}')
    got = _json(kube("get", "pod", "smp", "-n", "kc", "-o", "json"))
    assert got["spec"]["containers"] == [{"name": "c", "image": "nginx:1.28"}]
    # re-applying a changed manifest patches what changed
    pod["metadata"]["labels"] = {"app": "web", "v": "2"}
    (tmp_path / "smp.json").write_text(json.dumps(pod))
    kube("apply", "--validate=false", "-f", str(tmp_path / "smp.json"))
    got = _json(kube("get", "pod", "smp", "-n", "kc", "-o", "json"))
    assert got["metadata"]["labels"] == {"app": "web", "v": "2"}
    kube("delete", "node", "kc-n0")
    kube("delete", "pod", "smp", "-n", "kc", "--grace-period=0", "--wait=false")


def test_get_leases_and_namespaces(kube: Any) -> None:
    leases = _json(kube("get", "leases", "-A", "-o", "json"))
    assert leases["kind"] == "List" or leases["kind"] == "LeaseList"
    assert "kc" in kube("get", "namespaces").stdout
    resources = kube("api-resources").stdout
    for name in ("pods", "nodes", "namespaces", "leases"):
        assert name in resources
