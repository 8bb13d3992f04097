"""The pure scheduling checks (conformance/checks/scheduling.py): a passing and a failing case each."""

from __future__ import annotations

from conformance.checks import scheduling as checks
from model.scheduler import Decision, node_info, schedule


def node(name: str, cpu: str = "2", pods: str = "110", labels: dict | None = None, taints: list | None = None) -> dict:
    return {"metadata": {"name": name, "labels": labels or {}},
            "spec": {"taints": taints or []},
            "status": {"allocatable": {"cpu": cpu, "memory": "4Gi", "pods": pods}}}


def pod(name: str = "p", cpu: str | None = "1", uid: str = "u-p", node_name: str | None = None,
        host_port: int | None = None, **spec: object) -> dict:
    container: dict = {"name": "c", "image": "busybox:1.36", "resources": {"requests": {"cpu": cpu} if cpu else {}}}
    if host_port:
        container["ports"] = [{"containerPort": host_port, "hostPort": host_port, "protocol": "TCP"}]
    body: dict = {"metadata": {"name": name, "namespace": "ns", "uid": uid},
                  "spec": {"containers": [container], **spec}}
    if node_name:
        body["spec"]["nodeName"] = node_name
    return body


def test_every_check_names_its_invariant() -> None:
    assert checks.fits.invariant == "scheduler.fits"
    assert checks.bound_as_chosen.invariant == "scheduler.fits"
    assert checks.no_overcommit.invariant == "scheduler.no-overcommit"
    assert checks.best_score.invariant == "scheduler.best-score"
    assert checks.fit_error.invariant == "scheduler.fit-error"
    assert checks.exactly_once_after_settle.invariant == "binding.exactly-once"


def test_fits() -> None:
    infos = [node_info(node("a")), node_info(node("b", taints=[{"key": "k", "effect": "NoSchedule"}]))]
    assert checks.fits(pod(), "a", infos) == []
    [problem] = checks.fits(pod(), "b", infos)
    assert "ns/p went to b, which does not fit it: node(s) had untolerated taint(s)" in problem
    [problem] = checks.fits(pod(), "gone", infos)
    assert "'gone', which does not exist" in problem


def test_bound_as_chosen() -> None:
    assert checks.bound_as_chosen((0, "u1", "a"), (0, "u1", "a")) == []
    assert checks.bound_as_chosen((0, "u2", "a"), (0, "u1", "a"))  # a recreated pod of the same name
    assert checks.bound_as_chosen((1, "u1", "a"), (0, "u1", "a"))  # another replica's choice
    assert checks.bound_as_chosen((0, "u1", "a"), None)


def test_no_overcommit() -> None:
    n = node("a", cpu="2", pods="2")
    assert checks.no_overcommit(pod(cpu="1"), n, [pod("q", uid="u-q", node_name="a")]) == []
    [problem] = checks.no_overcommit(pod(cpu="2"), n, [pod("q", uid="u-q", node_name="a")])
    assert "requests of cpu past allocatable" in problem and "['q']" in problem
    # the pod itself among the others (the bind is already in the state) counts once
    assert checks.no_overcommit(pod(cpu="1"), n, [pod(cpu="1", node_name="a"), pod("q", uid="u-q")]) == []
    # the pod count is allocatable too
    full = [pod("q", uid="u-q", cpu=None), pod("r", uid="u-r", cpu=None)]
    assert "requests of pods past allocatable" in checks.no_overcommit(pod(cpu=None), n, full)[0]
    # a host port another pod there holds
    assert checks.no_overcommit(pod(host_port=80), n, [pod("q", uid="u-q", cpu=None, host_port=80)])
    # a node already past allocatable without the pod is its owner's doing; the pod adding cpu is not news
    shrunk = node("a", cpu="1")
    assert checks.no_overcommit(pod(cpu="1"), shrunk, [pod("q", uid="u-q", cpu="2")]) == []


def test_best_score() -> None:
    infos = [node_info(node("a")), node_info(node("b")), node_info(node("busy"), [pod("q", uid="u-q", cpu="1")])]
    decision = schedule(pod(), infos)
    assert decision.top == frozenset({"a", "b"})
    assert checks.best_score(pod(), "a", decision) == []
    [problem] = checks.best_score(pod(), "busy", decision)
    assert "ns/p went to busy" in problem and "['a', 'b']" in problem and "NodeResourcesFit" in problem
    [problem] = checks.best_score(pod(), "busy", decision, ["InterPodAffinity: the pod has preferred terms"])
    assert problem.endswith("may have scored it: InterPodAffinity: the pod has preferred terms")
    # a partial search (100 nodes or more) allows any feasible node
    partial = Decision(frozenset({"a", "busy"}), {"a": 10, "busy": 5}, frozenset({"a"}), {}, 200, exact=False)
    assert checks.best_score(pod(), "busy", partial) == []


def test_fit_error() -> None:
    infos = [node_info(node("a", cpu="1")), node_info(node("b", cpu="1"))]
    decision = schedule(pod(cpu="2"), infos)
    text = "0/2 nodes are available: 2 Insufficient cpu."
    assert decision.fit_error == text
    assert checks.fit_error(pod(cpu="2"), decision, text) == []
    suffixed = text + " preemption: 0/2 nodes are available: 2 No preemption victims found for incoming pod."
    assert checks.fit_error(pod(cpu="2"), decision, suffixed, prefix=True) == []
    [problem] = checks.fit_error(pod(cpu="2"), decision, suffixed)
    assert "must be" in problem
    assert "must start with" in checks.fit_error(pod(cpu="2"), decision, "0/2 nodes", prefix=True)[0]
    # reported unschedulable although it fits somewhere
    [problem] = checks.fit_error(pod(cpu="1"), schedule(pod(cpu="1"), infos), text)
    assert "but it fits on ['a', 'b']" in problem


def test_exactly_once_after_settle() -> None:
    infos = [node_info(node("a", cpu="1"))]
    assert checks.exactly_once_after_settle([pod(cpu="2")], infos) == []
    [problem] = checks.exactly_once_after_settle([pod(cpu="1")], infos)
    assert "ns/p is still pending though it fits on ['a']" in problem
    assert checks.exactly_once_after_settle([], infos, "the replicas did not settle") == [
        "the replicas did not settle"]
