"""Many clients at once: concurrent programs against one target, and the linearizability of what they saw.

Each step of :class:`ConcurrentMachine` is a *round*: Hypothesis writes one
program per client (2 to :data:`MAX_CLIENTS`), a few calls each on three
nodes: creates, updates with the client's freshest
resourceVersion, a stale one or none, deletes with and without a
resourceVersion precondition, gets and lists. The clients run at the same time
and every call is recorded with when it was sent and answered; the round's
history is then checked for linearizability (``conformance/linearizability.py``,
Porcupine) and a history no sequential order explains fails ``api.linearizable``.

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

import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import greenlet
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, precondition, rule

from adapters.base import Response, Target, TargetError
from conformance.checks import watch as watch_checks
from conformance.history import write_reproduction
from conformance.invariants import ObservedViolation, TransportFailure, violation
from conformance.linearizability import Operation, check
from conformance.reporting import Reporter

#: the most clients one round runs
MAX_CLIENTS = 16
#: rounds per example: state carries over between them, and each costs threads and a check
MAX_ROUNDS = 3
#: the objects the clients contend for: nodes, which are removed at once on delete (a pod without a node is
#: written twice on delete, marked then removed, and a read between the two sees the marked pod; the
#: checker's model does not take that step yet)
RESOURCE = "nodes"
KEYS = ("n0", "n1", "n2")
NAMESPACE: str | None = None
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


@dataclass(frozen=True)
class Call:
    """One call of a client's program. ``rv``: which resourceVersion an update or delete sends."""

    verb: str  # create, update, delete, get, list, page (a list one item a page), watch (a list, then a watch)
    key: str = ""
    rv: str = "absent"  # fresh (the newest this client saw), stale (an older one), absent

    def __repr__(self) -> str:  # short, and runnable in a reproduction
        if self.verb in ("list", "page", "watch"):
            return f"Call({self.verb!r})"
        return f"Call({self.verb!r}, {self.key!r}{f', {self.rv!r}' if self.verb in ('update', 'delete') else ''})"


_KEY = st.sampled_from(KEYS)
CALLS = st.one_of(
    st.builds(Call, st.just("create"), _KEY),
    st.builds(Call, st.just("update"), _KEY, st.sampled_from(("fresh", "absent", "stale"))),
    st.builds(Call, st.just("delete"), _KEY, st.sampled_from(("absent", "fresh", "stale"))),
    st.builds(Call, st.just("get"), _KEY),
    st.just(Call("list")),
    st.just(Call("watch")),
    st.just(Call("page")),
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
                pick.switch()  # returns when it passes or ends; raises what it raised
        finally:
            self._main = None
            self._clients = set()


@dataclass
class Client:
    """One client's connection, what it has seen, and its recorded calls."""

    index: int
    target: Target
    namespace: str | None
    clock: Callable[[], int]
    pass_: Callable[[str], None]
    #: key -> the resourceVersions any client has seen, oldest first (shared: what the clients' reads tell each
    #: other, as an informer's cache would; it makes clients contend on the same precondition)
    seen: dict[str, list[str]] = field(default_factory=dict)
    ops: list[Operation] = field(default_factory=list)
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
        seen = self.seen.get(key) or []
        if mode == "fresh":
            return seen[-1] if seen else ""
        if mode == "stale":
            return seen[-2] if len(seen) > 1 else "1"
        return ""

    def _saw(self, key: str, body: Any) -> str:
        rv = ((body or {}).get("metadata") or {}).get("resourceVersion") or ""
        if rv and rv not in self.seen.setdefault(key, []):
            self.seen[key].append(rv)
        return rv

    def _object(self, key: str, value: str, rv: str) -> dict[str, Any]:
        meta: dict[str, Any] = {"name": key, "labels": {"v": value}}
        if rv:
            meta["resourceVersion"] = rv
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
            if self.patience is not None and self.patience.unanswered(call.verb, resp.code):
                self._unknown(call, inp, start, f"answered {resp.code}")
                continue
            self.ops.append(Operation(self.index, start, end, inp, self._output(call, inp, resp)))
            if call.verb == "watch":
                # an informer's start: others may write between its list and its watch
                self.pass_("between a list and its watch")
                try:
                    rv = resp.body["metadata"]["resourceVersion"]
                    watch = (self.target.watch(RESOURCE, self.namespace, resource_version=rv)
                             if self.disruption is None else
                             self.disruption.resuming(lambda rv: self.target.watch(RESOURCE, self.namespace,
                                                                                   resource_version=rv), rv))
                except TargetError as err:
                    raise TransportFailure(f"transport failure, not a finding: client {self.index} opening a watch "
                                           f"after {call!r}: {err}") from err
                self.watches.append((resp.body["metadata"]["resourceVersion"], _state(resp.body), watch))

    def _unknown(self, call: Call, inp: dict[str, Any], start: int, why: str) -> None:
        """A call that got no answer while a fault was on: its outcome is unknown (a write may take effect at any
        later time, or never: no return time; a read tells nothing). The client waits a little, then goes on
        with its next call; past its patience the round stops with a TransportFailure."""
        write = inp["op"] in ("create", "update", "delete")
        self.ops.append(Operation(self.index, start, None if write else self.clock(), inp, {"code": 0}))
        self.patience.unknown(inp["op"])
        self.patience.wait(f"client {self.index} {call!r}: {why}")

    def _pages(self) -> Response:
        """A list read one item a page, other clients let in between pages; answered as the one list the pages
        make up. Every page after the first reads at the first page's revision (apiserver/pkg/storage/etcd3/
        store.go: GetList reads a continuation at the revision its token carries), so the pages together are
        the store at that revision, and the call is checked as a list from the first page's call to the last
        page's answer."""
        first = self.target.list(RESOURCE, self.namespace, limit=1)
        if first.code != 200:
            return first
        items, token = list(first.body["items"]), first.body["metadata"].get("continue") or ""
        while token:
            self.pass_("between pages")
            page = self.target.list(RESOURCE, self.namespace, limit=1, continue_=token)
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
        t, ns, key = self.target, self.namespace, call.key
        if call.verb == "create":
            self.writes += 1
            value = f"r{self.round}.c{self.index}.{self.writes}"
            return ({"op": "create", "key": key, "value": value},
                    lambda: t.create(RESOURCE, ns, self._object(key, value, "")))
        if call.verb == "update":
            self.writes += 1
            value, rv = f"r{self.round}.c{self.index}.{self.writes}", self._rv(key, call.rv)
            return ({"op": "update", "key": key, "value": value, "rv": rv},
                    lambda: t.update(RESOURCE, ns, key, self._object(key, value, rv)))
        if call.verb == "delete":
            rv = self._rv(key, call.rv)
            options = {"preconditions": {"resourceVersion": rv}} if rv else None
            return {"op": "delete", "key": key, "rv": rv}, lambda: t.delete(RESOURCE, ns, key, options=options)
        if call.verb == "get":
            return {"op": "get", "key": key}, lambda: t.get(RESOURCE, ns, key)
        if call.verb == "page":
            return {"op": "list"}, self._pages
        return {"op": "list"}, lambda: t.list(RESOURCE, ns)  # a watch call's list is checked as a list

    def _output(self, call: Call, inp: dict[str, Any], resp: Response) -> dict[str, Any]:
        code, body = resp.code, resp.body
        allowed = {"create": (201, 409), "update": (200, 404, 409), "delete": (200, 404, 409),
                   "get": (200, 404), "list": (200,), "page": (200,), "watch": (200,)}[call.verb]
        if code not in allowed:
            raise violation("api.matches-model", f"client {self.index}: {inp} was answered {code}, where only "
                                                 f"{allowed} can be right: {body}")
        out: dict[str, Any] = {"code": code}
        if call.verb in ("list", "page", "watch"):
            out["rv"] = body["metadata"]["resourceVersion"]
            out["items"] = [{"key": o["metadata"]["name"], "rv": self._saw(o["metadata"]["name"], o),
                             "value": _value(o)} for o in body["items"]]
        elif code in (200, 201) and call.verb != "delete":
            out["rv"] = self._saw(call.key, body)
            if call.verb == "get":
                out["value"] = _value(body)
        return out


def _value(obj: dict[str, Any]) -> str:
    return ((obj.get("metadata") or {}).get("labels") or {}).get("v", "")


def _listed(target: Target, namespace: str | None, when: str, disruption: Any = None) -> dict[str, Any]:
    resp = (target.list(RESOURCE, namespace) if disruption is None else  # once the servers answer again
            disruption.answered(lambda: target.list(RESOURCE, namespace), f"the list {when} a round"))
    if resp.code != 200:
        raise violation("api.matches-model", f"the list {when} a round was answered {resp.code}: {resp.body}")
    return resp.body


def _initial(listed: dict[str, Any]) -> list[Operation]:
    """The store's state before a round, as creates in resourceVersion order (times before any client's)."""
    items = sorted(listed["items"], key=lambda o: int(o["metadata"]["resourceVersion"]))
    return [Operation(INITIAL_CLIENT, -2 * len(items) + 2 * i, -2 * len(items) + 2 * i + 1,
                      {"op": "create", "key": o["metadata"]["name"], "value": _value(o)},
                      {"code": 201, "rv": o["metadata"]["resourceVersion"]}) for i, o in enumerate(items)]


def _state(listed: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """A list's items as name -> (resourceVersion, value)."""
    return {o["metadata"]["name"]: (o["metadata"].get("resourceVersion") or "", _value(o)) for o in listed["items"]}


def _written(ops: list[Operation]) -> list[watch_checks.Written]:
    """The acknowledged writes of a round that changed something (the replayed initial state is no write, and an
    update answered with a resourceVersion already known wrote nothing: apiserver/pkg/registry/generic/registry/
    store.go, GuaranteedUpdate leaves an unchanged object as it was, with no event)."""
    known = {op.output.get("rv") for op in ops if op.client == INITIAL_CLIENT}
    out = []
    for op in sorted(ops, key=lambda o: (o.return_ns is None, o.return_ns or 0)):
        verb, rv = op.input["op"], op.output.get("rv")
        if op.client == INITIAL_CLIENT or verb not in watch_checks.EVENT_OF or op.output.get("code") not in (200, 201):
            continue
        if verb == "update" and rv in known:
            continue
        known.add(rv)
        out.append(watch_checks.Written(op.input["key"], verb, op.input.get("value"),
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
        self.history = self.reporter.new_history(self.target_spec)
        self.rounds = 0
        self.seen: dict[str, list[str]] = {}
        #: the rounds run so far: each one's programs and the interleaving choices made (a reproduction replays them)
        self.played: list[tuple[list[list[Call]], list[int]]] = []

    def teardown(self) -> None:
        self.target.close()

    def _clients(self, n: int, baton: Baton | None) -> list[Client]:
        if baton is not None:
            server = self.target.server  # type: ignore[attr-defined]
            server.pause = baton.pass_
            return [Client(i, self.target, NAMESPACE, baton.tick, baton.pass_, self.seen, round=self.rounds)
                    for i in range(n)]
        from adapters.http import HTTPTarget
        from adapters.scoped import ScopedTarget

        spec, main, fault = self.target_spec, self.target, self.disruption
        assert isinstance(main, ScopedTarget)
        return [Client(i, ScopedTarget(HTTPTarget(fault.kubeconfig(i) if fault else spec["kubeconfig"],
                                                  context=spec.get("context")),
                                       run_id=main.run_id), NAMESPACE, time.monotonic_ns, lambda p: None,
                       self.seen, round=self.rounds, patience=fault and fault.patience(), disruption=fault)
                for i in range(n)]

    @rule()
    def settle(self) -> None:
        """Nothing: what an example does once it has run its rounds (each round costs threads and a check)."""

    @precondition(lambda self: self.rounds < MAX_ROUNDS)
    @rule(programs=PROGRAMS, data=st.data())
    def round(self, programs: list[list[Call]], data: st.DataObject) -> None:
        choices: list[int] = []

        def choose(n: int) -> int:
            choices.append(data.draw(st.integers(0, n - 1), label="next"))
            return choices[-1]

        self.played.append((programs, choices))
        self.run_round(programs, Baton(choose) if self.builtin else None)

    def _play(self, programs: list[list[Call]], baton: Baton | None) -> tuple[list[Operation], str, Any]:
        """Run one round; its history, the checker's verdict on it, and the first broken watch guarantee
        (a check and its problems) or None."""
        fault = self.disruption if baton is None else None
        before = _listed(self.target, NAMESPACE, "before", fault)
        start = before["metadata"]["resourceVersion"]
        watch = (self.target.watch(RESOURCE, NAMESPACE, resource_version=start) if fault is None else
                 fault.resuming(lambda rv: self.target.watch(RESOURCE, NAMESPACE, resource_version=rv), start))
        clients = self._clients(len(programs), baton)
        try:
            if baton is not None:
                baton.run([lambda c=c, p=p: c.run(p) for c, p in zip(clients, programs, strict=True)])
            else:
                _run_threads(clients, programs, fault)
            ops = _initial(before) + [op for c in clients for op in c.ops]
            listing = time.monotonic_ns()
            listed = _listed(self.target, NAMESPACE, "after", fault)
            if fault is not None:
                # a read after every acknowledged write: one it misses was lost (unknown outcomes may land later)
                ops.append(Operation(AFTER_CLIENT, listing, time.monotonic_ns(), {"op": "list"},
                                     {"code": 200, "rv": listed["metadata"]["resourceVersion"],
                                      "items": [{"key": k, "rv": rv, "value": v}
                                                for k, (rv, v) in _state(listed).items()]}))
            after = _state(listed)
            broken = (self._check_watch(watch, before["metadata"]["resourceVersion"], _state(before), _written(ops),
                                        after, baton is None, _unknown_keys(ops))
                      or _check_client_watches(clients, after, baton is None))
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
                     unknown: frozenset[str] = frozenset()) -> tuple[Any, list[str]] | None:
        """The watch opened at the round's first list, judged against what the writers were answered and the list
        read after; then a second watch, resumed from the middle of what the first delivered."""
        events = _drain(watch, lambda got: (not watch_checks.delivers_writes(got, writes, unknown)
                                            and watch_checks.replay(before, got) == after), remote)
        resumption, expired = _resumption(watch)
        broken = _first_broken("the watch opened at the round's first list", *resumption,
                               (watch_checks.unique, events), (watch_checks.starts_after, events, start),
                               (watch_checks.ordered, events),
                               *(() if expired else ((watch_checks.delivers_writes, events, writes, unknown),
                                                     (watch_checks.list_then_watch, before, events, after))))
        if broken or len(events) < 2:
            return broken
            return None
        middle = len(events) // 2
        rv = events[middle]["object"]["metadata"]["resourceVersion"]
        resumed_watch = self.target.watch(RESOURCE, NAMESPACE, resource_version=rv)
        try:
            resumed = _drain(resumed_watch, lambda got: len(got) >= len(events) - middle - 1, remote)
        finally:
            resumed_watch.close()
        if self.disruption is not None and watch_checks.is_expired(resumed):
            return None  # after a fault, a resourceVersion older than a restarted watch cache or a compaction
        return _first_broken(f"the watch resumed from resourceVersion {rv}",
                             (watch_checks.unique, resumed), (watch_checks.ordered, resumed),
                             (watch_checks.resumes, events, middle, resumed))

    def run_round(self, programs: list[list[Call]], baton: Baton | None) -> None:
        self.rounds += 1
        ops, result, broken = self._play(programs, baton)
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
            err = violation("api.linearizable", f"round {self.rounds}: no order of these calls is one the storage "
                                                f"allows\n{_render(ops)}\nPorcupine's view of it: {saved}")
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


def _check_client_watches(clients: list[Client], after: dict[str, tuple[str, str]], remote: bool
                          ) -> tuple[Any, list[str]] | None:
    """Each watch a client opened from its own list, mid-round: in order, once each, and with its list it gives
    the state listed after the round."""
    for c in clients:
        for start, before, watch in c.watches:
            events = _drain(watch, lambda got, before=before: watch_checks.replay(before, got) == after, remote)
            resumption, expired = _resumption(watch)
            broken = _first_broken(f"client {c.index}'s watch from its list", *resumption,
                                   (watch_checks.unique, events), (watch_checks.starts_after, events, start),
                                   (watch_checks.ordered, events),
                                   *(() if expired else ((watch_checks.list_then_watch, before, events, after),)))
            if broken:
                return broken
    return None


def _unknown_keys(ops: list[Operation]) -> frozenset[str]:
    """Keys with a write whose outcome is unknown (its event may come or not)."""
    return frozenset(op.input["key"] for op in ops if op.output.get("code") == 0 and "key" in op.input)


def _resumption(watch: Any) -> tuple[tuple[tuple[Any, ...], ...], bool]:
    """For a watch a disruption may end (conformance.disruption.ResumingWatch): the check that it went on or
    answered 410, and whether it expired; what an expired watch delivered is a prefix, so the checks that need
    every change are left out (a client lists again after a 410)."""
    if not hasattr(watch, "record"):
        return (), False
    return ((watch_checks.resumes_or_expires, watch.record()),), watch.expired


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


def _drain(watch: Any, complete: Callable[[list[dict[str, Any]]], bool], remote: bool) -> list[dict[str, Any]]:
    """What ``watch`` delivers; over HTTP, waited for until ``complete`` says all is there (or WATCH_WAIT), then
    for WATCH_EXTRA more, so that a duplicate or a stray event has its chance to show."""
    events = list(watch.drain())
    if not remote:
        return events  # the builtin server delivers at commit: everything is queued already
    deadline = time.monotonic() + WATCH_WAIT
    while not complete(events) and not watch.ended and time.monotonic() < deadline:
        events += watch.drain(timeout=min(0.5, max(0.0, deadline - time.monotonic())))
    return events + list(watch.drain(timeout=WATCH_EXTRA))


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
