"""Leader election over a coordination.k8s.io/v1 Lease, stepped by its caller on an injected clock.

An independent writing of client-go tools/leaderelection (leaderelection.go)
with a LeaseLock (resourcelock/leaselock.go). Nothing runs by itself: each
:meth:`LeaderElector.try_acquire_or_renew` is one attempt, made when the
caller says, and its :class:`ElectorStep` says what was read and written.

Expiry is judged only by this candidate's own clock: it remembers when it
last saw the lease record change (``observed_time``) and may take over only
when the holder is empty or ``observed_time + leaseDurationSeconds < now``.
A leader acts only while its own clock is within ``renew_deadline`` of its
last successful renew.

Usage::

    e = LeaderElector(client, identity="a", clock=clock)
    step = e.try_acquire_or_renew()   # ElectorStep
    e.leading()                       # bool, on this clock
    e.release()                       # on a graceful stop
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from .faults import FaultSet

JSON = dict[str, Any]

JITTER_FACTOR = 1.2  # leaderelection.go: JitterFactor
MICRO_TIME = "%Y-%m-%dT%H:%M:%S.%fZ"


def format_micro(t: datetime) -> str:
    """A MicroTime: RFC 3339 with six fractional digits, UTC, 'Z'."""
    return t.astimezone(UTC).strftime(MICRO_TIME)


def parse_micro(text: Any) -> datetime | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Record:
    """resourcelock/interface.go: LeaderElectionRecord, as held in a Lease spec."""

    holder: str
    duration: int
    acquire: str
    renew: str
    transitions: int

    @staticmethod
    def from_lease(lease: JSON) -> Record:
        """leaselock.go: LeaseSpecToLeaderElectionRecord (absent fields are zero values)."""
        spec = lease.get("spec") or {}
        return Record(str(spec.get("holderIdentity") or ""), int(spec.get("leaseDurationSeconds") or 0),
                      str(spec.get("acquireTime") or ""), str(spec.get("renewTime") or ""),
                      int(spec.get("leaseTransitions") or 0))

    def spec(self) -> JSON:
        """leaselock.go: LeaderElectionRecordToLeaseSpec."""
        return {"holderIdentity": self.holder, "leaseDurationSeconds": self.duration,
                "acquireTime": self.acquire, "renewTime": self.renew, "leaseTransitions": self.transitions}


@dataclass(frozen=True)
class Call:
    """One API call an attempt made: the verb, the body sent (if any) and the answer."""

    verb: str
    body: JSON | None
    code: int
    response: Any


@dataclass(frozen=True)
class ElectorStep:
    """What one attempt did.

    ``outcome`` is one of: ``created`` (made the lease, leading), ``renewed`` (kept it), ``acquired`` (took it
    over), ``held`` (someone else holds an unexpired lease: no write), ``conflict`` (a write was refused: lost
    the race), ``error`` (a read or write failed otherwise), ``released``, ``not-leader`` (nothing to release),
    ``disabled`` (election off) or ``down`` (the replica is not running).
    """

    identity: str
    now: datetime
    outcome: str
    leading: bool
    term: tuple[str, int] | None
    read: JSON | None = None  # the lease as last read, if the attempt read it
    wrote: JSON | None = None  # the last lease body sent (create or update), if any
    code: int | None = None  # that write's answer
    calls: tuple[Call, ...] = ()


def validate(lease_duration: float, renew_deadline: float, retry_period: float, identity: str) -> None:
    """leaderelection.go: NewLeaderElector's checks, in its order."""
    if lease_duration <= renew_deadline:
        raise ValueError("leaseDuration must be greater than renewDeadline")
    if renew_deadline <= JITTER_FACTOR * retry_period:
        raise ValueError("renewDeadline must be greater than retryPeriod*JitterFactor")
    if lease_duration <= 0:
        raise ValueError("leaseDuration must be greater than zero")
    if renew_deadline <= 0:
        raise ValueError("renewDeadline must be greater than zero")
    if retry_period <= 0:
        raise ValueError("retryPeriod must be greater than zero")
    if not identity:
        raise ValueError("Lock identity is empty")


class LeaderElector:
    """One candidate for one lease."""

    def __init__(
        self,
        client: Any,
        *,
        identity: str,
        clock: Callable[[], datetime],
        namespace: str = "kube-system",
        name: str = "kube-scheduler",
        lease_duration: float = 15.0,
        renew_deadline: float = 10.0,
        retry_period: float = 2.0,
        faults: FaultSet | Iterable[str] = (),
    ) -> None:
        validate(lease_duration, renew_deadline, retry_period, identity)
        self.client = client
        self.identity = identity
        self.clock = clock
        self.namespace = namespace
        self.name = name
        self.lease_duration = lease_duration
        self.renew_deadline = renew_deadline
        self.retry_period = retry_period
        self.faults = faults if isinstance(faults, FaultSet) else FaultSet(faults)
        self.reset()

    def reset(self) -> None:
        """Forget everything, as a new process would."""
        self._observed: Record | None = None
        self._observed_time: datetime | None = None
        self._observed_raw: Record | None = None
        self._lease: JSON | None = None  # leaselock.go: ll.lease, the last object read or written
        self._last_renew: datetime | None = None  # own clock at the last successful write as holder
        self._term: tuple[str, int] | None = None
        self._last_attempt: datetime | None = None

    # ---- queries ----

    def is_leader(self) -> bool:
        """leaderelection.go: IsLeader -- the record last observed names this candidate."""
        return self._observed is not None and self._observed.holder == self.identity

    def leading(self) -> bool:
        """Acts as leader: holder by its last successful write, and within renew_deadline of it on its own clock."""
        if not self.is_leader() or self._last_renew is None:
            return False
        if self.faults.enabled("lease.keeps-acting-after-renew-deadline"):
            return True
        # tools/leaderelection/leaderelection.go: renew polls under a RenewDeadline timeout; once it is
        # reached the context is done, so the instant of the deadline is already past leading
        return (self.clock() - self._last_renew).total_seconds() < self.renew_deadline

    def deadline_passed(self) -> bool:
        """It held the lease by a successful write but has not renewed within renew_deadline."""
        return self.is_leader() and self._last_renew is not None and not self.leading()

    def term(self) -> tuple[str, int] | None:
        """(holderIdentity, leaseTransitions) of the term it leads, if leading."""
        return self._term if self.leading() else None

    def next_attempt_in(self) -> float:
        """Seconds on its own clock until the next attempt is due (every retry_period)."""
        if self._last_attempt is None:
            return 0.0
        due = self._last_attempt + timedelta(seconds=self.retry_period)
        return max(0.0, (due - self.clock()).total_seconds())

    # ---- the attempt ----

    def _valid(self, now: datetime) -> bool:
        """leaderelection.go: isLeaseValid -- judged from when this candidate observed the record.

        Expired only once ``observed + leaseDurationSeconds < now`` (strictly), so the boundary instant
        still counts as held.
        """
        assert self._observed is not None and self._observed_time is not None
        if self.faults.enabled("lease.trusts-record-time"):
            renewed = parse_micro(self._observed.renew)
            since = renewed if renewed is not None else self._observed_time
        else:
            since = self._observed_time
        return since + timedelta(seconds=self._observed.duration) >= now

    def _set_observed(self, rec: Record, now: datetime) -> None:
        """leaderelection.go: setObservedRecord."""
        self._observed = rec
        self._observed_time = now

    def _succeeded(self, rec: Record, lease: Any, now: datetime) -> None:
        self._set_observed(rec, now)
        if isinstance(lease, dict):
            self._lease = lease
        if rec.holder == self.identity:
            self._last_renew = now
            self._term = (rec.holder, rec.transitions)

    def _lost(self) -> None:
        self._last_renew = None
        self._term = None

    def try_acquire_or_renew(self) -> ElectorStep:
        """leaderelection.go: tryAcquireOrRenew -- one attempt: the fast renew, else read, judge, write."""
        now = self.clock()
        self._last_attempt = now
        calls: list[Call] = []
        stamp = format_micro(now)
        mine = Record(self.identity, int(self.lease_duration), stamp, stamp, 0)

        # fast path: a leader whose observation is still valid updates its cached lease directly
        if self.is_leader() and self._lease is not None and self._valid(now):
            assert self._observed is not None
            rec = Record(mine.holder, mine.duration, self._observed.acquire, stamp, self._observed.transitions)
            r = self._update(rec, calls)
            if r.code == 200:
                self._succeeded(rec, r.body, now)
                return self._step(now, "renewed", calls, wrote=calls[-1].body, code=r.code)

        got = self.client.get("leases", self.namespace, self.name)
        calls.append(Call("get", None, got.code, got.body))
        if got.code == 404:
            body = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                    "metadata": {"name": self.name, "namespace": self.namespace}, "spec": mine.spec()}
            r = self.client.create("leases", self.namespace, body)
            calls.append(Call("create", body, r.code, r.body))
            if r.code != 201:
                self._lost()
                return self._step(now, "conflict" if r.code == 409 else "error", calls, wrote=body, code=r.code)
            self._succeeded(mine, r.body, now)
            return self._step(now, "created", calls, wrote=body, code=r.code)
        if got.code != 200 or not isinstance(got.body, dict):
            return self._step(now, "error", calls)
        self._lease = got.body
        old = Record.from_lease(got.body)
        if old != self._observed_raw:
            self._set_observed(old, now)
            self._observed_raw = old
        if old.holder and self._valid(now) and not self.is_leader() \
                and not self.faults.enabled("lease.ignores-expiry"):
            self._lost()
            return self._step(now, "held", calls, read=got.body)
        if self.is_leader():
            rec = Record(mine.holder, mine.duration, old.acquire, stamp, old.transitions)
            outcome = "renewed"
        else:
            bump = 0 if self.faults.enabled("lease.keeps-transitions") else 1
            rec = Record(mine.holder, mine.duration, stamp, stamp, old.transitions + bump)
            outcome = "acquired"
        r = self._update(rec, calls)
        if r.code != 200:
            # leaderelection.go: a failed update only returns false; a leader keeps its observed record and goes
            # on leading until renew() gives up at RenewDeadline (leading() judges that from _last_renew)
            if not self.is_leader():
                self._lost()
            return self._step(now, "conflict" if r.code == 409 else "error", calls, read=got.body,
                              wrote=calls[-1].body, code=r.code)
        self._succeeded(rec, r.body, now)
        return self._step(now, outcome, calls, read=got.body, wrote=calls[-1].body, code=r.code)

    def release(self) -> ElectorStep:
        """leaderelection.go: tryRelease -- empty holder, 1 s duration, times now, transitions kept."""
        now = self.clock()
        calls: list[Call] = []
        read: JSON | None = None
        for _ in range(3):  # a conflict is retried, as upstream does
            got = self.client.get("leases", self.namespace, self.name)
            calls.append(Call("get", None, got.code, got.body))
            if got.code != 200 or not isinstance(got.body, dict):
                return self._step(now, "error", calls)
            read = got.body
            self._lease = got.body
            if not self.is_leader():
                return self._step(now, "not-leader", calls, read=read)
            stamp = format_micro(now)
            rec = Record("", 1, stamp, stamp, Record.from_lease(got.body).transitions)
            r = self._update(rec, calls)
            if r.code == 200:
                self._lost()
                self._set_observed(rec, now)
                if isinstance(r.body, dict):
                    self._lease = r.body
                return self._step(now, "released", calls, read=read, wrote=calls[-1].body, code=r.code)
            if r.code != 409:
                break
        self._lost()
        return self._step(now, "error", calls, read=read, wrote=calls[-1].body if calls else None,
                          code=calls[-1].code if calls else None)

    def _update(self, rec: Record, calls: list[Call]) -> Any:
        """leaselock.go: Update -- a PUT of the cached lease (its resourceVersion) with the new spec."""
        assert self._lease is not None
        body = copy.deepcopy(self._lease)
        body["spec"] = rec.spec()
        r = self.client.update("leases", self.namespace, self.name, body)
        calls.append(Call("update", body, r.code, r.body))
        return r

    def _step(self, now: datetime, outcome: str, calls: list[Call], *, read: JSON | None = None,
              wrote: JSON | None = None, code: int | None = None) -> ElectorStep:
        return ElectorStep(self.identity, now, outcome, self.leading(), self.term(), read, wrote, code,
                           tuple(calls))
