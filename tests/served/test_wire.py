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
