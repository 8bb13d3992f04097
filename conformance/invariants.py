"""Invariant ids and the exception a broken one raises.

Every failure kubeprop reports names one invariant id. Each id gets its own
exception class so that Hypothesis treats different broken invariants as
different bugs and never shrinks one into another.
"""

from __future__ import annotations

INVARIANTS: dict[str, str] = {
    "api.matches-model": "every answer (code, Status, object) is the one the model requires",
    "api.status-shape": "an error answer is the exact Status object upstream builds",
    "api.optimistic-concurrency": "a stale resourceVersion or failed precondition gets 409; no lost update",
    "api.read-your-writes": "a read after a write returns that write",
    "api.rv-changes": "every write gets a new resourceVersion; a no-op update keeps it",
    "api.uid-unique": "no two objects ever share a uid",
    "api.finalizers": "an object with finalizers is not removed until they are gone; none may be added while deleting",
    "api.list-selector": "a list returns exactly the objects its label selector matches",
    "api.server-owned-fields": "a client cannot set uid, creationTimestamp, deletionTimestamp or "
                               "deletionGracePeriodSeconds by a create, an update or a patch",
    "api.validation": "an invalid label, annotation or Lease spec value is never stored, by any verb or "
                      "subresource",
    "api.dry-run": "a write that asks dryRun=All stores nothing and changes nothing; an unsupported dryRun value "
                   "is refused",
    "api.no-5xx-for-client-errors": "a request to a healthy server never gets a 5xx: a malformed or invalid one "
                                    "gets a 4xx Status",
    "binding.at-most-once": "a pod's nodeName, once set, never changes; a second binding gets 409",
    "binding.preconditions": "a binding is refused for a deleting pod and on a uid or resourceVersion mismatch",
    "watch.ordered": "a watch delivers changes in commit order",
    "watch.unique": "a watch delivers each change once",
    "watch.reliable": "a watch delivers every change, as it was written",
    "watch.resumable": "a watch from a resourceVersion yields exactly the changes after it",
    "watch.list-then-watch": "a list at resourceVersion r and a watch from r together give every later state of the "
                             "store: nothing is missed between them",
    "watch.bookmarkable": "a bookmark at resourceVersion r comes after every change up to r and before every later "
                          "one, so a watch resumed from it misses nothing",
    "watch.expired-410": "a watch from a compacted resourceVersion gets ERROR 410 Expired, and only then",
    "binding.exactly-once": "after a fair settle, every pending pod with a feasible node is bound; no other is",
    "scheduler.fits": "a pod is bound only to a node that passes every filter plugin for that very pod",
    "scheduler.no-overcommit": "requests on a node (bound and assumed) never exceed its allocatable",
    "scheduler.best-score": "the chosen node is in the model's top-score set",
    "scheduler.fit-error": "a pod that fits nowhere is reported unschedulable, with upstream's reasons",
    "lease.single-holder-per-term": "one holder per (lease, leaseTransitions); no two replicas lead at once",
    "lease.only-leader-acts": "bindings come only from the replica holding the lease",
    "api.read-at-revision": "a read with resourceVersion 0, NotOlderThan r or Exact r shows the store as it was at "
                            "one revision: r itself for Exact, r or later for NotOlderThan",
    "api.linearizable": "the calls of concurrent clients are linearizable: some order of them, each between its "
                        "call and its return, is one the storage allows (no lost update, no stale or torn read)",
    "kubelet.runs-only-bound": "a node runs a pod only once the API shows it bound to that node",
    "kubelet.runs-at-most-once": "a pod name runs on at most one node at any instant, one incarnation at a time, "
                                 "each container once (a force-deleted incarnation excepted)",
    "kubelet.stops-before-delete": "a kubelet completes a graceful delete only after the pod's containers stopped, "
                                   "and the pod's last state shows them stopped",
    "kubelet.graceful-delete-bounded": "a gracefully deleted pod on a working node is gone no later than its "
                                       "deletionTimestamp plus one kubelet sync",
    "kubelet.stops-removed": "nothing of a pod the API no longer has runs longer than one sync of its working "
                             "kubelet",
    "pod.phase-monotonic": "a pod's phase never goes back: Pending, Running, then Succeeded or Failed for good",
    "pod.ready-consistent": "a pod shown Ready is Running with ContainersReady and every container running and "
                            "ready",
    "node.heartbeat-renews": "a working kubelet moves its node Lease's renewTime at least every renew interval",
    "node.unknown-in-time": "a node whose heartbeats stopped shows Ready Unknown within the grace period and three "
                            "monitor periods",
    "node.unknown-not-early": "a node is marked Unknown only after no heartbeat for longer than the grace period",
}


class InvariantViolation(AssertionError):
    """Raised when a target breaks an invariant. ``invariant`` is its stable id."""

    invariant: str = "api.matches-model"

    def __init__(self, message: str) -> None:
        super().__init__(f"[{self.invariant}] {message}")
        self.detail = message
        self.steps = 0  # how many state-machine steps the failing example took


_CLASSES: dict[str, type[InvariantViolation]] = {}


def violation_class(invariant: str) -> type[InvariantViolation]:
    if invariant not in INVARIANTS:
        raise ValueError(f"unknown invariant {invariant!r}; known: {', '.join(sorted(INVARIANTS))}")
    cls = _CLASSES.get(invariant)
    if cls is None:
        name = "Violation_" + invariant.replace(".", "_").replace("-", "_")
        cls = type(name, (InvariantViolation,), {"invariant": invariant, "__module__": __name__})
        _CLASSES[invariant] = cls
    return cls


#: the first violation made since :func:`forget_first`: what a run against a server reports when Hypothesis, replaying
#: the steps, does not see them fail the same way again (a server runs in real time and chooses its own
#: resourceVersions, so Hypothesis calls the failure, or the draws that depend on answers, flaky)
_FIRST: list[InvariantViolation] = []


def violation(invariant: str, message: str) -> InvariantViolation:
    v = violation_class(invariant)(message)
    if not _FIRST:
        _FIRST.append(v)
    return v


def forget_first() -> None:
    _FIRST.clear()


def seen_once(flaky: BaseException, why: str) -> InvariantViolation | None:
    """The violation to report for a run Hypothesis found flaky: the one it carries, else the first made; its
    message then says that a replay did not repeat it, and ``why``. None when there is none."""
    found = violations_in(flaky) or _FIRST[:1]
    if not found:
        return None
    found[0].args = (f"{found[0].args[0]} (seen once; a replay of the same steps did not fail the same way: {why})",)
    return found[0]


def violations_in(err: BaseException) -> list[InvariantViolation]:
    """Every invariant violation in an error, including those Hypothesis groups when it reports several bugs."""
    if isinstance(err, InvariantViolation):
        return [err]
    if isinstance(err, ObservedViolation):
        return [err.violation]
    if isinstance(err, BaseExceptionGroup):
        return [v for e in err.exceptions for v in violations_in(e)]
    return []


class TransportFailure(BaseException):
    """The target could not be reached, or answered outside HTTP (a refused connection, a timeout).

    Not a verdict on the target, so not an invariant: the run stops and says which request failed. It derives
    from BaseException so that Hypothesis neither shrinks nor replays it (replaying against a server that has
    gone would only look flaky) and it leaves the test as it came.
    """


class ObservedViolation(BaseException):
    """A broken invariant seen against a server that chose the interleaving itself (concurrent clients over HTTP).

    It is reported as found, with how often the same programs broke it again, and it is a BaseException so that
    Hypothesis neither shrinks nor replays it: a replay would interleave differently, and a pass would only make
    the finding look like a flaky test. ``violation`` is the invariant violation itself.
    """

    def __init__(self, violation: InvariantViolation) -> None:
        super().__init__(str(violation))
        self.violation = violation
        self.invariant = violation.invariant
