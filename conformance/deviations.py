"""Where a real kube-apiserver and the bundled server deliberately differ, and how kubeprop handles each.

The differential run (``make differential``) compares the model with a real
kube-apiserver v1.37.2 on etcd as well as with the bundled server. Every
disagreement it found is either a fix in ``model/`` (citing the upstream file)
or an entry here: something the real server does because of its configuration
(default-on admission plugins), a controller it runs, or a choice of the
harness itself, that the bundled server does not do. Each entry names how the
model or the harness handles it against a real server, and the test in
``tests/differential/`` that pins it (the tests check every id has one).

:func:`admission_for` decides which admission plugins the model applies for a
target: none for the bundled server (in process or served), all of
``model.apiserver.ADMISSION_PLUGINS`` for any other server.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from model import releases
from model.apiserver import ADMISSION_PLUGINS


@dataclass(frozen=True)
class Deviation:
    id: str
    what: str  # what the real server does that the bundled one does not
    upstream: str  # the upstream file that explains it
    handling: str  # what the model or the harness does about it against a real server
    test: str  # the test (in tests/differential/) that pins it


DEVIATIONS: tuple[Deviation, ...] = (
    Deviation(
        id="admission.default-toleration-seconds",
        what="every pod created or updated gets NoExecute tolerations of node.kubernetes.io/not-ready and "
             "node.kubernetes.io/unreachable for 300 s, unless it already tolerates them",
        upstream="plugin/pkg/admission/defaulttolerationseconds/admission.go: Admit",
        handling="the model appends the same tolerations (APIModel(admission=...)); on for every server that is "
                 "not the bundled one",
        test="tests/differential/test_deviations.py::test_default_toleration_seconds",
    ),
    Deviation(
        id="admission.taint-nodes-by-condition",
        what="every node created gets the taint node.kubernetes.io/not-ready:NoSchedule unless it has one with "
             "that key and effect",
        upstream="plugin/pkg/admission/nodetaint/admission.go: Admit",
        handling="the model appends the same taint on create; the scheduler differential removes it from its "
                 "fake nodes, as the node-lifecycle controller does for a Ready node",
        test="tests/differential/test_deviations.py::test_taint_nodes_by_condition",
    ),
    Deviation(
        id="admission.priority",
        what="every pod created without a priorityClassName gets spec.priority 0 and spec.preemptionPolicy "
             "PreemptLowerPriority (no PriorityClass is the global default); an update that leaves them out keeps "
             "them",
        upstream="plugin/pkg/admission/priority/admission.go: admitPod",
        handling="the model sets both on create and carries them over on update (APIModel(admission=...)); on "
                 "for every server that is not the bundled one",
        test="tests/differential/test_defaults.py::test_priority_admission",
    ),
    Deviation(
        id="defaults.v1-pod",
        what="a pod's body is defaulted when decoded, on create and on update: dnsPolicy ClusterFirst, "
             "restartPolicy Always, securityContext {}, terminationGracePeriodSeconds 30, enableServiceLinks true, "
             "each container's imagePullPolicy (Always for a :latest or untagged image, else IfNotPresent), "
             "terminationMessagePath and terminationMessagePolicy, port protocol TCP, requests from limits; and "
             "the pod strategy stores status.qosClass at create",
        upstream="pkg/apis/core/v1/defaults.go: SetDefaults_PodSpec, SetDefaults_Pod, SetDefaults_Container; "
                 "pkg/registry/core/pod/strategy.go: PrepareForCreate; pkg/apis/core/helper/qos/qos.go",
        handling="the model applies the same defaults and computes the QoS class (APIModel(admission=...) with "
                 "V1_DEFAULTS); on for every server that is not the bundled one, which stores bodies as sent",
        test="tests/differential/test_defaults.py::test_v1_pod_defaults",
    ),
    Deviation(
        id="harness.run-taint",
        what="(the harness) every node a run writes carries kubeprop.io/run=<run id>:NoSchedule, so no real pod "
             "is scheduled onto a node without a kubelet",
        upstream="pkg/scheduler/framework/plugins/tainttoleration/taint_toleration.go: Filter",
        handling="adapters/scoped.py adds it to every node it writes, first in spec.taints, and removes it from "
                 "answers; on the bundled server too, so both targets see the same requests",
        test="tests/differential/test_deviations.py::test_run_taint_and_scheduler_name",
    ),
    Deviation(
        id="harness.unscheduled-pods",
        what="(the harness) the state machines' pods name spec.schedulerName kubeprop-unscheduled, so a real "
             "scheduler neither binds them nor writes their PodScheduled condition",
        upstream="pkg/scheduler/eventhandlers.go: responsibleForPod",
        handling="adapters/scoped.py sets it on every pod it writes and removes it from answers; the scheduler "
                 "differential's pods are written without it",
        test="tests/differential/test_deviations.py::test_run_taint_and_scheduler_name",
    ),
)

BY_ID = {d.id: d for d in DEVIATIONS}


def is_bundled(version: dict[str, Any]) -> bool:
    """Whether a ``/version`` answer is the bundled server's (controlplane/http.py reports platform python)."""
    return version.get("platform") == "python" or str(version.get("gitVersion", "")).endswith("-kubeprop")


def release_for(target: Any) -> releases.Release:
    """The release whose answers the model gives against ``target``: the server's own, from its ``/version``; the
    pinned one for the bundled server (which follows it) and for a version kubeprop cannot parse."""
    if getattr(target, "name", "") != "http":
        return releases.PINNED
    version = getattr(target, "server_version", None)
    info = version() if version is not None else {}
    if is_bundled(info):
        return releases.PINNED
    return releases.parse(str(info.get("gitVersion", ""))) or releases.PINNED


def keeps_promises(target: Any) -> bool:
    """Whether the model holds ``target`` to the API's promises where every release breaks them (the bundled
    server), rather than to what a release does there (a real kube-apiserver: model/apiserver.py, APIModel)."""
    if getattr(target, "name", "") != "http":
        return True
    version = getattr(target, "server_version", None)
    return is_bundled(version() if version is not None else {})


def admission_for(target: Any) -> frozenset[str]:
    """The admission plugins the model applies against ``target``: none for the bundled server."""
    if getattr(target, "name", "") != "http":
        return frozenset()
    version = getattr(target, "server_version", None)
    info = version() if version is not None else {}
    return frozenset() if is_bundled(info) else ADMISSION_PLUGINS
