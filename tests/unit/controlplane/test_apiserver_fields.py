"""Field selectors on watches and lists: the parser, each resource's fields, a watch of one object by name, and
the 400s (every message below is what kube-apiserver v1.37.2 answered to the same request)."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.inprocess import InProcessTarget
from controlplane.apiserver.fields import FieldSelectorError, Term, parse

JSON = dict[str, Any]


def pod(name: str, node: str = "") -> JSON:
    spec: JSON = {"containers": [{"name": "c", "image": "busybox"}]}
    if node:
        spec["nodeName"] = node
    return {"metadata": {"name": name}, "spec": spec}


def names(events: list[JSON]) -> list[tuple[str, str]]:
    return [(e["type"], e["object"]["metadata"].get("name") or e["object"].get("message", "")) for e in events]


def refused(events: list[JSON]) -> str:
    """The message of a watch refused at once (one ERROR event carrying a 400 BadRequest)."""
    assert len(events) == 1 and events[0]["type"] == "ERROR", events
    status = events[0]["object"]
    assert (status["code"], status["reason"]) == (400, "BadRequest") and "details" not in status, status
    return str(status["message"])


def test_parse_follows_fields_parse_selector() -> None:
    assert parse(None).empty and parse("").empty and parse(",").empty
    # terms sorted, == read as =, escapes undone, a trailing comma ignored
    assert parse("metadata.name==b,metadata.name!=a,").terms == (
        Term("metadata.name", "!=", "a"), Term("metadata.name", "=", "b"))
    assert parse(r"metadata.name=p\,a\=b\\").terms == (Term("metadata.name", "=", "p,a=b\\"),)
    assert parse("metadata.name=b,metadata.name=a").requires_exact("metadata.name") == "a"
    assert parse("metadata.name!=a").requires_exact("metadata.name") is None
    for text, message in (
            ("metadata.name", "invalid selector: 'metadata.name'; can't understand 'metadata.name'"),
            ("zz=1,aa", "invalid selector: 'zz=1,aa'; can't understand 'aa'"),
            ("metadata.name in (pa)", "invalid selector: 'metadata.name in (pa)'; can't understand "
                                      "'metadata.name in (pa)'"),
            (r"metadata.name=p\a", r"invalid field selector: invalid escape sequence: \a"),
            ("metadata.name=pa\\", "invalid field selector: invalid escape sequence: \\"),
            ("metadata.name=a=b", "invalid field selector: unescaped character in value: 61"),
            ("metadata.name!==pa", "invalid field selector: unescaped character in value: 61")):
        with pytest.raises(FieldSelectorError) as err:
            parse(text)
        assert str(err.value) == message, text


def test_watch_and_list_select_by_name_and_namespace(t: InProcessTarget) -> None:
    t.create("namespaces", None, {"metadata": {"name": "other"}})
    for ns in ("ns", "other"):
        for name in ("a", "b"):
            t.create("pods", ns, pod(name))
    by_name = t.server.watch("pods", "ns", field_selector="metadata.name=a")
    not_a = t.server.watch("pods", "ns", field_selector="metadata.name!=a")
    across = t.server.watch("pods", None, field_selector="metadata.name==a")
    in_other = t.server.watch("pods", None, field_selector="metadata.namespace=other")
    assert names(by_name.drain()) == [("ADDED", "a")]
    assert names(not_a.drain()) == [("ADDED", "b")]
    assert [e["object"]["metadata"]["namespace"] for e in across.drain()] == ["ns", "other"]
    assert names(in_other.drain()) == [("ADDED", "a"), ("ADDED", "b")]
    t.create("pods", "ns", pod("c"))
    t.delete("pods", "ns", "a", options={"gracePeriodSeconds": 0})
    assert names(by_name.drain()) == [("MODIFIED", "a"), ("DELETED", "a")]
    assert names(not_a.drain()) == [("ADDED", "c")]
    assert names(in_other.drain()) == []
    listed = t.server.list("pods", None, field_selector="metadata.name=b,metadata.namespace=other").body
    assert [(i["metadata"]["namespace"], i["metadata"]["name"]) for i in listed["items"]] == [("other", "b")]
    # a page of a filtered list does not count what is left (etcd3/store.go: GetList)
    page = t.server.list("pods", "other", field_selector="metadata.namespace=other", limit=1).body
    assert page["metadata"]["continue"] and "remainingItemCount" not in page["metadata"]


def test_a_watch_named_by_its_url_and_a_selector_that_contradicts_it(t: InProcessTarget) -> None:
    t.create("pods", "ns", pod("pa"))
    t.create("pods", "ns", pod("pb"))
    assert names(t.server.watch("pods", "ns", name="pa").drain()) == [("ADDED", "pa")]
    assert t.server.watch("pods", "ns", name="missing").drain() == []
    for agrees in ("metadata.name=pa", "metadata.name==pa", "metadata.name=pa,metadata.namespace=ns"):
        assert names(t.server.watch("pods", "ns", name="pa", field_selector=agrees).drain()) == [("ADDED", "pa")]
    for contradicts in ("metadata.name=pb", "metadata.name!=pb", "metadata.namespace=ns"):
        assert refused(t.server.watch("pods", "ns", name="pa", field_selector=contradicts).drain()) == \
            "fieldSelector metadata.name doesn't match requested name"
    # an unknown field is refused before the name is compared
    assert refused(t.server.watch("pods", "ns", name="pa", field_selector="foo=bar").drain()) == \
        "field label not supported: foo"
    t.create("nodes", None, {"metadata": {"name": "n1"}})
    t.create("nodes", None, {"metadata": {"name": "n2"}})
    assert names(t.server.watch("nodes", None, name="n2").drain()) == [("ADDED", "n2")]


def test_each_resource_knows_its_own_fields(t: InProcessTarget) -> None:
    cases = [("pods", "ns", "foo=bar", "field label not supported: foo"),
             ("pods", "ns", "metadata.name = pa", "field label not supported: metadata.name "),
             ("pods", "ns", "=pa", "field label not supported: "),
             ("pods", "ns", "zz=1,aa=2", "field label not supported: aa"),
             ("nodes", None, "metadata.namespace=ns", "field label not supported: metadata.namespace"),
             ("namespaces", None, "foo=bar", "field label not supported: foo"),
             ("leases", "ns", "foo=bar",
              '"foo" is not a known field selector: only "metadata.name", "metadata.namespace"')]
    for resource, ns, selector, message in cases:
        assert refused(t.server.watch(resource, ns, field_selector=selector).drain()) == message, selector
        listed = t.server.list(resource, ns, field_selector=selector)
        assert (listed.code, listed.body["message"]) == (400, message)
    # a bad label selector is refused first, as upstream decodes it first
    assert refused(t.server.watch("pods", "ns", label_selector="a in (", field_selector="foo=1").drain()) \
        .startswith("unable to parse requirement")


def test_fields_beyond_metadata_and_changes_across_a_selection(t: InProcessTarget) -> None:
    t.create("pods", "ns", pod("a"))
    t.create("pods", "ns", pod("b", node="n1"))
    pending = t.server.watch("pods", "ns", field_selector="spec.nodeName=")
    on_n1 = t.server.watch("pods", None, field_selector="spec.host=n1")  # the old name of spec.nodeName
    assert names(pending.drain()) == [("ADDED", "a")]
    assert names(on_n1.drain()) == [("ADDED", "b")]
    assert names(t.server.watch("pods", "ns", field_selector="spec.hostNetwork=false,status.phase=Pending")
                 .drain()) == [("ADDED", "a"), ("ADDED", "b")]
    bound = t.bind("ns", "a", {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "a"},
                               "target": {"kind": "Node", "name": "n1"}})
    assert bound.code == 201
    # binding takes a out of one selection (DELETED, its state before, at the binding's revision) and into the
    # other (ADDED): apiserver/pkg/storage/cacher/cache_watcher.go, convertToWatchEvent
    (gone,), (came,) = pending.drain(), on_n1.drain()
    assert (gone["type"], came["type"]) == ("DELETED", "ADDED")
    assert "nodeName" not in gone["object"]["spec"] and came["object"]["spec"]["nodeName"] == "n1"
    assert gone["object"]["metadata"]["resourceVersion"] == came["object"]["metadata"]["resourceVersion"]
    unschedulable = t.server.watch("nodes", None, field_selector="spec.unschedulable=true")
    t.create("nodes", None, {"metadata": {"name": "n1"}, "spec": {"unschedulable": True}})
    t.create("nodes", None, {"metadata": {"name": "n2"}})
    assert names(unschedulable.drain()) == [("ADDED", "n1")]
    assert [i["metadata"]["name"] for i in t.server.list("namespaces", None, field_selector="status.phase=Active")
            .body["items"]] == ["ns"]
