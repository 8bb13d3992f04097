"""The linearizability checker (conformance/linearizability.py over tools/linearize): histories that are
linearizable and ones that are not, each beside a near twin with the other verdict."""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Any

import pytest

from conformance.linearizability import Operation, Result, check


def op(client: int, call: int, ret: int | None, input: dict[str, Any], output: dict[str, Any]) -> Operation:
    return Operation(client=client, call_ns=call, return_ns=ret, input=input, output=output)


def create(key: str, value: str) -> dict[str, Any]:
    return {"op": "create", "key": key, "value": value}


def update(key: str, value: str, rv: str = "") -> dict[str, Any]:
    return {"op": "update", "key": key, "value": value, "rv": rv}


def delete(key: str, rv: str = "") -> dict[str, Any]:
    return {"op": "delete", "key": key, "rv": rv}


def get(key: str) -> dict[str, Any]:
    return {"op": "get", "key": key}


LIST = {"op": "list"}


def found(rv: int, value: str) -> dict[str, Any]:
    return {"code": 200, "rv": str(rv), "value": value}


def listed(rv: int, *items: tuple[str, int, str]) -> dict[str, Any]:
    return {"code": 200, "rv": str(rv), "items": [{"key": k, "rv": str(r), "value": v} for k, r, v in items]}


def verdict(*ops: Operation) -> str:
    return check(ops).result


def test_legal_concurrent_history() -> None:
    result = check([
        op(0, 0, 10, create("a/p1", "A"), {"code": 201, "rv": "5"}),
        op(1, 2, 12, get("a/p1"), found(5, "A")),  # overlaps the create, which may come first
        op(0, 11, 20, update("a/p1", "B", "5"), {"code": 200, "rv": "7"}),
        op(1, 13, 18, get("a/p1"), found(5, "A")),  # inside the update: may still see A
        op(1, 19, 25, update("a/p1", "B"), {"code": 200, "rv": "7"}),  # a no-op update keeps the rv
        op(1, 26, 27, get("a/p1"), found(7, "B")),
        op(0, 21, 30, delete("a/p1", "7"), {"code": 200}),
        op(1, 31, 32, get("a/p1"), {"code": 404}),
    ])
    assert isinstance(result, Result)
    assert result.result == "ok" and result.ok
    assert result.operations == 8
    assert result.partitions == 1
    assert result.visualization is None


def test_stale_read_is_illegal() -> None:
    history = [
        op(0, 0, 1, create("a/p1", "A"), {"code": 201, "rv": "4"}),
        op(0, 2, 3, update("a/p1", "B", "4"), {"code": 200, "rv": "5"}),
    ]
    # the get starts after the update returned, yet sees the value before it
    assert verdict(*history, op(1, 4, 5, get("a/p1"), found(4, "A"))) == "illegal"
    # the same answer to a get that overlaps the update is fine
    assert verdict(*history, op(1, 2, 5, get("a/p1"), found(4, "A"))) == "ok"


def test_lost_update_is_illegal() -> None:
    history = [
        op(0, 0, 1, create("a/p1", "A"), {"code": 201, "rv": "4"}),
        op(0, 2, 10, update("a/p1", "B", "4"), {"code": 200, "rv": "5"}),
    ]
    # two updates from the same resourceVersion both succeed: one overwrote the other unseen
    assert verdict(*history, op(1, 3, 11, update("a/p1", "C", "4"), {"code": 200, "rv": "6"})) == "illegal"
    assert verdict(*history, op(1, 3, 11, update("a/p1", "C", "4"), {"code": 409})) == "ok"


def test_write_revisions_must_rise() -> None:
    history = [op(0, 0, 1, create("a/p1", "A"), {"code": 201, "rv": "4"})]
    assert verdict(*history, op(0, 2, 3, update("a/p1", "B"), {"code": 200, "rv": "3"})) == "illegal"
    assert verdict(*history, op(0, 2, 3, update("a/p1", "B"), {"code": 200, "rv": "9"})) == "ok"


def test_list_missing_an_acknowledged_create_is_illegal() -> None:
    create_p1 = op(0, 0, 10, create("a/p1", "A"), {"code": 201, "rv": "4"})
    other = op(0, 0, 1, create("a/p0", "Z"), {"code": 201, "rv": "3"})
    missing = listed(3, ("a/p0", 3, "Z"))
    # the list starts after the create returned: it must show a/p1
    result = check([other, create_p1, op(1, 11, 12, LIST, missing)])
    assert result.result == "illegal"
    assert result.partitions == 1  # a list reads every key: no partition by key
    # overlapping the create, the list may come first
    assert verdict(other, create_p1, op(1, 5, 12, LIST, missing)) == "ok"
    # and after it, the list that shows a/p1 is fine
    assert verdict(other, create_p1, op(1, 11, 12, LIST, listed(4, ("a/p0", 3, "Z"), ("a/p1", 4, "A")))) == "ok"


def test_list_revision_must_cover_its_items_and_later_writes_exceed_it() -> None:
    history = [op(0, 0, 1, create("a/p1", "A"), {"code": 201, "rv": "4"})]
    # a consistent list may read at a newer revision (other resources' writes) ...
    assert verdict(*history, op(1, 2, 3, LIST, listed(9, ("a/p1", 4, "A")))) == "ok"
    # ... but not at one older than an item it shows
    assert verdict(*history, op(1, 2, 3, LIST, listed(3, ("a/p1", 4, "A")))) == "illegal"
    # and a write after it carries a revision above the list's
    after_list = [*history, op(1, 2, 3, LIST, listed(9, ("a/p1", 4, "A")))]
    assert verdict(*after_list, op(0, 4, 5, update("a/p1", "B"), {"code": 200, "rv": "8"})) == "illegal"
    assert verdict(*after_list, op(0, 4, 5, update("a/p1", "B"), {"code": 200, "rv": "10"})) == "ok"


def test_unknown_outcome_may_or_may_not_have_happened() -> None:
    history = [
        op(0, 0, 1, create("a/p1", "A"), {"code": 201, "rv": "4"}),
        op(0, 2, 3, update("a/p1", "B", "4"), {"code": 0}),  # timed out
    ]
    assert verdict(*history, op(1, 10, 11, get("a/p1"), found(4, "A"))) == "ok"  # it did not happen
    assert verdict(*history, op(1, 10, 11, get("a/p1"), found(6, "B"))) == "ok"  # it did, at revision 6
    assert verdict(*history, op(1, 10, 11, get("a/p1"), found(4, "B"))) == "illegal"  # B with A's revision
    assert verdict(*history, op(1, 10, 11, get("a/p1"), found(6, "C"))) == "illegal"  # nobody wrote C
    # once seen, it stays: the write cannot be undone
    seen = [*history, op(1, 10, 11, get("a/p1"), found(6, "B"))]
    assert verdict(*seen, op(1, 12, 13, get("a/p1"), found(4, "A"))) == "illegal"
    # a create of unknown outcome, with no return time at all
    lost = op(0, 20, None, create("a/p2", "X"), {"code": 0})
    assert verdict(*history, lost, op(1, 30, 31, get("a/p2"), {"code": 404})) == "ok"
    assert verdict(*history, lost, op(1, 30, 31, get("a/p2"), found(9, "X"))) == "ok"
    # it may take effect even after the client gave up
    assert verdict(*history, lost, op(1, 30, 31, get("a/p2"), {"code": 404}),
                   op(1, 32, 33, get("a/p2"), found(9, "X"))) == "ok"


def test_unknown_write_revision_lies_below_later_writes() -> None:
    history = [
        op(0, 0, 1, create("a/p1", "A"), {"code": 0}),
        op(1, 1, 2, create("a/p1", "B"), {"code": 409}),  # so the unknown create took effect before 2
        op(1, 3, 4, create("a/p2", "C"), {"code": 201, "rv": "10"}),
    ]
    # so a/p1's hidden revision is below 10
    assert verdict(*history, op(1, 5, 6, LIST, listed(12, ("a/p1", 12, "A"), ("a/p2", 10, "C")))) == "illegal"
    assert verdict(*history, op(1, 5, 6, LIST, listed(10, ("a/p1", 8, "A"), ("a/p2", 10, "C")))) == "ok"


def test_bad_input_names_what_is_wrong() -> None:
    with pytest.raises(ValueError, match=r"operation 1: input\.key is missing"):
        check([op(0, 0, 1, create("a/p1", "A"), {"code": 201, "rv": "4"}),
               op(0, 2, 3, {"op": "get"}, {"code": 404})])
    with pytest.raises(ValueError, match=r"operation 0: output\.code 204 is not an answer to a create"):
        check([op(0, 0, 1, create("a/p1", "A"), {"code": 204})])
    with pytest.raises(ValueError, match=r"operation 0: return \(1\) is before call \(5\)"):
        check([op(0, 5, 1, get("a/p1"), {"code": 404})])
    with pytest.raises(ValueError, match=r'operation 0: output\.rv: "v4" is not a decimal resourceVersion'):
        check([{"client": 0, "call": 0, "return": 1, "input": create("a/p1", "A"),
                "output": {"code": 201, "rv": "v4"}}])


def test_visualization_is_written(tmp_path: Path) -> None:
    page = tmp_path / "history.html"
    result = check([op(0, 0, 1, create("a/p1", "A"), {"code": 201, "rv": "4"}),
                    op(1, 2, 3, get("a/p1"), {"code": 404})], visualize=page)
    assert result.result == "illegal"
    assert result.visualization == page.resolve()
    html = page.read_text()
    assert html.startswith("<!DOCTYPE html>") or "<html" in html[:500]
    assert "create a/p1 = A" in html and "get a/p1" in html
    # an ok history is drawn too when asked
    page_ok = tmp_path / "ok.html"
    assert check([op(0, 0, 1, create("a/p1", "A"), {"code": 201, "rv": "4"})], visualize=page_ok).ok
    assert "create a/p1 = A" in page_ok.read_text()


def simulated_history(n: int, keys: int, clients: int, seed: int) -> list[Operation]:
    """A linearizable history: a sequential store run in order, each call widened around its instant."""
    rng = random.Random(seed)
    store: dict[str, tuple[int, str]] = {}
    revision = 0
    ops = []
    for i in range(n):
        key = f"a/p{rng.randrange(keys)}"
        instant = i * 100
        call, ret = instant - rng.randrange(150), instant + rng.randrange(150)
        current = store.get(key)
        choice = rng.random()
        if current is None and choice < 0.6:
            revision += 1
            store[key] = (revision, f"v{i}")
            ops.append(op(i % clients, call, ret, create(key, f"v{i}"), {"code": 201, "rv": str(revision)}))
        elif current is None:
            ops.append(op(i % clients, call, ret, get(key), {"code": 404}))
        elif choice < 0.4:
            ops.append(op(i % clients, call, ret, get(key), found(*current)))
        elif choice < 0.9:
            precondition = str(current[0]) if rng.random() < 0.7 else str(current[0] - 1)
            if precondition == str(current[0]):
                revision += 1
                store[key] = (revision, f"v{i}")
                out: dict[str, Any] = {"code": 200, "rv": str(revision)}
            else:
                out = {"code": 409}
            ops.append(op(i % clients, call, ret, update(key, f"v{i}", precondition), out))
        else:
            del store[key]
            ops.append(op(i % clients, call, ret, delete(key), {"code": 200}))
    return ops


def test_thousands_of_partitioned_operations() -> None:
    history = simulated_history(4000, keys=40, clients=8, seed=1)
    start = time.monotonic()
    result = check(history, timeout=60)
    elapsed = time.monotonic() - start
    print(f"\n{result.operations} operations in {result.partitions} partitions: checked in {result.seconds:.3f} s, "
          f"{elapsed:.3f} s with the process")
    assert result.result == "ok"
    assert result.partitions == 40
    # the same history with one read made stale is caught
    broken = list(history)
    i = next(i for i in range(len(broken) - 1, 0, -1)
             if broken[i].input["op"] == "get" and broken[i].output["code"] == 200
             and int(broken[i].output["rv"]) > 1)
    stale = {"code": 200, "rv": str(int(broken[i].output["rv"]) - 1), "value": broken[i].output["value"]}
    broken[i] = op(broken[i].client, broken[i].call_ns, broken[i].return_ns, broken[i].input, stale)
    assert check(broken, timeout=60).result == "illegal"


def test_a_known_finding_is_allowed_only_when_named() -> None:
    # a pod bound while a delete without a grace period ran, then marked with grace 0 and removed: no order of the
    # calls does that (conformance/findings.py: pod-delete-grace-race), unless the release behaviour is allowed
    ops = [
        {"client": 9, "call": 0, "return": 1, "input": {"op": "create", "key": "pods/p", "value": "v"},
         "output": {"code": 201, "rv": "5"}},
        {"client": 0, "call": 10, "return": 20, "input": {"op": "bind", "key": "pods/p", "node": "n0"},
         "output": {"code": 201}},
        {"client": 1, "call": 10, "return": 30, "input": {"op": "mark", "key": "pods/p", "rv": ""},
         "output": {"code": 200, "grace": 0}},
        {"client": 1, "call": 10, "return": 30, "input": {"op": "remove", "key": "pods/p"},
         "output": {"code": 200, "rv": "8"}},
        {"client": 2, "call": 21, "return": 22, "input": {"op": "get", "key": "pods/p"},
         "output": {"code": 200, "rv": "7", "value": "v", "node": "n0", "grace": 0}},
    ]
    assert check(ops).result == "illegal"
    assert check(ops, allow=["pod-grace-as-first-read"]).result == "ok"
    with pytest.raises(ValueError, match="allow names"):
        check(ops, allow=["no-such-behaviour"])


def test_a_delete_that_found_the_deletion_pending_answered_at_its_read_is_a_known_finding() -> None:
    # two deletes of a bound pod at once: the first marks it (grace 30, revision 7); the second read the pod at 6,
    # finds the deletion pending when it writes, and answers its own marked copy at 6
    # (conformance/findings.py: pod-graceful-delete-stale-answer), a state the pod never had
    def history(loser_rv: str) -> list[dict]:
        return [
            {"client": 9, "call": 0, "return": 1, "input": {"op": "create", "key": "pods/p", "value": "v"},
             "output": {"code": 201, "rv": "5"}},
            {"client": 9, "call": 2, "return": 3, "input": {"op": "bind", "key": "pods/p", "node": "n0"},
             "output": {"code": 201}},
            {"client": 9, "call": 4, "return": 5, "input": {"op": "get", "key": "pods/p"},
             "output": {"code": 200, "rv": "6", "value": "v", "node": "n0"}},
            {"client": 0, "call": 10, "return": 30, "input": {"op": "mark", "key": "pods/p", "rv": ""},
             "output": {"code": 200, "rv": "7", "grace": 30}},
            {"client": 1, "call": 11, "return": 31, "input": {"op": "mark", "key": "pods/p", "rv": ""},
             "output": {"code": 200, "rv": loser_rv, "grace": 30}},
            {"client": 2, "call": 40, "return": 41, "input": {"op": "get", "key": "pods/p"},
             "output": {"code": 200, "rv": "7", "value": "v", "node": "n0", "grace": 30}},
        ]

    assert check(history("7")).result == "ok"
    assert check(history("6")).result == "illegal"
    assert check(history("6"), allow=["mark-answers-own-read"]).result == "ok"
    # no read of the pod was at 5 once it was bound, and the other finding's departure does not explain it either
    assert check(history("5"), allow=["mark-answers-own-read"]).result == "illegal"
    assert check(history("6"), allow=["pod-grace-as-first-read"]).result == "illegal"


def test_a_delete_that_removed_a_pod_created_again_unmarked_is_a_known_finding() -> None:
    # a delete of an unbound pod, and meanwhile the pod removed by another delete, created again and bound; the
    # first delete then removes the new pod without marking it and answers it unmarked at the removal's revision
    # (conformance/findings.py: pod-delete-removes-recreated-pod); the bound pod's deletion had to be made pending
    def history(removed_at: str, recreate: bool = True) -> list[dict]:
        ops = [
            {"client": 9, "call": 0, "return": 1, "input": {"op": "create", "key": "pods/p", "value": "v"},
             "output": {"code": 201, "rv": "5"}},
            {"client": 0, "call": 10, "return": 60, "input": {"op": "mark", "key": "pods/p", "rv": ""},
             "output": {"code": 200, "rv": removed_at}},
            {"client": 1, "call": 11, "return": 20, "input": {"op": "mark", "key": "pods/p", "rv": ""},
             "output": {"code": 200, "grace": 0, "rv": "6"}},
            {"client": 1, "call": 11, "return": 20, "input": {"op": "remove", "key": "pods/p"},
             "output": {"code": 200, "rv": "7"}},
        ]
        if recreate:
            ops += [{"client": 2, "call": 30, "return": 31, "input": {"op": "create", "key": "pods/p", "value": "w"},
                     "output": {"code": 201, "rv": "8"}},
                    {"client": 2, "call": 32, "return": 33, "input": {"op": "bind", "key": "pods/p", "node": "n0"},
                     "output": {"code": 201}}]
        return ops + [{"client": 3, "call": 70, "return": 71, "input": {"op": "get", "key": "pods/p"},
                       "output": {"code": 404}}]

    assert check(history("10")).result == "illegal"
    assert check(history("10"), allow=["remove-unmarked"]).result == "ok"
    # the other findings' departures do not explain it
    assert check(history("10"), allow=["pod-grace-as-first-read", "mark-answers-own-read"]).result == "illegal"
    # allowed, it is still a removal: of a pod that is there, at a revision above every one committed
    assert check(history("7", recreate=False), allow=["remove-unmarked"]).result == "illegal"
    assert check(history("8"), allow=["remove-unmarked"]).result == "illegal"


def test_a_delete_that_lost_the_race_to_remove_answers_without_a_resourceversion() -> None:
    # two deletes of an unbound pod at once: both mark it with grace 0; the first removes it, the second finds it
    # gone and answers the state it last read, which carries no resourceVersion (store.go: Delete, ignoreNotFound)
    def history(second_rv: str | None) -> list[dict]:
        return [
            {"client": 9, "call": 0, "return": 1, "input": {"op": "create", "key": "pods/p", "value": "v"},
             "output": {"code": 201, "rv": "5"}},
            {"client": 0, "call": 10, "return": 30, "input": {"op": "mark", "key": "pods/p", "rv": ""},
             "output": {"code": 200, "grace": 0}},
            {"client": 0, "call": 10, "return": 30, "input": {"op": "remove", "key": "pods/p"},
             "output": {"code": 200, "rv": "7"}},
            {"client": 1, "call": 11, "return": 31, "input": {"op": "mark", "key": "pods/p", "rv": ""},
             "output": {"code": 200, "grace": 0}},
            {"client": 1, "call": 11, "return": 31, "input": {"op": "remove", "key": "pods/p"},
             "output": {"code": 200, **({"rv": second_rv} if second_rv else {})}},
            {"client": 2, "call": 40, "return": 41, "input": {"op": "get", "key": "pods/p"}, "output": {"code": 404}},
        ]

    assert check(history(None)).result == "ok"
    # with a resourceVersion it claims a removal of its own, which a pod removed once cannot have
    assert check(history("8")).result == "illegal"
    # and without one it still may not bring the pod back
    back = history(None) + [{"client": 3, "call": 50, "return": 51, "input": {"op": "get", "key": "pods/p"},
                             "output": {"code": 200, "rv": "5", "value": "v"}}]
    assert check(back).result == "illegal"


def test_an_update_that_meets_a_pod_marked_with_grace_0_removes_it() -> None:
    # a delete marks an unbound pod with grace 0 (rv 6, unseen) and removes it; an update between the two writes
    # removes the pod itself and is answered 200 with the pod as updated, marked, at rv 6 (store.go: Update,
    # ShouldDeleteDuringUpdate, deleteWithoutFinalizers); the delete, finding it gone, answers without a revision
    def history(update_out: dict, delete_rv: str | None, after: dict) -> list[dict]:
        return [
            {"client": 9, "call": 0, "return": 1, "input": {"op": "create", "key": "pods/p", "value": "v"},
             "output": {"code": 201, "rv": "5"}},
            {"client": 0, "call": 10, "return": 30, "input": {"op": "mark", "key": "pods/p", "rv": ""},
             "output": {"code": 200, "grace": 0}},
            {"client": 0, "call": 10, "return": 30, "input": {"op": "remove", "key": "pods/p"},
             "output": {"code": 200, **({"rv": delete_rv} if delete_rv else {})}},
            {"client": 1, "call": 11, "return": 31, "input": {"op": "update", "key": "pods/p", "value": "w", "rv": ""},
             "output": update_out},
            {"client": 1, "call": 11, "return": 31, "input": {"op": "remove", "key": "pods/p"},
             "output": {"code": 200}},
            {"client": 2, "call": 40, "return": 41, "input": {"op": "get", "key": "pods/p"}, "output": after},
        ]

    gone = {"code": 404}
    marked = {"code": 200, "rv": "6", "grace": 0}
    assert check(history(marked, None, gone)).result == "ok"
    # the delete may have removed it first (its answer then names the removal's revision): the update's own
    # removal finds nothing, which upstream ignores
    assert check(history(marked, "7", gone)).result == "ok"
    # an update that claims to have met the marked pod may not leave it, nor write its value
    assert check(history(marked, None, {"code": 200, "rv": "8", "value": "w"})).result == "illegal"
    # an update answered as a plain write of a pod whose deletion was pending with grace 0 is no order's answer:
    # the pod is gone before the update can take effect, or marked when it does
    plain = [op for op in history({"code": 200, "rv": "8"}, "7", gone) if not (op["client"] == 1 and
                                                                              op["input"]["op"] == "remove")]
    assert check(plain).result == "illegal"
    # and its revision must be the marked pod's: one below the pod's creation is no revision the pod had
    assert check(history({"code": 200, "rv": "5", "grace": 0}, None, gone)).result == "illegal"


def test_a_delete_whose_precondition_no_hidden_revision_meets_is_illegal() -> None:
    # an update of unknown outcome leaves, if it took effect, a revision above 5; a delete answered 200 with a
    # precondition of revision 3 meets neither that nor the known 5 (the checker once crashed on it)
    history = [
        op(0, 0, 1, create("a/p1", "A"), {"code": 201, "rv": "5"}),
        op(0, 2, 3, update("a/p1", "B", "5"), {"code": 0}),
    ]
    assert verdict(*history, op(1, 4, 5, delete("a/p1", "3"), {"code": 200})) == "illegal"
    assert verdict(*history, op(1, 4, 5, delete("a/p1", "5"), {"code": 200})) == "ok"  # the update did not happen
    assert verdict(*history, op(1, 4, 5, delete("a/p1", "8"), {"code": 200})) == "ok"  # it did, at 8


def test_every_finding_names_a_behaviour_the_checker_knows() -> None:
    from conformance.findings import FINDINGS

    ops = [{"client": 0, "call": 0, "return": 1, "input": {"op": "get", "key": "pods/p"}, "output": {"code": 404}}]
    allows = [f.allow for f in FINDINGS if f.allow]
    assert allows
    for allow in allows:
        assert check(ops, allow=[allow]).result == "ok"


def test_a_checker_that_died_is_started_again() -> None:
    from conformance import linearizability

    history = [op(0, 0, 1, create("a/p1", "A"), {"code": 201, "rv": "4"}), op(1, 2, 3, get("a/p1"), found(4, "A"))]
    assert verdict(*history) == "ok"
    checker = linearizability._checker()
    first = checker._proc
    assert first is not None and first.poll() is None  # one process answers every check
    assert verdict(*history) == "ok" and checker._proc is first
    first.kill()
    first.wait()
    assert verdict(*history) == "ok"
    assert checker._proc is not None and checker._proc is not first
