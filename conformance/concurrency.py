"""Many clients at once: concurrent programs against one target, and the linearizability of what they saw.

Each step of :class:`ConcurrentMachine` is a *round*: Hypothesis writes one
program per client (2 to :data:`MAX_CLIENTS`), a few calls each on three nodes
and two pods: creates, updates with the freshest resourceVersion the clients
saw, a stale one or none, deletes with and without a resourceVersion
precondition (a pod's with its own grace period or 0: a bound pod's deletion
stays pending, an unbound one is marked and removed), bindings, gets and lists
(consistent, label-selected, paged, and at resourceVersion "0", Exact and
NotOlderThan), and lists followed by a watch from their revision. The clients
run at the same time and every call is recorded with when it was sent and
answered; the round's history is then checked for linearizability
(``conformance/linearizability.py``, Porcupine), and a history no sequential
order explains fails ``api.linearizable``. Reads at a resourceVersion need not
be linearizable; ``conformance/checks/reads.py`` holds each to the store as it
was at one revision (``api.read-at-revision``), and the watches to the
guarantees of ``conformance/checks/watch.py``.

- builtin target: the clients are threads that run one at a time, and at every
  point where one could be overtaken (before a call, after it, and inside the
  server where a seeded concurrency fault lets other requests in) Hypothesis
  picks which goes on (:class:`Baton`). Times are the baton's logical clock, so
  a failure replays exactly and shrinks, to fewer clients, shorter programs and
  the simplest interleaving.
- http target (served or real kube-apiserver): the clients are real threads with
  their own connections, started together; times are ``time.monotonic_ns()``.

A round starts from what the store holds: a list read before the clients start
is replayed into the history as creates in resourceVersion order, so the
checker begins from that state.

Anchors: etcd's robustness tests check concurrent traffic the same way, one
step above etcd (etcd-io/etcd: tests/robustness/validate/validate.go), and
Kubernetes checks its storage layer with a Porcupine model; this machine asks the
question of the REST API clients see.
"""

from __future__ import annotations

import random
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar

import greenlet
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, precondition, rule

from adapters.base import Response, Target, TargetError
from conformance import findings
from conformance.checks import reads as reads_checks
from conformance.checks import watch as watch_checks
from conformance.disruption import ResumingWatch
from conformance.history import write_reproduction
from conformance.invariants import ObservedViolation, TransportFailure, violation
from conformance.linearizability import Operation, check
from conformance.reporting import Reporter

#: the most clients one round runs
MAX_CLIENTS = 16
#: rounds per example: state carries over between them, and each costs threads and a check
MAX_ROUNDS = 3
#: the objects the clients contend for: nodes (removed at once on delete) and pods in one namespace (bound by
#: bindings; deleted gracefully when bound, else marked and removed in two writes)
NODES = ("n0", "n1", "n2")
PODS = ("p0", "p1")
POD_NAMESPACE = "conc"
#: the scheduler no scheduler is: a real cluster's kube-scheduler must not bind the clients' pods
NO_SCHEDULER = "kubeprop-nobody"
#: how often a round that failed over HTTP is run again, to say how often it recurs
REPEATS = 5
#: seconds the checker may search one round's history
CHECK_TIMEOUT = 20.0
#: seconds the clients of a round over HTTP may take to start together
STUCK = 30.0
#: the client the replayed initial state is attributed to (the clients of a round are 0..n-1)
INITIAL_CLIENT = MAX_CLIENTS
#: the client the list read after a disrupted round is attributed to
AFTER_CLIENT = MAX_CLIENTS + 1
#: how each read mode of a list is sent: (resourceVersion, resourceVersionMatch); "exact" names the revision of
#: the round's first list, "newer" the newest revision any answer carried (apimachinery/pkg/apis/meta/v1/
#: types.go: ListOptions)
READS = {"0": ("0", ""), "exact": (None, "Exact"), "newer": (None, "NotOlderThan")}
#: seconds a client's watch with bookmarks asks to last (timeoutSeconds): a server sends a bookmark 2 s before it
#: ends (apiserver/pkg/storage/cacher/cache_watcher.go: nextBookmarkTime), and the client resumes from it
BOOKMARK_TIMEOUT = 3


def resource_of(key: str) -> str:
    return "pods" if key.startswith("p") else "nodes"


def namespace_of(resource: str) -> str | None:
    return POD_NAMESPACE if resource == "pods" else None


@dataclass(frozen=True)
class Call:
    """One call of a client's program.

    ``verb``: create, update, delete, get, bind, list, page (a list one item a page), watch (a list, then a
    watch). ``key``: n0.. (nodes) or p0.. (pods); a list's ``key`` is "p" for pods, "" for nodes. ``rv``: which
    resourceVersion an update or delete sends: fresh (the newest the clients saw), stale (an older one), absent.
    ``grace``: a pod delete's gracePeriodSeconds (None: the pod's own). ``node``: a binding's target. ``read``:
    a get or list at "" (consistent), "0", or for a list "exact"/"newer" (resourceVersionMatch Exact,
    NotOlderThan). ``group``: a list's label selection, g=<group>. ``bookmarks``: a watch that asks for
    bookmarks and a short timeout, and is resumed from where it stopped, as client-go's reflector does.
    """

    verb: str
    key: str = ""
    rv: str = "absent"
    grace: int | None = None
    node: str = ""
    read: str = ""
    group: str = ""
    bookmarks: bool = False

    def __repr__(self) -> str:  # short, and runnable in a reproduction
        args = [repr(self.verb)] + ([repr(self.key)] if self.key or self.verb not in ("list", "page", "watch")
                                    else [])
        if self.verb in ("update", "delete"):
            args.append(repr(self.rv))
        args += [f"{f}={getattr(self, f)!r}" for f in ("grace", "node", "read", "group", "bookmarks")
                 if getattr(self, f) not in (None, "", False)]
        return f"Call({', '.join(args)})"

    @property
    def resource(self) -> str:
        return resource_of(self.key)


_NODE = st.sampled_from(NODES)
_POD = st.sampled_from(PODS)
_RV = st.sampled_from(("fresh", "absent", "stale"))
CALLS = st.one_of(
    st.builds(Call, st.just("create"), _NODE),
    st.builds(Call, st.just("update"), _NODE, _RV),
    st.builds(Call, st.just("delete"), _NODE, _RV),
    st.builds(Call, st.just("get"), _NODE, read=st.sampled_from(("", "0", "newer"))),
    st.builds(Call, st.just("list"), read=st.sampled_from(("", "0", "exact", "newer")),
              group=st.sampled_from(("", "a"))),
    st.just(Call("watch")),
    st.just(Call("watch", bookmarks=True)),
    st.just(Call("page")),
    st.builds(Call, st.just("create"), _POD),
    st.builds(Call, st.just("update"), _POD, _RV),
    st.builds(Call, st.just("bind"), _POD, node=_NODE),
    st.builds(Call, st.just("delete"), _POD, _RV, grace=st.sampled_from((None, 0))),
    st.builds(Call, st.just("get"), _POD),
    st.just(Call("list", "p")),
)
PROGRAMS = st.lists(st.lists(CALLS, min_size=1, max_size=5), min_size=2, max_size=MAX_CLIENTS)


class Baton:
    """Clients that run one at a time; at each :meth:`pass_` the harness picks who goes on.

    Each client is a greenlet (one thread, explicit switches: a hand-over costs microseconds, not a thread
    wake-up). ``choose(n)`` returns an index below ``n``: Hypothesis draws it, so an interleaving is part of the
    example (it replays and shrinks). Code outside a client passes freely.
    """

    def __init__(self, choose: Callable[[int], int]) -> None:
        self._choose = choose
        self._clients: set[greenlet.greenlet] = set()
        self._main: greenlet.greenlet | None = None
        self.clock = 0
        #: called before each hand-over: what happens between steps whoever runs (a server's bookmark timer)
        self.between: Callable[[], None] = lambda: None

    def tick(self) -> int:
        self.clock += 1
        return self.clock

    def pass_(self, point: str = "") -> None:
        if self._main is not None and greenlet.getcurrent() in self._clients:
            self._main.switch()

    def run(self, bodies: list[Callable[[], None]]) -> None:
        self._main = greenlet.getcurrent()
        clients = [greenlet.greenlet(body) for body in bodies]
        self._clients = set(clients)
        try:
            while True:
                runnable = [g for g in clients if not g.dead]
                if not runnable:
                    return
                pick = runnable[self._choose(len(runnable)) if len(runnable) > 1 else 0]
                self.between()
                pick.switch()  # returns when it passes or ends; raises what it raised
        finally:
            self._main = None
            self._clients = set()


@dataclass
class Shared:
    """What the clients' reads tell each other, as an informer's cache would: it makes them contend on the same
    preconditions and read at the same revisions."""

    #: key -> the resourceVersions any client has seen, oldest first
    seen: dict[str, list[str]] = field(default_factory=dict)
    #: the resourceVersions lists have answered, oldest first (the round's first list among them)
    lists: list[str] = field(default_factory=list)

    def newest(self) -> str:
        """The newest resourceVersion any answer carried: what a client asks a read to be no older than."""
        return str(max(int(rv) for rv in [*self.lists, *(r for rvs in self.seen.values() for r in rvs)]))


@dataclass
class Client:
    """One client's connection, what it has seen, and its recorded calls."""

    index: int
    target: Target
    clock: Callable[[], int]
    pass_: Callable[[str], None]
    shared: Shared = field(default_factory=Shared)
    ops: list[Operation] = field(default_factory=list)
    #: the reads at a resourceVersion ("0", Exact, NotOlderThan): checked against the store's timeline, not
    #: for linearizability
    reads: list[reads_checks.ReadAt] = field(default_factory=list)
    writes: int = 0
    #: the round the client writes in: every value written in an example is new, so no update is a no-op
    round: int = 0
    #: the watches this client opened from one of its lists: (the list's resourceVersion, its items, the watch)
    watches: list[tuple[str, dict[str, tuple[str, str]], Any]] = field(default_factory=list)
    #: while a disruption runs (conformance/disruption.py): how the client rides out a call that got no answer
    patience: Any = None
    #: the disruption itself, which reopens this client's watches where they stopped
    disruption: Any = None

    def _rv(self, key: str, mode: str) -> str:
        seen = self.shared.seen.get(key) or []
        if mode == "fresh":
            return seen[-1] if seen else ""
        if mode == "stale":
            return seen[-2] if len(seen) > 1 else "1"
        return ""

    def _saw(self, key: str, body: Any) -> str:
        rv = ((body or {}).get("metadata") or {}).get("resourceVersion") or ""
        if rv and rv not in self.shared.seen.setdefault(key, []):
            self.shared.seen[key].append(rv)
        return rv

    def _value(self) -> str:
        """A new value; its group (the label g, the value's prefix) alternates, so updates move objects in and
        out of a label selection."""
        self.writes += 1
        return f"{'ab'[self.writes % 2]}.r{self.round}.c{self.index}.{self.writes}"

    @staticmethod
    def _object(key: str, value: str, rv: str) -> dict[str, Any]:
        meta: dict[str, Any] = {"name": key, "labels": {"v": value, "g": value[0]}}
        if rv:
            meta["resourceVersion"] = rv
        if resource_of(key) == "pods":
            return {"apiVersion": "v1", "kind": "Pod", "metadata": meta,
                    "spec": {"schedulerName": NO_SCHEDULER, "containers": [{"name": "c", "image": "kubeprop/none"}]}}
        return {"apiVersion": "v1", "kind": "Node", "metadata": meta}

    def run(self, program: list[Call]) -> None:
        for call in program:
            self.pass_("before a call")
            inp, send = self._request(call)
            start = self.clock()
            try:
                resp = send()
            except TargetError as err:
                if self.patience is None:
                    raise TransportFailure(f"transport failure, not a finding: client {self.index} {call!r}: {err}"
                                           ) from err
                self._unknown(call, inp, start, f"{err}")
                continue
            self.pass_("after a call")
            end = self.clock()
            # after a fault, the revision an Exact list names may be compacted away: 410, and the read tells nothing
            if self.patience is not None and (self.patience.unanswered(call.verb, resp.code)
                                              or (call.read == "exact" and resp.code == 410)):
                self._unknown(call, inp, start, f"answered {resp.code}")
                continue
            self._record(call, inp, resp, start, end)
            if call.verb == "watch":
                # an informer's start: others may write between its list and its watch
                self.pass_("between a list and its watch")
                try:
                    rv = resp.body["metadata"]["resourceVersion"]
                    if call.bookmarks:
                        watch = ResumingWatch(lambda rv: self.target.watch(
                            "nodes", None, resource_version=rv, bookmarks=True, timeout_seconds=BOOKMARK_TIMEOUT),
                            rv, WATCH_WAIT, self.disruption.tally if self.disruption is not None else None,
                            bookmarks=True)
                    elif self.disruption is None:
                        watch = self.target.watch("nodes", None, resource_version=rv)
                    else:
                        watch = self.disruption.resuming(
                            lambda rv: self.target.watch("nodes", None, resource_version=rv), rv)
                except TargetError as err:
                    raise TransportFailure(f"transport failure, not a finding: client {self.index} opening a watch "
                                           f"after {call!r}: {err}") from err
                self.watches.append((resp.body["metadata"]["resourceVersion"], _state(resp.body), watch))

    def _unknown(self, call: Call, inp: dict[str, Any], start: int, why: str) -> None:
        """A call that got no answer while a fault was on: its outcome is unknown (a write may take effect at any
        later time, or never: no return time; a read tells nothing, and a read at a resourceVersion is not kept).
        A pod's delete may have marked the pod, and removed it too. The client waits a little, then goes on with
        its next call; past its patience the round stops with a TransportFailure."""
        write = inp["op"] in ("create", "update", "delete", "bind", "mark")
        if not call.read:
            self.ops.append(Operation(self.index, start, None if write else self.clock(), inp, {"code": 0}))
        if inp["op"] == "mark":
            self.ops.append(Operation(self.index, start, None, {"op": "remove", "key": inp["key"]}, {"code": 0}))
        self.patience.unknown(inp["op"])
        self.patience.wait(f"client {self.index} {call!r}: {why}")

    def _pages(self) -> Response:
        """A list read one item a page, other clients let in between pages; answered as the one list the pages
        make up. Every page after the first reads at the first page's revision (apiserver/pkg/storage/etcd3/
        store.go: GetList reads a continuation at the revision its token carries), so the pages together are
        the store at that revision, and the call is checked as a list from the first page's call to the last
        page's answer."""
        first = self.target.list("nodes", None, limit=1)
        if first.code != 200:
            return first
        items, token = list(first.body["items"]), first.body["metadata"].get("continue") or ""
        while token:
            self.pass_("between pages")
            page = self.target.list("nodes", None, limit=1, continue_=token)
            if page.code != 200:
                return page
            items += page.body["items"]
            token = page.body["metadata"].get("continue") or ""
        body = dict(first.body, items=items, metadata={"resourceVersion": first.body["metadata"]["resourceVersion"]})
        return Response(200, body)

    def close(self) -> None:
        for _, _, watch in self.watches:
            watch.close()

    def _request(self, call: Call) -> tuple[dict[str, Any], Callable[[], Response]]:
        t, key, res = self.target, call.key, call.resource
        ns, hkey = namespace_of(res), f"{res}/{call.key}"
        if call.verb == "create":
            value = self._value()
            return ({"op": "create", "key": hkey, "value": value},
                    lambda: t.create(res, ns, self._object(key, value, "")))
        if call.verb == "update":
            value, rv = self._value(), self._rv(key, call.rv)
            inp = {"op": "update", "key": hkey, "value": value, "rv": rv}
            if res == "pods":
                # a pod's labels, changed as a controller changes them: a merge patch, the resourceVersion in it a
                # precondition (apiserver/pkg/endpoints/handlers/patch.go: the patched object goes through the
                # same Update as a PUT, store.go); a PUT would have to carry the whole spec as the server holds it
                meta: dict[str, Any] = {"labels": {"v": value, "g": value[0]}}
                if rv:
                    meta["resourceVersion"] = rv
                return inp, lambda: t.patch(res, ns, key, {"metadata": meta})
            return inp, lambda: t.update(res, ns, key, self._object(key, value, rv))
        if call.verb == "delete":
            rv = self._rv(key, call.rv)
            options: dict[str, Any] = {"preconditions": {"resourceVersion": rv}} if rv else {}
            if call.grace is not None:
                options["gracePeriodSeconds"] = call.grace
            inp: dict[str, Any] = {"op": "delete" if res == "nodes" else "mark", "key": hkey, "rv": rv}
            if call.grace is not None:
                inp["grace"] = call.grace
            return inp, lambda: t.delete(res, ns, key, options=options or None)
        if call.verb == "bind":
            body = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": key},
                    "target": {"kind": "Node", "name": call.node}}
            return {"op": "bind", "key": hkey, "node": call.node}, lambda: t.bind(POD_NAMESPACE, key, body)
        if call.verb == "get":
            # a get's resourceVersion is "not older than" (apimachinery/pkg/apis/meta/v1/types.go: GetOptions)
            asked = self.shared.newest() if call.read == "newer" else call.read
            inp = {"op": "get", "key": hkey}
            if call.read:
                inp.update(asked=asked, match="NotOlderThan" if call.read == "newer" else "")
            return inp, lambda: t.get(res, ns, key, resource_version=asked)
        if call.verb == "page":
            return {"op": "list", "prefix": "nodes/"}, self._pages
        inp = {"op": "list", "prefix": f"{res}/"}
        if call.group:
            inp["selector"] = call.group
        rv, match = READS.get(call.read, ("", ""))
        if rv is None:
            rv = self.shared.lists[0] if call.read == "exact" else self.shared.newest()
        selector = f"g={call.group}" if call.group else None
        if call.read:
            inp.update(asked=rv, match=match)
        return inp, lambda: t.list(res, ns, label_selector=selector, resource_version=rv or "",
                                   resource_version_match=match)  # a watch call's list is checked as a list

    def _record(self, call: Call, inp: dict[str, Any], resp: Response, start: int, end: int) -> None:
        """The call as history: one operation, or two for a pod deleted at once (marked, then removed, both
        within the call), or a read at a resourceVersion kept aside."""
        code, body = resp.code, resp.body
        if call.read and call.verb in ("get", "list"):
            self.reads.append(self._read_at(call, inp, resp))
            return
        allowed = {"create": (201, 409), "update": (200, 404, 409), "delete": (200, 404, 409), "bind": (201, 404, 409),
                   "get": (200, 404), "list": (200,), "page": (200,), "watch": (200,)}[call.verb]
        if code not in allowed:
            raise violation("api.matches-model", f"client {self.index}: {inp} was answered {code}, where only "
                                                 f"{allowed} can be right: {body}")
        out: dict[str, Any] = {"code": code}
        if call.verb in ("list", "page", "watch"):
            out["rv"] = body["metadata"]["resourceVersion"]
            self.shared.lists.append(out["rv"])
            out["items"] = [{"key": f"{call.resource}/{o['metadata']['name']}",
                             "rv": self._saw(o["metadata"]["name"], o), "value": _value(o), **_pod_view(o)}
                            for o in body["items"]]
        elif inp["op"] == "mark" and code == 200:
            view = _pod_view(body)
            rv = (body.get("metadata") or {}).get("resourceVersion")
            if "grace" not in view and rv:
                # answered with a pod its delete never marked: removed without a pending deletion, the answer at
                # the removal's revision (apiserver/pkg/storage/etcd3/store.go: conditionalDelete). The checker
                # refuses it unless a known finding allows it (findings.py: pod-delete-removes-recreated-pod)
                self.ops.append(Operation(self.index, start, end, inp, {"code": code, "rv": rv}))
                return
            if "grace" not in view:
                raise violation("api.matches-model", f"client {self.index}: {inp} was answered 200 with a pod that "
                                                     f"is not being deleted and carries no resourceVersion: {body}")
            out["grace"] = view["grace"]
            if view["grace"] == 0:
                # removed: the answer is the pod at the delete's revision, the mark's own revision is unseen
                self.ops.append(Operation(self.index, start, end, inp, out))
                # an answer without a resourceVersion: another delete removed the pod first and this one
                # answers the state it last read (apiserver/pkg/registry/generic/registry/store.go: Delete,
                # ignoreNotFound and lastExisting); the checker then asks only that the pod be gone
                self.ops.append(Operation(self.index, start, end, {"op": "remove", "key": inp["key"]},
                                          {"code": 200, **({"rv": rv} if rv else {})}))
                return
            out["rv"] = self._saw(call.key, body)
        elif inp["op"] == "update" and code == 200 and _pod_view(body).get("grace") == 0:
            # the update met the pod marked with grace 0 between the two writes of a delete, and removed it
            # instead of writing (store.go: Update, ShouldDeleteDuringUpdate, deleteWithoutFinalizers): answered
            # with the pod as updated and marked, at the revision it was checked against. The removal is its own
            # operation, within the call; a delete that removed the pod first makes it a no-op
            out.update(rv=self._saw(call.key, body), grace=0)
            self.ops.append(Operation(self.index, start, end, inp, out))
            self.ops.append(Operation(self.index, start, end, {"op": "remove", "key": inp["key"]}, {"code": 200}))
            return
        elif code in (200, 201) and call.verb not in ("delete", "bind"):
            out["rv"] = self._saw(call.key, body)
            if call.verb == "get":
                out["value"] = _value(body)
                out.update(_pod_view(body))
        self.ops.append(Operation(self.index, start, end, inp, out))

    def _read_at(self, call: Call, inp: dict[str, Any], resp: Response) -> reads_checks.ReadAt:
        read = reads_checks.ReadAt(self.index, call.verb, inp.get("asked", call.read), inp.get("match", ""),
                                   call.group, call.key, resp.code)
        if resp.code != 200:
            return read
        if call.verb == "get":
            return replace(read, rv=resp.body["metadata"]["resourceVersion"],
                           item=(resp.body["metadata"]["resourceVersion"], _value(resp.body)))
        self.shared.lists.append(resp.body["metadata"]["resourceVersion"])
        return replace(read, rv=resp.body["metadata"]["resourceVersion"], items=_state(resp.body))


def _value(obj: dict[str, Any]) -> str:
    return ((obj.get("metadata") or {}).get("labels") or {}).get("v", "")


def _pod_view(obj: dict[str, Any]) -> dict[str, Any]:
    """What a read shows of a pod besides its value: the node it is bound to, the grace of its pending deletion."""
    out: dict[str, Any] = {}
    if (obj.get("spec") or {}).get("nodeName"):
        out["node"] = obj["spec"]["nodeName"]
    meta = obj.get("metadata") or {}
    if meta.get("deletionTimestamp"):
        out["grace"] = meta.get("deletionGracePeriodSeconds") or 0
    return out


def _listed(target: Target, resource: str, when: str, disruption: Any = None) -> dict[str, Any]:
    ns = namespace_of(resource)
    resp = (target.list(resource, ns) if disruption is None else  # once the servers answer again
            disruption.answered(lambda: target.list(resource, ns), f"the list of {resource} {when} a round"))
    if resp.code != 200:
        raise violation("api.matches-model", f"the list of {resource} {when} a round was answered {resp.code}: "
                                             f"{resp.body}")
    return resp.body


def _initial(*lists: tuple[str, dict[str, Any]]) -> list[Operation]:
    """The store's state before a round, as creates in resourceVersion order (times before any client's); each
    of ``lists`` is (resource, a list of it)."""
    items = sorted(((res, o) for res, listed in lists for o in listed["items"]),
                   key=lambda ro: int(ro[1]["metadata"]["resourceVersion"]))
    return [Operation(INITIAL_CLIENT, -2 * len(items) + 2 * i, -2 * len(items) + 2 * i + 1,
                      {"op": "create", "key": f"{res}/{o['metadata']['name']}", "value": _value(o), **_pod_view(o)},
                      {"code": 201, "rv": o["metadata"]["resourceVersion"]}) for i, (res, o) in enumerate(items)]


def _state(listed: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """A list's items as name -> (resourceVersion, value)."""
    return {o["metadata"]["name"]: (o["metadata"].get("resourceVersion") or "", _value(o)) for o in listed["items"]}


def _written(ops: list[Operation]) -> list[watch_checks.Written]:
    """The acknowledged writes of nodes in a round that changed something (the replayed initial state is no
    write, and an update answered with a resourceVersion already known wrote nothing: apiserver/pkg/registry/
    generic/registry/store.go, GuaranteedUpdate leaves an unchanged object as it was, with no event)."""
    known = {op.output.get("rv") for op in ops if op.client == INITIAL_CLIENT}
    out = []
    for op in sorted(ops, key=lambda o: (o.return_ns is None, o.return_ns or 0)):
        verb, rv, key = op.input["op"], op.output.get("rv"), op.input.get("key", "")
        if op.client == INITIAL_CLIENT or not key.startswith("nodes/") or verb not in watch_checks.EVENT_OF \
                or op.output.get("code") not in (200, 201):
            continue
        if verb == "update" and rv in known:
            continue
        known.add(rv)
        out.append(watch_checks.Written(key.removeprefix("nodes/"), verb, op.input.get("value"),
                                        rv if verb != "delete" else None, op.client))
    return out


class ConcurrentMachine(RuleBasedStateMachine):
    """Rounds of concurrent client programs against one target; each round's history must be linearizable."""

    target_factory: ClassVar[Callable[[], Target]]
    target_spec: ClassVar[dict[str, Any]] = {"kind": "builtin"}
    reporter: ClassVar[Reporter] = Reporter()
    #: rounds run and operations checked by every instance so far (for the benchmark)
    steps: ClassVar[int] = 0
    operations: ClassVar[int] = 0
    first_failure_at: ClassVar[float | None] = None
    #: a fault injected while each round's clients run over HTTP (a conformance.disruption.Disruption), or None
    disruption: ClassVar[Any] = None

    def __init__(self) -> None:
        super().__init__()
        from conformance.client import transport

        with transport(f"opening the {self.target_spec.get('kind')} target"):
            self.target = type(self).target_factory()
        self.builtin = self.target_spec.get("kind") == "builtin"
        with transport("asking the server's version"):
            version = "" if self.builtin else str(getattr(self.target, "server_version", dict)().get("gitVersion", ""))
        #: what a failure against this server may be, if it is not new (conformance/findings.py)
        self.known = findings.applicable(version)
        self.history = self.reporter.new_history(self.target_spec)
        self.rounds = 0
        self.shared = Shared()
        with transport("creating the clients' namespace"):
            made = self.target.create("namespaces", None, {"apiVersion": "v1", "kind": "Namespace",
                                                           "metadata": {"name": POD_NAMESPACE}})
        if made.code not in (201, 409):
            raise violation("api.matches-model", f"creating namespace {POD_NAMESPACE} was answered {made.code}: "
                                                 f"{made.body}")
        #: the rounds run so far: each one's programs and the interleaving choices made (a reproduction replays them)
        self.played: list[tuple[list[list[Call]], list[int]]] = []

    def teardown(self) -> None:
        self.target.close()

    def _clients(self, n: int, baton: Baton | None) -> list[Client]:
        if baton is not None:
            server = self.target.server  # type: ignore[attr-defined]
            server.pause = baton.pass_
            return [Client(i, self.target, baton.tick, baton.pass_, self.shared, round=self.rounds)
                    for i in range(n)]
        from adapters.http import HTTPTarget
        from adapters.scoped import ScopedTarget

        spec, main, fault = self.target_spec, self.target, self.disruption
        assert isinstance(main, ScopedTarget)
        return [Client(i, ScopedTarget(HTTPTarget(fault.kubeconfig(i) if fault else spec["kubeconfig"],
                                                  context=spec.get("context")),
                                       run_id=main.run_id), time.monotonic_ns, lambda p: None,
                       self.shared, round=self.rounds, patience=fault and fault.patience(), disruption=fault)
                for i in range(n)]

    @rule()
    def settle(self) -> None:
        """Nothing: what an example does once it has run its rounds (each round costs threads and a check)."""

    @precondition(lambda self: self.rounds < MAX_ROUNDS)
    @rule(programs=PROGRAMS, rnd=st.randoms(use_true_random=False))
    def round(self, programs: list[list[Call]], rnd: random.Random) -> None:
        # the interleaving: each hand-over is one of Hypothesis' choices, drawn through a Random it controls
        # (about 7 us a choice, against 40-55 us for a draw from st.data(); a round makes dozens, and shrinking
        # replays the round thousands of times), so it replays and shrinks towards the first runnable client
        choices: list[int] = []

        def choose(n: int) -> int:
            choices.append(rnd.randrange(n))
            return choices[-1]

        self.played.append((programs, choices))
        self.run_round(programs, Baton(choose) if self.builtin else None)

    def _play(self, programs: list[list[Call]], baton: Baton | None) -> tuple[list[Operation], str, Any]:
        """Run one round; its history, the checker's verdict on it, and the first broken watch guarantee
        (a check and its problems) or None."""
        fault = self.disruption if baton is None else None
        before = _listed(self.target, "nodes", "before", fault)
        pods_before = _listed(self.target, "pods", "before", fault)
        start = before["metadata"]["resourceVersion"]
        self.shared.lists[:] = [start]
        watch = (self.target.watch("nodes", None, resource_version=start) if fault is None else
                 fault.resuming(lambda rv: self.target.watch("nodes", None, resource_version=rv), start))
        clients = self._clients(len(programs), baton)
        try:
            if baton is not None:
                # the builtin target has no timers: every open watch that asked for bookmarks gets one at each step
                baton.between = lambda: [getattr(w, "tick", lambda: None)() for c in clients for _, _, w in c.watches]
                baton.run([lambda c=c, p=p: c.run(p) for c, p in zip(clients, programs, strict=True)])
            else:
                _run_threads(clients, programs, fault)
            ops = _initial(("nodes", before), ("pods", pods_before)) + [op for c in clients for op in c.ops]
            listing = time.monotonic_ns()
            listed = _listed(self.target, "nodes", "after", fault)
            if fault is not None:
                # a read after every acknowledged write: one it misses was lost (unknown outcomes may land later)
                ops.append(Operation(AFTER_CLIENT, listing, time.monotonic_ns(), {"op": "list", "prefix": "nodes/"},
                                     {"code": 200, "rv": listed["metadata"]["resourceVersion"],
                                      "items": [{"key": f"nodes/{k}", "rv": rv, "value": v}
                                                for k, (rv, v) in _state(listed).items()]}))
            after = _state(listed)
            broken, events = self._check_watch(watch, start, _state(before), _written(ops), after, baton is None,
                                               _unknown_keys(ops))
            # the reads at a resourceVersion, against the store's states as that watch showed them (only once it
            # passed its own checks, and only when it delivered every change)
            broken = (broken or _check_client_watches(clients, after, baton is None, _written(ops))
                      or (None if events is None else _first_broken("the reads at a resourceVersion", (
                          reads_checks.read_at_revision, [r for c in clients for r in c.reads],
                          reads_checks.Timeline(start, _state(before), events)))))
        finally:
            watch.close()
            for c in clients:
                c.close()
            if baton is None:
                for c in clients:
                    c.target.inner.close()  # type: ignore[attr-defined]
        ConcurrentMachine.steps += 1
        ConcurrentMachine.operations += len(ops)
        result = check(ops, timeout=CHECK_TIMEOUT).result
        if result == "unknown":
            raise RuntimeError(f"the linearizability check of round {self.rounds} ({len(ops)} calls) did not finish "
                               f"within {CHECK_TIMEOUT:.0f}s")
        return ops, result, broken

    def _check_watch(self, watch: Any, start: str, before: dict[str, tuple[str, str]],
                     writes: list[watch_checks.Written], after: dict[str, tuple[str, str]], remote: bool,
                     unknown: frozenset[str] = frozenset()
                     ) -> tuple[tuple[Any, list[str]] | None, list[dict[str, Any]] | None]:
        """The watch opened at the round's first list, judged against what the writers were answered and the list
        read after; then a second watch, resumed from the middle of what the first delivered. The first broken
        guarantee (or None), and what the first watch delivered (None if a disruption expired it: a prefix)."""
        events = _drain(watch, lambda got: (not watch_checks.delivers_writes(got, writes, unknown)
                                            and watch_checks.replay(before, got) == after), remote)
        resumption, expired = _resumption(watch)
        broken = _first_broken("the watch opened at the round's first list", *resumption,
                               (watch_checks.unique, events), (watch_checks.starts_after, events, start),
                               (watch_checks.ordered, events),
                               *(() if expired else ((watch_checks.delivers_writes, events, writes, unknown),
                                                     (watch_checks.list_then_watch, before, events, after))))
        if expired:
            return broken, None
        if broken or len(events) < 2:
            return broken, events
        middle = len(events) // 2
        rv = events[middle]["object"]["metadata"]["resourceVersion"]
        resumed_watch = self.target.watch("nodes", None, resource_version=rv)
        try:
            resumed = _drain(resumed_watch, lambda got: len(got) >= len(events) - middle - 1, remote)
        finally:
            resumed_watch.close()
        if self.disruption is not None and watch_checks.is_expired(resumed):
            return None, events  # after a fault, a resourceVersion older than a restarted watch cache or a compaction
        return _first_broken(f"the watch resumed from resourceVersion {rv}",
                             (watch_checks.unique, resumed), (watch_checks.ordered, resumed),
                             (watch_checks.resumes, events, middle, resumed)), events

    def _known_finding(self, ops: list[Operation]) -> findings.Finding | None:
        """The known finding that explains a non-linearizable history, if one does: the history is linearizable
        once that finding's departure from the contract is allowed."""
        for finding in self.known:
            if finding.invariant == "api.linearizable" and check(ops, timeout=CHECK_TIMEOUT,
                                                                 allow=[finding.allow]).result == "ok":
                return finding
        return None

    def run_round(self, programs: list[list[Call]], baton: Baton | None) -> None:
        self.rounds += 1
        ops, result, broken = self._play(programs, baton)
        known = self._known_finding(ops) if result == "illegal" and self.known else None
        if known is not None:
            _record_known(known, self.rounds, ops, self.played)
            if broken is None and not findings.fail_on_known():
                return
        if result != "illegal" and broken is None:
            return
        if ConcurrentMachine.first_failure_at is None:
            ConcurrentMachine.first_failure_at = time.perf_counter()
        files: dict[str, tuple[str, str]] = {}
        if result == "illegal":
            with tempfile.TemporaryDirectory() as tmp:
                check(ops, timeout=CHECK_TIMEOUT, visualize=Path(tmp) / "history.html")
                saved = _keep(Path(tmp) / "history.html")
            files["linearizability (Porcupine)"] = (saved, "text/html")
            which = "" if self.builtin else findings.describe(known)
            err = violation("api.linearizable", f"round {self.rounds}: no order of these calls is one the storage "
                                                f"allows{'; ' + which if which else ''}\n{_render(ops)}\n"
                                                f"Porcupine's view of it: {saved}")
        else:
            chk, problems = broken
            err = violation(chk.invariant, f"round {self.rounds}: " + "; ".join(problems)
                            + f"\nThe round's calls:\n{_render(ops)}")
        err.steps = self.rounds
        if self.builtin:
            program = reproduction(self.target_spec.get("faults") or [], self.played)
            path = write_reproduction(program, err.invariant)
            err.args = (f"{err.args[0]}\n\nReproduction ({path}):\n{program}",)
        else:
            # the server chose the interleaving: the same programs, run again, say how often it recurs
            again = sum(_broke(self._play(programs, None), err.invariant) for _ in range(REPEATS))
            program = (f"# the clients' programs, round by round (over HTTP the interleaving was the server's)\n"
                       f"played = {self.played!r}\n")
            path = write_reproduction(program, err.invariant)
            err.args = (f"{err.args[0]}\n\nThe last round's programs, run {REPEATS} times more, broke it again "
                        f"{again} time(s). Programs ({path}):\n{program}",)
        self.reporter.failed(self.history, err, program, path, in_invariant=False, watches=[], files=files)
        if self.builtin:
            raise err
        # not Hypothesis' to shrink or replay: the interleaving would differ and the replay look flaky
        raise ObservedViolation(err)


def _check_client_watches(clients: list[Client], after: dict[str, tuple[str, str]], remote: bool,
                          writes: list[watch_checks.Written]) -> tuple[Any, list[str]] | None:
    """Each watch a client opened from its own list, mid-round: in order, once each, and with its list it gives
    the state listed after the round; over HTTP a watch with bookmarks is waited for until one came (see
    ``complete``), and each must come after every change up to its revision."""
    def complete(watch: Any, before: dict[str, tuple[str, str]]) -> Callable[[list[dict[str, Any]]], bool]:
        # a bookmark is waited for only once the watch has delivered a change (kube-apiserver sends none at the
        # revision the watch started from: cacher/cache_watcher.go, process), and only until its first stream
        # ends: the server sends it before then, or not at all
        return lambda got: (watch_checks.replay(before, got) == after
                            and (not getattr(watch, "bookmarks", False) or not remote or bool(watch.marks)
                                 or watch.delivered == 0 or bool(watch.segments)))

    got = {id(watch): _drain(watch, complete(watch, before), remote, extra=0.0)
           for c in clients for _, before, watch in c.watches}
    if remote and got:
        time.sleep(WATCH_EXTRA)  # one moment for all of them, for a duplicate or a stray event to show
    for c in clients:
        for start, before, watch in c.watches:
            events = got[id(watch)] + list(watch.drain())
            resumption, expired = _resumption(watch)
            marks = getattr(watch, "marks", [])
            broken = _first_broken(f"client {c.index}'s watch from its list", *resumption,
                                   (watch_checks.unique, events), (watch_checks.starts_after, events, start),
                                   (watch_checks.ordered, events),
                                   # nothing missed first: a lost change also makes any later bookmark a broken one
                                   *(() if expired else ((watch_checks.list_then_watch, before, events, after),)),
                                   *(() if not marks else ((watch_checks.bookmarkable, events, marks, writes, start),)))
            if broken:
                return broken
    return None


def _unknown_keys(ops: list[Operation]) -> frozenset[str]:
    """Names of nodes with a write whose outcome is unknown (its event may come or not)."""
    return frozenset(op.input["key"].removeprefix("nodes/") for op in ops
                     if op.output.get("code") == 0 and op.input.get("key", "").startswith("nodes/"))


def _resumption(watch: Any) -> tuple[tuple[tuple[Any, ...], ...], bool]:
    """For a watch a disruption may end (conformance.disruption.ResumingWatch): the check that it went on or
    answered 410, and whether it expired; what an expired watch delivered is a prefix, so the checks that need
    every change are left out (a client lists again after a 410)."""
    if not hasattr(watch, "record"):
        return (), False
    return ((watch_checks.resumes_or_expires, watch.record()),), watch.expired


def _record_known(finding: findings.Finding, round_: int, ops: list[Operation],
                  played: list[tuple[list[list[Call]], list[int]]]) -> None:
    """Keep a known finding's history under reports/findings/ and say so as a warning."""
    findings.record(finding, f"round {round_} (the history is linearizable only with {finding.allow!r} allowed)",
                    f"{_render(ops)}\n\nprograms: {played[-1][0]!r}")


def _first_broken(which: str, *checks: tuple[Any, ...]) -> tuple[Any, list[str]] | None:
    """The first of ``checks`` (each a check and its arguments, run in order) that finds problems, with them,
    each said of ``which`` watch; None when every one holds."""
    for chk, *args in checks:
        problems = chk(*args)
        if problems:
            return chk, [f"{which}: {p}" for p in problems]
    return None


def _broke(played: tuple[list[Operation], str, Any], invariant: str) -> bool:
    """Whether a round broke ``invariant`` (linearizability, or the watch guarantee its check decides)."""
    _, result, broken = played
    if invariant == "api.linearizable":
        return result == "illegal"
    return broken is not None and broken[0].invariant == invariant


#: seconds a watch over HTTP may take to deliver a round's writes; then a moment more for anything extra
WATCH_WAIT = 10.0
WATCH_EXTRA = 0.2


def _drain(watch: Any, complete: Callable[[list[dict[str, Any]]], bool], remote: bool, *,
           extra: float = WATCH_EXTRA) -> list[dict[str, Any]]:
    """What ``watch`` delivers; over HTTP, waited for until ``complete`` says all is there (or WATCH_WAIT), then
    for WATCH_EXTRA more, so that a duplicate or a stray event has its chance to show."""
    events = list(watch.drain())
    if not remote:
        return events  # the builtin server delivers at commit: everything is queued already
    deadline = time.monotonic() + WATCH_WAIT
    while not complete(events) and not watch.ended and time.monotonic() < deadline:
        events += watch.drain(timeout=min(0.5, max(0.0, deadline - time.monotonic())))
    return events + list(watch.drain(timeout=extra))


def reproduction(faults: list[str], played: list[tuple[list[list[Call]], list[int]]]) -> str:
    """A program that replays an example's rounds on the builtin target, with the same interleavings."""
    return (f"# kubeprop reproduction: concurrent clients on the builtin target, faults {faults!r}\n"
            f"from conformance.concurrency import Call, replay\n\n"
            f"replay({faults!r}, {played!r})\n")


def replay(faults: list[str], played: list[tuple[list[list[Call]], list[int]]]) -> None:
    """Run recorded rounds again: each round's programs, its clients interleaved by the recorded choices."""
    from conformance.runner import machine_for

    machine = machine_for(ConcurrentMachine, faults=faults)()
    try:
        for programs, choices in played:
            picks = iter(choices)
            machine.played.append((programs, choices))
            machine.run_round(programs, Baton(lambda n, picks=picks: next(picks)))
    finally:
        machine.teardown()


def update_during_delete(kubeconfig: str, rounds: int) -> tuple[int, list[str]]:
    """Race one delete of an unbound pod against three clients patching its labels three times each, ``rounds``
    times over HTTP: how many rounds had an update meet the pod between the two writes of its delete (answered
    200 with the pod marked with grace 0), and what failed (a round whose history was not linearizable or
    whose watches broke a guarantee), as descriptions."""
    from conformance.runner import machine_for

    machine = machine_for(ConcurrentMachine, kind="http", kubeconfig=kubeconfig)()
    met, failed = 0, []
    try:
        for i in range(rounds):
            machine._play([[Call("create", "p0")], [Call("get", "p0")]], None)
            ops, result, broken = machine._play(
                [[Call("delete", "p0")]] + [[Call("update", "p0", "absent")] * 3] * 3, None)
            met += any(o.input.get("op") == "update" and o.output.get("grace") == 0 for o in ops)
            if result != "ok" or broken is not None:
                failed.append(f"round {i}: {result}; {broken}\n{_render(ops)}")
    finally:
        machine.teardown()
    return met, failed


def _run_threads(clients: list[Client], programs: list[list[Call]], disruption: Any = None) -> None:
    start = threading.Barrier(len(clients) + (disruption is not None))
    errors: list[BaseException] = []

    def body(run: Callable[[], None]) -> None:
        try:
            start.wait(timeout=STUCK)
            run()
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=body, args=(lambda c=c, p=p: c.run(p),), daemon=True)
               for c, p in zip(clients, programs, strict=True)]
    if disruption is not None:  # the fault runs with the clients, and is over before the list read after them
        threads.append(threading.Thread(target=body, args=(disruption.run,), daemon=True))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise next((e for e in errors if isinstance(e, TransportFailure)), errors[0])


def _keep(html: Path) -> str:
    out = Path("reports") / "linearizability"
    out.mkdir(parents=True, exist_ok=True)
    dest = out / f"history-{time.strftime('%Y%m%d-%H%M%S')}-{id(html) % 10000}.html"
    if html.exists():
        dest.write_bytes(html.read_bytes())
        return str(dest)
    return "(not written)"


def _render(ops: list[Operation]) -> str:
    rows = []
    for op in sorted(ops, key=lambda o: o.call_ns):
        who = "initial state" if op.client == INITIAL_CLIENT else f"client {op.client}"
        rows.append(f"  [{op.call_ns}..{op.return_ns}] {who}: {dict(op.input)} -> {dict(op.output)}")
    return "\n".join(rows)
