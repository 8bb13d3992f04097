"""The node side's observable contract: heartbeats, node health, pod phases and graceful termination.

Pure data and functions; the checks in conformance/checks/kubelet.py apply
them to what the API showed (watched pods, nodes and Leases) and to what each
node's container runtime recorded. Times are seconds on one true clock.

Observation rules (what "as far as the API shows" means here):

- A node's heartbeat is a write of its Lease ``kube-node-lease/<node>`` that
  moves ``spec.renewTime``; the node lifecycle controller dates it by its own
  clock when it sees it (so never before the write).
- A pod incarnation is its uid. Its phase is the sequence of ``status.phase``
  values its watch events carried, in resourceVersion order.
- A pod runs where the node's container runtime says it runs: the runtime is
  part of the fixture (the hollow node), not of the kubelet under test, as a
  CRI shim would be on a real node.
- A delete with grace 0 by a client (a force delete) gives up the "stops
  first" promise: the object goes at once and the node learns of it later
  (documented for StatefulSets, "Force Delete StatefulSet Pods"). The checks
  judge only deletes the kubelet completed.
"""

from __future__ import annotations

from dataclasses import dataclass

from model.releases import Release

NODE_LEASE_NAMESPACE = "kube-node-lease"
#: pkg/kubelet/apis/config/v1beta1/defaults.go: NodeLeaseDurationSeconds 40
LEASE_DURATION = 40
#: pkg/kubelet/kubelet.go: nodeLeaseRenewIntervalFraction 0.25 of the lease duration
RENEW_INTERVAL = LEASE_DURATION * 0.25
#: pkg/kubelet/apis/config/v1beta1/defaults.go: NodeStatusUpdateFrequency 10 s
NODE_STATUS_UPDATE = 10.0
#: pkg/kubelet/status/status_manager.go: syncPeriod 10 s (the status manager's full resync)
POD_STATUS_SYNC = 10.0
#: pkg/controller/nodelifecycle/config/v1alpha1/defaults.go: NodeMonitorPeriod 5 s, NodeStartupGracePeriod 60 s
NODE_MONITOR_PERIOD = 5.0
NODE_STARTUP_GRACE = 60.0
#: the same file: NodeMonitorGracePeriod 40 s up to 1.31, 50 s from 1.32 (v1.31.0 and v1.32.0 defaults.go)
GRACE_CHANGED_IN = (1, 32, 0)

PENDING, RUNNING, SUCCEEDED, FAILED = "Pending", "Running", "Succeeded", "Failed"
TERMINAL = (SUCCEEDED, FAILED)
#: a phase's place in the lifecycle (pod-lifecycle: Pending, then Running, then one terminal phase)
_RANK = {PENDING: 0, RUNNING: 1, SUCCEEDED: 2, FAILED: 2}


def node_monitor_grace(release: Release | None = None) -> float:
    """The node-monitor grace period a release's kube-controller-manager defaults to (the newest when None)."""
    if release is not None and release < GRACE_CHANGED_IN:
        return 40.0
    return 50.0


@dataclass(frozen=True)
class NodeTiming:
    """What the node promises' deadlines depend on: the controller's grace period and how often it looks, how
    often a kubelet renews its Lease and syncs its pods, and how late an observer may see a write (``slack``:
    the harness' step granularity in process, the network's delay against a server)."""

    grace: float = 50.0
    monitor_period: float = NODE_MONITOR_PERIOD
    renew_interval: float = RENEW_INTERVAL
    sync: float = POD_STATUS_SYNC
    slack: float = 1.0

    def earliest_unknown(self, last_seen_renewal: float) -> float:
        """The controller marks a node Unknown only once it saw no renewal for longer than the grace period
        (node_lifecycle_controller.go: tryUpdateNodeHealth compares now with probeTimestamp + gracePeriod)."""
        return last_seen_renewal + self.grace

    def latest_unknown(self, last_renewal_write: float) -> float:
        """By when a node whose heartbeats stopped must show Unknown. monitorNodeHealth runs every
        NodeMonitorPeriod and dates a renewal by the pass that first sees it (probeTimestamp), at most one period
        after the write; the first pass more than the grace period after that marks the node, at most one
        period later: the grace period plus two monitor periods after the last Lease renewal. One period more
        when the last heartbeat was a node status write (a new Ready lastHeartbeatTime): the controller then
        replaces its record of the node without the Lease it saved, and the next pass takes the unchanged Lease
        for a renewal and dates the probe again (pkg/controller/nodelifecycle/node_lifecycle_controller.go:
        tryUpdateNodeHealth; measured on kube-controller-manager v1.37.2, grace 8 s, monitor period 3 s, with
        tools/findings/node_unknown_after_status_write.py: Unknown 12.5 to 14.8 s after such a write, 9.9 s
        after a last renewal)."""
        return last_renewal_write + self.grace + 3 * self.monitor_period


def phase_step_allowed(old: str | None, new: str | None) -> bool:
    """Whether a pod's phase may go from ``old`` to ``new``.

    A terminal phase is final: pkg/kubelet/kubelet_pods.go generateAPIPodStatus forces a pod the API shows
    Succeeded or Failed back to that phase ("illegal phase transition"). A pod that has run does not go back
    to Pending: getPhase counts a started pod whose containers restart as Running.
    """
    if old is None or new is None or old == new:
        return True
    if old in TERMINAL:
        return False
    return _RANK.get(new, 0) >= _RANK.get(old, 0)


def graceful_deadline(deletion_timestamp: float, sync_interval: float = POD_STATUS_SYNC) -> float:
    """By when a gracefully deleted pod on a working node is gone: its deletionTimestamp (the delete's time plus
    the grace period, pkg/registry/core/pod/strategy.go: CheckGracefulDelete) plus one kubelet sync, in which the
    kubelet stops what still runs and deletes with grace 0 (pkg/kubelet/status/status_manager.go:
    syncPod / canBeDeleted)."""
    return deletion_timestamp + sync_interval
