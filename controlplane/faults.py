"""Seeded faults: named bugs the bundled control plane can switch on, each breaking one invariant.

The quality tests run the conformance suite with one fault on and require a
failure on the named invariant. The code checks ``faults.enabled(name)`` at
the very point each bug lives; with a fault off, nothing changes.

``python -m controlplane.faults`` prints ``name<TAB>invariant<TAB>description``, one per line.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Fault:
    name: str
    invariant: str
    description: str
    #: other invariants the same bug breaks as a consequence, each for a stated reason (a harness that stops at
    #: the first broken promise may name one of these instead)
    also: tuple[str, ...] = ()
    #: only concurrent clients reveal it (the concurrent machine hunts it)
    concurrent: bool = False


FAULTS: tuple[Fault, ...] = (
    Fault("binding.overwrites", "binding.at-most-once",
          "binding an already-bound pod succeeds and moves it to the new node"),
    Fault("binding.ignores-deleting", "binding.preconditions",
          "a pod with a deletionTimestamp can still be bound"),
    Fault("binding.ignores-uid", "binding.preconditions",
          "the Binding's metadata.uid precondition is not checked"),
    Fault("binding.invalid-target-500", "api.no-5xx-for-client-errors",
          "a Binding whose target fails validation is answered 500 with the bare field errors, as releases answer "
          "it (kubernetes#139488), instead of 422 Invalid"),
    Fault("update.ignores-rv", "api.optimistic-concurrency",
          "an update with a stale resourceVersion is applied instead of 409"),
    Fault("update.noop-bumps-rv", "api.rv-changes",
          "a no-op update writes anyway (new resourceVersion and a MODIFIED event)"),
    Fault("delete.ignores-finalizers", "api.finalizers",
          "a delete removes an object at once even when it has finalizers"),
    Fault("list.ignores-selector", "api.list-selector",
          "set-based label requirements (in, notin, exists, !key) are ignored in lists"),
    Fault("status.wrong-reason", "api.status-shape",
          "a 409 for a stale resourceVersion carries reason AlreadyExists instead of Conflict"),
    Fault("create.reuses-uid", "api.uid-unique",
          "the uid is derived from namespace/name, so a recreated object gets its old uid"),
    Fault("get.stale-read", "api.read-your-writes",
          "get answers from a read cache that misses updates that changed only metadata.labels"),
    Fault("update.keeps-dropped-field", "api.matches-model",
          "an update (or patch) that leaves a spec field out keeps the stored value instead of removing it",
          # a dry-run update is answered with what the update would store, so the kept field shows there first
          # when the first such update is a dry run (its answer is judged under api.dry-run); an update whose
          # only change was the dropped field changes nothing, so its resourceVersion stays (api.rv-changes)
          also=("api.dry-run", "api.rv-changes")),
    Fault("list.stale-item-rv", "api.read-your-writes",
          "list items carry the resourceVersion their object was created with, not the current one"),
    Fault("update.takes-creation-timestamp", "api.server-owned-fields",
          "an update (or patch) that sends a creationTimestamp stores it instead of keeping the server's",
          also=("api.matches-model",)),
    Fault("binding.copies-invalid-annotations", "api.validation",
          "a binding copies its annotations onto the pod without validating their keys, as releases do",
          also=("api.matches-model",)),
    Fault("create.skips-label-validation", "api.validation",
          "a create of a free name whose only errors are in its labels or annotations stores them",
          also=("api.matches-model",)),
    Fault("update.skips-taint-validation", "api.validation",
          "an update or patch of a node whose only errors are in its taints stores them",
          also=("api.matches-model",)),
    Fault("delete.ignores-dry-run", "api.dry-run",
          "a delete that asks dryRun=All is carried out: the object is marked or removed",
          also=("api.matches-model",)),
    Fault("create.keeps-status", "api.matches-model",
          "a pod create keeps the status fields the client sent (only phase is reset to Pending)",
          # a dry-run create is answered with what the create would store (judged under api.dry-run)
          also=("api.dry-run",)),
    # faults only concurrent clients reveal: a check and the write it guards, with other requests let in between
    Fault("update.racy-precondition", "api.linearizable",
          "an update checks the resourceVersion precondition, lets other requests in, then overwrites what is stored",
          concurrent=True),
    Fault("create.racy-exists", "api.linearizable",
          "a create checks that the name is free, lets other requests in, then overwrites a create that came between",
          concurrent=True),
    Fault("delete.racy-precondition", "api.linearizable",
          "a delete checks its preconditions, lets other requests in, then deletes whatever is stored then",
          concurrent=True),
    Fault("list.torn-read", "api.linearizable",
          "a list reads its objects one at a time with other requests let in between: a state the store never held",
          # a list at resourceVersion 0 or NotOlderThan reads the same way, and is then no snapshot of one revision
          also=("api.read-at-revision",), concurrent=True),
    Fault("list.page-at-latest", "api.linearizable",
          "the pages of a paged list after the first read the latest state instead of the first page's revision: "
          "pages of one list from different moments",
          concurrent=True),
    Fault("list.cache-skips-wait", "api.read-at-revision",
          "a list with resourceVersion 0 or NotOlderThan r is answered from what the last consistent list read, "
          "without waiting to catch up with r, and labelled with r: items older than the revision it claims",
          concurrent=True),
    Fault("watch.racy-fanout", "watch.ordered",
          "a write's event reaches watchers after other requests were let in, not at commit: overlapping writes "
          "may be delivered out of commit order",
          # the last of two overlapping writes to one object then ends a list-plus-watch replay
          also=("watch.list-then-watch",), concurrent=True),
    Fault("watch.bookmark-ahead", "watch.bookmarkable",
          "a write's events reach watchers once its request has let others in (in commit order), while a bookmark "
          "promises every change the watch has taken from the store, sent or not",
          # a watch resumed from such a bookmark skips the changes still on their way
          also=("watch.list-then-watch",), concurrent=True),
    Fault("watch.racy-start", "watch.list-then-watch",
          "a watch from a resourceVersion replays the changes since, lets other requests in, then follows the store "
          "from that moment: a change committed in between is in neither the list nor the watch",
          # a bookmark the watch sends later promises every change up to its revision, the lost one included
          also=("watch.bookmarkable",), concurrent=True),
    Fault("watch.drops-event", "watch.reliable",
          "watchers never receive DELETED events"),
    Fault("watch.reorders", "watch.ordered",
          "a watch from a resourceVersion replays its backlog of past changes newest first",
          # order is judged on resourceVersions some answer showed; a reversed backlog whose events carry others
          # (a delete's) is judged by content: the event at each place is not the change due there
          also=("watch.reliable",)),
    Fault("watch.resume-duplicates", "watch.resumable",
          "a watch from resourceVersion R also replays the change at R itself (inclusive start)"),
    Fault("watch.duplicates-event", "watch.unique",
          "every MODIFIED event is delivered twice to each watcher"),
    Fault("watch.no-expiry", "watch.expired-410",
          "a watch from a compacted resourceVersion starts after the compaction point instead of 410"),
    # the scheduler (controlplane/scheduler)
    Fault("scheduler.ignores-taints", "scheduler.fits",
          "TaintToleration filters nothing: NoSchedule and NoExecute taints are ignored",
          # the FitError of a pod that fits nowhere then lacks the taint reasons
          also=("scheduler.fit-error",)),
    Fault("scheduler.resources-off-by-one", "scheduler.fits",
          "NodeResourcesFit lets a pod through when its request exceeds the free amount by one unit",
          # the node it binds to is then over its allocatable, and a FitError miscounts the nodes short of room
          also=("scheduler.no-overcommit", "scheduler.fit-error")),
    Fault("scheduler.no-assume", "scheduler.no-overcommit",
          "a scheduled pod is not assumed in the cache, so the next cycle does not count it before its bind lands",
          # the next cycle also scores nodes as if the pod were not there
          also=("scheduler.best-score",)),
    Fault("scheduler.no-forget", "binding.exactly-once",
          "after a failed bind the assumed pod stays in the cache and the pod is never requeued",
          # the pod left assumed still counts on its node, so later cycles rank the nodes on room that is free
          also=("scheduler.best-score",)),
    Fault("scheduler.binds-without-uid", "scheduler.fits",
          "the Binding carries no uid precondition, so it can land on a recreated pod of the same name"),
    Fault("scheduler.stale-cache", "scheduler.fits",
          "the node cache ignores MODIFIED node events (cordons, taints, label changes)",
          # a cycle on the stale nodes also reports a wrong FitError and ranks the nodes on what they were, and a pod
          # that only a changed node now admits stays pending for good
          also=("scheduler.fit-error", "scheduler.best-score", "binding.exactly-once")),
    Fault("scheduler.picks-first-feasible", "scheduler.best-score",
          "the scheduler binds to the first feasible node by name, without scoring"),
    Fault("scheduler.acts-without-lease", "lease.only-leader-acts",
          "a replica schedules and binds whether or not it holds the lease"),
    # leader election (controlplane/leaderelection.py)
    Fault("lease.ignores-expiry", "lease.single-holder-per-term",
          "a candidate takes over a lease another holder still renews"),
    Fault("lease.trusts-record-time", "lease.single-holder-per-term",
          "a candidate judges expiry by the record's renewTime (the holder's clock) instead of its own observation"),
    Fault("lease.keeps-acting-after-renew-deadline", "lease.single-holder-per-term",
          "a leader that failed to renew within the renew deadline keeps acting",
          # past its term, while nobody has taken the Lease yet, it acts when no term is live at all
          also=("lease.only-leader-acts",)),
    Fault("lease.keeps-transitions", "lease.single-holder-per-term",
          "a takeover does not increment leaseTransitions, so two holders share one term"),
    # the node side (controlplane/kubelet.py), hunted by the kubelet machine (conformance/kubelet.py)
    Fault("kubelet.runs-unbound", "kubelet.runs-only-bound",
          "a kubelet's pod source loses its node filter and also starts pods no scheduler has bound"),
    Fault("kubelet.ignores-deletion", "kubelet.graceful-delete-bounded",
          "a kubelet keeps running a pod being deleted and never completes its delete"),
    Fault("kubelet.deletes-before-stop", "kubelet.stops-before-delete",
          "a kubelet deletes a terminating pod (grace 0) before it stopped its containers, which it kills as "
          "orphans at its next sync"),
    Fault("kubelet.reruns-finished", "pod.phase-monotonic",
          "a kubelet reports a pod that has Succeeded or Failed as Running again"),
    Fault("kubelet.forgets-on-restart", "kubelet.runs-at-most-once",
          "a restarted kubelet does not ask the runtime what runs, and starts its running pods a second time"),
    Fault("kubelet.keeps-orphans", "kubelet.stops-removed",
          "a kubelet does not kill the containers of a pod the API no longer has (a force-deleted pod runs on)"),
    Fault("kubelet.ready-after-exit", "pod.ready-consistent",
          "a kubelet keeps a pod Ready (and ContainersReady) after its containers exited"),
    Fault("kubelet.heartbeat-frozen", "node.heartbeat-renews",
          "a kubelet's Lease update keeps the old renewTime, so its heartbeats say nothing"),
    Fault("nodelifecycle.never-marks", "node.unknown-in-time",
          "the node lifecycle controller never marks a silent node Unknown"),
    Fault("nodelifecycle.marks-early", "node.unknown-not-early",
          "the node lifecycle controller marks a node Unknown after half its grace period"),
    Fault("nodelifecycle.trusts-renew-time", "node.unknown-not-early",
          "the node lifecycle controller dates a heartbeat by the Lease's renewTime (the kubelet's clock) instead of "
          "by when it saw it, so a node whose clock runs behind is marked Unknown while it heartbeats"),
)

BY_NAME: dict[str, Fault] = {f.name: f for f in FAULTS}


def _check(names: Iterable[str]) -> list[str]:
    names = list(names)
    unknown = sorted(n for n in names if n not in BY_NAME)
    if unknown:
        raise ValueError(
            f"unknown fault(s): {', '.join(unknown)}; known faults: {', '.join(sorted(BY_NAME))}"
        )
    return names


class FaultSet(frozenset[str]):
    """The faults switched on: a frozenset of known names that refuses unknown ones."""

    def __new__(cls, names: Iterable[str] = ()) -> FaultSet:
        if isinstance(names, str):  # a lone name, not its characters
            names = (names,)
        return super().__new__(cls, _check(names))

    def enabled(self, name: str) -> bool:
        """Whether a fault is on; asking about an unknown name is a bug in the caller."""
        if name not in BY_NAME:
            _check((name,))
        return name in self

    def __repr__(self) -> str:
        return f"FaultSet({sorted(self)!r})"


NONE = FaultSet()


def main(argv: list[str] | None = None) -> int:
    for f in FAULTS:
        sys.stdout.write(f"{f.name}\t{f.invariant}\t{f.description}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
