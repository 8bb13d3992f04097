"""Checks of scheduling decisions against the scheduler model (model/scheduler), one invariant id each.

The caller says what the scheduler must have seen: ``infos`` are the model's
NodeInfos (nodes with the pods that count on them) for the state a decision was
taken in, and a ``Decision`` is :func:`model.scheduler.schedule` on that state.
Every problem names the pod (``namespace/name``) and the node.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from conformance.checks import check
from model import scheduler as sched
from model.scheduler.filters import node_ports

JSON = dict[str, Any]


def _ref(pod: JSON) -> str:
    meta = pod.get("metadata") or {}
    return f"{meta.get('namespace') or ''}/{meta.get('name') or ''}".lstrip("/")


def _uid(pod: JSON) -> str | None:
    return (pod.get("metadata") or {}).get("uid")


@check("scheduler.fits")
def fits(pod: JSON, node: str, infos: Iterable[sched.NodeInfo]) -> list[str]:
    """The node chosen for ``pod`` exists and passes every modelled filter for it, in the state ``infos``."""
    by_name = {i.name: i for i in infos}
    if node not in by_name:
        return [f"{_ref(pod)} went to node {node!r}, which does not exist (nodes: {sorted(by_name)})"]
    reasons = sched.fits(pod, by_name[node])
    if reasons:
        return [f"{_ref(pod)} went to {node}, which does not fit it: {', '.join(reasons)}"]
    return []


@check("scheduler.fits")
def bound_as_chosen(bound: tuple[int, str | None, str | None], chosen: tuple[int, str, str] | None) -> list[str]:
    """A successful bind by replica r of pod incarnation uid to node is what a scheduling cycle of r chose.

    ``bound`` and ``chosen`` are (replica, pod uid, node); ``chosen`` is None when no cycle chose a node for the
    pod. A bind that no cycle chose was checked by no filter (e.g. one that lands on a recreated pod of the same
    name because it carried no uid precondition).
    """
    if chosen is not None and tuple(chosen) == tuple(bound):
        return []
    replica, uid, node = bound
    return [f"replica {replica} bound pod uid {uid} to {node!r}, but no scheduling cycle of that replica chose that "
            f"node for that pod (last choice: {chosen})"]


@check("scheduler.no-overcommit")
def no_overcommit(pod: JSON, node: JSON, others: Sequence[JSON]) -> list[str]:
    """Putting ``pod`` on ``node`` next to ``others`` keeps the node within its allocatable and host ports.

    ``others`` are the pods the scheduler must count on that node: the bound ones and, for a cycle, those it
    assumed there and has not bound yet (``pod`` itself, by uid, is left out). A node already past allocatable
    without the pod (shrunk or replaced under pods already bound) is its owner's doing, not the scheduler's.
    """
    uid = _uid(pod)
    rest = [p for p in others if uid is None or _uid(p) != uid]
    before = sched.node_info(node, rest)
    after = sched.node_info(node, [*rest, pod])
    was = set(sched.overcommitted(before))
    over = [r for r in sched.overcommitted(after) if r not in was]
    ports = node_ports(pod, before)
    if not over and not ports:
        return []
    names = sorted((p.get("metadata") or {}).get("name") or "" for p in rest)
    what = ", ".join([*(f"requests of {r} past allocatable" for r in over), *ports])
    return [f"{_ref(pod)} on {before.name} next to {names}: {what}"]


@check("scheduler.best-score")
def best_score(pod: JSON, node: str, decision: sched.Decision, omitted: Sequence[str] = ()) -> list[str]:
    """The node chosen for ``pod`` is in the model's top-score set.

    ``omitted`` lists the score plugins the model leaves out that may score this pod
    (:func:`model.scheduler.omitted_scores`); a miss then still fails, naming them, since the model cannot say
    what they would have added. A decision that is not ``exact`` (the scheduler searched only part of 100 or more
    nodes) allows any feasible node: upstream scored a subset the model cannot know.
    """
    if node in decision.top or (not decision.exact and node in decision.feasible):
        return []
    per_plugin = {plugin: by_node.get(node) for plugin, by_node in sorted(decision.plugin_scores.items())}
    problem = (f"{_ref(pod)} went to {node} with score {decision.scores.get(node)} ({per_plugin}); the model's "
               f"top-score nodes are {sorted(decision.top)} (scores {dict(sorted(decision.scores.items()))})")
    if omitted:
        problem += f"; score plugins the model leaves out may have scored it: {'; '.join(omitted)}"
    return [problem]


@check("scheduler.fit-error")
def fit_error(pod: JSON, decision: sched.Decision, message: str | None, *, prefix: bool = False) -> list[str]:
    """A pod reported unschedulable fits nowhere in the model, and the report carries the model's FitError text.

    With ``prefix`` the message need only start with that text: a real kube-scheduler appends what PostFilter
    (preemption) said after it (pkg/scheduler/framework/types.go: FitError.Error). The bundled scheduler runs no
    preemption, so the state machine compares the whole message.
    """
    if decision.feasible:
        return [f"{_ref(pod)} was reported unschedulable ({message!r}), but it fits on {sorted(decision.feasible)}"]
    expected = decision.fit_error or ""
    got = message or ""
    if got == expected or (prefix and got.startswith(expected)):
        return []
    how = "start with" if prefix else "be"
    return [f"{_ref(pod)} was reported unschedulable with {got!r}; the message must {how} {expected!r}"]


@check("binding.exactly-once")
def exactly_once_after_settle(pending: Iterable[JSON], infos: Sequence[sched.NodeInfo],
                              unsettled: str | None = None) -> list[str]:
    """After a fair settle every pending pod that fits somewhere is bound: none of ``pending`` fits in ``infos``.

    ``unsettled`` describes how the scheduler failed to settle (None when it did): that alone breaks the promise.
    """
    out = [unsettled] if unsettled else []
    for pod in pending:
        decision = sched.schedule(pod, infos)
        if decision.feasible:
            out.append(f"after settling, {_ref(pod)} is still pending though it fits on {sorted(decision.feasible)}")
    return out
