"""Filter plugins one by one, with upstream's reason strings."""

from __future__ import annotations

import pytest

from model.scheduler import all_reasons, fits, node_info
from model.scheduler.filters import (
    node_affinity,
    node_name,
    node_ports,
    node_resources_fit,
    node_unschedulable,
    taint_toleration,
)

UNSCHEDULABLE = "node(s) were unschedulable"
TAINTED = "node(s) had untolerated taint(s)"
AFFINITY = "node(s) didn't match Pod's node affinity/selector"
PORTS = "node(s) didn't have free ports for the requested pod ports"


def node(name: str = "n1", labels: dict | None = None, taints: list | None = None, unschedulable: bool = False,
         alloc: dict | None = None) -> dict:
    return {
        "metadata": {"name": name, "labels": labels or {}},
        "spec": {"unschedulable": unschedulable, "taints": taints or []},
        "status": {"allocatable": alloc or {"cpu": "4", "memory": "8Gi", "pods": "110"}},
    }


def pod(**spec: object) -> dict:
    containers = spec.pop("containers", [{"name": "c", "image": "x"}])
    return {"metadata": {"name": "p", "namespace": "ns"}, "spec": {"containers": containers, **spec}}


def with_ports(*ports: dict, init_ports: tuple[dict, ...] = (), sidecar: bool = True) -> dict:
    init = [{"name": "i", "image": "x", "ports": list(init_ports), **({"restartPolicy": "Always"} if sidecar else {})}]
    return pod(containers=[{"name": "c", "image": "x", "ports": list(ports)}], initContainers=init)


def test_node_name() -> None:
    info = node_info(node("n1"))
    assert node_name(pod(), info) == ()
    assert node_name(pod(nodeName="n1"), info) == ()
    assert node_name(pod(nodeName="n2"), info) == ("node(s) didn't match the requested node name",)


@pytest.mark.parametrize(
    ("tolerations", "ok"),
    [
        ([], False),
        ([{"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"}], True),
        ([{"key": "node.kubernetes.io/unschedulable", "operator": "Exists"}], True),
        ([{"operator": "Exists"}], True),  # empty key with Exists tolerates everything
        ([{"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoExecute"}], False),
        ([{"key": "node.kubernetes.io/unschedulable", "value": "", "effect": "NoSchedule"}], True),  # Equal ""
        ([{"key": "node.kubernetes.io/unschedulable", "value": "true", "effect": "NoSchedule"}], False),
    ],
)
def test_node_unschedulable(tolerations: list, ok: bool) -> None:
    cordoned = node_info(node(unschedulable=True))
    assert node_unschedulable(pod(tolerations=tolerations), cordoned) == (() if ok else (UNSCHEDULABLE,))
    assert node_unschedulable(pod(tolerations=tolerations), node_info(node())) == ()


TAINT = {"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}


@pytest.mark.parametrize(
    ("taints", "tolerations", "ok"),
    [
        ([TAINT], [], False),
        ([TAINT], [{"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}], True),
        ([TAINT], [{"key": "dedicated", "value": "gpu"}], True),  # no operator is Equal; no effect is every effect
        ([TAINT], [{"key": "dedicated", "operator": "Equal", "value": "cpu"}], False),
        ([TAINT], [{"key": "dedicated", "operator": "Exists"}], True),
        ([TAINT], [{"key": "other", "operator": "Exists"}], False),
        ([TAINT], [{"operator": "Exists"}], True),
        ([TAINT], [{"operator": "Exists", "effect": "NoExecute"}], False),
        ([{**TAINT, "effect": "NoExecute"}], [{"key": "dedicated", "operator": "Exists", "effect": "NoSchedule"}],
         False),
        ([{**TAINT, "effect": "NoExecute"}], [{"key": "dedicated", "operator": "Exists", "effect": "NoExecute"}],
         True),
        ([{**TAINT, "effect": "PreferNoSchedule"}], [], True),  # only scores
        # Lt/Gt tolerations need an alpha gate that is off by default: they tolerate nothing
        ([{"key": "tier", "value": "3", "effect": "NoSchedule"}], [{"key": "tier", "operator": "Gt", "value": "1"}],
         False),
        ([TAINT, {"key": "b", "value": "", "effect": "NoSchedule"}], [{"key": "dedicated", "operator": "Exists"}],
         False),
    ],
)
def test_taint_toleration(taints: list, tolerations: list, ok: bool) -> None:
    got = taint_toleration(pod(tolerations=tolerations), node_info(node(taints=taints)))
    assert got == (() if ok else (TAINTED,))


def req_affinity(*terms: dict) -> dict:
    return {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": list(terms)}}}


def expr(key: str, op: str, *values: str) -> dict:
    return {"key": key, "operator": op, "values": list(values)} if values else {"key": key, "operator": op}


LABELS = {"zone": "a", "disk": "ssd", "cores": "16", "odd": "x1"}


@pytest.mark.parametrize(
    ("spec", "ok"),
    [
        ({}, True),
        ({"nodeSelector": {}}, True),
        ({"nodeSelector": {"zone": "a", "disk": "ssd"}}, True),
        ({"nodeSelector": {"zone": "b"}}, False),
        ({"nodeSelector": {"gpu": ""}}, False),  # a missing label is not the empty value
        ({"affinity": req_affinity({"matchExpressions": [expr("zone", "In", "a", "b")]})}, True),
        ({"affinity": req_affinity({"matchExpressions": [expr("zone", "NotIn", "a")]})}, False),
        ({"affinity": req_affinity({"matchExpressions": [expr("gpu", "NotIn", "a")]})}, True),
        ({"affinity": req_affinity({"matchExpressions": [expr("disk", "Exists")]})}, True),
        ({"affinity": req_affinity({"matchExpressions": [expr("disk", "DoesNotExist")]})}, False),
        ({"affinity": req_affinity({"matchExpressions": [expr("cores", "Gt", "8")]})}, True),
        ({"affinity": req_affinity({"matchExpressions": [expr("cores", "Gt", "16")]})}, False),
        ({"affinity": req_affinity({"matchExpressions": [expr("cores", "Lt", "17")]})}, True),
        ({"affinity": req_affinity({"matchExpressions": [expr("odd", "Lt", "100")]})}, False),  # not a number
        ({"affinity": req_affinity({"matchExpressions": [expr("cores", "Gt", "8", "9")]})}, False),  # invalid
        # expressions AND within a term
        ({"affinity": req_affinity({"matchExpressions": [expr("zone", "In", "a"), expr("disk", "In", "hdd")]})},
         False),
        # terms OR
        ({"affinity": req_affinity({"matchExpressions": [expr("zone", "In", "b")]},
                                   {"matchExpressions": [expr("disk", "In", "ssd")]})}, True),
        # no term, or only empty terms: nothing matches
        ({"affinity": req_affinity()}, False),
        ({"affinity": req_affinity({})}, False),
        ({"affinity": req_affinity({}, {"matchExpressions": [expr("zone", "In", "a")]})}, True),
        ({"affinity": req_affinity({"matchFields": [expr("metadata.name", "In", "n1")]})}, True),
        ({"affinity": req_affinity({"matchFields": [expr("metadata.name", "NotIn", "n1")]})}, False),
        ({"affinity": req_affinity({"matchFields": [expr("metadata.name", "In", "n2")]})}, False),
        # nodeSelector and affinity must both hold
        ({"nodeSelector": {"zone": "b"}, "affinity": req_affinity({"matchExpressions": [expr("disk", "Exists")]})},
         False),
        # preferred terms never filter
        ({"affinity": {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
            {"weight": 1, "preference": {"matchExpressions": [expr("zone", "In", "b")]}}]}}}, True),
    ],
)
def test_node_affinity(spec: dict, ok: bool) -> None:
    assert node_affinity(pod(**spec), node_info(node("n1", labels=LABELS))) == (() if ok else (AFFINITY,))


def port(n: int, protocol: str | None = None, ip: str | None = None) -> dict:
    out: dict = {"containerPort": n, "hostPort": n}
    if protocol:
        out["protocol"] = protocol
    if ip:
        out["hostIP"] = ip
    return out


@pytest.mark.parametrize(
    ("existing", "incoming", "ok"),
    [
        (port(8080), port(8080), False),
        (port(8080), port(8080, "TCP"), False),  # empty protocol is TCP
        (port(8080), port(8080, "UDP"), True),
        (port(8080), port(8081), True),
        (port(8080), port(8080, ip="10.0.0.1"), False),  # wildcard holder blocks every address
        (port(8080, ip="10.0.0.1"), port(8080, ip="10.0.0.2"), True),
        (port(8080, ip="10.0.0.1"), port(8080, ip="10.0.0.1"), False),
        (port(8080, ip="10.0.0.1"), port(8080), False),  # wildcard wants every address
        (port(8080, ip="10.0.0.1"), port(8080, ip="0.0.0.0"), False),
        (port(8080, "SCTP", "10.0.0.1"), port(8080, "TCP"), True),
    ],
)
def test_node_ports(existing: dict, incoming: dict, ok: bool) -> None:
    info = node_info(node(), [with_ports(existing)])
    assert node_ports(with_ports(incoming), info) == (() if ok else (PORTS,))


def test_node_ports_ignore_container_only_ports_and_plain_init_containers() -> None:
    no_host = {"name": "c", "image": "x", "ports": [{"containerPort": 8080}]}
    info = node_info(node(), [pod(containers=[no_host])])
    assert info.used_ports == frozenset()
    # a sidecar's host port is held; a plain init container's is not
    assert node_ports(with_ports(port(9000)), node_info(node(), [with_ports(init_ports=(port(9000),))])) == (PORTS,)
    plain = with_ports(init_ports=(port(9000),), sidecar=False)
    assert node_ports(with_ports(port(9000)), node_info(node(), [plain])) == ()


def rpod(cpu: str | None = None, memory: str | None = None, storage: str | None = None) -> dict:
    req = {k: v for k, v in (("cpu", cpu), ("memory", memory), ("ephemeral-storage", storage)) if v}
    return pod(containers=[{"name": "c", "image": "x", "resources": {"requests": req}}])


SMALL = {"cpu": "1", "memory": "1Gi", "ephemeral-storage": "10Gi", "pods": "2"}


@pytest.mark.parametrize(
    ("existing", "incoming", "want"),
    [
        ([rpod("500m", "512Mi")], rpod("500m", "512Mi"), ()),  # exactly full fits
        ([rpod("500m", "512Mi")], rpod("501m", "512Mi"), ("Insufficient cpu",)),
        ([rpod("500m", "512Mi")], rpod("600m", "600Mi"), ("Insufficient cpu", "Insufficient memory")),
        ([], rpod(storage="11Gi"), ("Insufficient ephemeral-storage",)),
        ([rpod(), rpod()], rpod("2"), ("Too many pods", "Insufficient cpu")),
        # a pod requesting nothing is only counted
        ([rpod("2", "2Gi")], rpod(), ()),
        ([rpod("2", "2Gi"), rpod()], rpod(), ("Too many pods",)),
        # a resource requested at zero is not checked even on an overcommitted node
        ([rpod("2")], rpod(memory="1Mi"), ()),
    ],
)
def test_node_resources_fit(existing: list, incoming: dict, want: tuple) -> None:
    assert node_resources_fit(incoming, node_info(node(alloc=SMALL), existing)) == want


def test_node_without_pods_allocatable_takes_no_pod() -> None:
    bare = node_info(node(alloc={"cpu": "4"}))
    assert node_resources_fit(rpod("1"), bare) == ("Too many pods",)


def test_fits_reports_the_first_failing_filter_only() -> None:
    info = node_info(node(unschedulable=True, taints=[TAINT], alloc=SMALL))
    p = rpod("2")
    assert fits(p, info) == (UNSCHEDULABLE,)
    assert all_reasons(p, info) == {
        "NodeUnschedulable": (UNSCHEDULABLE,),
        "TaintToleration": (TAINTED,),
        "NodeResourcesFit": ("Insufficient cpu",),
    }
    assert fits(rpod("1"), node_info(node(alloc=SMALL))) == ()


def test_filter_order_follows_the_default_profile() -> None:
    # NodeName runs before NodeUnschedulable, TaintToleration before NodeAffinity before NodePorts
    cordoned = node_info(node("n1", unschedulable=True, taints=[TAINT]))
    assert fits(pod(nodeName="other"), cordoned) == ("node(s) didn't match the requested node name",)
    tainted = node_info(node("n1", taints=[TAINT]), [with_ports(port(80))])
    assert fits(with_ports(port(80)) | {"spec": {**with_ports(port(80))["spec"], "nodeSelector": {"x": "y"}}},
                tainted) == (TAINTED,)
    plain = node_info(node("n1"), [with_ports(port(80))])
    assert fits({"spec": {**with_ports(port(80))["spec"], "nodeSelector": {"x": "y"}}}, plain) == (AFFINITY,)
    assert fits(with_ports(port(80)), plain) == (PORTS,)
