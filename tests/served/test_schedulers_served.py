"""`python -m controlplane serve --schedulers 2`: replicas on the wall clock bind pods created by a real client."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable

from kubernetes import client, config

from adapters.served import ServedServer


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_two_replicas_bind_pods_and_hold_the_lease(serve: Callable[..., ServedServer]) -> None:
    served = serve(schedulers=2)
    assert "scheduler replicas: 2" in served.log()
    api = config.new_client_from_config(config_file=served.kubeconfig)
    v1 = client.CoreV1Api(api)
    v1.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="apps")))
    room = {"cpu": "4", "memory": "8Gi", "pods": "110"}
    v1.create_node(client.V1Node(metadata=client.V1ObjectMeta(name="node-a"),
                                 status=client.V1NodeStatus(allocatable=room, capacity=room)))
    for i in range(6):
        spec = client.V1PodSpec(containers=[client.V1Container(
            name="c", image="busybox", resources=client.V1ResourceRequirements(requests={"cpu": "100m"}))])
        v1.create_namespaced_pod("apps", client.V1Pod(metadata=client.V1ObjectMeta(name=f"p{i}"), spec=spec))
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        pods = v1.list_namespaced_pod("apps").items
        if len(pods) == 6 and all(p.spec.node_name for p in pods):
            break
        time.sleep(0.1)
    assert sorted((p.metadata.name, p.spec.node_name) for p in pods) == [(f"p{i}", "node-a") for i in range(6)]
    assert all(any(c.type == "PodScheduled" and c.status == "True" for c in p.status.conditions) for p in pods)
    lease = client.CoordinationV1Api(api).read_namespaced_lease("kube-scheduler", "kube-system")
    assert lease.spec.holder_identity in ("kubeprop-scheduler-0", "kubeprop-scheduler-1")
    assert lease.spec.lease_duration_seconds == 15
    # SIGTERM: the replicas release the lease, the server stops, the process exits 0
    pid = served.pid
    assert pid is not None
    assert served.stop() == 0, served.log()
    assert not alive(pid)
    assert served.log().rstrip().endswith("stopped"), served.log()
    api.close()


def test_two_replicas_on_etcd_stop_with_their_etcd(serve: Callable[..., ServedServer]) -> None:
    served = serve(storage="etcd", schedulers=2)
    log = served.log()
    etcd_pid = int(log.split("(pid ", 1)[1].split(")", 1)[0])
    api = config.new_client_from_config(config_file=served.kubeconfig)
    v1 = client.CoreV1Api(api)
    v1.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="apps")))
    room = {"cpu": "2", "memory": "4Gi", "pods": "10"}
    v1.create_node(client.V1Node(metadata=client.V1ObjectMeta(name="node-a"),
                                 status=client.V1NodeStatus(allocatable=room, capacity=room)))
    spec = client.V1PodSpec(containers=[client.V1Container(name="c", image="busybox")])
    v1.create_namespaced_pod("apps", client.V1Pod(metadata=client.V1ObjectMeta(name="p"), spec=spec))
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not v1.read_namespaced_pod("p", "apps").spec.node_name:
        time.sleep(0.1)
    assert v1.read_namespaced_pod("p", "apps").spec.node_name == "node-a"
    api.close()
    proc = served.proc
    assert proc is not None
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0, served.log()
    assert not alive(etcd_pid)
