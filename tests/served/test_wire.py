"""The wire (conformance/wire.py) between a client and the served server: requests and watches pass through; a
Binding it is armed for is held until released, or refused with a 500 and never reaches the server."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from adapters.http import HTTPTarget
from adapters.served import ServedServer
from conformance.wire import Wire


def _pod(name: str) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [{"name": "c", "image": "x"}]}}


def _binding(pod: dict, node: str) -> dict:
    return {"apiVersion": "v1", "kind": "Binding",
            "metadata": {"name": pod["metadata"]["name"], "uid": pod["metadata"]["uid"]},
            "target": {"kind": "Node", "name": node}}


def test_requests_and_watches_pass_through_bindings_held_and_refused(serve: Callable[..., ServedServer],
                                                                      tmp_path: Path) -> None:
    served = serve()
    wire = Wire(served.kubeconfig, tmp_path / "wire")
    api = HTTPTarget(wire.kubeconfig)
    try:
        assert api.create("namespaces", None, {"apiVersion": "v1", "kind": "Namespace",
                                               "metadata": {"name": "w"}}).code == 201
        watch = api.watch("pods", "w")
        a = api.create("pods", "w", _pod("a")).body
        b = api.create("pods", "w", _pod("b")).body
        events = watch.drain(until_rv=b["metadata"]["resourceVersion"], timeout=5)
        assert [e["object"]["metadata"]["name"] for e in events] == ["a", "b"]

        # held: the Binding arrives, waits, and goes on once released
        held = wire.hold("w", "a")
        answers: list[int] = []
        t = threading.Thread(target=lambda: answers.append(api.bind("w", "a", _binding(a, "n1")).code))
        t.start()
        record = held.wait(5)
        assert record is not None and record.node == "n1" and record.uid == a["metadata"]["uid"]
        assert not api.get("pods", "w", "a").body["spec"].get("nodeName")  # not sent on yet
        held.release()
        t.join(10)
        assert answers == [201]
        assert api.get("pods", "w", "a").body["spec"]["nodeName"] == "n1"

        # refused: a 500 from the wire; the pod stays unbound; the next Binding goes through
        wire.refuse("w", "b")
        refused = api.bind("w", "b", _binding(b, "n2"))
        assert refused.code == 500 and refused.body["reason"] == "InternalError"
        assert not api.get("pods", "w", "b").body["spec"].get("nodeName")
        assert api.bind("w", "b", _binding(b, "n2")).code == 201

        recs = wire.records()
        assert [(r.pod, r.node, r.code, r.held, r.refused) for r in recs] == [
            ("a", "n1", 201, True, False), ("b", "n2", 500, False, True), ("b", "n2", 201, False, False)]
        assert all(r.answered is not None and r.answered >= r.arrived for r in recs)
        watch.close()
    finally:
        api.close()
        wire.close()


def test_clients_are_told_apart_and_a_starved_one_cannot_write_a_lease(serve: Callable[..., ServedServer],
                                                                        tmp_path: Path) -> None:
    served = serve()
    wire = Wire(served.kubeconfig, tmp_path / "wire")
    a, b = HTTPTarget(wire.kubeconfig_for("a")), HTTPTarget(wire.kubeconfig_for("b"))
    lease = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "l"},
             "spec": {"holderIdentity": "a"}}
    try:
        a.create("namespaces", None, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "w"}})
        wire.starve("a", 30)
        refused = a.create("leases", "w", lease)
        assert refused.code == 500 and "Lease write" in refused.body["message"]
        assert a.get("leases", "w", "l").code == 404  # reads go through; nothing was written
        assert b.create("leases", "w", lease).code == 201  # another client is not starved
        p = a.create("pods", "w", _pod("p")).body
        assert b.bind("w", "p", _binding(p, "n1")).code == 201
        assert [(r.pod, r.client) for r in wire.records()] == [("p", "b")]
        assert [c for c, _, _ in wire.refused_lease_writes] == ["a"]
    finally:
        a.close()
        b.close()
        wire.close()
