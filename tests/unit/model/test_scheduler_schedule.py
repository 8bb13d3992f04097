"""The scheduling cycle: how many nodes are searched, the top set, and the FitError message."""

from __future__ import annotations

import pytest

from model.scheduler import Decision, node_info, num_feasible_nodes_to_find, schedule


def node(name: str, unschedulable: bool = False, cpu: str = "4", labels: dict | None = None,
         taints: list | None = None) -> dict:
    return {
        "metadata": {"name": name, "labels": labels or {}},
        "spec": {"unschedulable": unschedulable, "taints": taints or []},
        "status": {"allocatable": {"cpu": cpu, "memory": "8Gi", "pods": "110"}},
    }


def pod(cpu: str | None = None, **spec: object) -> dict:
    req = {"cpu": cpu} if cpu else {}
    return {"metadata": {"name": "p", "namespace": "ns"},
            "spec": {"containers": [{"name": "c", "image": "x", "resources": {"requests": req}}], **spec}}


@pytest.mark.parametrize(
    ("nodes", "percentage", "want"),
    [
        (0, 0, 0),
        (50, 0, 50),
        (99, 0, 99),
        (100, 0, 100),  # 50% of 100 is below the 100 floor
        (200, 0, 100),  # 49% -> 98 -> 100
        (1000, 0, 420),  # 50 - 1000/125 = 42%
        (5000, 0, 500),  # 50 - 40 = 10%
        (6000, 0, 300),  # 50 - 48 = 2% -> floor 5%
        (10000, 0, 500),  # 50 - 80 < 5 -> 5%
        (1000, 30, 300),
        (150, 10, 100),
        (1000, 100, 1000),
    ],
)
def test_num_feasible_nodes_to_find(nodes: int, percentage: int, want: int) -> None:
    assert num_feasible_nodes_to_find(nodes, percentage) == want


def test_fit_error_message() -> None:
    infos = [node_info(node("a", cpu="1")), node_info(node("b", unschedulable=True)),
             node_info(node("c", unschedulable=True))]
    d = schedule(pod("2"), infos)
    assert not d.schedulable and d.top == frozenset()
    assert d.reasons == {"a": ("Insufficient cpu",), "b": ("node(s) were unschedulable",),
                         "c": ("node(s) were unschedulable",)}
    assert d.fit_error == "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) were unschedulable."


def test_fit_error_histogram_sorts_as_strings_and_counts_every_reason() -> None:
    taint = {"key": "k", "value": "v", "effect": "NoSchedule"}
    infos = [node_info(node(f"t{i}", taints=[taint])) for i in range(10)]
    infos += [node_info(node("u1", unschedulable=True)), node_info(node("u2", unschedulable=True))]
    small = {"metadata": {"name": "s"}, "status": {"allocatable": {"cpu": "1", "memory": "1Mi", "pods": "1"}}}
    infos.append(node_info(small))
    p = pod("2")
    p["spec"]["containers"][0]["resources"]["requests"]["memory"] = "1Gi"
    # "10 ..." sorts before "2 ..."; the small node contributes two reasons
    assert schedule(p, infos).fit_error == (
        "0/13 nodes are available: 1 Insufficient cpu, 1 Insufficient memory, "
        "10 node(s) had untolerated taint(s), 2 node(s) were unschedulable."
    )


def test_no_nodes() -> None:
    d = schedule(pod(), [])
    assert d.fit_error == "no nodes available to schedule pods" and d.feasible == frozenset()


def test_fit_error_is_none_when_something_fits() -> None:
    d = schedule(pod(), [node_info(node("a"))])
    assert d.fit_error is None


def test_single_feasible_node_is_the_answer() -> None:
    infos = [node_info(node("a", unschedulable=True)), node_info(node("b", cpu="1")), node_info(node("c"))]
    d = schedule(pod("2"), infos)
    assert d.feasible == frozenset({"c"}) and d.top == frozenset({"c"})
    assert set(d.reasons) == {"a", "b"}


def test_equal_nodes_are_all_in_top() -> None:
    infos = [node_info(node(n)) for n in ("a", "b", "c")]
    d = schedule(pod("1"), infos)
    assert d.feasible == d.top == frozenset({"a", "b", "c"})
    assert d.exact and d.checked == ("a", "b", "c")


def test_top_follows_scores() -> None:
    # "busy" holds 2 cpu: LeastAllocated and BalancedAllocation both prefer the empty nodes
    busy = node_info(node("busy"), [pod("2")])
    infos = [busy, node_info(node("a")), node_info(node("b"))]
    d = schedule(pod("1"), infos)
    assert d.top == frozenset({"a", "b"})
    # empty node, 1 cpu / 8Gi: TaintToleration 300 + NodeAffinity 0 + LeastAllocated
    # ((3000*100/4000=75) + (8192-200)*100/8192=97)/2 = 86, Balanced 50 + (50 + 87 - 100)/2 = 68
    # (with the pod: 0.25 and 0 -> std 0.125 -> 87), ImageLocality 0
    assert d.plugin_scores["NodeResourcesFit"]["a"] == 86
    assert d.plugin_scores["NodeResourcesBalancedAllocation"]["a"] == 68
    assert d.scores["a"] == 300 + 0 + 86 + 68 + 0
    assert d.scores["busy"] < d.scores["a"]


def test_prefer_no_schedule_taint_moves_top() -> None:
    prefer = {"key": "k", "value": "v", "effect": "PreferNoSchedule"}
    infos = [node_info(node("a", taints=[prefer])), node_info(node("b"))]
    d = schedule(pod("1"), infos)
    assert d.plugin_scores["TaintToleration"] == {"a": 0, "b": 300}
    assert d.top == frozenset({"b"})


def test_nominated_node_is_taken_without_scoring() -> None:
    infos = [node_info(node("a")), node_info(node("b"), [pod("3")])]
    p = pod("1")
    p["status"] = {"nominatedNodeName": "b"}
    d = schedule(p, infos)
    assert d.nominated and d.feasible == d.top == frozenset({"b"})
    # a nominated node that no longer fits is just one more node
    p["spec"]["containers"][0]["resources"]["requests"]["cpu"] = "2"
    d = schedule(p, infos)
    assert not d.nominated and d.feasible == frozenset({"a"}) and d.reasons == {"b": ("Insufficient cpu",)}


def by_name(*names: str) -> dict:
    terms = [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": [n]}]} for n in names]
    return {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": terms}}}


def test_prefilter_narrows_to_named_nodes() -> None:
    infos = [node_info(node("a", unschedulable=True)), node_info(node("b")), node_info(node("c"))]
    d = schedule(pod(affinity=by_name("a")), infos)
    assert d.checked == ("a",)
    assert d.fit_error == ("0/3 nodes are available: 1 node(s) were unschedulable, "
                           "2 node(s) didn't satisfy plugin(s) [NodeAffinity].")
    d = schedule(pod(affinity=by_name("a", "c")), infos)
    assert d.feasible == d.top == frozenset({"c"})


def test_prefilter_conflict() -> None:
    conflict = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["a"]},
                         {"key": "metadata.name", "operator": "In", "values": ["b"]}]}]}}}
    infos = [node_info(node(n)) for n in ("a", "b", "c")]
    d = schedule(pod(affinity=conflict), infos)
    assert d.fit_error == "0/3 nodes are available: pod affinity terms conflict."
    assert d.checked == ()


def many(count: int, cordoned: set[int] = frozenset()) -> list:
    return [node_info(node(f"n{i:03d}", unschedulable=i in cordoned)) for i in range(count)]


def test_large_cluster_with_start_index_stops_after_quota() -> None:
    # 200 nodes -> quota 100; start at 150, n150..n154 cordoned
    infos = many(200, cordoned={150, 151, 152, 153, 154})
    d = schedule(pod("1"), infos, start_index=150)
    assert d.exact and len(d.feasible) == 100
    # checked: n150..n199 (45 feasible), n000..n054 (55 feasible), then n055 found past the quota
    assert d.checked[0] == "n150" and d.checked[-1] == "n055" and len(d.checked) == 106
    assert "n055" not in d.feasible and "n054" in d.feasible
    assert set(d.reasons) == {f"n{i}" for i in range(150, 155)}
    # the next cycle starts after the 100 feasible and 5 infeasible nodes: (150 + 105) % 200
    assert d.next_start_index == 55


def test_large_cluster_without_start_index_is_not_exact() -> None:
    d = schedule(pod("1"), many(200, cordoned={0}))
    assert not d.exact and len(d.feasible) == 199 and len(d.top) == 199
    assert d.next_start_index is None


def test_decision_is_frozen() -> None:
    d = schedule(pod(), [node_info(node("a"))])
    assert isinstance(d, Decision)
    with pytest.raises(AttributeError):
        d.top = frozenset()  # type: ignore[misc]
