"""The API-server state machine: Hypothesis picks calls, the model says what each must answer.

After every call the answer is compared with the model, the touched object is
read back, and every open watch is drained and checked. A disagreement raises
the invariant it breaks, with the whole sequence as a runnable program.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, ClassVar, NoReturn

from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
)

from adapters.base import LIST_FORMS, Response, Target
from adapters.resources import BY_PLURAL, namespaced
from conformance import strategies as gen
from conformance.client import CheckedClient, model_for, transport
from conformance.history import write_reproduction
from conformance.invariants import InvariantViolation
from conformance.ops import Op
from conformance.reporting import Reporter
from model.apiserver import clone
from model.selectors import Selector

MAX_WATCHES = 3
#: what an example starts with besides its namespace (see APIServerMachine.first_namespace): watches open from the
#: start, and objects stored before the first rule (each list may shrink to nothing)
START_WATCHES = st.lists(st.sampled_from(("pods", "nodes", "leases")), unique=True, max_size=MAX_WATCHES - 1)
START_PODS = st.lists(st.tuples(st.sampled_from(gen.POD_NAMES), gen.pod_specs(), gen.labels, gen.finalizer_lists),
                      max_size=3, unique_by=lambda t: t[0])
START_NODES = st.lists(st.tuples(st.sampled_from(gen.NODE_NAMES), gen.node_parts()), max_size=2,
                       unique_by=lambda t: t[0])
START_LEASES = st.lists(st.tuples(st.sampled_from(gen.LEASE_NAMES), gen.lease_specs), max_size=2,
                        unique_by=lambda t: t[0])
#: namespaced calls mostly go to the namespace every example starts with
NS = st.sampled_from((gen.NAMESPACES[0],) * 5 + gen.NAMESPACES[1:])
#: picks an existing object most of the time (see APIServerMachine._pick)
PICK = st.integers(0, 7)
#: (namespace, name) of pods a finalizer holds after a delete: still stored, with a deletionTimestamp
HELD_PODS = Bundle("held_pods")
#: (namespace, name) of pods a binding placed on a node
BOUND_PODS = Bundle("bound_pods")


def _ns_for(plural: str, ns: str | None) -> str | None:
    return ns if namespaced(plural) else None


class CheckedMachine(RuleBasedStateMachine):
    """The plumbing every kubeprop state machine shares: a fresh target, the model, the history, and the one
    checked client (conformance/client.py) every call goes through."""

    #: builds a fresh target for each example; set by :func:`conformance.runner.machine_for`
    target_factory: ClassVar[Callable[[], Target]]
    #: how to reopen the same target in a reproduction program (see conformance/replay.py)
    target_spec: ClassVar[dict[str, Any]] = {"kind": "builtin"}
    #: where failures are reported; set by :func:`conformance.runner.machine_for`
    reporter: ClassVar[Reporter] = Reporter()
    #: seconds a watch may take to deliver an acknowledged write (0 in process)
    watch_timeout: ClassVar[float] = 0.0
    #: steps run by every instance so far, and when the first failure of a run happened (for the benchmark)
    steps: ClassVar[int] = 0
    first_failure_at: ClassVar[float | None] = None

    def __init__(self) -> None:
        super().__init__()
        with transport(f"opening the {self.target_spec.get('kind')} target"):
            self.target = type(self).target_factory()
            self.model = model_for(self.target, self.target_spec)
        self.history = self.reporter.new_history(self.target_spec)
        self.client = CheckedClient(self.target, self.model, self.history, self.reporter, self._fail,
                                    watch_timeout=self.watch_timeout)
        self._steps_done = -1  # the invariant also runs once right after __init__
        self._in_invariant = False

    # ----- plumbing ---------------------------------------------------------------------------

    def _fail(self, err: InvariantViolation) -> NoReturn:
        if CheckedMachine.first_failure_at is None:
            CheckedMachine.first_failure_at = time.perf_counter()
        err.steps = self._steps_done + (0 if self._in_invariant else 1)
        program = self.history.program(err.invariant, err.detail)
        path = write_reproduction(program, err.invariant)
        self.reporter.failed(self.history, err, program, path, in_invariant=self._in_invariant,
                             watches=self.client.watches)
        err.args = (f"{err.args[0]}\n\nReproduction ({path}):\n{program}",)
        raise err

    def _repr_step(self, rule: Any, data: Any, result: Any) -> str:
        # Hypothesis prints the steps of the example it reports, the shrunk one: they become its report's steps
        self.history.mark_step(rule.function.__name__, data)
        return super()._repr_step(rule, data, result)

    def _stale_rv(self, plural: str, current: str | None) -> str:
        for rv in self.model.observed_rvs[plural]:
            if rv != current:
                return rv
        return "1"

    def _body_for_update(self, plural: str, ns: str | None, name: str, rv_mode: str) -> dict[str, Any]:
        stored = self.model.lookup(plural, ns, name)
        if stored is None:
            res = BY_PLURAL[plural]
            body: dict[str, Any] = {"apiVersion": res.api_version, "kind": res.kind, "metadata": {"name": name}}
            if ns:
                body["metadata"]["namespace"] = ns
            if plural == "pods":
                body["spec"] = {"containers": [{"name": "c0", "image": gen.IMAGES[0]}]}
            return body
        body = clone(stored)
        current = body["metadata"].get("resourceVersion")
        if rv_mode == "none":
            body["metadata"].pop("resourceVersion", None)
        elif rv_mode == "stale":
            body["metadata"]["resourceVersion"] = self._stale_rv(plural, current)
        return body

    # ----- creates ----------------------------------------------------------------------------

    @initialize()
    def first_namespace(self) -> None:
        body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": gen.NAMESPACES[0]}}
        self.client.write(Op.create("namespaces", None, body))



class APIServerMachine(CheckedMachine):
    """Create, read, update, delete, bind and watch namespaces, pods, nodes and leases."""

    #: the dryRun the next writes carry (set by arm_dry_run): None, or how it is asked; and for how many writes
    _dry_next: str | None = None
    _dry_left = 0

    @initialize(watches=START_WATCHES, pods=START_PODS, nodes=START_NODES, leases=START_LEASES)
    def first_namespace(self, watches: list[str], pods: list[tuple[str, dict[str, Any], dict[str, str], list[str]]],
                        nodes: list[tuple[str, dict[str, Any]]], leases: list[tuple[str, dict[str, Any]]]) -> None:
        """The namespace every example starts with; and, drawn, watches open on whole resources from the start
        (each later change of theirs is then checked on a stream, not only the changes made after a watch
        rule happened to run) and objects already stored (so the rules that read, change, bind or delete an
        existing object, most of the rules, rarely meet an empty store)."""
        CheckedMachine.first_namespace(self)
        for resource in watches:
            self.client.open_watch(resource, None, None)
        ns = gen.NAMESPACES[0]
        for name, spec, labels, finalizers in pods:
            self.client.write(Op.create("pods", ns, gen.pod_body(name, spec, labels, finalizers)))
        for name, parts in nodes:
            self.client.write(Op.create("nodes", None, gen.node_body(name, parts)))
        for name, spec in leases:
            self.client.write(Op.create("leases", ns, gen.lease_body(name, spec)))

    @precondition(lambda self: self._dry_next is None)
    @rule(how=st.sampled_from(gen.DRY_RUN_FORMS), writes=st.integers(1, 3))
    def arm_dry_run(self, how: str, writes: int) -> None:
        """The next ``writes`` writes ask for a dry run, in one of the forms a client may use
        (conformance/strategies.py: DRY_RUN_FORMS), whatever they are, as a client checking a set of changes
        (kubectl's --dry-run=server over a manifest) does: every create, update, patch, delete and binding the
        machine makes is also made as a dry run, and must change nothing."""
        self._dry_next, self._dry_left = how, writes

    def _write(self, op: Op) -> Response:
        """Every write of this machine goes through here: the dry run armed for it, if any, then the write."""
        how = self._dry_next
        if how is not None:
            op = gen.with_dry_run(op, how)
            self._dry_left -= 1
            if self._dry_left <= 0:
                self._dry_next = None
        return self.client.write(op)

    @rule(name=gen.names(gen.NAMESPACES, gen.INVALID_NAMES[:2]), labels=gen.labels)
    def create_namespace(self, name: str, labels: dict[str, str]) -> None:
        body: dict[str, Any] = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
        if labels:
            body["metadata"]["labels"] = labels
        self._write(Op.create("namespaces", None, body))

    @rule(
        ns=gen.names((gen.NAMESPACES[0],) * 5 + gen.NAMESPACES[1:], (gen.MISSING_NAMESPACE,)),
        name=gen.names(gen.POD_NAMES, gen.INVALID_NAMES),
        spec=gen.pod_specs(),
        labels=gen.labels,
        finalizers=gen.finalizer_lists,
        with_rv=st.integers(0, 15).map(lambda i: i == 0),
        # a client may send a status; the server owns it and resets it on create
        status=st.sampled_from((None, None, None, {"phase": "Running", "hostIP": "10.0.0.7"})),
    )
    def create_pod(self, ns: str, name: str, spec: dict[str, Any], labels: dict[str, str],
                   finalizers: list[str], with_rv: bool, status: dict[str, Any] | None) -> None:
        body = gen.pod_body(name, spec, labels, finalizers)
        if status is not None:
            body["status"] = dict(status)
        if with_rv:
            body["metadata"]["resourceVersion"] = "12345"
        self._write(Op.create("pods", ns, body))

    @rule(name=gen.names(gen.NODE_NAMES, gen.INVALID_NAMES[:1]), parts=gen.node_parts())
    def create_node(self, name: str, parts: dict[str, Any]) -> None:
        body = gen.node_body(name, parts)
        self._write(Op.create("nodes", None, body))

    @rule(ns=NS, name=st.sampled_from(gen.LEASE_NAMES), spec=gen.lease_specs)
    def create_lease(self, ns: str, name: str, spec: dict[str, Any]) -> None:
        self._write(Op.create("leases", ns, gen.lease_body(name, spec)))

    # ----- reads ------------------------------------------------------------------------------

    @rule(resource=st.sampled_from(("pods", "nodes", "leases", "namespaces")), ns=NS, index=PICK)
    def get_object(self, resource: str, ns: str, index: int) -> None:
        self.client.call(Op.get(resource, _ns_for(resource, ns), self._pick(resource, ns, index)))

    @rule(resource=st.sampled_from(("pods", "nodes", "leases", "namespaces")),
          ns=st.sampled_from((None,) + gen.NAMESPACES),
          selector=st.one_of(st.none(), gen.selectors()))
    def list_objects(self, resource: str, ns: str | None, selector: Selector | None) -> None:
        self.client.call(Op.list(resource, ns, selector))

    @rule(verb=st.sampled_from(("get", "list")), resource=st.sampled_from(("pods", "nodes", "leases", "namespaces")),
          ns=NS, index=PICK, rv=gen.malformed_resource_versions)
    def read_at_malformed_rv(self, verb: str, resource: str, ns: str, index: int, rv: str) -> None:
        """A get or list whose resourceVersion no storage can parse: a client error, whatever the verb."""
        ns_ = _ns_for(resource, ns)
        op = (Op.get(resource, ns_, self._pick(resource, ns, index), resource_version=rv) if verb == "get"
              else Op.list(resource, ns_, resource_version=rv))
        self.client.call(op)

    @rule(resource=st.sampled_from(("pods", "leases")), form=st.sampled_from(LIST_FORMS[1:]))
    def list_without_resource(self, resource: str, form: str) -> None:
        """A list at a URL that names a group version (core v1 for pods, coordination.k8s.io/v1 for leases) and a
        watch/ or proxy/ prefix but no resource: a URL that serves nothing, a client's mistake (404)."""
        self.client.call(Op.resourceless(resource, form))

    # ----- updates ----------------------------------------------------------------------------

    @rule(resource=st.sampled_from(("pods", "nodes", "leases", "namespaces")),
          ns=NS, index=PICK, labels=gen.labels,
          rv_mode=st.sampled_from(("fresh", "stale", "none")))
    def update_labels(self, resource: str, ns: str, index: int, labels: dict[str, str], rv_mode: str) -> None:
        name = self._pick(resource, ns, index)
        ns_ = _ns_for(resource, ns)
        body = self._body_for_update(resource, ns_, name, rv_mode)
        if resource == "namespaces":
            labels = {**labels, "kubernetes.io/metadata.name": name}
        body["metadata"]["labels"] = labels
        self._write(Op.update(resource, ns_, name, body))

    @rule(resource=st.sampled_from(("pods", "nodes", "leases")), ns=NS,
          index=PICK, finalizers=gen.finalizer_lists,
          rv_mode=st.sampled_from(("fresh", "none")))
    def update_finalizers(self, resource: str, ns: str, index: int, finalizers: list[str], rv_mode: str) -> None:
        name = self._pick(resource, ns, index)
        ns_ = _ns_for(resource, ns)
        body = self._body_for_update(resource, ns_, name, rv_mode)
        body["metadata"]["finalizers"] = finalizers
        self._write(Op.update(resource, ns_, name, body))

    @rule(ns=NS, index=PICK, image=st.sampled_from(gen.IMAGES), rv_mode=st.sampled_from(("fresh", "stale", "none")))
    def update_pod_image(self, ns: str, index: int, image: str, rv_mode: str) -> None:
        name = self._pick("pods", ns, index)
        body = self._body_for_update("pods", ns, name, rv_mode)
        body["spec"]["containers"][0]["image"] = image
        self._write(Op.update("pods", ns, name, body))

    @rule(resource=st.sampled_from(("pods", "nodes", "leases", "namespaces")), ns=NS,
          index=PICK, rv_mode=st.sampled_from(("fresh", "none")))
    def noop_update(self, resource: str, ns: str, index: int, rv_mode: str) -> None:
        name = self._pick(resource, ns, index)
        ns_ = _ns_for(resource, ns)
        body = self._body_for_update(resource, ns_, name, rv_mode)
        self._write(Op.update(resource, ns_, name, body))

    @rule(ns=NS, index=PICK, spec=gen.lease_specs, rv_mode=st.sampled_from(("fresh", "stale", "none")))
    def update_lease(self, ns: str, index: int, spec: dict[str, Any], rv_mode: str) -> None:
        name = self._pick("leases", ns, index)
        body = self._body_for_update("leases", ns, name, rv_mode)
        body["spec"] = spec
        self._write(Op.update("leases", ns, name, body))

    @rule(verb=st.sampled_from(("create", "update", "patch")),
          resource=st.sampled_from(("pods", "nodes", "leases", "namespaces")), ns=NS, index=PICK,
          field=st.sampled_from(tuple(gen.SERVER_OWNED)))
    def set_server_owned_field(self, verb: str, resource: str, ns: str, index: int, field: str) -> None:
        """A field only the server may set, sent by the client: on a create (the server sets its own,
        rest/meta.go WipeObjectMetaSystemFields, FillObjectMetaSystemFields), in a PUT of the stored object (the
        uid a precondition, the rest kept or refused as immutable: rest/update.go BeforeUpdate) or a merge patch."""
        ns_ = _ns_for(resource, ns)
        value = gen.SERVER_OWNED[field]
        if verb == "create":
            res = BY_PLURAL[resource]
            pool = {"pods": gen.POD_NAMES, "nodes": gen.NODE_NAMES, "leases": gen.LEASE_NAMES,
                    "namespaces": gen.NAMESPACES}[resource]
            body: dict[str, Any] = {"apiVersion": res.api_version, "kind": res.kind,
                                    "metadata": {"name": pool[index % len(pool)], field: value}}
            if resource == "pods":
                body["spec"] = {"containers": [{"name": "c0", "image": gen.IMAGES[0]}]}
            self._write(Op.create(resource, ns_, body))
            return
        name = self._pick(resource, ns, index)
        if verb == "patch":
            self._write(Op.patch(resource, ns_, name, {"metadata": {field: value}}, "merge"))
            return
        body = self._body_for_update(resource, ns_, name, "fresh")
        body["metadata"][field] = value
        self._write(Op.update(resource, ns_, name, body))

    @rule(verb=st.sampled_from(("create", "update", "patch", "bind")),
          resource=st.sampled_from(("pods", "nodes", "leases", "namespaces")), ns=NS, index=PICK,
          where=st.sampled_from(tuple(gen.INVALID_VALUES)), pick=st.integers(0, 7))
    def set_invalid_value(self, verb: str, resource: str, ns: str, index: int, where: str, pick: int) -> None:
        """One value the API refuses (conformance/strategies.py: INVALID_VALUES), sent by every verb that can store
        it: a create, a PUT of the stored object, a merge patch, and a binding, whose annotations the binding
        subresource copies onto the pod (pkg/registry/core/pod/storage/storage.go: setPodNodeAndMetadata). A
        Lease spec value goes to a Lease, a taint to a node (its taints replaced by the one or two sent), a pod
        spec value to a new pod (an update may change almost nothing of a pod's spec); a binding carries an
        annotation."""
        if where.startswith("lease-"):
            resource = "leases"
        elif where.startswith("taint-"):
            resource = "nodes"
        elif where in gen.POD_SPEC_INVALID:
            resource, verb = "pods", "create"
        if verb == "bind":
            resource, where = "pods", "annotation-key"
        values = gen.INVALID_VALUES[where]
        value = values[pick % len(values)]
        ns_ = _ns_for(resource, ns)
        meta: dict[str, Any] = {}
        spec: dict[str, Any] = {}
        if where == "label-key":
            meta["labels"] = {value: "v"}
        elif where == "label-value":
            meta["labels"] = {"app": value}
        elif where == "annotation-key":
            meta["annotations"] = {value: "v"}
        elif where.startswith("taint-"):
            taint = {"key": "dedicated", "effect": "NoSchedule"}
            if where == "taint-duplicate":
                spec["taints"] = [{"key": value, "effect": "NoSchedule"},
                                  {"key": value, "value": "v", "effect": "NoSchedule"}]
            else:
                spec["taints"] = [{**taint, where.removeprefix("taint-"): value}]
        elif where in gen.POD_SPEC_INVALID:
            spec["containers"] = [{"name": value if where == "container-name" else "c0", "image": gen.IMAGES[0]}]
            if where == "node-selector-key":
                spec["nodeSelector"] = {value: "v"}
            elif where == "node-selector-value":
                spec["nodeSelector"] = {"app": value}
            elif where == "toleration":
                spec["tolerations"] = [value]
        else:
            spec["leaseDurationSeconds" if where == "lease-duration" else "leaseTransitions"] = value
        if verb == "bind":
            name = self._pick("pods", ns, index)
            node = gen.NODE_NAMES[index % len(gen.NODE_NAMES)]
            body = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": name, "namespace": ns, **meta},
                    "target": {"kind": "Node", "name": node}}
            self._write(Op.bind(ns, name, body))
            return
        if verb == "create":
            res = BY_PLURAL[resource]
            pool = {"pods": gen.POD_NAMES, "nodes": gen.NODE_NAMES, "leases": gen.LEASE_NAMES,
                    "namespaces": gen.NAMESPACES}[resource]
            body = {"apiVersion": res.api_version, "kind": res.kind,
                    "metadata": {"name": pool[index % len(pool)], **meta}}
            if resource == "pods":
                body["spec"] = spec or {"containers": [{"name": "c0", "image": gen.IMAGES[0]}]}
            elif resource == "leases":
                body["spec"] = {"holderIdentity": "replica-0", **spec}
            elif spec:
                body["spec"] = spec
            self._write(Op.create(resource, ns_, body))
            return
        name = self._pick(resource, ns, index)
        if verb == "patch":
            self._write(Op.patch(resource, ns_, name, {"metadata": meta, "spec": spec} if spec else {"metadata": meta},
                                 "merge"))
            return
        body = self._body_for_update(resource, ns_, name, "fresh")
        for k, v in meta.items():
            body["metadata"][k] = {**(body["metadata"].get(k) or {}), **v}
        if spec:
            body["spec"] = {**(body.get("spec") or {}), **spec}
        self._write(Op.update(resource, ns_, name, body))

    # ----- patches (apiserver/pkg/endpoints/handlers/patch.go) -------------------------------------------

    @rule(resource=st.sampled_from(("pods", "nodes", "leases", "namespaces")), ns=NS, index=PICK,
          changes=st.dictionaries(st.sampled_from(gen.LABEL_KEYS),
                                  st.one_of(st.none(), st.sampled_from(gen.LABEL_VALUES)), max_size=3),
          patch_type=st.sampled_from(("merge", "json")),
          rv_mode=st.sampled_from(("none", "none", "fresh", "stale")),
          test_label=st.one_of(st.none(), st.tuples(st.sampled_from(gen.LABEL_KEYS),
                                                    st.sampled_from(gen.LABEL_VALUES))))
    def patch_labels(self, resource: str, ns: str, index: int, changes: dict[str, str | None], patch_type: str,
                     rv_mode: str, test_label: tuple[str, str] | None) -> None:
        """A merge patch (null removes a label) or a JSON patch (optional tests, then the whole label map)."""
        name = self._pick(resource, ns, index)
        ns_ = _ns_for(resource, ns)
        stored = self.model.lookup(resource, ns_, name)
        current = (stored or {}).get("metadata", {}).get("resourceVersion")
        rv = {"none": None, "fresh": current, "stale": self._stale_rv(resource, current)}[rv_mode]
        patch: Any
        if patch_type == "merge":
            patch = {"metadata": {"labels": changes}}
            if rv:
                patch["metadata"]["resourceVersion"] = rv
        else:
            patch = []
            if rv:
                patch.append({"op": "test", "path": "/metadata/resourceVersion", "value": rv})
            if test_label is not None:
                patch.append({"op": "test", "path": f"/metadata/labels/{test_label[0]}", "value": test_label[1]})
            labels = dict((stored or {}).get("metadata", {}).get("labels") or {})
            labels.update({k: v for k, v in changes.items() if v is not None})
            for k in [k for k, v in changes.items() if v is None]:
                labels.pop(k, None)
            patch.append({"op": "add", "path": "/metadata/labels", "value": labels})
        self._write(Op.patch(resource, ns_, name, patch, patch_type))

    @rule(ns=NS, index=PICK, image=st.sampled_from(gen.IMAGES),
          how=st.sampled_from(("merge", "json", "json-test")))
    def patch_pod_image(self, ns: str, index: int, image: str, how: str) -> None:
        """The first container's image: a merge patch sends the whole list, a JSON patch one path (maybe tested)."""
        name = self._pick("pods", ns, index)
        stored = self.model.lookup("pods", ns, name)
        patch: Any
        if how == "merge":
            containers = clone((stored or {}).get("spec", {}).get("containers") or [{"name": "c0"}])
            containers[0]["image"] = image
            patch, patch_type = {"spec": {"containers": containers}}, "merge"
        else:
            patch, patch_type = [], "json"
            if how == "json-test":
                patch.append({"op": "test", "path": "/spec/containers/0/image", "value": gen.IMAGES[0]})
            patch.append({"op": "replace", "path": "/spec/containers/0/image", "value": image})
        self._write(Op.patch("pods", ns, name, patch, patch_type))

    # ----- the status subresource (pods/{name}/status, nodes/{name}/status) ----------------------------------

    @rule(resource=st.sampled_from(("pods", "pods", "nodes")), ns=NS, index=PICK, pod_status=gen.pod_statuses(),
          node_status=gen.node_statuses(), verb=gen.status_verbs, edge=gen.status_edges, pick=st.integers(0, 7))
    def write_status(self, resource: str, ns: str, index: int, pod_status: dict[str, Any],
                     node_status: dict[str, Any], verb: str, edge: str | None, pick: int) -> None:
        """A kubelet's write of a pod's or node's status through the status subresource: a PUT of the object read
        back with a new status, or a merge or JSON patch of the status; with one of the things such a write may
        get wrong or do besides (conformance/strategies.py: STATUS_EDGES). What the status strategy keeps of the
        stored object, and what it refuses, is the model's to say."""
        ns_ = _ns_for(resource, ns)
        name = self._absent(resource, ns) if edge == "missing" else self._pick(resource, ns, index)
        stored = self.model.lookup(resource, ns_, name)
        if edge == "rerun" and resource == "pods" and stored is not None and not any(
                (c.get("state") or {}).get("terminated") for c in (stored.get("status") or {}).get(
                    "containerStatuses") or [] if isinstance(c, dict)):
            # the containers end first (a write of its own), so that reporting them running again means something
            body = self._body_for_update(resource, ns_, name, "fresh")
            body["status"] = self._status_for(resource, stored, pod_status, node_status, "ended", pick)
            self._write(Op.update(resource, ns_, name, body, subresource="status"))
            stored = self.model.lookup(resource, ns_, name)
        status = self._status_for(resource, stored or {}, pod_status, node_status, edge, pick)
        meta: dict[str, Any] = {}
        spec: dict[str, Any] = {}
        if edge == "spec-and-meta":
            key, value = gen.LABEL_KEYS[pick % len(gen.LABEL_KEYS)], gen.LABEL_VALUES[pick % len(gen.LABEL_VALUES)]
            meta["labels"] = {key: value}
            if resource == "pods":
                meta["ownerReferences"] = [{"apiVersion": "v1", "kind": "ConfigMap", "name": "owner",
                                            "uid": "c1e47000-0000-4000-8000-0000000000aa"}]
                old = ((stored or {}).get("spec") or {}).get("restartPolicy")
                spec["restartPolicy"] = "Never" if old in (None, "Always") else "Always"
            else:
                spec["unschedulable"] = not ((stored or {}).get("spec") or {}).get("unschedulable")
        elif edge == "deletion":
            meta["deletionTimestamp"] = gen.SERVER_OWNED["deletionTimestamp"]
        current = ((stored or {}).get("metadata") or {}).get("resourceVersion")
        stale = self._stale_rv(resource, current) if edge == "stale" else None
        op: Op
        if verb == "put":
            body = self._body_for_update(resource, ns_, name, "stale" if stale else "none" if pick == 0 else "fresh")
            body["status"] = status
            body["metadata"].update(meta)
            body["spec"] = {**(body.get("spec") or {}), **spec}
            op = Op.update(resource, ns_, name, body, subresource="status")
        elif verb == "merge":
            patch: Any = {"status": status, **({"spec": spec} if spec else {})}
            if meta or stale:
                patch["metadata"] = {**meta, **({"resourceVersion": stale} if stale else {})}
            op = Op.patch(resource, ns_, name, patch, "merge", subresource="status")
        else:
            patch = [{"op": "replace", "path": "/metadata/resourceVersion", "value": stale}] if stale else []
            labels = ((stored or {}).get("metadata") or {}).get("labels") or {}
            for key, value in meta.items():
                patch.append({"op": "add", "path": f"/metadata/{key}",
                              "value": {**labels, **value} if key == "labels" else value})
            patch += [{"op": "add", "path": f"/spec/{k}", "value": v} for k, v in spec.items()]
            patch.append({"op": "add", "path": "/status", "value": status})
            op = Op.patch(resource, ns_, name, patch, "json", subresource="status")
        self._write(gen.with_dry_run(op, "query") if edge == "dry-run" else op)

    @staticmethod
    def _status_for(resource: str, stored: dict[str, Any], pod_status: dict[str, Any], node_status: dict[str, Any],
                    edge: str | None, pick: int) -> dict[str, Any]:
        """The status a write sends: for a pod, one status per container of its spec in the drawn states (a
        state drawn beyond them reports a container "c9" the spec does not have), the QoS class read back; for
        a node, the drawn conditions and addresses beside the capacity read back; then the edge."""
        old = stored.get("status") or {}
        if resource == "nodes":
            status = {k: clone(v) for k, v in old.items() if k in ("capacity", "allocatable")}
            status.update(clone(node_status))
            if edge == "addresses":
                status["addresses"].append(dict(status["addresses"][0]))
            return status
        status = {k: clone(v) for k, v in pod_status.items() if k != "states"}
        containers = [c for c in (stored.get("spec") or {}).get("containers") or [] if isinstance(c, dict)] \
            or [{"name": "c0", "image": gen.IMAGES[0]}]
        states = pod_status["states"]
        reported = [gen.container_status(str(c.get("name")), str(c.get("image") or ""), states[i % len(states)])
                    for i, c in enumerate(containers)]
        if len(states) > len(containers):
            reported.append(gen.container_status("c9", gen.IMAGES[0], states[-1]))
        if edge == "ended":
            reported = [gen.container_status(c["name"], c["image"], "failed" if s == "failed" else "terminated")
                        for c, s in zip(reported, [*states, *states, *states], strict=False)]
        elif edge == "rerun" and old.get("containerStatuses"):
            # what the stored status shows, each terminated container running again
            reported = [{**clone(c), "state": {"running": {"startedAt": gen.RESTARTED_AT}}, "ready": True}
                        if isinstance(c, dict) and ((c.get("state") or {}).get("terminated")) else clone(c)
                        for c in old["containerStatuses"]]
        status["containerStatuses"] = reported
        qos = old.get("qosClass")
        if qos and edge != "no-qos":
            status["qosClass"] = qos
        if edge == "qos":
            status["qosClass"] = next(q for q in ("Guaranteed", "Burstable", "BestEffort") if q != qos)
        elif edge == "host-ip":
            status["hostIP"], status["hostIPs"] = "10.0.0.9", [{"ip": "10.0.0.8"}]
        elif edge == "condition":
            kind = gen.INVALID_CONDITION_TYPES[pick % len(gen.INVALID_CONDITION_TYPES)]
            status["conditions"] = [*status.get("conditions", []), {"type": kind, "status": "True"}]
        return status

    def _absent(self, resource: str, ns: str) -> str:
        """A name of the pool that no stored object has (the pool's last when every one is taken)."""
        pool = {"pods": gen.POD_NAMES, "nodes": gen.NODE_NAMES, "leases": gen.LEASE_NAMES,
                "namespaces": gen.NAMESPACES}[resource]
        ns_ = _ns_for(resource, ns)
        return next((n for n in pool if self.model.lookup(resource, ns_, n) is None), pool[-1])

    def _pick(self, resource: str, ns: str, index: int) -> str:
        """An existing object's name for most indexes (so calls do something); the last index names any."""
        pool = {"pods": gen.POD_NAMES, "nodes": gen.NODE_NAMES, "leases": gen.LEASE_NAMES,
                "namespaces": gen.NAMESPACES}[resource]
        want_ns = _ns_for(resource, ns) or ""
        existing = sorted(n for (p, ons, n) in self.model.objects if p == resource and ons == want_ns)
        if existing and index < 7:
            return existing[index % len(existing)]
        return pool[index % len(pool)]

    # ----- deletes ----------------------------------------------------------------------------

    @rule(target=HELD_PODS, resource=st.sampled_from(("pods", "pods", "nodes", "leases")), ns=NS,
          index=PICK, grace=st.sampled_from((None, 0, 1, 5, 30)),
          precondition=st.sampled_from(("none", "none", "uid", "wrong-uid", "rv", "stale-rv")),
          # a delete cannot be undone: one in four is also asked as a dry run on its own, besides arm_dry_run
          dry=st.sampled_from((None,) * 9 + ("query", "body", "both")))
    def delete_object(self, resource: str, ns: str, index: int, grace: int | None, precondition: str,
                      dry: str | None) -> Any:
        name, ns_ = self._pick(resource, ns, index), _ns_for(resource, ns)
        op = Op.delete(resource, ns_, name, self._delete_options(resource, ns_, name, grace, precondition))
        self._write(gen.with_dry_run(op, dry) if dry is not None else op)
        held = self.model.lookup(resource, ns_, name)
        if resource == "pods" and held is not None and held["metadata"].get("deletionTimestamp"):
            return multiple((ns, name))  # for the rules that act on a pod being deleted
        return multiple()

    def _delete_options(self, resource: str, ns: str | None, name: str, grace: int | None,
                        precondition: str) -> dict[str, Any]:
        stored = self.model.lookup(resource, ns, name)
        options: dict[str, Any] = {"kind": "DeleteOptions", "apiVersion": "v1"}
        if grace is not None:
            options["gracePeriodSeconds"] = grace
        meta = stored["metadata"] if stored else {}
        if precondition == "uid":
            options["preconditions"] = {"uid": meta.get("uid", "00000000-0000-0000-0000-000000000000")}
        elif precondition == "wrong-uid":
            options["preconditions"] = {"uid": "00000000-0000-0000-0000-00000000dead"}
        elif precondition == "rv":
            options["preconditions"] = {"resourceVersion": meta.get("resourceVersion", "1")}
        elif precondition == "stale-rv":
            options["preconditions"] = {"resourceVersion": self._stale_rv(resource, meta.get("resourceVersion"))}
        return options

    # ----- binding ----------------------------------------------------------------------------

    @rule(target=BOUND_PODS, ns=NS, index=PICK, node=st.sampled_from(gen.NODE_NAMES + (gen.MISSING_NODE,)),
          uid_mode=st.sampled_from(("right", "right", "none", "wrong")),
          annotations=st.dictionaries(st.sampled_from(("kubeprop.io/by", "kubeprop.io/why")),
                                      st.sampled_from(("test", "sched")), max_size=1),
          target_form=gen.binding_targets, url=gen.binding_urls)
    def bind_pod(self, ns: str, index: int, node: str, uid_mode: str, annotations: dict[str, str],
                 target_form: tuple[str | None, bool], url: str) -> Any:
        name = self._pick("pods", ns, index)
        self._bind(ns, name, node, uid_mode, annotations, target_form, url)
        pod = self.model.lookup("pods", ns, name)
        if pod is not None and pod.get("spec", {}).get("nodeName"):
            return multiple((ns, name))  # for the rules that act on a bound pod
        return multiple()

    @rule(pod=consumes(BOUND_PODS), node=st.sampled_from(gen.NODE_NAMES), uid_mode=st.sampled_from(("right", "none")))
    def rebind_pod(self, pod: tuple[str, str], node: str, uid_mode: str) -> None:
        """Bind a pod a binding already placed: a second binding must be refused, whatever node it names."""
        self._bind(*pod, node, uid_mode, {})

    @rule(pod=consumes(HELD_PODS), node=st.sampled_from(gen.NODE_NAMES), uid_mode=st.sampled_from(("right", "none")))
    def bind_held_pod(self, pod: tuple[str, str], node: str, uid_mode: str) -> None:
        """Bind a pod a finalizer holds after its delete: binding must refuse a pod that is being deleted."""
        self._bind(*pod, node, uid_mode, {})

    def _bind(self, ns: str, name: str, node: str, uid_mode: str, annotations: dict[str, str],
              target_form: tuple[str | None, bool] = ("Node", True), url: str = "") -> Response:
        pod = self.model.lookup("pods", ns, name)
        meta: dict[str, Any] = {"name": name, "namespace": ns}
        if uid_mode == "right" and pod is not None:
            meta["uid"] = pod["metadata"].get("uid")
        elif uid_mode == "wrong":
            meta["uid"] = "00000000-0000-0000-0000-00000000beef"
        if annotations:
            meta["annotations"] = annotations
        kind, named = target_form
        target: dict[str, Any] = {} if kind is None else {"kind": kind}
        if named:
            target["name"] = node
        body = {"apiVersion": "v1", "kind": "Binding", "metadata": meta, "target": target}
        return self._write(Op.bind(ns, name, body, form=url))

    # ----- watches, clock, compaction ---------------------------------------------------------

    @precondition(lambda self: len(self.client.watches) < MAX_WATCHES)
    @rule(resource=st.sampled_from(("pods", "nodes", "leases")), ns=st.sampled_from((None,) + gen.NAMESPACES),
          # None: from now; 0: the oldest observed version (a long replay, expired after a compaction)
          start=st.one_of(st.none(), st.just(0), st.integers(0, 50)), view=gen.watch_views)
    def open_watch(self, resource: str, ns: str | None, start: int | None, view: tuple[str, int | None]) -> None:
        """Watch a resource, or one object of it, at one of the URLs the API serves the same watch at."""
        rv: str | None = None
        if start is not None:
            observed = self.model.observed_rvs[resource]
            if not observed:
                return
            rv = observed[start % len(observed)]
        form, index = view
        name = None if index is None else gen.WATCH_NAMES[resource][index]
        self.client.open_watch(resource, _ns_for(resource, ns), rv, name=name, form=form)
        self.client.check_watches()

    @precondition(lambda self: bool(self.client.watches))
    @rule(index=st.integers(0, MAX_WATCHES - 1))
    def close_watch(self, index: int) -> None:
        self.client.close_watch(index)

    @precondition(lambda self: self.target.controls is not None)
    @rule(seconds=st.sampled_from((1, 5, 29, 31)))
    def advance_clock(self, seconds: int) -> None:
        self.client.advance_clock(seconds)

    @precondition(lambda self: self.target.controls is not None)
    @rule()
    def compact(self) -> None:
        self.client.compact()

    # ----- checked after every step -----------------------------------------------------------

    @invariant()
    def watches_deliver_the_log(self) -> None:
        self._steps_done += 1
        APIServerMachine.steps += 1
        self._in_invariant = True
        self.client.check_watches()
        self._in_invariant = False

    def teardown(self) -> None:
        self.client.close()
