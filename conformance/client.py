"""The one checked path: every call of an example is recorded, sent, compared with the model and committed here.

A :class:`CheckedClient` wraps one target and one model. For each operation
(:class:`conformance.ops.Op`) it asks the model what the answer must be,
records the call in the example's history, sends it, compares the answer
(``conformance/compare.py``) and then lets the model take in what happened
(the expectation's commit). Rules of the state machines, the scheduler
replicas' API clients and the clock and compaction controls all come through
here, so nothing else writes the model's state; watches are checked here too,
and what they teach the model (resourceVersions no answer showed) is handed to
the model by this client alone.

A broken invariant is passed to ``fail``, which reports it and raises.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, NoReturn

from adapters.base import Response, Target, TargetError
from conformance import findings
from conformance.checks import api as api_checks
from conformance.compare import check_answer
from conformance.deviations import admission_for, keeps_promises, release_for
from conformance.history import History
from conformance.invariants import InvariantViolation, TransportFailure, violation
from conformance.ops import Op
from conformance.reporting import Reporter
from conformance.watching import WatchCheck
from model import releases
from model.apiserver import APIModel, Expect

#: seconds a server-set timestamp may differ from the local wall clock when the target's clock is not readable
TIME_SKEW = 5

#: admission plugins per target, found once per process (a server's /version does not change in a session)
_ADMISSION: dict[str, frozenset[str]] = {}
_RELEASE: dict[str, releases.Release] = {}
_PROMISES: dict[str, bool] = {}


@contextmanager
def transport(what: str | Callable[[], str]) -> Iterator[None]:
    """Turn a target that cannot be reached into a :class:`TransportFailure` naming the request.

    ``what`` may be a function that describes the request: it runs only when the request failed (rendering a
    call as Python costs more than an in-process call itself, and almost every call succeeds).
    """
    try:
        yield
    except TargetError as err:
        raise TransportFailure(f"transport failure, not a finding: {what if isinstance(what, str) else what()}: "
                               f"{err}") from err


def wall_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def model_for(target: Target, target_spec: dict[str, Any]) -> APIModel:
    """A fresh model of ``target``: its clock when it has one (else the wall clock within TIME_SKEW), and the
    admission plugins a real kube-apiserver applies (conformance/deviations.py)."""
    key = json.dumps(target_spec, sort_keys=True, default=str)
    admission = _ADMISSION.get(key)
    if admission is None:
        admission = _ADMISSION[key] = admission_for(target)
    release = _RELEASE.get(key)
    if release is None:
        release = _RELEASE[key] = release_for(target)
    promises = _PROMISES.get(key)
    if promises is None:
        promises = _PROMISES[key] = keeps_promises(target)
    if target.controls is not None:
        return APIModel(now=target.controls.now(), admission=admission, release=release, keeps_promises=promises)
    return APIModel(now=wall_now(), time_skew=TIME_SKEW, admission=admission, release=release,
                    keeps_promises=promises)


class CheckedClient:
    """Record, send, compare, commit: the only way an example talks to its target."""

    def __init__(self, target: Target, model: APIModel, history: History, reporter: Reporter,
                 fail: Callable[[InvariantViolation], NoReturn], watch_timeout: float = 0.0) -> None:
        self.target = target
        self.model = model
        self.history = history
        self.reporter = reporter
        self.fail = fail
        self.watch_timeout = watch_timeout
        self.watches: list[WatchCheck] = []
        self._watch_seq = 0
        self._server_version: str | None = None
        #: (resource, namespace, name) -> the server-owned metadata the last answer showing the object carried
        self._owned: dict[tuple[str, str, str], dict[str, Any]] = {}
        #: (resource, namespace, name) -> its resourceVersion in the last answer that showed it ("": a get found
        #: none), for api.dry-run
        self._seen_rv: dict[tuple[str, str, str], str] = {}

    def server_version(self) -> str:
        """The target's gitVersion ("" in process), asked once: findings are recognised per release."""
        if self._server_version is None:
            ask = getattr(self.target, "server_version", None) if self.target.name == "http" else None
            with transport("GET /version"):
                self._server_version = str((ask() if ask is not None else {}).get("gitVersion", ""))
        return self._server_version

    def _promises(self, op: Op, what: Callable[[], str], resp: Response) -> bool:
        """The API's own promises on one answer (conformance/checks/api.py), whatever the model says; ``what``
        describes the request (called only for a problem: rendering a call costs more than checking it).

        A broken one fails the example, named with what the findings registry knows of it. A known finding
        reported without failing (KUBEPROP_REPORT_KNOWN=1) is recorded; for a 5xx this returns False: the answer
        is not compared with the model and changes nothing in it (a refused request stored nothing); for a
        server-owned field the answer goes on to the model, which says what that release stores."""
        found = [(api_checks.no_5xx, api_checks.no_5xx(what, resp.code, resp.body)),
                 (api_checks.validation, api_checks.validation(what, op.verb, resp.code, resp.body))]
        if op.verb in ("create", "update", "patch"):
            name = op.name or ((op.body if isinstance(op.body, dict) else {}).get("metadata") or {}).get("name")
            before = self._owned.get((op.resource, op.namespace or "", name or ""))
            found.append((api_checks.server_owned,
                          api_checks.server_owned(what, op.verb, op.body, resp.code, resp.body, before)))
        if not op.asks_dry_run:  # a dry run's answer shows an object as it would be, not as it is
            self._remember_owned(op, resp)
        for chk, problems in found:
            if not problems:
                continue
            broken = self._broken(chk.invariant, problems, op.verb, op.resource, resp, what)
            if broken is not None:
                self.fail(broken)
            if chk is api_checks.no_5xx:
                return False  # refused: nothing stored, nothing for the model to take in
            # else stored as that release stores it, which the model for that release says
        return True

    def _broken(self, invariant: str, problems: list[str], verb: str, resource: str, resp: Response,
                what: Callable[[], str]) -> InvariantViolation | None:
        """A promise ``resp`` broke, named with what the findings registry knows of it; None for a known finding
        reported without failing (KUBEPROP_REPORT_KNOWN=1), which is recorded instead."""
        version = self.server_version()
        known = findings.matching(invariant, verb, resource, resp.code, resp.body, version)
        if known is not None and not findings.fail_on_known():
            findings.record(known, f"a call to {version}", f"{what()}\nanswered {resp.code}: {resp.body!r}")
            return None
        which = f"; {findings.describe(known)}" if findings.applicable(version) else ""
        return violation(invariant, "; ".join(problems) + which)

    def _stored_promises(self, w: WatchCheck) -> None:
        """api.validation on every object a watch delivered since the last look: an event shows what was stored,
        whoever wrote it (another client, a scheduler, a binding whose answer showed no object)."""
        for event in w.received[w.promised:]:
            obj = event.get("object")
            if event.get("type") in ("ADDED", "MODIFIED", "DELETED") and isinstance(obj, dict):
                what = f"watch {w.label} delivered {event.get('type')}"
                problems = api_checks.validation(what, "get", 200, obj)
                broken = problems and self._broken(api_checks.validation.invariant, problems, "watch",
                                                   w.plan.plural, Response(200, obj), lambda what=what: what)
                if broken:
                    raise broken  # in the watch checks, which fail the example with it
        w.promised = len(w.received)

    def _remember_owned(self, op: Op, resp: Response) -> None:
        """The server-owned metadata of every object an answer shows, as api.server-owned-fields compares an
        update's answer with it (kept apart from the model: only answers go in)."""
        if op.verb == "get" and resp.code == 404:
            self._seen_rv[(op.resource, op.namespace or "", op.name or "")] = ""
        if resp.code >= 300 or not isinstance(resp.body, dict):
            return
        objects = resp.body.get("items") if op.verb == "list" else [resp.body]
        for obj in objects or []:
            meta = obj.get("metadata") if isinstance(obj, dict) and obj.get("kind") != "Status" else None
            if isinstance(meta, dict) and meta.get("name"):
                key = (op.resource, meta.get("namespace") or op.namespace or "", meta["name"])
                self._owned[key] = {f: meta.get(f) for f in api_checks.OWNED}
                if meta.get("resourceVersion"):
                    self._seen_rv[key] = meta["resourceVersion"]

    # ----- API calls ------------------------------------------------------------------------------

    def call(self, op: Op, *, via: Target | None = None) -> Response:
        """Send ``op`` and hold its answer to the model; the model then takes in what happened.

        ``via`` is a scheduler replica's own connection to the target: its calls happen inside a replica step
        the history already holds (replaying the step makes them again), so they are checked, and their checks
        kept on that step, but not recorded as calls of their own.
        """
        if self.target.controls is None:
            self.model.now = wall_now()  # the server stamps this call with its time now
        expect = op.expect(self.model)
        resp, what = self._send(op, via)
        return self._judge(op, expect, resp, what)

    def _send(self, op: Op, via: Target | None = None) -> tuple[Response, Callable[[], str]]:
        """Record (unless it is a replica's call) and send ``op``; its answer and how to describe it."""
        if via is None:
            args, kwargs = op.call_args()
            record = self.history.record(op.verb, *args, **kwargs)
            with transport(record.render):
                resp = op.send(self.target)
            record.code, record.body = resp.code, resp.body
            return resp, record.render

        def what() -> str:
            return f"a scheduler replica's {op.verb} of {op.resource} {op.namespace}/{op.name}"

        with transport(what):
            return op.send(via), what

    def _judge(self, op: Op, expect: Expect, resp: Response, what: Callable[[], str], *,
               promises_judged: bool = False) -> Response:
        """The API's promises on ``resp`` (unless already judged), then the model's ``expect``, then the model
        takes in what happened."""
        if not promises_judged and not self._promises(op, what, resp):
            return resp
        check = self.reporter.note_check(self.history, expect, resp.code, resp.body)
        try:
            check_answer(self.model, op.resource, expect, resp)
        except InvariantViolation as err:
            if check is not None:
                check.difference = err.detail
            self.fail(err)
        if expect.commit is not None:
            expect.commit(resp.body)  # the model's next state, given the answer it agreed with
        return resp

    def observed(self, what: str, expect: Expect) -> None:
        """A write another client made (a real scheduler's binding or status write), seen on a read.

        ``expect`` is the model's verdict on that write in the state the model holds; the write must be one
        the model allows (else it fails on the verdict's rule), and the model then takes it in. The object's
        new resourceVersion is learned on the next checked read, which also compares everything the write
        left behind.
        """
        if self.target.controls is None:
            self.model.now = wall_now()
        self.history.record("observed", what, receiver="another client")
        if expect.code >= 300:
            self.fail(violation(expect.rule, f"{what} happened, but the model refuses it with {expect.code}"
                                             f"{': ' + expect.why if expect.why else ''}"))
        if expect.commit is not None:
            expect.commit(None)

    def write(self, op: Op) -> Response:
        """A write, then the read that shows what it left behind (read-your-writes)."""
        if op.asks_dry_run and op.name:
            return self._dry_write(op)
        if op.verb == "bind":
            return self._bind_write(op)
        resp = self.call(op)
        if resp.code < 500 and op.name:
            self.call(op.read_back())
        return resp

    def _bind_write(self, op: Op) -> Response:
        """A binding and the read of its pod, both sent before either is judged: a binding answers a Status, and
        what it stored (the node, the annotations it copies) shows only on the pod, so the API's promises on the
        pod's answer (api.validation) are judged before the binding's answer is held to the model."""
        if self.target.controls is None:
            self.model.now = wall_now()
        expect = op.expect(self.model)
        owned = self._owned.get(("pods", op.namespace or "", op.name or "")) or {}
        resp, what = self._send(op)
        if resp.code >= 500:
            return self._judge(op, expect, resp, what)
        problems = api_checks.binding_uid(what, op.body, resp.code, owned.get("uid"))
        if problems:  # a known finding reported without failing: the model for a release already follows it
            self._reported(api_checks.binding_uid.invariant, problems, op, resp, what)
        read = op.read_back()
        read_resp, read_what = self._send(read)
        stored = self._promises(read, read_what, read_resp)
        self._judge(op, expect, resp, what)
        if stored:
            self._judge(read, read.expect(self.model), read_resp, read_what, promises_judged=True)
        return resp

    def _reported(self, invariant: str, problems: list[str], op: Op, resp: Response,
                  what: Callable[[], str]) -> findings.Finding:
        """A promise ``op``'s answer broke: fails the example, named with what the findings registry knows of it,
        unless it is a known finding reported without failing (KUBEPROP_REPORT_KNOWN=1), which is recorded and
        returned."""
        version = self.server_version()
        known = findings.matching(invariant, op.verb, op.resource, resp.code, resp.body, version, request=op)
        if known is None or findings.fail_on_known():
            which = f"; {findings.describe(known)}" if findings.applicable(version) else ""
            self.fail(violation(invariant, "; ".join(problems) + which))
        assert known is not None
        findings.record(known, f"a call to {version}", f"{what()}\nanswered {resp.code}: {resp.body!r}")
        return known

    def _dry_write(self, op: Op) -> Response:
        """A write that asks for a dry run, and the read right after, both sent before either is judged:
        api.dry-run (conformance/checks/api.py) is judged on what the two answers show against the object as
        answers showed it before, and only then is each held to the model. A known finding reported without
        failing (KUBEPROP_REPORT_KNOWN=1) holds the answer to what the server did instead (findings.Finding.then)."""
        key = (op.resource, op.namespace or "", op.name or "")
        before = self._seen_rv.get(key)
        if self.target.controls is None:
            self.model.now = wall_now()
        expect = op.expect(self.model)
        resp, what = self._send(op)
        read = op.read_back()
        read_resp, read_what = self._send(read)
        problems = api_checks.dry_run(what, op.dry_values(), resp.code, resp.body, before, read_resp.code,
                                      read_resp.body)
        if problems:
            known = self._reported(api_checks.dry_run.invariant, problems, op, resp, what)
            if known.then == "nothing-stored":
                self._promises(op, what, resp)
                self._judge(read, read.expect(self.model), read_resp, read_what)
                return resp
            expect = op.without_query_dry_run().expect(self.model)  # the model has not moved since the send
        self._judge(op, expect, resp, what)
        if resp.code < 500:
            self._judge(read, read.expect(self.model), read_resp, read_what)
        return resp

    # ----- watches --------------------------------------------------------------------------------

    def open_watch(self, resource: str, namespace: str | None, resource_version: str | None, *,
                   name: str | None = None, form: str = "") -> WatchCheck:
        """Open a watch (of the objects named ``name`` only, if given; at the URL ``form``, adapters.base.
        WATCH_FORMS) and keep it to be judged against the model's plan for it."""
        plan = self.model.plan_watch(resource, namespace, resource_version, name)
        self._watch_seq += 1
        label = f"w{self._watch_seq}"
        # a name and a form are sent (and recorded) only when asked: a replay reads as the call that was made
        asked = {**({"name": name} if name is not None else {}), **({"form": form} if form else {})}
        record = self.history.record("watch", resource, namespace, assign=label, resource_version=resource_version,
                                     **asked)
        with transport(record.render):
            stream = self.target.watch(resource, namespace, resource_version=resource_version, **asked)
        what = f"{resource}{' ' + repr(name) if name is not None else ''}{' in ' + namespace if namespace else ''}"
        w = WatchCheck(f"{label} ({what}, from {resource_version!r}{', URL form ' + repr(form) if form else ''})",
                       plan, stream, resource_version)
        self.watches.append(w)
        return w

    def close_watch(self, index: int) -> None:
        self.watches.pop(index % len(self.watches)).stream.close()

    def check_watches(self) -> None:
        """Drain and judge every open watch; teach the model the resourceVersions their events showed."""
        for w in self.watches:
            try:
                with transport(f"reading watch {w.label}"):
                    learned = w.check(self.model, timeout=self.watch_timeout, promises=self._stored_promises)
            except InvariantViolation as err:
                self.fail(err)
            for change, rv in learned:
                self.model.learn_event_rv(change, rv)

    # ----- what only a simulated target allows ----------------------------------------------------

    def advance_clock(self, seconds: int) -> None:
        assert self.target.controls is not None
        self.history.record("advance_clock", seconds, receiver="target.controls")
        self.target.controls.advance_clock(seconds)
        self.model.advance(seconds)

    def compact(self) -> None:
        assert self.target.controls is not None
        self.history.record("compact", receiver="target.controls")
        self.target.controls.compact()
        self.model.compact()

    def time_passed(self, seconds: int) -> None:
        """True time moved by ``seconds`` through a control the history already holds (the scheduler replicas'
        clocks, which the in-process API server shares)."""
        self.model.advance(seconds)

    def close(self) -> None:
        for w in self.watches:
            w.stream.close()
        self.watches.clear()
        self.target.close()
