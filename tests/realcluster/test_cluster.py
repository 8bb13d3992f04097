"""The real control plane: upstream kube-apiserver on etcd, kube-scheduler replicas with leader election."""

from __future__ import annotations

import importlib
import json
import signal
import time
import uuid

import pytest

client = pytest.importorskip("kubernetes.client")
kubecluster = importlib.import_module("kubeprop_kube_cluster")  # loaded from tools/kube/cluster.py by conftest

pytestmark = pytest.mark.realcluster

BIND_TIMEOUT = 60.0


def _namespace(core: client.CoreV1Api) -> str:
    name = f"kubeprop-{uuid.uuid4().hex[:8]}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    return name


def _fake_node(core: client.CoreV1Api, name: str) -> None:
    """A Node with no kubelet behind it: Ready, with room for pods, so the scheduler can place pods on it."""
    capacity = {"cpu": "4", "memory": "8Gi", "pods": "110"}
    node = client.V1Node(metadata=client.V1ObjectMeta(name=name, labels={"kubernetes.io/hostname": name}),
                         spec=client.V1NodeSpec())
    core.create_node(node)
    status = {"status": {"capacity": capacity, "allocatable": capacity,
                         "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                                         "message": "kubeprop fake node"}]}}
    core.patch_node_status(name, status)
    # the TaintNodesByCondition admission plugin taints every new Node node.kubernetes.io/not-ready:NoSchedule;
    # with no node-lifecycle controller running, take the taint off as that controller would for a Ready node
    core.patch_node(name, {"spec": {"taints": None}})


def _pod(name: str) -> client.V1Pod:
    container = client.V1Container(name="c", image="registry.invalid/kubeprop/pause:1",
                                   resources=client.V1ResourceRequirements(requests={"cpu": "100m",
                                                                                     "memory": "64Mi"}))
    return client.V1Pod(metadata=client.V1ObjectMeta(name=name), spec=client.V1PodSpec(containers=[container]))


def _wait_bound(core: client.CoreV1Api, namespace: str, name: str, timeout: float = BIND_TIMEOUT,
                start: float | None = None) -> tuple[str, float]:
    """Poll until the pod has spec.nodeName; return the node and the seconds since ``start`` (default: now)."""
    start = time.monotonic() if start is None else start
    while True:
        pod = core.read_namespaced_pod(name, namespace)
        if pod.spec.node_name:
            return pod.spec.node_name, time.monotonic() - start
        if time.monotonic() - start > timeout:
            raise AssertionError(f"pod {namespace}/{name} not bound after {timeout:.0f}s; "
                                 f"status={pod.status.to_dict() if pod.status else None}")
        time.sleep(0.2)


@pytest.fixture(scope="module")
def node(core) -> str:
    name = f"kubeprop-node-{uuid.uuid4().hex[:6]}"
    _fake_node(core, name)
    return name


@pytest.fixture(scope="module")
def namespace(core) -> str:
    return _namespace(core)


def test_version_reports_the_release(cluster):
    version = cluster.version()
    apiserver = cluster.binaries.apiserver
    built_here = str(kubecluster.kube_bin_dir()) in apiserver
    expected = kubecluster.wanted_version() if built_here else cluster.binaries.version()
    assert version["gitVersion"] == expected, version
    major, minor = expected.lstrip("v").split(".")[:2]
    assert (version["major"], version["minor"]) == (major, minor), version


def test_real_scheduler_binds_pod_to_fake_node(core, namespace, node, measurements):
    fetched = core.read_node(node)
    assert fetched.status.allocatable["pods"] == "110"
    assert not fetched.spec.taints, fetched.spec.taints
    created = time.monotonic()
    core.create_namespaced_pod(namespace, _pod("first"))
    bound_to, seconds = _wait_bound(core, namespace, "first", start=created)
    assert bound_to == node
    measurements.append(f"pod created and bound by kube-scheduler within {seconds:.2f}s")


def test_lease_has_a_holder(cluster):
    lease = cluster.lease()
    assert lease is not None, "no Lease kube-system/kube-scheduler"
    spec = lease["spec"]
    assert spec.get("holderIdentity"), spec
    assert spec.get("leaseDurationSeconds") == int(cluster.lease_duration)
    index = cluster.leader()
    assert index is not None, f"no replica reports holding the Lease {spec['holderIdentity']!r}"
    assert cluster.schedulers[index].alive()


def test_failover_after_sigkill_of_the_leader(cluster, core, namespace, node, measurements):
    if len(cluster.schedulers) < 2:
        pytest.skip("failover needs at least two kube-scheduler replicas")
    result = cluster.failover(signal.SIGKILL)
    print(f"failover: {result}")
    measurements.append(f"failover after SIGKILL of kube-scheduler-{result.old_index}: {result.seconds:.2f}s "
                        f"(lease {cluster.lease_duration:g}s, renew deadline {cluster.renew_deadline:g}s, "
                        f"retry {cluster.retry_period:g}s) -> kube-scheduler-{result.new_index}")
    assert result.new_holder != result.old_holder
    assert result.new_index is not None and result.new_index != result.old_index
    assert not cluster.schedulers[result.old_index].alive()
    # nobody renews a killed holder's Lease, so the others wait for it to expire before taking over
    assert result.seconds <= cluster.lease_duration + 3 * cluster.retry_period + 5
    # the new leader schedules
    core.create_namespaced_pod(namespace, _pod("after-failover"))
    bound_to, _ = _wait_bound(core, namespace, "after-failover")
    assert bound_to == node
    # put the killed replica back for whatever runs next
    cluster.restart_scheduler(result.old_index)


def test_kubectl_get_pods_json(cluster, namespace):
    if not cluster.binaries.kubectl:
        pytest.skip("kubectl was not built (make kube-binaries)")
    out = cluster.kubectl("get", "pods", "-A", "-o", "json").stdout
    listing = json.loads(out)
    assert listing["kind"] == "List"
    names = {(p["metadata"]["namespace"], p["metadata"]["name"]) for p in listing["items"]}
    assert (namespace, "first") in names
