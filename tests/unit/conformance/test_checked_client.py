"""The one checked client on the builtin target: answers held to the model, and writes another client made."""

from __future__ import annotations

from typing import NoReturn

import pytest

from adapters.inprocess import InProcessTarget
from conformance.client import CheckedClient, model_for
from conformance.history import History
from conformance.invariants import InvariantViolation
from conformance.ops import Op
from conformance.reporting import Reporter

SPEC = {"kind": "builtin"}


def _raise(err: InvariantViolation) -> NoReturn:
    raise err


@pytest.fixture
def client() -> CheckedClient:
    target = InProcessTarget()
    c = CheckedClient(target, model_for(target, SPEC), History(SPEC), Reporter(), _raise)
    c.write(Op.create("namespaces", None, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a"}}))
    c.write(Op.create("pods", "a", {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                                    "spec": {"containers": [{"name": "c", "image": "busybox"}]}}))
    return c


def _binding(c: CheckedClient, node: str) -> dict:
    uid = c.model.lookup("pods", "a", "p")["metadata"]["uid"]
    return {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "p", "namespace": "a", "uid": uid},
            "target": {"kind": "Node", "name": node}}


def test_calls_are_recorded_and_the_model_follows(client: CheckedClient) -> None:
    assert [c.method for c in client.history.calls] == ["create", "get", "create", "get"]
    assert client.model.lookup("pods", "a", "p")["status"] == {"phase": "Pending"}


def test_an_answer_the_model_does_not_predict_fails(client: CheckedClient) -> None:
    # a write behind the model's back: the next checked read sees a label the model does not hold
    pod = client.target.get("pods", "a", "p").body
    pod["metadata"]["labels"] = {"x": "y"}
    assert client.target.update("pods", "a", "p", pod).code == 200
    with pytest.raises(InvariantViolation) as err:
        client.call(Op.get("pods", "a", "p"))
    assert err.value.invariant == "api.read-your-writes"


def test_a_binding_another_client_made_is_taken_in(client: CheckedClient) -> None:
    body = _binding(client, "n1")
    assert client.target.bind("a", "p", body).code == 201  # the other client
    client.observed("the scheduler bound a/p to n1", client.model.bind("a", "p", body))
    pod = client.call(Op.get("pods", "a", "p")).body  # compared whole, nodeName and PodScheduled included
    assert pod["spec"]["nodeName"] == "n1"
    assert client.history.calls[-2].method == "observed"


def test_a_second_binding_seen_is_at_most_once(client: CheckedClient) -> None:
    body = _binding(client, "n1")
    client.target.bind("a", "p", body)
    client.observed("bound to n1", client.model.bind("a", "p", body))
    with pytest.raises(InvariantViolation) as err:
        client.observed("bound again, to n2", client.model.bind("a", "p", _binding(client, "n2")))
    assert err.value.invariant == "binding.at-most-once"


def test_a_status_write_may_change_only_the_status(client: CheckedClient) -> None:
    # what a status write leaves is the stored object with the new status; a spec change alongside is caught
    pod = client.target.get("pods", "a", "p").body
    status = {"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False",
                                                  "reason": "Unschedulable", "message": "0/0 nodes are available"}]}
    expect = client.model.status_written("pods", "a", "p", status)
    assert expect.code == 200 and expect.obj["spec"] == client.model.lookup("pods", "a", "p")["spec"]
    pod["status"] = status
    pod["spec"]["activeDeadlineSeconds"] = 30  # not a status field
    assert client.target.update("pods", "a", "p", pod).code == 200
    client.observed("the scheduler reported a/p unschedulable", expect)
    with pytest.raises(InvariantViolation) as err:
        client.call(Op.get("pods", "a", "p"))
    assert "activeDeadlineSeconds" in err.value.detail


def test_a_status_write_to_an_object_the_model_lacks_fails(client: CheckedClient) -> None:
    with pytest.raises(InvariantViolation) as err:
        client.observed("a status write to a/q", client.model.status_written("pods", "a", "q", {}))
    assert err.value.invariant == "api.read-your-writes"


class _Release:
    """The builtin target dressed as a real release: what a kube-apiserver answers a Binding with a bad target."""

    name = "http"

    def __init__(self, inner: InProcessTarget) -> None:
        self._inner = inner

    def server_version(self) -> dict:
        return {"gitVersion": "v1.37.2"}

    def bind(self, namespace: str, name: str, body: dict):
        from adapters.base import Response

        if (body.get("target") or {}).get("kind") not in (None, "Node"):
            return Response(500, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                  "message": 'target.kind: Unsupported value: "Pod": supported values: "Node", '
                                             '"<empty>"', "code": 500})
        return self._inner.bind(namespace, name, body)

    def __getattr__(self, attr: str):
        return getattr(self._inner, attr)


def _bad_target(c: CheckedClient) -> dict:
    body = _binding(c, "n1")
    body["target"]["kind"] = "Pod"
    return body


def test_a_5xx_breaks_the_promise_and_names_the_known_finding(client: CheckedClient, monkeypatch) -> None:
    monkeypatch.delenv("KUBEPROP_REPORT_KNOWN", raising=False)
    release = CheckedClient(_Release(client.target), client.model, client.history, client.reporter, _raise)
    with pytest.raises(InvariantViolation) as info:
        release.call(Op.bind("a", "p", _bad_target(release)))
    assert info.value.invariant == "api.no-5xx-for-client-errors"
    assert "known upstream: kubernetes#139488 --" in str(info.value)


def test_a_known_finding_may_be_reported_without_failing(client: CheckedClient, monkeypatch, tmp_path) -> None:
    from conformance import findings

    monkeypatch.setenv("KUBEPROP_REPORT_KNOWN", "1")
    monkeypatch.chdir(tmp_path)
    release = CheckedClient(_Release(client.target), client.model, client.history, client.reporter, _raise)
    with pytest.warns(findings.KnownFinding, match="kubernetes#139488"):
        assert release.call(Op.bind("a", "p", _bad_target(release))).code == 500
    assert list((tmp_path / "reports" / "findings").iterdir())
    # the pod was not bound, and the model was not told it was: a valid binding still succeeds
    assert release.call(Op.bind("a", "p", _binding(release, "n1"))).code == 201


def test_a_5xx_the_registry_does_not_know_is_possibly_new(client: CheckedClient, monkeypatch) -> None:
    release = CheckedClient(_Release(client.target), client.model, client.history, client.reporter, _raise)
    monkeypatch.setattr(_Release, "server_version", lambda self: {"gitVersion": "v1.37.2"})
    body = _bad_target(release)

    def broken(self, namespace: str, name: str, b: dict):
        from adapters.base import Response

        return Response(503, {"kind": "Status", "message": "etcd is down", "code": 503})

    monkeypatch.setattr(_Release, "bind", broken)
    with pytest.raises(InvariantViolation) as info:
        release.call(Op.bind("a", "p", body))
    assert "not in the registry: possibly new" in str(info.value)


def test_the_bundled_server_answers_a_bad_target_422(client: CheckedClient) -> None:
    assert client.call(Op.bind("a", "p", _bad_target(client))).code == 422


def test_removing_the_last_finalizer_deletes_and_the_watch_shows_the_delete_revision(client: CheckedClient) -> None:
    # the update is answered with the object at the resourceVersion it was checked against; the DELETED event
    # carries the delete's own, newer one, which the model learns from the watch, not from the answer
    client.open_watch("pods", None, None)
    client.write(Op.create("pods", "a", {"apiVersion": "v1", "kind": "Pod",
                                         "metadata": {"name": "f", "finalizers": ["kubeprop.io/a"]},
                                         "spec": {"containers": [{"name": "c", "image": "busybox"}],
                                                  "terminationGracePeriodSeconds": 0}}))
    marked = client.write(Op.delete("pods", "a", "f")).body
    body = {**marked, "metadata": {**marked["metadata"], "finalizers": []}}
    r = client.write(Op.update("pods", "a", "f", body))
    assert r.code == 200 and r.body["metadata"]["resourceVersion"] == marked["metadata"]["resourceVersion"]
    assert client.model.lookup("pods", "a", "f") is None
    client.check_watches()


def test_server_owned_fields_are_judged_from_answers_alone() -> None:
    from conformance.checks.api import server_owned

    before = {"uid": "u1", "creationTimestamp": "2026-01-01T00:00:00Z", "deletionTimestamp": None,
              "deletionGracePeriodSeconds": None}
    kept = {"kind": "Lease", "metadata": {"name": "l", **before}}
    sent = {"metadata": {"name": "l", "creationTimestamp": "2001-02-03T04:05:06Z"}}
    assert server_owned("PUT l", "update", sent, 200, kept, before) == []
    taken = {"kind": "Lease", "metadata": {**kept["metadata"], "creationTimestamp": "2001-02-03T04:05:06Z"}}
    assert "creationTimestamp changed" in server_owned("PUT l", "update", sent, 200, taken, before)[0]
    # a refusal stores nothing, and an object never seen is not judged on update
    assert server_owned("PUT l", "update", sent, 422, {"kind": "Status"}, before) == []
    assert server_owned("PUT l", "update", sent, 200, taken, None) == []
    # a create keeps neither the client's uid nor a deletion
    created = {"kind": "Lease", "metadata": {"name": "l", "uid": "c1", "deletionTimestamp": "2001-02-03T04:05:06Z"}}
    problems = server_owned("POST l", "create", {"metadata": {"uid": "c1", "deletionTimestamp": "x"}}, 201,
                            created, None)
    assert "kept the uid" in problems[0] and "being deleted" in problems[0]


def test_a_put_that_creates_is_held_to_a_create_and_the_finding_is_known() -> None:
    from conformance import findings
    from conformance.checks.api import server_owned

    sent = {"metadata": {"name": "l", "deletionTimestamp": "2001-02-03T04:05:06Z"}}
    born_deleting = {"kind": "Lease",
                     "metadata": {"name": "l", "uid": "u", "deletionTimestamp": "2001-02-03T04:05:06Z"}}
    problems = server_owned("PUT l", "update", sent, 201, born_deleting, None)
    assert problems and "being deleted" in problems[0]
    assert server_owned("PUT l", "update", sent, 201, {"kind": "Lease", "metadata": {"name": "l", "uid": "u"}},
                        None) == []
    known = findings.matching("api.server-owned-fields", "update", "leases", 201, born_deleting, "v1.34.4")
    assert known is not None and known.id == "create-on-update-keeps-deletion"
    assert findings.matching("api.server-owned-fields", "update", "leases", 201, born_deleting,
                             "v1.37.2-kubeprop") is None  # the bundled server is held to the contract


def test_dry_run_is_judged_from_answers_alone() -> None:
    from conformance.checks.api import dry_run

    stored = {"kind": "Lease", "metadata": {"name": "l", "resourceVersion": "7"}}
    gone = {"kind": "Status", "code": 404}
    assert dry_run("DELETE l", ["All"], 200, {"kind": "Status", "status": "Success"}, "7", 200, stored) == []
    assert "no object where the object had '7'" in dry_run("DELETE l", ["All"], 200, {"kind": "Status"}, "7",
                                                           404, gone)[0]
    moved = {"kind": "Lease", "metadata": {"name": "l", "resourceVersion": "8"}}
    assert "resourceVersion '8'" in dry_run("PUT l", ["All"], 200, moved, "7", 200, moved)[0]
    assert dry_run("PUT l", ["All"], 200, moved, None, 200, moved) == []  # never seen: nothing to hold it to
    created = {"kind": "Lease", "metadata": {"name": "n"}}
    assert dry_run("POST n", ["All"], 201, created, "", 404, gone) == []
    assert "would have created" in dry_run("POST n", ["All"], 201, created, None, 200, moved)[0]
    refused = {"kind": "Status", "code": 422, "message": 'CreateOptions.meta.k8s.io "" is invalid: dryRun: ...'}
    assert dry_run("POST n", ["Some"], 422, refused, "", 404, gone) == []
    assert "not refused for it" in dry_run("DELETE l", ["Some"], 404, {"kind": "Status", "message": "not found"},
                                           "", 404, gone)[0]


def test_a_dry_run_changes_nothing_on_the_bundled_server(client: CheckedClient) -> None:
    before = client.model.lookup("pods", "a", "p")["metadata"]["resourceVersion"]
    client.write(Op("bind", "pods", "a", "p", _binding(client, "n1"), dry_run=("All",)))
    client.write(Op("delete", "pods", "a", "p", options={"gracePeriodSeconds": 0, "dryRun": ["All"]}))
    refused = client.write(Op("delete", "pods", "a", "p", dry_run=("Some",)))
    assert refused.code == 422 and "DeleteOptions.meta.k8s.io" in refused.body["message"]
    pod = client.call(Op.get("pods", "a", "p")).body
    assert pod["metadata"]["resourceVersion"] == before and not pod["spec"].get("nodeName")


class _HidesDryRunQuery(_Release):
    """A release that reads a DELETE's options from its body alone, as kube-apiserver does."""

    def delete(self, resource: str, namespace, name: str, *, options=None, dry_run=None):
        return self._inner.delete(resource, namespace, name, options=options,
                                  **({} if options is not None or dry_run is None else {"dry_run": dry_run}))


def test_a_dry_run_carried_out_breaks_the_promise_and_is_known(client: CheckedClient, monkeypatch, tmp_path) -> None:
    from conformance import findings

    monkeypatch.delenv("KUBEPROP_REPORT_KNOWN", raising=False)
    release = CheckedClient(_HidesDryRunQuery(client.target), client.model, client.history, client.reporter, _raise)
    release.call(Op.get("pods", "a", "p"))
    op = Op("delete", "pods", "a", "p", options={"gracePeriodSeconds": 0}, dry_run=("All",))
    with pytest.raises(InvariantViolation) as info:
        release.write(op)
    assert info.value.invariant == "api.dry-run"
    assert "known upstream: DELETE body hides ?dryRun" in str(info.value)
    # reported without failing, the answer is held to the delete the server carried out, and the model follows
    monkeypatch.setenv("KUBEPROP_REPORT_KNOWN", "1")
    monkeypatch.chdir(tmp_path)
    other = Op.create("pods", "a", {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "q"},
                                    "spec": {"containers": [{"name": "c", "image": "busybox"}]}})
    release.write(other)
    with pytest.warns(findings.KnownFinding, match="DELETE body hides"):
        release.write(Op("delete", "pods", "a", "q", options={"gracePeriodSeconds": 0}, dry_run=("All",)))
    assert release.model.lookup("pods", "a", "q") is None


def test_validation_is_judged_from_answers_alone() -> None:
    from conformance.checks.api import invalid_values, validation

    ok = {"kind": "Lease", "metadata": {"name": "l", "labels": {"example.com/app": "web", "x": ""},
                                        "annotations": {"Example.COM/X": "v"}},
          "spec": {"leaseDurationSeconds": 1, "leaseTransitions": 0}}
    assert invalid_values(ok) == []
    for meta in ({"labels": {"bad key": "v"}}, {"labels": {"a/b/c": "v"}}, {"labels": {"/x": "v"}},
                 {"labels": {"x" * 64: "v"}}, {"labels": {"a" * 254 + "/x": "v"}}, {"labels": {"app": "-x"}},
                 {"labels": {"app": "x" * 64}}, {"annotations": {"bad key": "v"}}):
        assert invalid_values({"kind": "Pod", "metadata": {"name": "p", **meta}}), meta
    assert invalid_values({"kind": "Lease", "metadata": {"name": "l"}, "spec": {"leaseDurationSeconds": 0}})
    listed = {"kind": "PodList", "items": [{"kind": "Pod", "metadata": {"name": "p", "annotations": {"a b": "v"}}}]}
    assert "annotation key 'a b'" in validation("GET pods", "list", 200, listed)[0]
    assert validation("POST pods", "create", 422, {"kind": "Status"}) == []
    node = {"kind": "Node", "metadata": {"name": "n"},
            "spec": {"taints": [{"key": "example.com/gpu", "value": "", "effect": "NoExecute"},
                                {"key": "example.com/gpu", "effect": "NoSchedule"}]}}
    assert invalid_values(node) == []
    for taint in ({"key": "bad key", "effect": "NoSchedule"}, {"key": "k", "value": "-x", "effect": "NoSchedule"},
                  {"key": "k", "effect": ""}, {"key": "k"}, {"key": "k", "effect": "noschedule"}):
        assert invalid_values({"kind": "Node", "metadata": {"name": "n"}, "spec": {"taints": [taint]}}), taint
    twice = {"kind": "Node", "metadata": {"name": "n"}, "spec": {"taints": [{"key": "k", "effect": "NoSchedule"},
                                                                           {"key": "k", "value": "v",
                                                                            "effect": "NoSchedule"}]}}
    assert invalid_values(twice) == ["taint 'k' with effect 'NoSchedule' twice"]
    pod = {"kind": "Pod", "metadata": {"name": "p"},
           "spec": {"containers": [{"name": "c-0", "image": "busybox"}], "nodeSelector": {"example.com/a": ""},
                    "tolerations": [{"operator": "Exists"}, {"key": "k", "operator": "Equal", "value": "v"},
                                    {"key": "k", "operator": "Exists", "effect": "NoExecute",
                                     "tolerationSeconds": 300}]}}
    assert invalid_values(pod) == []
    for spec in ({"containers": [{"name": "Bad_Name"}]}, {"containers": [{"name": "c" * 64}]},
                 {"nodeSelector": {"bad key": "v"}}, {"nodeSelector": {"app": "-x"}},
                 {"tolerations": [{"key": "bad key", "operator": "Exists"}]},
                 {"tolerations": [{"key": "k", "operator": "Bogus"}]}, {"tolerations": [{"key": "k", "value": "-x"}]},
                 {"tolerations": [{"key": "k", "operator": "Exists", "value": "v"}]},
                 {"tolerations": [{"operator": "Equal"}]}, {"tolerations": [{"key": "k", "effect": "Bogus"}]},
                 {"tolerations": [{"key": "k", "effect": "NoSchedule", "tolerationSeconds": 5}]}):
        assert invalid_values({"kind": "Pod", "metadata": {"name": "p"},
                               "spec": {"containers": [{"name": "c"}], **spec}}), spec


def test_a_binding_with_an_invalid_annotation_is_refused_by_the_bundled_server(client: CheckedClient) -> None:
    body = _binding(client, "n1")
    body["metadata"]["annotations"] = {"bad key": "v"}
    refused = client.write(Op.bind("a", "p", body))
    assert refused.code == 422 and "metadata.annotations" in refused.body["message"]


def test_an_invalid_value_a_watch_delivers_breaks_validation_before_the_model_is_asked() -> None:
    # another client's binding stores an annotation key the API refuses (the seeded fault copies it unvalidated);
    # the watch shows it before the model, which never heard of the binding, is asked about the event
    target = InProcessTarget(faults=["binding.copies-invalid-annotations"])
    c = CheckedClient(target, model_for(target, SPEC), History(SPEC), Reporter(), _raise)
    c.write(Op.create("namespaces", None, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a"}}))
    c.write(Op.create("pods", "a", {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                                    "spec": {"containers": [{"name": "c", "image": "busybox"}]}}))
    c.open_watch("pods", "a", None)
    c.check_watches()
    body = _binding(c, "n1")
    body["metadata"]["annotations"] = {"bad key": "v"}
    assert target.bind("a", "p", body).code == 201  # the other client
    with pytest.raises(InvariantViolation) as info:
        c.check_watches()
    assert info.value.invariant == "api.validation"
    assert "annotation key 'bad key'" in str(info.value) and "delivered MODIFIED" in str(info.value)


def _wrong_uid(c: CheckedClient) -> dict:
    body = _binding(c, "n1")
    body["metadata"]["uid"] = "00000000-0000-0000-0000-0000000000ff"
    return body


def test_both_binding_urls_refuse_a_wrong_uid_on_the_bundled_server(client: CheckedClient) -> None:
    assert client.write(Op.bind("a", "p", _wrong_uid(client), form="bindings")).code == 409
    assert client.write(Op.bind("a", "p", _binding(client, "n1"), form="bindings")).code == 201
    assert client.model.lookup("pods", "a", "p")["spec"]["nodeName"] == "n1"


class _DropsUid(_Release):
    """A release whose namespaces/{ns}/bindings drops the Binding's uid (conformance/findings.py:
    legacy-bindings-ignore-uid)."""

    def bind(self, namespace: str, name: str, body: dict, *, dry_run=None, legacy: bool = False):
        if legacy:
            body = {**body, "metadata": {k: v for k, v in body["metadata"].items() if k != "uid"}}
        return self._inner.bind(namespace, name, body, legacy=legacy)


def test_a_binding_url_that_drops_the_uid_breaks_the_promise_and_is_known(client: CheckedClient, monkeypatch,
                                                                          tmp_path) -> None:

    monkeypatch.delenv("KUBEPROP_REPORT_KNOWN", raising=False)
    release = CheckedClient(_DropsUid(client.target), client.model, client.history, client.reporter, _raise)
    release.call(Op.get("pods", "a", "p"))  # the pod's uid, as an answer shows it
    with pytest.raises(InvariantViolation) as info:
        release.write(Op.bind("a", "p", _wrong_uid(release), form="bindings"))
    assert info.value.invariant == "binding.preconditions"
    assert "known upstream: namespaces/NS/bindings ignores the uid --" in str(info.value)


def test_a_binding_url_that_drops_the_uid_may_be_reported_and_the_model_follows(client: CheckedClient, monkeypatch,
                                                                                tmp_path) -> None:
    from conformance import findings

    monkeypatch.setenv("KUBEPROP_REPORT_KNOWN", "1")
    monkeypatch.chdir(tmp_path)
    client.model.keeps_promises = False  # the model for a release (conformance/client.py: model_for)
    release = CheckedClient(_DropsUid(client.target), client.model, client.history, client.reporter, _raise)
    release.call(Op.get("pods", "a", "p"))  # the pod's uid, as an answer shows it
    with pytest.warns(findings.KnownFinding, match="legacy-bindings-ignore-uid"):
        assert release.write(Op.bind("a", "p", _wrong_uid(release), form="bindings")).code == 201
    # the model for a release decides that URL's binding without its uid: it bound the pod too, and reads agree
    assert release.call(Op.get("pods", "a", "p")).body["spec"]["nodeName"] == "n1"


def test_a_watch_of_one_name_is_judged_like_any_other(client: CheckedClient) -> None:
    for form in ("", "path"):
        client.open_watch("pods", "a", None, name="p", form=form)
    client.write(Op.create("pods", "a", {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "q"},
                                         "spec": {"containers": [{"name": "c", "image": "busybox"}]}}))
    client.check_watches()  # the initial ADDED of p only, and nothing of q
    assert [len(w.received) for w in client.watches] == [1, 1]
    watch = client.history.calls[-3]
    assert watch.render() == "target.watch('pods', 'a', resource_version=None, name='p', form='path')"
    # a server that ignored the name would deliver q: the check catches it
    client.watches[0].received.append({"type": "ADDED", "object": client.target.get("pods", "a", "q").body})
    with pytest.raises(InvariantViolation) as err:
        client.check_watches()
    assert err.value.invariant == "watch.reliable"


class _RequestInfo500:
    """The builtin target dressed as a real release: what kube-apiserver answers at a watch/ prefix with no resource
    (plain text, measured on v1.37.2)."""

    name = "http"

    def __init__(self, inner: InProcessTarget) -> None:
        self._inner = inner

    def server_version(self) -> dict:
        return {"gitVersion": "v1.37.2"}

    def list(self, resource: str, namespace: str | None = None, **kwargs):
        from adapters.base import Response

        if kwargs.get("form"):
            url = "/api/v1/" + kwargs["form"]
            return Response(500, f'Internal Server Error: "{url}": failed to create RequestInfo: unable to determine '
                                 f"kind and namespace from url, {url}\n")
        return self._inner.list(resource, namespace, **kwargs)

    def __getattr__(self, attr: str):
        return getattr(self._inner, attr)


@pytest.mark.parametrize("resource", ["pods", "leases"])
@pytest.mark.parametrize("form", ["watch", "watch/", "proxy"])
def test_a_url_with_no_resource_is_404_on_the_bundled_server(client: CheckedClient, resource: str, form: str) -> None:
    resp = client.call(Op.resourceless(resource, form))
    assert resp.code == 404 and resp.body["details"] == {}
    assert client.history.calls[-1].render() == f"target.list({resource!r}, form={form!r})"


def test_a_url_with_no_resource_answered_500_is_the_known_finding(client: CheckedClient, monkeypatch,
                                                                  tmp_path) -> None:
    from conformance import findings

    release = CheckedClient(_RequestInfo500(client.target), client.model, client.history, client.reporter, _raise)
    monkeypatch.delenv("KUBEPROP_REPORT_KNOWN", raising=False)
    with pytest.raises(InvariantViolation) as info:
        release.call(Op.resourceless("pods", "watch"))
    assert info.value.invariant == "api.no-5xx-for-client-errors"
    assert "(conformance/findings.py: watch-without-resource-500)" in str(info.value)
    monkeypatch.setenv("KUBEPROP_REPORT_KNOWN", "1")
    monkeypatch.chdir(tmp_path)
    with pytest.warns(findings.KnownFinding, match="watch/ prefix without a resource"):
        assert release.call(Op.resourceless("pods", "watch/")).code == 500
    # a 404 the model agrees with goes on as before
    assert client.call(Op.resourceless("leases", "watch")).code == 404


def test_the_model_wants_the_404_of_a_url_nothing_serves() -> None:
    from model.apiserver import APIModel

    expect = APIModel.resourceless("watch")
    assert expect.code == 404
    assert expect.status == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                             "message": "the server could not find the requested resource", "reason": "NotFound",
                             "details": {}, "code": 404}
    with pytest.raises(ValueError):
        Op.resourceless("pods", "")


def test_a_status_subresource_call_is_checked_and_replays_with_its_subresource(client: CheckedClient) -> None:
    pod = client.model.lookup("pods", "a", "p")
    body = {**pod, "spec": {**pod["spec"], "restartPolicy": "Never"}, "status": {"phase": "Running"}}
    op = Op.update("pods", "a", "p", body, subresource="status")
    assert op.call_args()[1] == {"subresource": "status"}
    assert client.write(op).code == 200
    assert client.model.lookup("pods", "a", "p")["status"] == {"phase": "Running"}
    assert "restartPolicy" not in client.model.lookup("pods", "a", "p")["spec"]
    assert client.call(Op.get("pods", "a", "p", subresource="status")).code == 200
    assert client.write(Op.patch("pods", "a", "p", {"status": {"phase": "Failed"}}, "merge", "status")).code == 200
    rendered = [c.render() for c in client.history.calls]
    assert rendered[-5].startswith("target.update('pods', 'a', 'p', {") and rendered[-5].endswith(
        ", subresource='status')")
    assert rendered[-3] == "target.get('pods', 'a', 'p', subresource='status')"
    with pytest.raises(ValueError):
        Op.update("leases", "a", "l", {}, subresource="status")
    with pytest.raises(ValueError):
        Op("delete", "pods", "a", "p", subresource="status")


def test_validation_of_what_a_status_write_stores() -> None:
    from conformance.checks.api import invalid_values

    ok = {"kind": "Pod", "metadata": {"name": "p"},
          "status": {"hostIP": "10.0.0.1", "hostIPs": [{"ip": "10.0.0.1"}, {"ip": "fd00::1"}],
                     "conditions": [{"type": "Ready"}, {"type": "ContainersReady"}, {"type": "example.com/gate"}]}}
    assert invalid_values(ok) == []
    bad = {**ok, "status": {"hostIP": "10.0.0.1", "hostIPs": [{"ip": "10.0.0.2"}],
                            "conditions": [{"type": "bad type"}]}}
    assert invalid_values(bad) == ["condition type 'bad type'", "hostIPs[0] '10.0.0.2' beside hostIP '10.0.0.1'"]
    address = {"type": "InternalIP", "address": "10.0.1.1"}
    node = {"kind": "Node", "metadata": {"name": "n"}, "status": {"addresses": [address, {**address}]}}
    assert invalid_values(node) == [f"address {('InternalIP', '10.0.1.1')!r} twice"]
