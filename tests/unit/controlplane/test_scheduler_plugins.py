"""Scheduler filters, scores, host selection and the FitError message, against an in-process API server."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.inprocess import CounterUIDs, FakeClock
from controlplane.apiserver import APIServer, MemoryStorage
from controlplane.scheduler import Scheduler
from controlplane.scheduler.objects import parse_pod
from controlplane.scheduler.plugins import fit_error_message, num_feasible_nodes_to_find

JSON = dict[str, Any]


def node(name: str, *, cpu: str = "4", memory: str = "8Gi", pods: str = "110", labels: JSON | None = None,
         taints: list[JSON] | None = None, unschedulable: bool = False, images: list[JSON] | None = None) -> JSON:
    spec: JSON = {}
    if taints:
        spec["taints"] = taints
    if unschedulable:
        spec["unschedulable"] = True
    status: JSON = {"allocatable": {"cpu": cpu, "memory": memory, "pods": pods}}
    if images:
        status["images"] = images
    return {"metadata": {"name": name, "labels": labels or {}}, "spec": spec, "status": status}


def pod(name: str, *, cpu: str | None = None, memory: str | None = None, image: str = "app", **spec: Any) -> JSON:
    requests = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v is not None}
    container: JSON = {"name": "c", "image": image}
    if requests:
        container["resources"] = {"requests": requests}
    if "ports" in spec:
        container["ports"] = spec.pop("ports")
    return {"metadata": {"name": name}, "spec": {"containers": [container], **spec}}


class Cluster:
    """An API server with a namespace and one scheduler replica (leader election off)."""

    def __init__(self, *faults: str, seed: int = 0) -> None:
        self.clock = FakeClock("2026-01-01T00:00:00Z")
        self.api = APIServer(MemoryStorage(), clock=self.clock, uid_factory=CounterUIDs(1))
        assert self.api.create("namespaces", None, {"metadata": {"name": "ns"}}).code == 201
        self.sched = Scheduler(self.api, identity="s", clock=self.clock, faults=faults, seed=seed,
                               leader_elect=False)

    def nodes(self, *bodies: JSON) -> None:
        for b in bodies:
            assert self.api.create("nodes", None, b).code == 201

    def pod(self, body: JSON) -> JSON:
        r = self.api.create("pods", "ns", body)
        assert r.code == 201, r.body
        return r.body

    def schedule(self, body: JSON) -> Any:
        """Start if needed, create the pod, run one cycle and bind it."""
        if not self.sched.up:
            self.sched.start()
        self.pod(body)
        c = self.sched.schedule_one()
        assert c is not None and c.name == body["metadata"]["name"]
        if c.node is not None:
            assert self.sched.bind_one().code == 201
        return c


def only_node(c: Cluster, body: JSON) -> str | None:
    return c.schedule(body).node


# ---- filters ----


def test_node_unschedulable_filters_unless_tolerated() -> None:
    c = Cluster()
    c.nodes(node("a", unschedulable=True), node("b"))
    assert only_node(c, pod("p1")) == "b"
    r = c.schedule(pod("p2", nodeSelector={"kubernetes.io/hostname": "x"}))
    assert r.node is None
    tol = [{"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"}]
    c2 = Cluster()
    c2.nodes(node("a", unschedulable=True))
    assert only_node(c2, pod("p", tolerations=tol)) == "a"


def test_taints_no_schedule_and_no_execute_filter_prefer_only_scores() -> None:
    c = Cluster()
    c.nodes(node("a", taints=[{"key": "k", "value": "v", "effect": "NoSchedule"}]),
            node("b", taints=[{"key": "k", "value": "v", "effect": "NoExecute"}]),
            node("c", taints=[{"key": "k", "value": "v", "effect": "PreferNoSchedule"}]))
    assert only_node(c, pod("p1")) == "c"
    c2 = Cluster()
    c2.nodes(node("a", taints=[{"key": "k", "value": "v", "effect": "NoSchedule"}]))
    r = c2.schedule(pod("p"))
    assert r.message == "0/1 nodes are available: 1 node(s) had untolerated taint(s)."
    ok = [{"key": "k", "operator": "Equal", "value": "v", "effect": "NoSchedule"}]
    assert only_node(c2, pod("q", tolerations=ok)) == "a"
    wrong_value = [{"key": "k", "operator": "Equal", "value": "w"}]
    assert c2.schedule(pod("r", tolerations=wrong_value)).node is None
    exists_all = [{"operator": "Exists"}]
    assert only_node(c2, pod("s", tolerations=exists_all)) == "a"


def test_prefer_no_schedule_taint_steers_by_score() -> None:
    c = Cluster()
    c.nodes(node("a", taints=[{"key": "k", "effect": "PreferNoSchedule"}]), node("b"))
    for i in range(4):
        assert only_node(c, pod(f"p{i}")) == "b"


def test_node_selector_and_required_affinity_operators() -> None:
    c = Cluster()
    c.nodes(node("a", labels={"zone": "x", "size": "10"}), node("b", labels={"zone": "y", "size": "3"}),
            node("c", labels={"size": "abc"}))

    def req(*exprs: JSON, fields: list[JSON] | None = None) -> JSON:
        term: JSON = {"matchExpressions": list(exprs)}
        if fields is not None:
            term = {"matchFields": fields} if not exprs else {**term, "matchFields": fields}
        return {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [term]}}}

    assert only_node(c, pod("p1", nodeSelector={"zone": "y"})) == "b"
    assert only_node(c, pod("p2", affinity=req({"key": "zone", "operator": "In", "values": ["x"]}))) == "a"
    assert only_node(c, pod("p3", affinity=req({"key": "zone", "operator": "NotIn", "values": ["x", "y"]}))) == "c"
    assert only_node(c, pod("p4", affinity=req({"key": "zone", "operator": "DoesNotExist"}))) == "c"
    assert only_node(c, pod("p5", affinity=req({"key": "size", "operator": "Gt", "values": ["5"]}))) == "a"
    assert only_node(c, pod("p6", affinity=req({"key": "size", "operator": "Lt", "values": ["5"]}))) == "b"
    assert only_node(c, pod("p7", affinity=req(fields=[{"key": "metadata.name", "operator": "In",
                                                         "values": ["c"]}]))) == "c"
    exists = req({"key": "zone", "operator": "Exists"})
    assert c.schedule(pod("p8", affinity=exists)).node in ("a", "b")
    r = c.schedule(pod("p9", nodeSelector={"zone": "nowhere"}))
    assert r.message == "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector."


def test_match_fields_prefilter_narrows_the_nodes() -> None:
    c = Cluster()
    c.nodes(node("a"), node("b", unschedulable=True), node("c"))
    aff = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["b"]}]}]}}}
    r = c.schedule(pod("p", affinity=aff))
    assert r.node is None and r.evaluated == 1
    assert r.message == ("0/3 nodes are available: 1 node(s) were unschedulable, "
                         "2 node(s) didn't satisfy plugin(s) [NodeAffinity].")


def test_host_ports_conflict() -> None:
    c = Cluster()
    c.nodes(node("a"))
    assert only_node(c, pod("p1", ports=[{"containerPort": 80, "hostPort": 8080}])) == "a"
    r = c.schedule(pod("p2", ports=[{"containerPort": 80, "hostPort": 8080, "hostIP": "10.0.0.1"}]))
    assert r.message == "0/1 nodes are available: 1 node(s) didn't have free ports for the requested pod ports."
    assert only_node(c, pod("p3", ports=[{"containerPort": 80, "hostPort": 8080, "protocol": "UDP"}])) == "a"
    assert only_node(c, pod("p4", ports=[{"containerPort": 80, "hostPort": 8081, "hostIP": "10.0.0.1"}])) == "a"
    assert only_node(c, pod("p5", ports=[{"containerPort": 80, "hostPort": 8081, "hostIP": "10.0.0.2"}])) == "a"
    assert c.schedule(pod("p6", ports=[{"containerPort": 80, "hostPort": 8081}])).node is None


def test_resources_fit_and_multiple_reasons() -> None:
    c = Cluster()
    c.nodes(node("a", cpu="1", memory="1Gi", pods="2"), node("b", cpu="2", memory="512Mi", pods="2"))
    r = c.schedule(pod("big", cpu="1500m", memory="768Mi"))
    assert r.node is None
    assert r.message == "0/2 nodes are available: 1 Insufficient cpu, 1 Insufficient memory."
    assert only_node(c, pod("exact", cpu="1", memory="1Gi")) == "a"
    c2 = Cluster()
    c2.nodes(node("a", pods="1"))
    assert only_node(c2, pod("p1")) == "a"
    assert c2.schedule(pod("p2")).message == "0/1 nodes are available: 1 Too many pods."


def test_pod_requests_with_init_sidecars_and_overhead() -> None:
    p = {"metadata": {"name": "p"}, "spec": {
        "containers": [{"name": "a", "resources": {"requests": {"cpu": "100m", "memory": "100Mi"}}},
                       {"name": "b", "resources": {"requests": {"cpu": "200m"}}}],
        "initContainers": [
            {"name": "i1", "resources": {"requests": {"cpu": "1", "memory": "50Mi"}}},
            {"name": "side", "restartPolicy": "Always", "resources": {"requests": {"cpu": "50m"}}},
            {"name": "i2", "resources": {"requests": {"cpu": "400m", "memory": "1Gi"}}}],
        "overhead": {"cpu": "10m", "memory": "1Mi"}}}
    info = parse_pod(p)
    # app 300m + sidecar 50m = 350m < init max(1000m, 400m + 50m) = 1000m; then + 10m overhead
    assert info.milli_cpu == 1010
    assert info.memory == 1024 * 1024 * 1024 + 1024 * 1024  # i2 (1Gi) beats 100Mi; + 1Mi overhead
    # non-zero: container b gets the 200Mi default memory, the sidecar 200Mi too
    assert info.non0_cpu == 1010


def test_fit_error_histogram_sorts_as_strings() -> None:
    msg = fit_error_message(12, [("node(s) were unschedulable",)] * 10 + [("Insufficient cpu",)] * 2, None)
    assert msg == "0/12 nodes are available: 10 node(s) were unschedulable, 2 Insufficient cpu."


def test_no_nodes_is_an_error_with_backoff() -> None:
    c = Cluster()
    r = c.schedule(pod("p"))
    assert (r.node, r.message) == (None, "no nodes available to schedule pods")
    assert c.sched.queue.where(r.uid) == "backoff"


# ---- scores and selection ----


def test_least_allocated_prefers_the_emptier_node() -> None:
    c = Cluster()
    c.nodes(node("a", cpu="4", memory="8Gi"), node("b", cpu="8", memory="16Gi"))
    r = c.schedule(pod("p", cpu="1", memory="1Gi"))
    assert r.node == "b"
    assert r.scores["b"] > r.scores["a"]


def test_scores_use_go_integer_arithmetic() -> None:
    c = Cluster()
    c.nodes(node("a", cpu="3", memory="3Gi"), node("b", cpu="3", memory="3Gi"))
    r = c.schedule(pod("p", cpu="1", memory="1Gi"))
    # taint 3*100; least: cpu (3000-1000)*100/3000 = 66, mem 66 -> 66; balanced 50+(50+100-100)/2 = 75; image 0
    assert r.scores == {"a": 300 + 66 + 75, "b": 300 + 66 + 75}


def test_kept_resource_scores_follow_the_node() -> None:
    """A node keeps its resource scores for the last pod shape; a pod counted on it, or a new node spec, makes
    them be computed again."""
    c = Cluster()
    c.nodes(node("a", cpu="3", memory="3Gi"), node("b", cpu="3", memory="3Gi"))
    first = c.schedule(pod("p1", cpu="1", memory="1Gi"))
    assert first.scores == {"a": 441, "b": 441}
    taken, free = first.node, ({"a", "b"} - {first.node}).pop()
    # same shape: the free node's kept score holds; the taken one now counts p1 (least 33, balanced 75)
    second = c.schedule(pod("p2", cpu="1", memory="1Gi"))
    assert second.scores == {free: 441, taken: 300 + 33 + 75} and second.node == free
    # the node that took p2 grows to 6 cpu: its spec is new, so its score is computed again; least: cpu
    # (6000-2000)*100/6000 = 66, memory 33 -> 49; balanced: 50 + (50 + 83 - 91)/2 = 71
    grown = c.api.get("nodes", None, free).body
    grown["status"]["allocatable"]["cpu"] = "6"
    assert c.api.update("nodes", None, free, grown, subresource="status").code == 200
    third = c.schedule(pod("p3", cpu="1", memory="1Gi"))
    assert third.scores == {free: 300 + 49 + 71, taken: 300 + 33 + 75}


def test_preferred_affinity_and_image_locality_score() -> None:
    c = Cluster()
    c.nodes(node("a", labels={"disk": "ssd"}), node("b"))
    pref = {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 10, "preference": {"matchExpressions": [{"key": "disk", "operator": "In", "values": ["ssd"]}]}}]}}
    r = c.schedule(pod("p", affinity=pref))
    assert r.node == "a" and r.scores["a"] - r.scores["b"] == 2 * 100
    c2 = Cluster()
    big = [{"names": ["img:1"], "sizeBytes": 500 * 1024 * 1024}]
    c2.nodes(node("a"), node("b", images=big))
    r = c2.schedule(pod("p", image="img:1"))
    assert r.node == "b"
    # spread 1/2: 250MB, (250MB-23MB)*100/(1000MB-23MB) = 23
    assert r.scores["b"] - r.scores["a"] == 23


def test_ties_are_broken_by_the_seeded_rng() -> None:
    picks = {}
    for seed in range(8):
        c = Cluster(seed=seed)
        c.nodes(*(node(f"n{i}") for i in range(5)))
        picks[seed] = only_node(c, pod("p"))
    assert len(set(picks.values())) > 1
    for seed in (0, 3):
        c = Cluster(seed=seed)
        c.nodes(*(node(f"n{i}") for i in range(5)))
        assert only_node(c, pod("p")) == picks[seed]


def test_num_feasible_nodes_to_find() -> None:
    assert num_feasible_nodes_to_find(99, 0) == 99
    assert num_feasible_nodes_to_find(100, 0) == 100
    assert num_feasible_nodes_to_find(1000, 0) == 420
    assert num_feasible_nodes_to_find(5000, 0) == 500
    assert num_feasible_nodes_to_find(6000, 0) == 300
    assert num_feasible_nodes_to_find(100000, 0) == 5000
    assert num_feasible_nodes_to_find(1000, 5) == 100
    assert num_feasible_nodes_to_find(1000, 30) == 300


def test_rotating_start_index_over_many_nodes() -> None:
    c = Cluster()
    c.nodes(*(node(f"n{i:03d}") for i in range(200)))
    c.sched.start()
    firsts = []
    for i in range(3):
        c.pod(pod(f"p{i}"))
        r = c.sched.schedule_one()
        assert r is not None and r.evaluated == 100 and r.feasible == 100
        firsts.append(sorted(r.scores)[0])
    assert firsts == ["n000", "n100", "n000"]


@pytest.mark.parametrize("percentage,evaluated", [(0, 144), (10, 100), (60, 180)])
def test_percentage_of_nodes_to_score(percentage: int, evaluated: int) -> None:
    c = Cluster()
    c.sched = Scheduler(c.api, identity="s", clock=c.clock, leader_elect=False,
                        percentage_of_nodes_to_score=percentage)
    c.nodes(*(node(f"n{i:03d}") for i in range(300)))
    assert c.schedule(pod("p")).evaluated == evaluated
