"""Hypothesis strategies for the objects kubeprop sends.

Names come from small fixed pools so that sequences collide (create twice,
delete then recreate, bind a pod that is gone); values are canonical on the wire
(quantities as the API server prints them) so a real server echoes them back
unchanged. The scheduler state machines reuse the pod and node generators.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from hypothesis import strategies as st

from model.selectors import Requirement, Selector

NAMESPACES = ("ns-a", "ns-b")
MISSING_NAMESPACE = "ns-missing"
POD_NAMES = ("p0", "p1", "p2")
NODE_NAMES = ("n0", "n1")
MISSING_NODE = "n-missing"

#: a Binding's target as (kind, whether it names the node). pkg/apis/core/validation/validation.go:
#: ValidatePodBinding takes kind "" or "Node" and requires a name; the other forms are what a client may get
#: wrong (a kind in the wrong case, another kind, no name), sent now and then
binding_targets = st.one_of(
    *[st.just(("Node", True))] * 4,
    st.sampled_from(((None, True), ("Node", False), (None, False), ("node", True), ("Pod", True),
                     ("Pod", False))),
)
#: the URL a binding is posted to (conformance.ops.Op.form): pods/{name}/binding, or the older
#: namespaces/{ns}/bindings the API also serves for the same request
binding_urls = st.sampled_from(("", "", "", "bindings"))
LEASE_NAMES = ("l0", "l1")
#: the names a watch of one object draws from, per resource the API machine watches
WATCH_NAMES = {"pods": POD_NAMES, "nodes": NODE_NAMES, "leases": LEASE_NAMES}
#: how a watch is asked, in one draw (adapters.base.Target.watch): the URL form, "" (?watch=true on the
#: collection) or "path" (the deprecated watch/ prefix) one time in four; and the index in WATCH_NAMES of the one
#: name it watches (a fieldSelector metadata.name=NAME, or the object's own URL under watch/), or None for the
#: whole collection, half the time
watch_views = st.sampled_from([(form, index) for form in ("", "", "", "path") for index in (None, None, 0, 1)])
INVALID_NAMES = ("Bad_Name", "-leading-dash", "x" * 64, "dotted.name")
FINALIZERS = ("kubeprop.io/a", "kubeprop.io/b")
IMAGES = ("registry.k8s.io/pause:3.10", "busybox:1.36", "nginx:1.27")
#: metadata only the server may set (apimachinery/pkg/apis/meta/v1/types.go: ObjectMeta, "Populated by the
#: system"), with a value a client might send; resourceVersion has its own rules (a precondition on update)
SERVER_OWNED = {"uid": "c1e47000-0000-4000-8000-000000000001", "creationTimestamp": "2001-02-03T04:05:06Z",
                "deletionTimestamp": "2001-02-03T04:05:06Z", "deletionGracePeriodSeconds": 7}

#: values the API refuses, per place (apimachinery/pkg/api/validate/content/kube.go: IsLabelKey, IsLabelValue;
#: apimachinery/pkg/api/validation/objectmeta.go: ValidateAnnotations; pkg/apis/coordination/validation/
#: validation.go: ValidateLeaseSpec): one breaks each rule the server checks there
INVALID_VALUES: dict[str, tuple[Any, ...]] = {
    "label-key": ("bad key", "a/b/c", "/x", "-x", "x" * 64, "Example.COM/x", "example.com/", "a" * 254 + "/x"),
    "label-value": ("bad value", "-x", "x" * 64, "a/b", "x_"),
    "annotation-key": ("bad key", "a/b/c", "-x", "/x", "x" * 64),
    "lease-duration": (0, -1),
    "lease-transitions": (-1,),
    # a node's spec.taints (pkg/apis/core/validation/validation.go: validateNodeTaints): the key a label key, the
    # value a label value, the effect one of three, and a key and effect pair once (a value here: the key that
    # comes twice)
    "taint-key": ("bad key", "a/b/c", "-x", "x" * 64, "example.com/"),
    "taint-value": ("bad value", "-x", "x" * 64, "a/b"),
    "taint-effect": ("", "NoScheduleNoAdmit", "noschedule"),
    "taint-duplicate": ("dedicated", "gpu", "kubeprop.io/fake"),
    # a pod's spec, sent by create (an update may change almost nothing of it): a container's name a DNS-1123
    # label; the nodeSelector as labels; a toleration's key, operator, value, effect and tolerationSeconds
    # (ValidatePodSpec, ValidateTolerations)
    "container-name": ("Bad_Name", "-c", "c" * 64, "c.d"),
    "node-selector-key": ("bad key", "a/b/c", "-x", "example.com/"),
    "node-selector-value": ("bad value", "-x", "x" * 64),
    "toleration": ({"key": "bad key", "operator": "Exists"}, {"key": "dedicated", "operator": "Bogus"},
                   {"key": "dedicated", "value": "-x"}, {"key": "dedicated", "operator": "Exists", "value": "v"},
                   {"operator": "Equal", "value": "v"}, {"key": "dedicated", "operator": "Exists", "effect": "Bogus"},
                   {"key": "dedicated", "operator": "Exists", "effect": "NoSchedule", "tolerationSeconds": 5}),
}

#: the INVALID_VALUES that go in a pod's spec, and only by create
POD_SPEC_INVALID = ("container-name", "node-selector-key", "node-selector-value", "toleration")

LABEL_KEYS = ("app", "tier", "env")
LABEL_VALUES = ("web", "db", "prod", "dev")
CPU = ("100m", "250m", "500m", "1", "2")
MEMORY = ("64Mi", "128Mi", "512Mi", "1Gi")
TAINT_KEYS = ("dedicated", "gpu", "kubeprop.io/fake")
TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")



def names(pool: tuple[str, ...], invalid: tuple[str, ...] = ()) -> st.SearchStrategy[str]:
    """A name from ``pool`` (so calls collide) nine times in ten, else one from ``invalid``; shrinks to valid."""
    if not invalid:
        return st.sampled_from(pool)
    return st.tuples(st.integers(0, 9), st.sampled_from(pool), st.sampled_from(invalid)).map(
        lambda t: t[2] if t[0] == 9 else t[1])


labels = st.dictionaries(st.sampled_from(LABEL_KEYS), st.sampled_from(LABEL_VALUES), max_size=3)
finalizer_lists = st.lists(st.sampled_from(FINALIZERS), max_size=2, unique=True)


# Strategies a composite draws from are built once, here, not on every draw: building one (and validating
# it on its first draw) costs far more than drawing from it, and the choices drawn are the same.
_SELECTOR_KEYS = st.lists(st.sampled_from(LABEL_KEYS), min_size=1, max_size=2, unique=True)
_SELECTOR_OPS = st.sampled_from(("=", "!=", "in", "notin", "exists", "!"))
_LABEL_VALUE = st.sampled_from(LABEL_VALUES)
_SELECTOR_VALUES = st.lists(st.sampled_from(LABEL_VALUES), min_size=1, max_size=2, unique=True)


@st.composite
def selectors(draw: st.DrawFn) -> Selector:
    reqs = []
    for key in draw(_SELECTOR_KEYS):
        op = draw(_SELECTOR_OPS)
        if op in ("=", "!="):
            values: tuple[str, ...] = (draw(_LABEL_VALUE),)
        elif op in ("in", "notin"):
            values = tuple(sorted(draw(_SELECTOR_VALUES)))
        else:
            values = ()
        reqs.append(Requirement(key, op, values))
    return Selector(tuple(reqs))


_BOOLEANS = st.booleans()
_CPU = st.sampled_from(CPU)
_MEMORY = st.sampled_from(MEMORY)


@st.composite
def resource_requests(draw: st.DrawFn) -> dict[str, Any]:
    req: dict[str, str] = {}
    if draw(_BOOLEANS):
        req["cpu"] = draw(_CPU)
    if draw(_BOOLEANS):
        req["memory"] = draw(_MEMORY)
    return {"requests": req} if req else {}


tolerations = st.lists(
    st.fixed_dictionaries(
        {"key": st.sampled_from(TAINT_KEYS), "operator": st.just("Exists")},
        optional={"effect": st.sampled_from(TAINT_EFFECTS)},
    ),
    max_size=2,
)


_ONE_OR_TWO = st.integers(1, 2)
_IMAGE = st.sampled_from(IMAGES)


def _containers(draw: st.DrawFn, requests: st.SearchStrategy[dict[str, Any]], port_odds: st.SearchStrategy[int],
                host_ports: st.SearchStrategy[int]) -> list[dict[str, Any]]:
    """One or two containers with ``requests``; one when ``port_odds`` draws 0 asks for a host port."""
    containers = []
    for i in range(draw(_ONE_OR_TWO)):
        c: dict[str, Any] = {"name": f"c{i}", "image": draw(_IMAGE)}
        res = draw(requests)
        if res:
            c["resources"] = res
        if draw(port_odds) == 0:
            c["ports"] = [{"containerPort": 8080, "hostPort": draw(host_ports), "protocol": "TCP"}]
        containers.append(c)
    return containers


_REQUESTS = resource_requests()
_ONE_IN_5 = st.integers(0, 4)
_ONE_IN_4 = st.integers(0, 3)
_ONE_IN_3 = st.integers(0, 2)
_HOST_PORTS = st.sampled_from((8080, 9090))
_NODE_SELECTOR = st.dictionaries(st.sampled_from(LABEL_KEYS), st.sampled_from(LABEL_VALUES), min_size=1, max_size=1)
_GRACE = st.sampled_from((0, 5, 30))
#: a pod's restartPolicy other than the default Always: which terminated containers a status write may report
#: running again depends on it (pkg/apis/core/validation/validation.go: ValidateContainerStateTransition)
_RESTART_POLICY = st.sampled_from(("Never", "OnFailure"))


@st.composite
def pod_specs(draw: st.DrawFn) -> dict[str, Any]:
    """A valid pod spec: containers with requests, and optionally selectors, tolerations, host ports."""
    spec: dict[str, Any] = {"containers": _containers(draw, _REQUESTS, _ONE_IN_5, _HOST_PORTS)}
    if draw(_ONE_IN_4) == 0:
        spec["nodeSelector"] = draw(_NODE_SELECTOR)
    tol = draw(tolerations)
    if tol:
        spec["tolerations"] = tol
    if draw(_ONE_IN_3) == 0:
        spec["terminationGracePeriodSeconds"] = draw(_GRACE)
    if draw(_ONE_IN_3) == 0:
        spec["restartPolicy"] = draw(_RESTART_POLICY)
    return spec


_TAINTS = st.lists(st.fixed_dictionaries({"key": st.sampled_from(TAINT_KEYS),
                                         "effect": st.sampled_from(TAINT_EFFECTS)}),
                   max_size=2, unique_by=lambda t: (t["key"], t["effect"]))
_NODE_CPU = st.sampled_from(("2", "4", "8"))
_NODE_MEMORY = st.sampled_from(("4Gi", "8Gi"))


@st.composite
def node_parts(draw: st.DrawFn) -> dict[str, Any]:
    """Labels, spec (taints, unschedulable) and status (capacity) of a node, without its name."""
    spec: dict[str, Any] = {}
    if draw(_ONE_IN_5) == 0:
        spec["unschedulable"] = True
    taints = draw(_TAINTS)
    if taints:
        spec["taints"] = taints
    alloc = {"cpu": draw(_NODE_CPU), "memory": draw(_NODE_MEMORY), "pods": "110"}
    return {"labels": draw(labels), "spec": spec, "status": {"capacity": dict(alloc), "allocatable": alloc}}


# ----- status writes (pods/{name}/status, nodes/{name}/status) -------------------------------------------------

#: what a status write gets wrong or does besides writing a status, one at a time (None: a plain status write).
#: "rerun": every container the stored status shows terminated is reported running (refused where the restart
#: policy would not restart it); "host-ip": hostIPs[0] is not hostIP; "condition": a condition type that is no
#: qualified name; "qos": another QoS class; "no-qos": none, which pods/status fills in from the stored one;
#: "spec-and-meta": the spec, the labels and (pods) the ownerReferences changed too, which a status write keeps
#: or takes as the strategy says; "deletion": a deletionTimestamp sent; "addresses": (nodes) an address twice;
#: "stale": a resourceVersion an earlier write had; "missing": an object that is not there; "dry-run": dryRun=All.
#: Half the writes have one.
STATUS_EDGES = ("rerun", "host-ip", "condition", "qos", "no-qos", "spec-and-meta", "deletion", "addresses", "stale",
                "missing", "dry-run")
status_edges = st.one_of(st.none(), st.sampled_from(STATUS_EDGES))
#: how a status write is sent: a PUT of the object read back, a merge patch of the status, a JSON patch of it
status_verbs = st.sampled_from(("put", "put", "merge", "json"))
#: condition types a status write may not carry (apimachinery/pkg/api/validate/content/kube.go: IsLabelKey)
INVALID_CONDITION_TYPES = ("bad type", "-x", "example.com/", "a/b/c")
_STAMP = "2026-01-01T00:00:00Z"
_LATER = "2026-01-01T00:00:07Z"
#: when a container reported running again started
RESTARTED_AT = "2026-01-01T00:00:09Z"
_CONDITION_STATUS = st.sampled_from(("True", "False"))
_POD_CONDITIONS = st.lists(st.sampled_from(("PodScheduled", "Initialized", "ContainersReady", "Ready",
                                            "kubeprop.io/gate")), max_size=3, unique=True)
_PHASES = st.sampled_from(("Pending", "Running", "Succeeded", "Failed"))
_HOST = st.integers(1, 3)
_CONTAINER_STATE = st.sampled_from(("running", "running", "terminated", "failed", "waiting"))


def _container_state(kind: str) -> dict[str, Any]:
    """A container's state as a kubelet reports it (every field that is no pointer sent, so it reads back the
    same: core/v1 ContainerStateTerminated.exitCode)."""
    if kind == "running":
        return {"running": {"startedAt": _STAMP}}
    if kind == "waiting":
        return {"waiting": {"reason": "ContainerCreating"}}
    code, reason = (0, "Completed") if kind == "terminated" else (1, "Error")
    return {"terminated": {"exitCode": code, "reason": reason, "startedAt": _STAMP, "finishedAt": _LATER}}


def container_status(name: str, image: str, kind: str) -> dict[str, Any]:
    """A container's status; ready, restartCount, image and imageID have no omitempty, so all are sent."""
    return {"name": name, "state": _container_state(kind), "ready": kind == "running", "restartCount": 0,
            "image": image, "imageID": ""}


@st.composite
def pod_statuses(draw: st.DrawFn) -> dict[str, Any]:
    """A pod status a kubelet could write, without container statuses (they name the pod's own containers, which
    the rule knows): a phase, conditions, the host's IP (alone, as hostIPs too, or with an IPv6 address as a
    dual-stack pair), and the kinds of state the containers are reported in."""
    status: dict[str, Any] = {"phase": draw(_PHASES)}
    conditions = [{"type": t, "status": draw(_CONDITION_STATUS), "lastTransitionTime": _STAMP}
                  for t in draw(_POD_CONDITIONS)]
    for c in conditions:
        if c["status"] == "False":
            c["reason"] = "NotYet"  # a reason a binding's PodScheduled condition does not keep
    if conditions:
        status["conditions"] = conditions
    host, ips = draw(_HOST), draw(_ONE_IN_3)
    if ips > 0:
        status["hostIP"] = f"10.0.0.{host}"
        status["hostIPs"] = [{"ip": f"10.0.0.{host}"}] + ([{"ip": f"fd00::{host}"}] if ips == 2 else [])
    elif draw(_BOOLEANS):
        status["hostIP"] = f"10.0.0.{host}"
    status["states"] = draw(st.lists(_CONTAINER_STATE, min_size=1, max_size=3))
    return status


_NODE_CONDITION_STATUS = st.sampled_from(("True", "False", "Unknown"))


@st.composite
def node_statuses(draw: st.DrawFn) -> dict[str, Any]:
    """What a kubelet writes of a node's status besides capacity: its Ready condition and its addresses."""
    ready = draw(_NODE_CONDITION_STATUS)
    status: dict[str, Any] = {"conditions": [{"type": "Ready", "status": ready, "lastHeartbeatTime": _LATER,
                                              "lastTransitionTime": _STAMP,
                                              "reason": "KubeletReady" if ready == "True" else "KubeletNotReady"}]}
    host = draw(_HOST)
    addresses = [{"type": "InternalIP", "address": f"10.0.1.{host}"}]
    if draw(_BOOLEANS):
        addresses.append({"type": "Hostname", "address": f"host-{host}"})
    status["addresses"] = addresses
    return status


def pod_body(name: str, spec: dict[str, Any], labels: dict[str, str], finalizers: list[str]) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if labels:
        meta["labels"] = labels
    if finalizers:
        meta["finalizers"] = finalizers
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}


def lease_body(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": name}, "spec": spec}


def node_body(name: str, parts: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name},
                            "spec": parts["spec"], "status": parts["status"]}
    if parts["labels"]:
        body["metadata"]["labels"] = parts["labels"]
    return body


def micro_time(second: int) -> str:
    """A MicroTime as the API server prints it (pkg/apis/meta/v1/micro_time.go: RFC3339Micro)."""
    return f"2026-01-01T00:{second // 60 % 60:02d}:{second % 60:02d}.000000Z"


lease_specs = st.fixed_dictionaries(
    {
        "holderIdentity": st.sampled_from(("replica-0", "replica-1", "replica-2")),
        "leaseDurationSeconds": st.sampled_from((10, 15, 30)),
        "leaseTransitions": st.integers(0, 3),
    },
    optional={
        "acquireTime": st.integers(0, 3599).map(micro_time),
        "renewTime": st.integers(0, 3599).map(micro_time),
    },
)


# ----- the scheduler state machine ---------------------------------------------------------------

SCHED_NODE_NAMES = ("n0", "n1", "n2", "n3")
SCHED_POD_NAMES = ("p0", "p1", "p2", "p3", "p4")
ZONES = ("a", "b")
#: a numeric label for Gt / Lt node-affinity terms
RANKS = ("1", "2", "3")
SCHED_CPU = ("100m", "500m", "1", "2")
SCHED_MEMORY = ("256Mi", "1Gi", "2Gi")
#: each image's size, the same on every node that has it (as one registry digest would be): below, between
#: and above ImageLocality's thresholds. (Upstream's cache keeps the size of the node it saw first, so
#: different sizes for one name would make the score depend on the order nodes were added.)
IMAGE_SIZES = dict(zip(IMAGES, (10 * 1024 * 1024, 300 * 1024 * 1024, 2000 * 1024 * 1024), strict=True))
SCHED_TAINT_KEYS = ("dedicated", "gpu")


_ZONE = st.sampled_from(ZONES)
_RANK = st.sampled_from(RANKS)
_ONE_IN_6 = st.integers(0, 5)
_PLAIN_PODS = st.sampled_from(("2", "110"))
#: besides round sizes, one unit short of a round size (as allocatable after reservations often is): every request
#: size then meets a node whose free room is one unit short of it, the boundary NodeResourcesFit must get right
#: (plugins/noderesources/fit.go: fitsRequest refuses a request above the free amount, not one equal to it)
_SCHED_NODE_CPU = st.sampled_from(("1", "2", "4", "1999m"))
_SCHED_NODE_MEMORY = st.sampled_from(("1Gi", "4Gi", str(2 * 1024**3 - 1)))
_SCHED_NODE_PODS = st.sampled_from(("1", "2", "110"))
_NODE_IMAGES = st.lists(st.sampled_from(IMAGES), max_size=2, unique=True)


def sched_taints() -> st.SearchStrategy[list[dict[str, str]]]:
    return _SCHED_TAINTS


_SCHED_TAINTS = st.lists(st.fixed_dictionaries({"key": st.sampled_from(SCHED_TAINT_KEYS),
                                                "effect": st.sampled_from(TAINT_EFFECTS)},
                                               optional={"value": st.just("true")}),
                         max_size=2, unique_by=lambda t: (t["key"], t["effect"]))


@st.composite
def sched_node_parts(draw: st.DrawFn, plain: bool = False) -> dict[str, Any]:
    """Labels, spec and status of a small node: tight allocatable (so pods compete), images, maybe taints.

    ``plain``: schedulable, untainted and roomy, a node most pods fit on.
    """
    labels = {"zone": draw(_ZONE), "rank": draw(_RANK)}
    if draw(_BOOLEANS):
        labels["tier"] = draw(_LABEL_VALUE)
    spec: dict[str, Any] = {}
    if not plain and draw(_ONE_IN_6) == 0:
        spec["unschedulable"] = True
    taints = [] if plain else draw(_SCHED_TAINTS)
    if taints:
        spec["taints"] = taints
    if plain:
        alloc = {"cpu": "4", "memory": "4Gi", "pods": draw(_PLAIN_PODS)}
    else:
        alloc = {"cpu": draw(_SCHED_NODE_CPU), "memory": draw(_SCHED_NODE_MEMORY), "pods": draw(_SCHED_NODE_PODS)}
    status: dict[str, Any] = {"capacity": dict(alloc), "allocatable": alloc}
    images = draw(_NODE_IMAGES)
    if images:
        status["images"] = [{"names": [name], "sizeBytes": IMAGE_SIZES[name]} for name in images]
    return {"labels": labels, "spec": spec, "status": status}


sched_tolerations = st.lists(
    st.one_of(
        st.fixed_dictionaries({"key": st.sampled_from(SCHED_TAINT_KEYS), "operator": st.just("Exists")},
                              optional={"effect": st.sampled_from(TAINT_EFFECTS)}),
        st.fixed_dictionaries({"key": st.sampled_from(SCHED_TAINT_KEYS), "operator": st.just("Equal"),
                               "value": st.sampled_from(("true", "false"))},
                              optional={"effect": st.sampled_from(TAINT_EFFECTS)}),
    ),
    max_size=2,
)

_AFFINITY_OPS = st.sampled_from(("In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"))
_AFFINITY_KEY = st.sampled_from(("zone", "tier"))
_ZONE_VALUES = st.lists(st.sampled_from(ZONES), min_size=1, max_size=2, unique=True)
_TIER_VALUES = st.lists(st.sampled_from(LABEL_VALUES), min_size=1, max_size=2, unique=True)


@st.composite
def node_selector_requirement(draw: st.DrawFn) -> dict[str, Any]:
    op = draw(_AFFINITY_OPS)
    if op in ("Gt", "Lt"):
        return {"key": "rank", "operator": op, "values": [draw(_RANK)]}
    key = draw(_AFFINITY_KEY)
    if op in ("Exists", "DoesNotExist"):
        return {"key": key, "operator": op}
    return {"key": key, "operator": op, "values": sorted(draw(_ZONE_VALUES if key == "zone" else _TIER_VALUES))}


node_selector_terms = st.lists(
    st.fixed_dictionaries({"matchExpressions": st.lists(node_selector_requirement(), min_size=1, max_size=2)}),
    min_size=1, max_size=2)
_PREFERENCE_WEIGHT = st.sampled_from((1, 10, 50, 100))
_PREFERENCE_EXPRESSIONS = st.lists(node_selector_requirement(), min_size=1, max_size=1)


@st.composite
def node_affinity(draw: st.DrawFn) -> dict[str, Any]:
    aff: dict[str, Any] = {}
    if draw(_BOOLEANS):
        aff["requiredDuringSchedulingIgnoredDuringExecution"] = {"nodeSelectorTerms": draw(node_selector_terms)}
    if draw(_BOOLEANS) or not aff:
        aff["preferredDuringSchedulingIgnoredDuringExecution"] = [
            {"weight": draw(_PREFERENCE_WEIGHT), "preference": {"matchExpressions": draw(_PREFERENCE_EXPRESSIONS)}}
            for _ in range(draw(_ONE_OR_TWO))
        ]
    return aff


_SCHED_CPU = st.sampled_from(SCHED_CPU)
_SCHED_MEMORY = st.sampled_from(SCHED_MEMORY)


@st.composite
def sched_requests(draw: st.DrawFn) -> dict[str, Any]:
    req: dict[str, str] = {}
    if draw(_ONE_IN_4) > 0:
        req["cpu"] = draw(_SCHED_CPU)
    if draw(_BOOLEANS):
        req["memory"] = draw(_SCHED_MEMORY)
    return {"requests": req} if req else {}


_SCHED_REQUESTS = sched_requests()
_ONLY_PORT = st.sampled_from((8080,))
_NODE_AFFINITY = node_affinity()
_PRIORITY = st.sampled_from((0, 100, 1000))


@st.composite
def sched_pod_specs(draw: st.DrawFn) -> dict[str, Any]:
    """A pod for the scheduler: requests that compete for small nodes, sometimes ports, affinity, tolerations."""
    spec: dict[str, Any] = {"containers": _containers(draw, _SCHED_REQUESTS, _ONE_IN_6, _ONLY_PORT)}
    if draw(_ONE_IN_6) == 0:
        init = {"name": "init", "image": IMAGES[1]}
        res = draw(_SCHED_REQUESTS)
        if res:
            init["resources"] = res
        spec["initContainers"] = [init]
    if draw(_ONE_IN_5) == 0:
        spec["nodeSelector"] = {"zone": draw(_ZONE)}
    if draw(_ONE_IN_3) == 0:
        spec["affinity"] = {"nodeAffinity": draw(_NODE_AFFINITY)}
    tol = draw(sched_tolerations)
    if tol:
        spec["tolerations"] = tol
    if draw(_ONE_IN_4) == 0:
        spec["priority"] = draw(_PRIORITY)
    return spec


#: resourceVersion parameters no storage parses (apiserver/pkg/storage/api_object_versioner.go: ParseResourceVersion
#: takes "" and "0", else an unsigned 64-bit decimal): signs, fractions, other bases, spaces, out of range, words
malformed_resource_versions = st.sampled_from(("abc", "-1", "1.5", "0x10", "1e3", " 7", "+3", "18446744073709551616"))


#: how a write asks for a dry run (apimachinery/pkg/apis/meta/v1/types.go: the DryRun field of CreateOptions,
#: UpdateOptions, PatchOptions, DeleteOptions; the only supported value is "All"): in the URL ("query"), twice in
#: the URL, in a delete's DeleteOptions body ("body"; other writes have no options body and use the URL), in both,
#: and with values the API does not support ("Some", an empty value, "All" beside another)
DRY_RUN_FORMS = ("query", "query", "body", "body", "both", "twice", "unsupported", "empty", "mixed")


def with_dry_run(op: Any, how: str) -> Any:
    """``op`` (a conformance.ops.Op) asking for a dry run as ``how`` (DRY_RUN_FORMS) says."""
    query = {"query": ("All",), "both": ("All",), "twice": ("All", "All"), "unsupported": ("Some",),
             "empty": ("",), "mixed": ("All", "Some")}.get(how, ())
    in_body = how in ("body", "both")
    if op.verb == "delete" and in_body:
        return replace(op, dry_run=query, options={**(op.options or {}), "dryRun": ["All"]})
    return replace(op, dry_run=query or ("All",))
