"""The bundled scheduler: replicas that the caller steps one action at a time.

Nothing runs by itself (no threads, sleeps or wall clock). Each replica talks
to the API only through a client with the APIServer's method signatures
(``get``, ``list``, ``create``, ``update``, ``bind``, ``watch``, each answering
``.code``/``.body``) and reads time from an injected clock (an aware UTC
datetime; replicas may disagree). Equal top scores are broken by a
``random.Random(seed)`` owned by the replica, so the same seed and the same
sequence of steps give the same result.

``Scheduler(client, *, identity, clock, faults=(), seed=0, lease_namespace="kube-system",
lease_name="kube-scheduler", lease_duration=15.0, renew_deadline=10.0, retry_period=2.0,
percentage_of_nodes_to_score=0, leader_elect=True)``

- ``start()``: list nodes and pods (all namespaces), watch from the lists' resourceVersions; a fresh elector.
- ``sync() -> int``: drain the watches into the node cache and the queue (re-list on an ended watch).
- ``tick() -> ElectorStep``: one tryAcquireOrRenew on the replica's clock.
- ``leading() -> bool`` / ``term() -> (holderIdentity, leaseTransitions) | None``.
- ``schedule_one() -> Cycle | None``: if leading (or election is off): sync, pop, filter, score, pick,
  assume, queue a pending bind. ``Cycle(namespace, name, uid, node, message, evaluated, feasible, scores)``;
  ``node`` is None when unschedulable and ``message`` then carries the FitError text.
- ``bind_one() -> BindStep | None``: post the oldest pending Binding with the uid precondition; on a non-2xx
  answer forget the assumed pod and requeue it with backoff.
  ``BindStep(namespace, name, uid, node, body, code, response)``.
- ``pending_binds() -> list[PendingBind(namespace, name, uid, node)]``.
- ``crash()`` (no API call), ``restart()``, ``stop() -> ElectorStep | None`` (releases the lease if leading).
- ``next_wakeup() -> float | None``: seconds on its own clock until a pod leaves backoff or the elector is due.

Modules: ``objects`` (parsed pods and nodes), ``cache``, ``queue``, ``plugins`` (filters, scores, host
selection), ``informer`` (list and watch) and ``replica`` (the :class:`Scheduler`). Leader election is
:mod:`controlplane.leaderelection`.
"""

from __future__ import annotations

from ..leaderelection import ElectorStep, LeaderElector
from .replica import BindStep, Cycle, PendingBind, Scheduler

__all__ = ["BindStep", "Cycle", "ElectorStep", "LeaderElector", "PendingBind", "Scheduler"]
