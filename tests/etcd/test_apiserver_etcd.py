"""The APIServer on EtcdStorage: the verbs, conflicts, binding and watches behave as they do in memory."""

from __future__ import annotations

import threading
import time
from typing import Any

from controlplane.apiserver import APIServer
from controlplane.apiserver.etcd import EtcdStorage
from controlplane.apiserver.watch import Watcher
from controlplane.etcdproc import EtcdProcess

JSON = dict[str, Any]


def pod(name: str) -> JSON:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [{"name": "c", "image": "busybox"}]}}


def rv(obj: JSON) -> str:
    return str(obj["metadata"]["resourceVersion"])


def events(w: Watcher, n: int, timeout: float = 10.0) -> list[JSON]:
    """Exactly n events from a watch (waiting for them), then nothing more for a short while."""
    out: list[JSON] = []
    deadline = time.monotonic() + timeout
    while len(out) < n and time.monotonic() < deadline:
        w.wait(0.1)
        out.extend(w.drain())
    assert len(out) == n, out
    w.wait(0.3)
    assert w.drain() == []
    return out


def summary(evs: list[JSON]) -> list[tuple[str, str, str]]:
    return [(e["type"], e["object"]["metadata"]["name"], e["object"]["metadata"]["resourceVersion"]) for e in evs]


def server(storage: EtcdStorage) -> APIServer:
    api = APIServer(storage)
    assert api.create("namespaces", None, {"metadata": {"name": "ns"}}).code == 201
    return api


def test_crud_conflict_and_bind(etcd_storage: EtcdStorage) -> None:
    api = server(etcd_storage)
    created = api.create("pods", "ns", pod("p"))
    assert created.code == 201
    p = created.body
    assert int(rv(p)) == etcd_storage.current_revision()
    assert api.create("pods", "ns", pod("p")).code == 409
    got = api.get("pods", "ns", "p").body
    assert got == p
    stale = dict(got, metadata={**got["metadata"], "labels": {"a": "1"}})
    updated = api.update("pods", "ns", "p", stale)
    assert updated.code == 200 and int(rv(updated.body)) > int(rv(p))
    # the same body again carries the old resourceVersion: 409 Conflict
    again = api.update("pods", "ns", "p", stale)
    assert again.code == 409 and again.body["reason"] == "Conflict"
    listed = api.list("pods", "ns", label_selector="a=1").body
    assert [i["metadata"]["name"] for i in listed["items"]] == ["p"]
    assert int(listed["metadata"]["resourceVersion"]) == etcd_storage.current_revision()
    bound = api.bind("ns", "p", {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "p"},
                                 "target": {"kind": "Node", "name": "n1"}})
    assert bound.code == 201
    assert api.get("pods", "ns", "p").body["spec"]["nodeName"] == "n1"
    assert api.bind("ns", "p", {"metadata": {"name": "p"}, "target": {"kind": "Node", "name": "n2"}}).code == 409
    deleted = api.delete("pods", "ns", "p", {"gracePeriodSeconds": 0})
    assert deleted.code == 200
    assert api.get("pods", "ns", "p").code == 404
    assert etcd_storage.get("/registry/pods/ns/p") is None


def test_watch_from_resource_version_then_410_after_compaction(etcd_storage: EtcdStorage) -> None:
    api = server(etcd_storage)
    a = api.create("pods", "ns", pod("a")).body
    b = api.create("pods", "ns", pod("b")).body
    w = api.watch("pods", "ns", resource_version=rv(a))
    c = api.update("pods", "ns", "b", {**b, "metadata": {**b["metadata"], "labels": {"x": "y"}}}).body
    d = api.delete("pods", "ns", "a", {"gracePeriodSeconds": 0})
    assert d.code == 200
    # a pod deleted with grace 0 is first marked (MODIFIED), then removed (DELETED)
    got = events(w, 4)
    assert [(t, n) for t, n, _ in summary(got)] == [("ADDED", "b"), ("MODIFIED", "b"), ("MODIFIED", "a"),
                                                    ("DELETED", "a")]
    assert summary(got)[:2] == [("ADDED", "b", rv(b)), ("MODIFIED", "b", rv(c))]
    w.close()
    # no resourceVersion: the current state as ADDED, then the changes
    w0 = api.watch("pods", "ns")
    e = api.create("pods", "ns", pod("e")).body
    assert summary(events(w0, 2)) == [("ADDED", "b", rv(c)), ("ADDED", "e", rv(e))]
    w0.close()
    api.compact()
    api.compact()  # nothing new: fine
    expired = api.watch("pods", "ns", resource_version=rv(a))
    (err,) = expired.drain()
    assert err["type"] == "ERROR" and err["object"]["code"] == 410 and err["object"]["reason"] == "Expired"
    assert expired.ended
    # the compaction point is still a valid start
    w2 = api.watch("pods", "ns", resource_version=rv(e))
    f = api.create("pods", "ns", pod("f")).body
    assert summary(events(w2, 1)) == [("ADDED", "f", rv(f))]
    w2.close()


def test_watch_from_a_compacted_change_is_410(etcd_storage: EtcdStorage) -> None:
    """A watch from just before the compaction point, where a pod was changed: its state before is gone, so the
    change can be neither MODIFIED nor ADDED, and a delete there may not be sent at all: 410, the client
    relists."""
    api = server(etcd_storage)
    a = api.create("pods", "ns", pod("a")).body
    b = api.update("pods", "ns", "a", {**a, "metadata": {**a["metadata"], "labels": {"x": "y"}}}).body
    api.compact()
    w = api.watch("pods", "ns", resource_version=rv(a))
    got = events(w, 1)
    assert got[0]["type"] == "ERROR" and got[0]["object"]["code"] == 410, got
    assert w.ended
    # from the change itself onwards there is nothing lost
    w2 = api.watch("pods", "ns", resource_version=rv(b))
    c = api.create("pods", "ns", pod("c")).body
    assert summary(events(w2, 1)) == [("ADDED", "c", rv(c))]
    w2.close()
    # a delete at the compaction point: etcd before 3.5.13 sends nothing for it; the watch must not be silent
    gone = api.delete("pods", "ns", "c", {"gracePeriodSeconds": 0})
    assert gone.code == 200
    api.compact()
    w3 = api.watch("pods", "ns", resource_version=str(int(rv(gone.body)) - 1))
    got = events(w3, 1)
    assert got[0]["type"] == "ERROR" and got[0]["object"]["code"] == 410, got


def test_concurrent_writers_every_event_once_in_order(etcd_storage: EtcdStorage) -> None:
    api = server(etcd_storage)
    w = api.watch("pods", "ns")

    def write(k: int) -> None:
        for i in range(20):
            assert api.create("pods", "ns", {"metadata": {"name": f"p{k}-{i}"}}).code == 201

    threads = [threading.Thread(target=write, args=(k,)) for k in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    rvs = [int(e["object"]["metadata"]["resourceVersion"]) for e in events(w, 80)]
    assert rvs == sorted(set(rvs))
    w.close()


def test_servers_with_different_prefixes_share_one_etcd(etcd: EtcdProcess) -> None:
    with EtcdStorage(etcd.endpoint, key_prefix="/tenant-a") as sa, \
            EtcdStorage(etcd.endpoint, key_prefix="/tenant-b") as sb:
        a, b = APIServer(sa), APIServer(sb)
        a.create("namespaces", None, {"metadata": {"name": "only-a"}})
        b.create("namespaces", None, {"metadata": {"name": "only-b"}})
        assert [n["metadata"]["name"] for n in a.list("namespaces").body["items"]] == ["only-a"]
        assert [n["metadata"]["name"] for n in b.list("namespaces").body["items"]] == ["only-b"]
        assert sa.get("/registry/namespaces/only-a") is not None
        assert sb.get("/registry/namespaces/only-a") is None


def test_paged_list_is_a_snapshot(etcd_storage: EtcdStorage) -> None:
    api = server(etcd_storage)
    for name in ("a", "b", "c"):
        assert api.create("pods", "ns", pod(name)).code == 201
    first = api.list("pods", "ns", limit=2).body
    assert [i["metadata"]["name"] for i in first["items"]] == ["a", "b"]
    token = first["metadata"]["continue"]
    # changes after the first page are not in the next ones: every page reads the first page's revision
    assert api.delete("pods", "ns", "c", {"gracePeriodSeconds": 0}).code == 200
    assert api.create("pods", "ns", pod("d")).code == 201
    rest = api.list("pods", "ns", limit=2, continue_=token).body
    assert [i["metadata"]["name"] for i in rest["items"]] == ["c"]
    assert rest["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]
    # once that revision is compacted, the continue token has expired
    api.compact()
    expired = api.list("pods", "ns", limit=2, continue_=token)
    assert expired.code == 410 and expired.body["reason"] == "Expired"
