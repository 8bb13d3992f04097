"""Lease-based leader election as client-go does it, as pure transitions.

A candidate trusts only its own clock. It remembers the last lease record it
read and *when, by its own clock,* it first saw that record (observedTime). It
may take a lease over only when the holder is empty or its observation is
older than the record's leaseDurationSeconds; a takeover bumps
leaseTransitions, a renewal keeps leaseTransitions and acquireTime. A leader
that has not renewed within RenewDeadline of its last successful write (by its
own clock) has stopped leading. Writes are PUTs carrying the read
resourceVersion, so of two racing takeovers the API server lets one win.

Times here are float seconds on one candidate's clock; nothing compares one
candidate's clock with another's.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

JSON = dict[str, Any]

# tools/leaderelection/leaderelection.go: JitterFactor (RenewDeadline must exceed RetryPeriod by it)
JITTER_FACTOR = 1.2


@dataclass(frozen=True)
class Config:
    """LeaseDuration, RenewDeadline and RetryPeriod in seconds; kube-scheduler's defaults."""

    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0

    def problems(self) -> list[str]:
        """Why client-go would refuse this configuration (empty when it is valid)."""
        # tools/leaderelection/leaderelection.go: NewLeaderElector
        out = []
        if self.lease_duration <= self.renew_deadline:
            out.append("leaseDuration must be greater than renewDeadline")
        if self.renew_deadline <= JITTER_FACTOR * self.retry_period:
            out.append("renewDeadline must be greater than retryPeriod*JitterFactor")
        if self.lease_duration < 1 or self.renew_deadline < 1 or self.retry_period < 1:
            out.append("durations must be at least one second")
        return out


@dataclass(frozen=True)
class Record:
    """The leader-election fields of a Lease spec (resourcelock/leaselock.go: LeaseSpecToLeaderElectionRecord)."""

    holder: str
    duration: int
    transitions: int
    acquire_time: str | None = None
    renew_time: str | None = None

    @classmethod
    def from_lease(cls, lease: JSON) -> Record:
        spec = lease.get("spec") or {}
        return cls(
            holder=spec.get("holderIdentity") or "",
            duration=int(spec.get("leaseDurationSeconds") or 0),
            transitions=int(spec.get("leaseTransitions") or 0),
            acquire_time=spec.get("acquireTime"),
            renew_time=spec.get("renewTime"),
        )


@dataclass(frozen=True)
class Candidate:
    """What one candidate knows: the record it last saw, when it saw it, and when it last wrote as holder."""

    identity: str
    observed: Record | None = None
    observed_at: float | None = None
    last_renew: float | None = None  # own-clock time of its last successful acquire or renew

    def observe(self, record: Record, now: float) -> Candidate:
        """A read of the lease: a record that differs from the remembered one restarts observedTime."""
        # tools/leaderelection/leaderelection.go: tryAcquireOrRenew compares the raw record it read
        if record == self.observed:
            return self
        return replace(self, observed=record, observed_at=now)

    def lease_valid(self, now: float) -> bool:
        """Whether, by this candidate's own observation, the observed holder's lease is still running."""
        # tools/leaderelection/leaderelection.go: isLeaseValid (observedTime + observed duration after now)
        if self.observed is None or self.observed_at is None:
            return False
        return self.observed_at + self.observed.duration > now

    def wrote(self, record: Record, now: float) -> Candidate:
        """A successful write of ``record`` by this candidate at ``now`` (its clock)."""
        # tools/leaderelection/leaderelection.go: setObservedRecord after a successful Create/Update
        last = now if record.holder == self.identity else None
        return replace(self, observed=record, observed_at=now, last_renew=last)

    def may_lead(self, now: float, config: Config) -> bool:
        """Whether acting as leader at ``now`` is allowed: it holds the lease and renewed within RenewDeadline."""
        # tools/leaderelection/leaderelection.go: renew (a renewal not done within RenewDeadline ends leading)
        return (self.last_renew is not None and self.observed is not None
                and self.observed.holder == self.identity and now < self.last_renew + config.renew_deadline)


def check_write(candidate: Candidate, current: Record | None, written: Record, now: float) -> list[str]:
    """Why a successful write of ``written`` over ``current`` by ``candidate`` at ``now`` breaks the protocol.

    ``current`` is the lease as the API server held it just before the write
    (None: the write created it). An empty list means the write is allowed.
    """
    me = candidate.identity
    if written.holder == "":
        return _check_release(candidate, current, written)
    if written.holder != me:
        return [f"{me} wrote {written.holder!r} as the holder"]
    if current is None:
        # tools/leaderelection/leaderelection.go: tryAcquireOrRenew creates the lease with transitions 0
        return [] if written.transitions == 0 else [f"{me} created the lease with leaseTransitions "
                                                    f"{written.transitions}, not 0"]
    if current.holder == me:
        # a renewal keeps the term: same leaseTransitions and acquireTime
        out = []
        if written.transitions != current.transitions:
            out.append(f"{me} renewed its own lease but changed leaseTransitions "
                       f"{current.transitions} -> {written.transitions}")
        return out
    out = []
    if current.holder:
        seen = candidate.observed == current
        if not seen:
            out.append(f"{me} took the lease from {current.holder!r} without having read its current record")
        elif candidate.lease_valid(now):
            assert candidate.observed_at is not None
            left = candidate.observed_at + current.duration - now
            out.append(f"{me} took the lease from {current.holder!r} while, by its own clock, "
                       f"{left:.3f}s of the holder's {current.duration}s term were left "
                       f"(observed at {candidate.observed_at:.3f}, now {now:.3f})")
    # tools/leaderelection/leaderelection.go: tryAcquireOrRenew bumps LeaderTransitions on a change of holder
    if written.transitions != current.transitions + 1:
        out.append(f"{me} took the lease over from {current.holder or 'nobody'!r} at leaseTransitions "
                   f"{current.transitions} and wrote {written.transitions}, not {current.transitions + 1}: "
                   "two holders would share one term")
    return out


def _check_release(candidate: Candidate, current: Record | None, written: Record) -> list[str]:
    # tools/leaderelection/leaderelection.go: tryRelease empties the holder, keeps transitions, duration 1 s
    me = candidate.identity
    if current is None or current.holder != me:
        holder = current.holder if current else None
        return [f"{me} released a lease it does not hold (holder {holder!r})"]
    if written.transitions != current.transitions:
        return [f"{me} changed leaseTransitions on release ({current.transitions} -> {written.transitions})"]
    return []
