"""Score plugins with hand-computed numbers from upstream's formulas."""

from __future__ import annotations

import pytest

from model.scheduler import default_normalize, node_info, plugin_scores
from model.scheduler.quantity import go_div
from model.scheduler.scores import (
    balanced_allocation,
    balanced_resource_score,
    image_locality,
    image_states,
    least_allocated,
    normalized_image_name,
    taint_toleration_raw,
)

MI = 1024 * 1024


def node(name: str, taints: list | None = None, labels: dict | None = None, images: list | None = None,
         alloc: dict | None = None) -> dict:
    return {
        "metadata": {"name": name, "labels": labels or {}},
        "spec": {"taints": taints or []},
        "status": {"allocatable": alloc or {"cpu": "4", "memory": "8Gi", "pods": "110"}, "images": images or []},
    }


def pod(cpu: str | None = None, memory: str | None = None, image: str = "x", **spec: object) -> dict:
    req = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v}
    return {"metadata": {"name": "p", "namespace": "ns"},
            "spec": {"containers": [{"name": "c", "image": image, "resources": {"requests": req}}], **spec}}


@pytest.mark.parametrize(
    ("a", "b", "want"),
    [(7, 2, 3), (-7, 2, -3), (7, -2, -3), (-7, -2, 3), (-1, 2, 0), (0, 5, 0)],
)
def test_go_div_truncates_toward_zero(a: int, b: int, want: int) -> None:
    assert go_div(a, b) == want


@pytest.mark.parametrize(
    ("scores", "reverse", "want"),
    [
        ({"a": 0, "b": 1, "c": 2}, False, {"a": 0, "b": 50, "c": 100}),
        ({"a": 0, "b": 1, "c": 2}, True, {"a": 100, "b": 50, "c": 0}),
        ({"a": 1, "b": 3}, False, {"a": 33, "b": 100}),  # 100*1/3 truncates
        ({"a": 1, "b": 3}, True, {"a": 67, "b": 0}),
        ({"a": 0, "b": 0}, False, {"a": 0, "b": 0}),
        ({"a": 0, "b": 0}, True, {"a": 100, "b": 100}),
    ],
)
def test_default_normalize(scores: dict, reverse: bool, want: dict) -> None:
    assert default_normalize(scores, reverse) == want


PREFER = {"key": "k", "value": "v", "effect": "PreferNoSchedule"}


def test_taint_toleration_counts_untolerated_prefer_no_schedule() -> None:
    info = node_info(node("n", taints=[PREFER, {**PREFER, "key": "k2"}, {**PREFER, "effect": "NoSchedule"}]))
    assert taint_toleration_raw(pod(), info) == 2
    assert taint_toleration_raw(pod(tolerations=[{"key": "k", "operator": "Exists"}]), info) == 1
    # a toleration scoped to NoSchedule does not count for scoring
    assert taint_toleration_raw(pod(tolerations=[{"key": "k", "operator": "Exists", "effect": "NoSchedule"}]),
                                info) == 2
    assert taint_toleration_raw(pod(tolerations=[{"operator": "Exists", "effect": "PreferNoSchedule"}]), info) == 0


def test_taint_toleration_and_node_affinity_weighted() -> None:
    prefs = [
        {"weight": 5, "preference": {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}},
        {"weight": 3, "preference": {"matchExpressions": [{"key": "disk", "operator": "Exists"}]}},
        {"weight": 0, "preference": {"matchExpressions": [{"key": "disk", "operator": "Exists"}]}},
    ]
    p = pod(affinity={"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": prefs}})
    infos = [
        node_info(node("x", labels={"zone": "a", "disk": "ssd"})),
        node_info(node("y", labels={"disk": "hdd"}, taints=[PREFER])),
        node_info(node("z", taints=[PREFER, {**PREFER, "key": "k2"}])),
    ]
    got = plugin_scores(p, infos, infos)
    # untolerated counts 0, 1, 2 -> reversed 100, 50, 0 -> x3
    assert got["TaintToleration"] == {"x": 300, "y": 150, "z": 0}
    # raw 8, 3, 0 -> 100, 37 (300/8), 0 -> x2
    assert got["NodeAffinity"] == {"x": 200, "y": 74, "z": 0}


def test_least_allocated() -> None:
    # node 4 cpu / 8Gi holding a pod with no requests (counts 100m / 200Mi);
    # incoming 1 cpu / 1Gi: cpu (4000-1100)*100/4000 = 72, memory (8192-1224)*100/8192 = 85; (72+85)/2 = 78
    info = node_info(node("n"), [pod()])
    assert least_allocated(pod("1", "1Gi"), info) == 78
    # the incoming pod without requests counts as 100m / 200Mi as well: 1 - 200/4000 = 95, 1 - 400/8192 -> 95
    assert least_allocated(pod(), info) == 95
    # over capacity scores 0 for that resource: cpu 0, memory (8192-1224)*100/8192 = 85 -> 42
    assert least_allocated(pod("5", "1Gi"), info) == 42
    # a resource with no allocatable drops out of the mean: only cpu counts
    assert least_allocated(pod("1", "1Gi"), node_info(node("m", alloc={"cpu": "4", "pods": "1"}))) == 75


def test_balanced_resource_score() -> None:
    assert balanced_resource_score([1000, 1 << 30], [4000, 8 << 30]) == 93  # |0.25-0.125|/2 = 0.0625
    assert balanced_resource_score([5000, 0], [4000, 8 << 30]) == 50  # fraction capped at 1
    assert balanced_resource_score([0, 0], [0, 0]) == 100


def test_balanced_allocation() -> None:
    # node 4 cpu / 8Gi holds 1 cpu / 1Gi: without the pod 93 (std 0.0625)
    info = node_info(node("n"), [pod("1", "1Gi")])
    # with 1 cpu / 3Gi more: 0.5 and 0.5, std 0 -> 100; 50 + (50 + 100 - 93) / 2 = 50 + 28 = 78
    assert balanced_allocation(pod("1", "3Gi"), info) == 78
    # with 1 cpu / 4Gi more: 0.5 and 0.625 -> 93; 50 + 50/2 = 75
    assert balanced_allocation(pod("1", "4Gi"), info) == 75
    # on an empty node 4 cpu and no memory: 100 -> 50; 50 + (50 + 50 - 100)/2 = 50
    assert balanced_allocation(pod("4"), node_info(node("e"))) == 50
    # plain requests, not non-zero ones: a pod with no requests is not scored at all
    assert balanced_allocation(pod(), info) == 0


def test_normalized_image_name() -> None:
    assert normalized_image_name("nginx") == "nginx:latest"
    assert normalized_image_name("nginx:1.25") == "nginx:1.25"
    assert normalized_image_name("registry:5000/app") == "registry:5000/app:latest"
    assert normalized_image_name("registry:5000/app:v1") == "registry:5000/app:v1"


def test_image_locality() -> None:
    nginx = {"names": ["nginx:1.25"], "sizeBytes": 300 * MI}
    redis = {"names": ["redis:latest", "docker.io/library/redis:latest"], "sizeBytes": 500 * MI}
    small = {"names": ["busybox:latest"], "sizeBytes": 30 * MI}
    infos = [
        node_info(node("n1", images=[nginx, redis, small])),
        node_info(node("n2", images=[nginx])),
        node_info(node("n3")),
    ]
    states = image_states(infos)
    assert states["nginx:1.25"] == (300 * MI, 2)
    one = pod(image="nginx:1.25")
    # 300Mi on 2 of 3 nodes -> 200Mi; 100 * (200 - 23) / (1000 - 23) = 18
    assert image_locality(one, infos[1], states, 3) == 18
    assert image_locality(one, infos[2], states, 3) == 0
    # two images: 200Mi + 500Mi/3 = 209715200 + 174762666 bytes; 100 * (that - 23Mi) / (2000Mi - 23Mi) = 17
    two = pod(image="nginx:1.25")
    two["spec"]["initContainers"] = [{"name": "i", "image": "redis"}]
    assert image_locality(two, infos[0], states, 3) == 17
    # 30Mi on 1 of 3 nodes -> 10Mi, below the 23Mi floor -> 0
    assert image_locality(pod(image="busybox"), infos[0], states, 3) == 0
    # one node holding a 2000Mi image alone: clamped at 1000Mi per container -> 100
    big = [node_info(node("b", images=[{"names": ["big:1"], "sizeBytes": 2000 * MI}]))]
    assert image_locality(pod(image="big:1"), big[0], image_states(big), 1) == 100
