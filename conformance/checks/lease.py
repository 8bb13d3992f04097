"""Checks of Lease leader election against the leader-election model (model/leaderelection), one invariant id each.

``lease.single-holder-per-term`` is decided on what can be seen of the Lease:
each write a candidate makes (:func:`write`, on that candidate's own clock),
the sequence of records read or written (:func:`one_holder_per_term`,
:func:`successive`, :func:`records`) and which replicas act as leader at a
moment (:func:`acting_leaders`). ``lease.only-leader-acts`` is decided per
action (:func:`only_leader_acts`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

from conformance.checks import check
from model.leaderelection import Candidate, Config, Record, check_write


def parse_time(text: str) -> float:
    """An RFC 3339 time of a Lease (acquireTime, renewTime) as epoch seconds."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


@check("lease.single-holder-per-term")
def write(candidate: Candidate, current: Record | None, written: Record, now: float) -> list[str]:
    """A successful write of ``written`` by ``candidate`` at ``now`` (its clock) over ``current`` follows the
    client-go protocol (:func:`model.leaderelection.check_write`): no takeover before the holder's lease ran
    out by the candidate's own observation, leaseTransitions bumped on every change of holder."""
    return check_write(candidate, current, written, now)


@check("lease.single-holder-per-term")
def one_holder_per_term(terms: Mapping[int, str], record: Record) -> list[str]:
    """``record`` names the same holder for its leaseTransitions as every earlier record (``terms``) did."""
    if not record.holder:
        return []
    holder = terms.get(record.transitions, record.holder)
    if holder != record.holder:
        return [f"term leaseTransitions={record.transitions} has two holders: {holder!r} and {record.holder!r}"]
    return []


@check("lease.single-holder-per-term")
def successive(before: Record, after: Record, tolerance: float | None = None) -> list[str]:
    """Two records seen one after the other keep the term rules.

    The same holder keeps leaseTransitions and acquireTime, and its renewTime does not go back; a change of holder
    bumps leaseTransitions (by one when seen directly; by more only if reads missed a term). With ``tolerance``
    (seconds; only when one clock wrote both records' times, as on one host) a takeover's acquireTime is also at
    least leaseDurationSeconds after the start of the second in which the previous holder last renewed: a
    candidate notices a renewal only when the record it reads differs from the one it saw, and client-go compares
    the record as JSON whose times are metav1.Time, whole seconds (tools/leaderelection/leaderelection.go:
    tryAcquireOrRenew, observedRawRecord; resourcelock/leaselock.go: Get), so renewals within one second look
    the same to it and it may count the lease from the first of them.
    """
    a, b = before, after
    if not a.holder or not b.holder:
        return []
    out: list[str] = []
    if a.holder == b.holder:
        if b.transitions != a.transitions:
            out.append(f"{a.holder!r} renewed but leaseTransitions went {a.transitions} -> {b.transitions}")
        if a.renew_time and b.renew_time and parse_time(b.renew_time) < parse_time(a.renew_time):
            out.append(f"renewTime of {a.holder!r} went back: {a.renew_time} -> {b.renew_time}")
        if a.acquire_time != b.acquire_time:
            out.append(f"acquireTime of {a.holder!r} changed within its term: {a.acquire_time} -> {b.acquire_time}")
        return out
    if b.transitions <= a.transitions:
        out.append(f"holder {a.holder!r} -> {b.holder!r} with leaseTransitions {a.transitions} -> {b.transitions} "
                   "(no bump)")
    if tolerance is not None and a.renew_time and b.acquire_time:
        gap = parse_time(b.acquire_time) - math.floor(parse_time(a.renew_time))
        if gap < a.duration - tolerance:
            out.append(f"{b.holder!r} acquired at {b.acquire_time}, {gap:.3f}s after the second in which {a.holder!r} "
                       f"last renewed ({a.renew_time}), before its {a.duration}s lease ran out")
    return out


@check("lease.single-holder-per-term")
def records(seen: Sequence[Record], tolerance: float | None = None) -> list[str]:
    """Every record of ``seen`` (in the order seen) against :func:`one_holder_per_term` and :func:`successive`."""
    out: list[str] = []
    terms: dict[int, str] = {}
    for r in seen:
        out += one_holder_per_term(terms, r)
        if r.holder:
            terms.setdefault(r.transitions, r.holder)
    for a, b in zip(seen, seen[1:], strict=False):
        out += successive(a, b, tolerance)
    return out


@check("lease.single-holder-per-term")
def acting_leaders(leading: Sequence[tuple[Candidate, float]], config: Config) -> list[str]:
    """At one moment, at most one replica acts as leader, each only within RenewDeadline of its last renewal.

    ``leading`` holds each replica acting as leader with the time on its own clock.
    """
    out = []
    for cand, now in leading:
        if not cand.may_lead(now, config):
            out.append(f"{cand.identity} acts as leader at {now:.3f} on its clock, but its last successful renewal "
                       f"was at {cand.last_renew} (renewDeadline {config.renew_deadline:g}s), holder seen: "
                       f"{cand.observed.holder if cand.observed else None!r}")
    if len(leading) > 1:
        out.append(f"{', '.join(c.identity for c, _ in leading)} all act as leader at once")
    return out


@check("lease.only-leader-acts")
def only_leader_acts(candidate: Candidate, lease: Record | None, now: float, config: Config, what: str) -> list[str]:
    """``candidate`` did ``what`` (a binding, say) at ``now`` on its clock: the Lease names it, and it renewed
    within RenewDeadline."""
    me = candidate.identity
    out = []
    if lease is None or lease.holder != me:
        out.append(f"{me} {what} while the lease was held by {lease.holder if lease else 'nobody'!r}")
    if not candidate.may_lead(now, config):
        out.append(f"{me} {what} at {now:.3f} on its clock, but its last renewal was at {candidate.last_renew}: "
                   f"more than renewDeadline ({config.renew_deadline:g}s) ago")
    return out


def live_terms(seen: Sequence[Record], acting: Callable[[str], bool] = lambda holder: True
               ) -> list[tuple[float, float]]:
    """The intervals (epoch seconds) in which some record of ``seen`` held by an ``acting`` holder was a live term:
    from its renewTime (or acquireTime) for leaseDurationSeconds; a record without a holder (a released Lease) is
    no term."""
    out = []
    for r in seen:
        start = r.renew_time or r.acquire_time
        if r.holder and acting(r.holder) and start:
            t = parse_time(start)
            out.append((t, t + r.duration))
    return sorted(out)


@check("lease.only-leader-acts")
def bound_within_a_live_term(what: str, earliest: float, latest: float, seen: Sequence[Record],
                             tolerance: float = 0.0, acting: Callable[[str], bool] = lambda holder: True
                             ) -> list[str]:
    """A binding decided no earlier than ``earliest`` and written no later than ``latest`` (epoch seconds on the
    clock that wrote the Lease's times; here one host clock) came from a replica that held a live term at some
    moment in between, whoever it was: some record of the Lease (``seen``, every record a watch showed) held by a
    holder that may act (``acting``: not a holder known never to schedule, as the harness itself) was live then.
    It is all the API shows of who acts: a binding names no replica. ``tolerance`` seconds allow for clocks.

    A replica acting without the Lease while another holds a live term is not seen this way; one acting while no
    term is live (a leader killed, before the Lease runs out and another takes it) is."""
    lo, hi = earliest - tolerance, latest + tolerance
    if any(start <= hi and lo <= end for start, end in live_terms(seen, acting)):
        return []
    terms = ", ".join(f"{r.holder!r} renewed {r.renew_time} for {r.duration}s" for r in seen if r.holder) or "none"
    return [f"{what} between {earliest:.3f} and {latest:.3f} (epoch seconds), when no replica held a live term of "
            f"the Lease (terms seen: {terms})"]


@check("lease.single-holder-per-term")
def waited_out(holder: str, written_at: float, duration: float, seen: Sequence[Record],
               tolerance: float = 0.0) -> list[str]:
    """A term ``holder`` wrote at ``written_at`` (epoch seconds, known to the writer) for ``duration`` seconds is
    taken over by nobody before it ran out by observation: whoever holds the Lease next acquired it at least
    ``duration`` after the write, whatever renewTime the record carried (client-go judges expiry by when a
    candidate saw the record change, its own clock: tools/leaderelection/leaderelection.go, observedTime)."""
    after = False
    for r in seen:
        if r.holder == holder:
            after = True
        elif after and r.holder:
            if r.acquire_time and parse_time(r.acquire_time) < written_at + duration - tolerance:
                return [f"{r.holder!r} acquired the Lease at {r.acquire_time}, "
                        f"{parse_time(r.acquire_time) - written_at:.3f}s after {holder!r} wrote its {duration:g}s "
                        f"term: before that term ran out by any observation"]
            return []
    return []


def _own_renewals(who: str, seen: Sequence[Record], before: float) -> list[float]:
    """When (epoch seconds) ``who`` wrote itself holder (renewTime, or acquireTime) in the records seen, up to
    ``before``."""
    out = []
    for r in seen:
        start = r.renew_time or r.acquire_time
        if r.holder == who and start and parse_time(start) <= before:
            out.append(parse_time(start))
    return out


@check("lease.only-leader-acts")
def sender_held_a_term(who: str, what: str, sent: float, seen: Sequence[Record], tolerance: float = 0.0) -> list[str]:
    """An action the network attributes to replica ``who``, sent at ``sent`` (epoch seconds, the clock that wrote the
    Lease's times), came while ``who`` had written itself holder of the Lease at least once: a replica that never
    held it must not act at all."""
    if _own_renewals(who, seen, sent + tolerance):
        return []
    return [f"{what} was sent by {who!r} at {sent:.3f} (epoch seconds), which the Lease never showed as holder before "
            f"then (holders seen: {sorted({r.holder for r in seen if r.holder}) or 'none'})"]


@check("lease.single-holder-per-term")
def sender_within_renew_deadline(who: str, what: str, sent: float, seen: Sequence[Record], renew_deadline: float,
                                 tolerance: float = 0.0, stopped: Sequence[tuple[float, float]] = ()) -> list[str]:
    """An action attributed to replica ``who`` and sent at ``sent`` came within ``renew_deadline`` of the last
    renewal the Lease shows ``who`` writing before it: a leader that could not renew stops acting at its renew
    deadline (client-go tools/leaderelection/leaderelection.go: renew gives up after RenewDeadline and the
    leader's callbacks stop; kube-scheduler exits, cmd/kube-scheduler/app/server.go: OnStoppedLeading).

    ``stopped``: intervals (epoch seconds) in which ``who`` did not run at all (SIGSTOP): they do not count. A
    process stopped between deciding an action and sending it sends it when it runs again, before its own clock
    can tell it the deadline passed (nothing fences a Binding by term), so only the time it ran is held to the
    deadline."""
    own = _own_renewals(who, seen, sent + tolerance)
    if not own:
        return []
    last = max(own)
    idle = sum(max(0.0, min(end, sent) - max(start, last)) for start, end in stopped)
    if sent - idle <= last + renew_deadline + tolerance:
        return []
    paused = f", {idle:.3f}s of it stopped" if idle else ""
    return [f"{what} was sent by {who!r} at {sent:.3f} (epoch seconds), {sent - last:.3f}s after the last renewal "
            f"the Lease shows it writing{paused}, past its renew deadline of {renew_deadline:g}s"]
