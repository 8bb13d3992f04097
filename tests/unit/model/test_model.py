"""The model on its own: the rules of docs/semantics.md, without any target."""

from __future__ import annotations

from model.apiserver import APIModel, clone
from model.selectors import Requirement, Selector


def ns(name: str) -> dict:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def pod(name: str, **spec: object) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [{"name": "c", "image": "x"}], **spec}}


def commit(expect, body: dict | None = None) -> None:
    expect.commit(body or {})


def created(m: APIModel, plural: str, namespace: str | None, body: dict, rv: str, uid: str) -> None:
    e = m.create(plural, namespace, body)
    assert e.code == 201
    e.commit({"metadata": {"resourceVersion": rv, "uid": uid, "creationTimestamp": m.now}})


def test_create_pod_needs_namespace_and_valid_name() -> None:
    m = APIModel()
    e = m.create("pods", "ns-a", pod("p"))
    assert e.code == 404 and e.status["message"] == 'namespaces "ns-a" not found'
    created(m, "namespaces", None, ns("ns-a"), "1", "u1")
    e = m.create("pods", "ns-a", pod("Bad_Name"))
    assert e.code == 422 and e.status["details"]["kind"] == "Pod"
    assert e.status["message"].startswith('Pod "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": ')
    e = m.create("pods", "ns-a", {**pod("p"), "metadata": {"name": "p", "resourceVersion": "5"}})
    assert e.code == 400 and e.status["reason"] == "BadRequest"


def test_label_name_message_has_upstream_spacing() -> None:
    e = APIModel().create("namespaces", None, ns("a.b"))
    assert e.status["details"]["causes"][0]["message"] == 'Invalid value: "a.b": must not contain dots'
    e = APIModel().create("namespaces", None, ns("A"))
    assert "(e.g. 'my-name',  or '123-abc'" in e.status["message"]


def test_stale_update_conflicts_and_noop_keeps_rv() -> None:
    m = APIModel()
    created(m, "nodes", None, {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n"}}, "1", "u")
    stored = m.lookup("nodes", None, "n")
    stale = {**stored, "metadata": {**stored["metadata"], "resourceVersion": "0"}}
    e = m.update("nodes", None, "n", stale)
    assert e.code == 409 and e.rule == "api.optimistic-concurrency"
    assert e.status["message"].endswith("please apply your changes to the latest version and try again")
    e = m.update("nodes", None, "n", stored)
    assert e.code == 200 and e.rv == "1" and e.commit is None


def test_unscheduled_pod_delete_is_modified_then_deleted() -> None:
    m = APIModel()
    created(m, "namespaces", None, ns("a"), "1", "u1")
    created(m, "pods", "a", pod("p"), "2", "u2")
    e = m.delete("pods", "a", "p", {})
    assert e.code == 200 and e.obj["metadata"]["deletionGracePeriodSeconds"] == 0
    assert e.obj["metadata"]["generation"] == 2
    e.commit({"metadata": {"resourceVersion": "4"}})
    assert [c.type for c in m.log[-2:]] == ["MODIFIED", "DELETED"]
    assert m.lookup("pods", "a", "p") is None


def test_scheduled_pod_graceful_then_shortened() -> None:
    m = APIModel()
    created(m, "namespaces", None, ns("a"), "1", "u1")
    created(m, "pods", "a", pod("p", nodeName="n1"), "2", "u2")
    e = m.delete("pods", "a", "p", {})
    assert e.obj["metadata"]["deletionTimestamp"] == "2026-01-01T00:00:30Z"
    e.commit({"metadata": {"resourceVersion": "3"}})
    m.advance(10)
    e = m.delete("pods", "a", "p", {"gracePeriodSeconds": 5})
    assert e.obj["metadata"]["deletionTimestamp"] == "2026-01-01T00:00:10Z"
    assert e.obj["metadata"]["deletionGracePeriodSeconds"] == 1  # clamped to now, so grace 1


def test_binding_order_of_checks() -> None:
    m = APIModel()
    created(m, "namespaces", None, ns("a"), "1", "u1")
    created(m, "pods", "a", pod("p"), "2", "u2")
    body = {"metadata": {"name": "p", "uid": "other"}, "target": {"name": "n"}}
    e = m.bind("a", "p", body)
    assert e.code == 409 and "Precondition failed: UID in precondition: other, UID in object meta: u2" \
        in e.status["message"]
    e = m.bind("a", "p", {"metadata": {"name": "p"}, "target": {"name": "n"}})
    assert e.code == 201
    e.commit({})
    e = m.bind("a", "p", {"metadata": {"name": "p"}, "target": {"name": "m"}})
    assert e.code == 409 and e.rule == "binding.at-most-once"
    assert e.status["details"] == {"name": "p", "kind": "pods/binding"}


def test_selectors() -> None:
    s = Selector((Requirement("app", "in", ("web",)), Requirement("env", "!", ())))
    assert s.matches({"app": "web"}) and not s.matches({"app": "web", "env": "x"})
    assert s.render() == "app in (web),!env"
    assert Requirement("a", "notin", ("x",)).matches({})


def test_releases_before_1_37_repeat_the_no_new_finalizers_cause() -> None:
    # model/releases.py: SINGLE_META_UPDATE_CAUSES, measured on v1.34.0 .. v1.36.3 (twice) and v1.37.2 (once)
    from model import releases

    assert releases.parse("v1.36.3") == (1, 36, 3)
    assert releases.parse("v1.37.0-alpha.1+abc") == (1, 37, 0)
    assert releases.parse("1.2") is None
    causes = {}
    for release in ((1, 36, 3), (1, 37, 2)):
        m = APIModel(release=release)
        m.create("namespaces", None, ns("a")).commit({"metadata": {"uid": "u1", "resourceVersion": "1",
                                                                  "creationTimestamp": m.now}})
        lease = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                 "metadata": {"name": "l", "namespace": "a", "finalizers": ["x.io/a"]}, "spec": {}}
        m.create("leases", "a", lease).commit({"metadata": {"uid": "u2", "resourceVersion": "2",
                                                            "creationTimestamp": m.now}})
        m.delete("leases", "a", "l", None).commit({"metadata": {"resourceVersion": "3",
                                                                "deletionTimestamp": m.now}})
        stored = m.lookup("leases", "a", "l")
        body = {**stored, "metadata": {**stored["metadata"], "finalizers": ["x.io/a", "x.io/b"]}}
        e = m.update("leases", "a", "l", body)
        assert e.code == 422
        causes[release] = e.status["details"]["causes"]
    assert causes[(1, 36, 3)] == causes[(1, 37, 2)] * 2
    assert len(causes[(1, 37, 2)]) == 1


def test_releases_name_invalid_values_in_their_own_texts_and_counts() -> None:
    # model/releases.py: LABEL_KEY_TEXTS (measured on v1.34.4) and SINGLE_META_UPDATE_CAUSES (v1.36.3, v1.37.2)
    def refused(release: tuple[int, int, int], verb: str, key: str, taints: list[dict] | None = None) -> list[dict]:
        m = APIModel(release=release)
        node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n"}, "spec": {}}
        created(m, "nodes", None, node, "1", "u1")
        body = clone(m.lookup("nodes", None, "n"))
        body["metadata"]["labels"] = {key: "v"}
        if taints is not None:
            body["spec"]["taints"] = taints
        e = m.create("nodes", None, {**body, "metadata": {"name": "n2", "labels": {key: "v"}}}) if verb == "create" \
            else m.update("nodes", None, "n", body)
        assert e.code == 422
        return e.status["details"]["causes"]

    old, new = refused((1, 34, 4), "create", "a/b/c"), refused((1, 37, 2), "create", "a/b/c")
    assert old[0]["message"].startswith('Invalid value: "a/b/c": a qualified name must consist')
    assert new[0]["message"].startswith('Invalid value: "a/b/c": a valid label key must consist')
    assert refused((1, 34, 4), "create", "x" * 64)[0]["message"].endswith("must be no more than 63 characters")
    assert refused((1, 36, 3), "create", "x" * 64)[0]["message"].endswith("must be no more than 63 bytes")
    bad_effect = [{"key": "k", "effect": ""}]
    once = refused((1, 37, 2), "update", "bad key", bad_effect)
    assert [c["field"] for c in once] == ["metadata.labels", "metadata.taints[0].effect"]
    repeated = refused((1, 36, 3), "update", "bad key", bad_effect)
    assert [c["field"] for c in repeated] == ["metadata.labels"] * 3 + ["metadata.taints[0].effect", "metadata.labels",
                                                                      "metadata.taints[0].effect"]


def test_releases_before_1_37_repeat_values_and_immutable_fields_of_an_update() -> None:
    # measured on v1.36.3 and v1.37.2: a PUT changing deletionTimestamp of a pod carrying an annotation key a
    # binding stored unvalidated (binding-stores-invalid-annotations)
    fields = {}
    for release in ((1, 36, 3), (1, 37, 2)):
        m = APIModel(release=release)
        created(m, "namespaces", None, ns("ns-a"), "1", "u1")
        created(m, "pods", "ns-a", pod("p"), "2", "u2")
        m.lookup("pods", "ns-a", "p")["metadata"]["annotations"] = {"bad key": "v"}
        body = clone(m.lookup("pods", "ns-a", "p"))
        body["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
        e = m.update("pods", "ns-a", "p", body)
        assert e.code == 422
        fields[release] = [c["field"] for c in e.status["details"]["causes"]]
    values, stamp = "metadata.annotations", "metadata.deletionTimestamp"
    assert fields[(1, 37, 2)] == [values, stamp]
    assert fields[(1, 36, 3)] == [values, stamp, values, stamp, values, values]


def test_an_invalid_message_folds_equal_causes() -> None:
    # field/errors.go: ErrorList.ToAggregate -- the causes stay two, the message says it once
    from model import status as st
    from model.resources import LEASES

    cause = ("FieldValueInvalid", "metadata.uid", 'Invalid value: "x": field is immutable')
    body = st.invalid(LEASES, "l", [cause, cause])
    assert body["message"] == ('Lease.coordination.k8s.io "l" is invalid: metadata.uid: Invalid value: "x": '
                               "field is immutable")
    assert len(body["details"]["causes"]) == 2


def test_a_lease_created_by_put_keeps_the_clients_deletion_before_1_37() -> None:
    # model/releases.py: CREATE_ON_UPDATE_WIPES_DELETION (store.go Update wipes system fields from v0.37 on)
    kept = {}
    for release in ((1, 34, 4), (1, 37, 2)):
        m = APIModel(release=release)
        created(m, "namespaces", None, ns("a"), "1", "u1")
        e = m.update("leases", "a", "l", {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                                          "metadata": {"name": "l", "namespace": "a",
                                                       "deletionTimestamp": "2001-02-03T04:05:06Z"}})
        assert e.code == 201
        kept[release] = e.obj["metadata"].get("deletionTimestamp")
    assert kept == {(1, 34, 4): "2001-02-03T04:05:06Z", (1, 37, 2): None}


def test_an_update_naming_another_deletion_timestamp_is_written() -> None:
    # kube-apiserver v1.36.3 and v1.37.2: a PUT of a pod being deleted whose body names another deletionTimestamp
    # gets a new resourceVersion though BeforeUpdate puts the stored stamp back; the same body with the stored
    # stamp is a no-op
    m = APIModel()
    created(m, "namespaces", None, ns("ns-a"), "1", "u1")
    body = {**pod("p"), "metadata": {"name": "p", "finalizers": ["x.io/a"]}}
    created(m, "pods", "ns-a", body, "2", "u2")
    e = m.delete("pods", "ns-a", "p", None)
    e.commit({"metadata": {"resourceVersion": "3", "deletionTimestamp": "2026-01-01T00:00:01Z"}})
    stored = m.lookup("pods", "ns-a", "p")
    assert stored["metadata"]["deletionTimestamp"] == "2026-01-01T00:00:01Z"  # the server's stamp, learned
    assert m.update("pods", "ns-a", "p", clone(stored)).commit is None  # a no-op
    other = clone(stored)
    other["metadata"]["deletionTimestamp"] = "2001-02-03T04:05:06Z"
    e = m.update("pods", "ns-a", "p", other)
    assert e.code == 200 and e.fresh_rv and e.obj["metadata"]["deletionTimestamp"] == "2026-01-01T00:00:01Z"


def test_a_watch_of_one_name_plans_only_that_names_changes() -> None:
    m = APIModel()
    for n, rv in (("a", "1"), ("b", "2")):
        created(m, "namespaces", None, ns(n), rv, f"u{rv}")
    created(m, "pods", "a", pod("p"), "3", "u3")
    created(m, "pods", "a", pod("q"), "4", "u4")
    created(m, "pods", "b", pod("p"), "5", "u5")

    def initial(plan) -> list[tuple[str, str]]:
        return [(c.obj["metadata"]["namespace"], c.obj["metadata"]["name"]) for c in plan.initial]

    in_a, across = m.plan_watch("pods", "a", None, "p"), m.plan_watch("pods", None, None, "p")
    from_rv = m.plan_watch("pods", "a", "4", "p")
    assert initial(in_a) == [("a", "p")] and initial(across) == [("a", "p"), ("b", "p")]
    assert initial(m.plan_watch("pods", "a", None, "missing")) == [] and from_rv.initial == []
    assert [c.obj["metadata"]["name"] for c in m.plan_watch("namespaces", None, None, "b").initial] == ["b"]
    created(m, "pods", "a", pod("r"), "6", "u6")
    commit(m.delete("pods", "a", "q", {}), {"metadata": {"resourceVersion": "8"}})
    commit(m.delete("pods", "b", "p", {}), {"metadata": {"resourceVersion": "10"}})
    assert m.changes_after(in_a) == [] and m.changes_after(from_rv) == []
    assert [(c.type, c.obj["metadata"]["namespace"]) for c in m.changes_after(across)] == [
        ("MODIFIED", "b"), ("DELETED", "b")]
    # without a name, the same watch has every change of the namespace
    assert [c.obj["metadata"]["name"] for c in m.changes_after(m.plan_watch("pods", "a", "4"))] == ["r", "q", "q"]


def test_pods_carry_a_generation_from_1_33_on() -> None:
    # model/releases.py: POD_GENERATION (kubernetes#130181); measured on v1.29.15: a created pod has none
    body = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
            "spec": {"containers": [{"name": "c", "image": "i"}]}}
    for release, generation in (((1, 29, 15), None), ((1, 32, 9), None), ((1, 33, 0), 1), ((1, 37, 2), 1)):
        m = APIModel(release=release)
        m.create("namespaces", None, ns("a")).commit({"metadata": {"uid": "u1", "resourceVersion": "1",
                                                                  "creationTimestamp": m.now}})
        e = m.create("pods", "a", body)
        assert e.obj is not None and e.obj["metadata"].get("generation") == generation, release


def test_releases_before_1_34_show_refused_values_in_go_syntax() -> None:
    # model/releases.py: FIELD_VALUES_AS_JSON (kubernetes#132314); measured on v1.29.15, each text as it answered
    lease = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "l"}, "spec": {}}
    taints = [{"key": "k", "value": "v", "effect": "NoSchedule"}, {"key": "k", "value": "w", "effect": "NoSchedule"}]
    shown: dict[tuple[int, int, int], list[str]] = {}
    for release in ((1, 29, 15), (1, 33, 9), (1, 34, 0), (1, 37, 2)):
        m = APIModel(release=release)
        created(m, "namespaces", None, ns("a"), "1", "u1")
        created(m, "leases", "a", lease, "2", "u2")
        texts = [m.dry_run_refused("create", ["Some", "x"]).status["details"]["causes"][0]["message"]]
        stored = m.lookup("leases", "a", "l")
        without_rv = {**stored, "metadata": {k: v for k, v in stored["metadata"].items() if k != "resourceVersion"}}
        texts.append(m.update("leases", "a", "l", without_rv).status["details"]["causes"][0]["message"])
        stamped = {**stored, "metadata": {**stored["metadata"], "deletionTimestamp": "2001-02-03T04:05:06Z"}}
        texts.append(m.update("leases", "a", "l", stamped).status["details"]["causes"][0]["message"])
        e = m.create("nodes", None, {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n"},
                                     "spec": {"taints": taints}})
        texts.append(e.status["details"]["causes"][0]["message"])
        shown[release] = texts
    assert shown[(1, 29, 15)] == shown[(1, 33, 9)] == [
        'Unsupported value: []string{"Some", "x"}: supported values: "All"',
        "Invalid value: 0x0: must be specified for an update",
        "Invalid value: 2001-02-03 04:05:06 +0000 UTC: field is immutable",
        'Duplicate value: core.Taint{Key:"k", Value:"w", Effect:"NoSchedule", TimeAdded:<nil>}: taints must be '
        "unique by key and effect pair"]
    assert shown[(1, 34, 0)] == shown[(1, 37, 2)] == [
        'Unsupported value: ["Some","x"]: supported values: "All"',
        "Invalid value: 0: must be specified for an update",
        'Invalid value: "2001-02-03T04:05:06Z": field is immutable',
        'Duplicate value: {"Key":"k","Value":"w","Effect":"NoSchedule","TimeAdded":null}: taints must be unique '
        "by key and effect pair"]


def test_go_syntax_of_times_as_a_release_before_1_34_shows_them() -> None:
    # measured on v1.29.15 (server zone UTC): a duplicate taint with timeAdded, a deletionTimestamp
    from model.names import go_strings, go_time, go_time_syntax

    assert go_time_syntax("2001-02-03T04:05:06Z") == "time.Date(2001, time.February, 3, 4, 5, 6, 0, time.Local)"
    assert go_time("2001-02-03T06:05:06+02:00") == "2001-02-03 04:05:06 +0000 UTC"
    assert go_time("2001-02-03T04:05:06.5Z") == "2001-02-03 04:05:06.5 +0000 UTC"
    assert go_strings(["All", ""]) == '[]string{"All", ""}'


def test_a_put_of_a_missing_object_with_a_uid_is_a_conflict_before_1_34() -> None:
    # model/releases.py: UPDATE_MISSING_NOT_FOUND (kubernetes#132470); measured on v1.29.15: pods, nodes and
    # namespaces 409 with a uid, 404 without one or by patch
    body = {**pod("p"), "metadata": {"name": "p", "namespace": "a", "uid": "c1"}}
    for release, code in (((1, 29, 15), 409), ((1, 33, 9), 409), ((1, 34, 0), 404), ((1, 37, 2), 404)):
        m = APIModel(release=release)
        created(m, "namespaces", None, ns("a"), "1", "u1")
        e = m.update("pods", "a", "p", body)
        assert e.code == code, release
        if code == 409:
            assert e.status["message"] == (
                'Operation cannot be fulfilled on pods "p": StorageError: invalid object, Code: 4, Key: '
                "/registry/pods/a/p, ResourceVersion: 0, AdditionalErrorMsg: Precondition failed: UID in "
                "precondition: c1, UID in object meta: ")
        no_uid = {**body, "metadata": {"name": "p", "namespace": "a"}}
        assert m.update("pods", "a", "p", no_uid).code == 404
        assert m.patch("pods", "a", "p", "merge", {"metadata": {"uid": "c1"}}).code == 404
        node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n", "uid": "c2"}}
        assert m.update("nodes", None, "n", node).code == code


def test_a_value_beside_exists_shows_the_whole_toleration_before_1_32() -> None:
    # model/releases.py: TOLERATION_VALUE_CAUSE (kubernetes#128119, v1.32.0); measured on v1.29.15
    tol = {"key": "dedicated", "operator": "Exists", "value": "v"}
    shown = {}
    for release in ((1, 29, 15), (1, 31, 9), (1, 32, 0), (1, 37, 2)):
        m = APIModel(release=release)
        created(m, "namespaces", None, ns("a"), "1", "u1")
        e = m.create("pods", "a", pod("p", tolerations=[tol]))
        assert e.code == 422
        shown[release] = e.status["details"]["causes"][0]["message"]
    old = ('Invalid value: core.Toleration{Key:"dedicated", Operator:"Exists", Value:"v", Effect:"", '
           "TolerationSeconds:(*int64)(nil)}: value must be empty when `operator` is 'Exists'")
    assert shown[(1, 29, 15)] == shown[(1, 31, 9)] == old
    new = "Invalid value: \"v\": value must be empty when `operator` is 'Exists'"
    assert shown[(1, 32, 0)] == shown[(1, 37, 2)] == new
