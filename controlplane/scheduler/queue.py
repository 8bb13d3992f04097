"""The scheduling queue: an active heap, a backoff pool and an unschedulable pool, on the replica's own clock.

Follows pkg/scheduler/backend/queue/scheduling_queue.go and backoff_queue.go:
the active heap orders by priority (higher first) then by the time the pod
entered the queue (queuesort/priority_sort.go: Less); a failed attempt
refreshes that time. Pods rejected by filters wait in the unschedulable pool
until a cluster event may help (or five minutes pass); pods that failed with
an error (a failed binding, no nodes at all) go to backoff. Backoff is
1 s doubling per attempt up to 10 s. Times are float seconds from the owner's
clock; ties in time fall back to a sequence number, so order is deterministic.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

from .objects import PodInfo

INITIAL_BACKOFF = 1.0  # scheduling_queue.go: DefaultPodInitialBackoffDuration
MAX_BACKOFF = 10.0  # scheduling_queue.go: DefaultPodMaxBackoffDuration
MAX_IN_UNSCHEDULABLE = 300.0  # scheduling_queue.go: DefaultPodMaxInUnschedulablePodsDuration

ACTIVE, BACKOFF, UNSCHEDULABLE, GATED = "active", "backoff", "unschedulable", "gated"


@dataclass
class QueuedPod:
    """framework.QueuedPodInfo: the pod, when it (re)entered the queue, and its failure counts."""

    info: PodInfo
    timestamp: float
    seq: int
    unschedulable_count: int = 0
    error_count: int = 0
    where: str = ACTIVE
    version: int = 0

    @property
    def uid(self) -> str:
        return self.info.uid


def backoff_duration(count: int) -> float:
    """backoff_queue.go: calculateBackoffDuration -- initial << (count-1), capped at the maximum."""
    if count <= 0:
        return 0.0
    d = INITIAL_BACKOFF
    for _ in range(count - 1):
        d *= 2
        if d > MAX_BACKOFF:
            return MAX_BACKOFF
    return min(d, MAX_BACKOFF)


def backoff_expiry(q: QueuedPod) -> float:
    """backoff_queue.go: getBackoffTime -- the error count wins when the last attempt was an error."""
    count = q.error_count if q.error_count > 0 else q.unschedulable_count
    if count == 0:
        return float("-inf")
    return q.timestamp + backoff_duration(count)


class SchedulingQueue:
    """Pods waiting to be scheduled, keyed by uid."""

    def __init__(self) -> None:
        self.pods: dict[str, QueuedPod] = {}
        self._active: list[tuple[int, float, int, str, int]] = []
        self._backoff: list[tuple[float, int, str, int]] = []
        self._seq = 0

    def __len__(self) -> int:
        return len(self.pods)

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def _to(self, q: QueuedPod, where: str) -> None:
        q.where = where
        q.version += 1
        if where == ACTIVE:
            heapq.heappush(self._active, (-q.info.priority, q.timestamp, q.seq, q.uid, q.version))
        elif where == BACKOFF:
            heapq.heappush(self._backoff, (backoff_expiry(q), q.seq, q.uid, q.version))

    def _live(self, uid: str, version: int, where: str) -> QueuedPod | None:
        q = self.pods.get(uid)
        if q is None or q.version != version or q.where != where:
            return None
        return q

    # ---- informer events (scheduling_queue.go: Add, Update, Delete) ----

    def add(self, info: PodInfo, now: float) -> None:
        """A new pending pod: straight to the active heap (gated pods wait aside: schedulinggates PreEnqueue)."""
        if info.uid in self.pods:
            self.update(info, now)
            return
        q = QueuedPod(info, now, self._next_seq())
        self.pods[info.uid] = q
        self._to(q, GATED if info.gated else ACTIVE)

    def update(self, info: PodInfo, now: float) -> None:
        """A changed pending pod: new data in place; an unschedulable or gated pod whose spec changed is retried."""
        q = self.pods.get(info.uid)
        if q is None:
            self.add(info, now)
            return
        old, q.info = q.info, info
        if info.gated:
            if q.where != GATED:
                self._to(q, GATED)
            return
        if q.where == GATED:
            self._to(q, ACTIVE)
        elif q.where == ACTIVE and old.priority != info.priority:
            self._to(q, ACTIVE)
        elif q.where == UNSCHEDULABLE and _may_help(old, info):
            self._to(q, BACKOFF if backoff_expiry(q) > now else ACTIVE)

    def delete(self, uid: str) -> None:
        q = self.pods.pop(uid, None)
        if q is not None:
            q.version += 1

    # ---- the scheduling loop ----

    def pop(self, now: float) -> QueuedPod | None:
        """scheduling_queue.go: Pop -- the head of the active heap, after flushing what is due."""
        self.flush(now)
        while self._active:
            _, _, _, uid, version = heapq.heappop(self._active)
            q = self._live(uid, version, ACTIVE)
            if q is not None:
                del self.pods[uid]
                return q
        return None

    def flush(self, now: float) -> None:
        """flushBackoffQCompleted and flushUnschedulablePodsLeftover."""
        while self._backoff and self._backoff[0][0] <= now:
            _, _, uid, version = heapq.heappop(self._backoff)
            q = self._live(uid, version, BACKOFF)
            if q is not None:
                self._to(q, ACTIVE)
        stale = [q for q in self.pods.values()
                 if q.where == UNSCHEDULABLE and now - q.timestamp >= MAX_IN_UNSCHEDULABLE]
        for q in stale:
            self._to(q, BACKOFF if backoff_expiry(q) > now else ACTIVE)

    def requeue_unschedulable(self, q: QueuedPod, info: PodInfo, now: float) -> None:
        """AddUnschedulableIfNotPresent after a filter rejection: the unschedulable pool, time refreshed."""
        self._requeue(q, info, now)
        q.unschedulable_count += 1
        q.error_count = 0
        self._to(q, UNSCHEDULABLE)

    def requeue_error(self, q: QueuedPod, info: PodInfo, now: float) -> None:
        """AddUnschedulableIfNotPresent after an error (failed binding, no nodes): backoff, time refreshed."""
        self._requeue(q, info, now)
        q.error_count += 1
        self._to(q, BACKOFF)

    def requeue_fresh(self, info: PodInfo, now: float) -> None:
        """A pod whose in-flight state was dropped comes back as if newly listed."""
        self.pods.pop(info.uid, None)
        self.add(info, now)

    def _requeue(self, q: QueuedPod, info: PodInfo, now: float) -> None:
        q.info = info
        q.timestamp = now
        q.seq = self._next_seq()
        self.pods[info.uid] = q

    def move_all(self, now: float) -> int:
        """MoveAllToActiveOrBackoffQueue: unschedulable pods to backoff if still backing off, else active."""
        moved = [q for q in self.pods.values() if q.where == UNSCHEDULABLE]
        for q in moved:
            self._to(q, BACKOFF if backoff_expiry(q) > now else ACTIVE)
        return len(moved)

    def next_ready(self, now: float) -> float | None:
        """Seconds until a waiting pod becomes poppable (0 if one already is); None if nothing will be."""
        best: float | None = None
        for q in self.pods.values():
            if q.where == ACTIVE:
                return 0.0
            if q.where == BACKOFF:
                t = backoff_expiry(q)
            elif q.where == UNSCHEDULABLE:
                t = q.timestamp + MAX_IN_UNSCHEDULABLE
            else:
                continue
            best = t if best is None else min(best, t)
        return None if best is None else max(0.0, best - now)

    def where(self, uid: str) -> str | None:
        q = self.pods.get(uid)
        return q.where if q is not None else None


def _may_help(old: PodInfo, new: PodInfo) -> bool:
    """A pod update worth a retry: anything the filters read changed (the plugins' pod-update queueing hints)."""
    return (old.tolerations != new.tolerations or old.node_selector != new.node_selector
            or old.raw.get("spec", {}).get("affinity") != new.raw.get("spec", {}).get("affinity")
            or old.milli_cpu > new.milli_cpu or old.memory > new.memory or old.ephemeral > new.ephemeral
            or old.ports != new.ports)
