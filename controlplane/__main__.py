"""``python -m controlplane serve``: the bundled API server over HTTP, with a kubeconfig to reach it.

    python -m controlplane serve --storage memory|etcd [--etcd-endpoint URL] [--etcd-prefix P] [--host H] [--port N]
        [--fault NAME]... [--schedulers N] [--node-lifecycle [--node-monitor-grace-period S]
        [--node-monitor-period S]] [--test-controls] [--token-file PATH] --kubeconfig PATH

writes a kubeconfig (cluster URL, a context, a user with a fresh bearer token the
server then requires, or the one ``--token-file`` holds, so a server restarted on
the same port keeps its clients' kubeconfig valid), prints the URL and serves
until Ctrl-C or SIGTERM.

    python -m controlplane scheduler --kubeconfig PATH [--context NAME] [--identity ID] [--scheduler-name NAME]
        [--no-leader-elect] [--lease-name NAME] [--fault NAME]...

runs one bundled scheduler replica as its own process against any API server
the kubeconfig reaches (the bundled one, or a real kube-apiserver), on the wall
clock, until SIGTERM or Ctrl-C (it then releases the Lease it holds). Like
kube-scheduler it exits (code 1) when it loses the Lease it held
(cmd/kube-scheduler/app/server.go: OnStoppedLeading), so a replica that was
stopped and continued does not carry on as a candidate with stale state.
``--storage etcd`` starts a private etcd (stopped, and its data removed, after the
server stops) unless ``--etcd-endpoint`` names one that is already running.
``--fault`` switches a seeded fault on (scheduler and lease faults go to the
scheduler replicas, nodelifecycle faults to the node lifecycle controller);
``--schedulers N`` runs N leader-electing scheduler replicas on the wall clock
against the served API; ``--node-lifecycle`` runs the bundled node lifecycle
controller (controlplane/noderunner.py) on the wall clock, a client of the
served API over HTTP like any other, which marks a node Unknown once it has
seen no heartbeat for the grace period (the server then also has the namespace
kube-node-lease, as kube-apiserver creates it at start); ``--test-controls``
(for the conformance harness only) serves a manual clock and compaction under
/kubeprop/v1/.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import signal
import sys
import threading
from types import FrameType

import yaml

from .apiserver.server import APIServer
from .apiserver.storage import Storage
from .faults import BY_NAME
from .http import HTTPAPIServer
from .kubelet import NODE_LEASE_NS as NODE_LEASE_NAMESPACE
from .noderunner import GRACE_PERIOD, MONITOR_PERIOD

CONTEXT = "kubeprop"
# faults that live in the scheduler replicas, not in the API server
REPLICA_FAULT_GROUPS = ("scheduler", "lease")
# faults that live in the node lifecycle controller, and in the hollow kubelets (which serve does not run)
NODE_LIFECYCLE_FAULT_GROUP = "nodelifecycle"
KUBELET_FAULT_GROUP = "kubelet"


def route_faults(names: list[str]) -> dict[str, list[str]]:
    """Where each seeded fault acts: ``api`` (the API server), ``schedulers`` (the scheduler replicas),
    ``node-lifecycle`` (the node lifecycle controller), ``kubelets`` (hollow kubelets, none of which serve runs)."""
    out: dict[str, list[str]] = {"api": [], "schedulers": [], "node-lifecycle": [], "kubelets": []}
    for name in names:
        group = name.split(".")[0]
        where = ("schedulers" if group in REPLICA_FAULT_GROUPS else "node-lifecycle"
                 if group == NODE_LIFECYCLE_FAULT_GROUP else "kubelets" if group == KUBELET_FAULT_GROUP else "api")
        out[where].append(name)
    return out


def kubeconfig(url: str, token: str, name: str = CONTEXT) -> dict:
    """A kubeconfig with one cluster, one user (bearer token) and one context, current."""
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": name, "cluster": {"server": url}}],
        "users": [{"name": name, "user": {"token": token}}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
        "current-context": name,
        "preferences": {},
    }


def write_kubeconfig(path: str, url: str, token: str) -> None:
    # the file holds a credential: readable by its owner only
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        yaml.safe_dump(kubeconfig(url, token), f, sort_keys=False)


def _stop_on_signals() -> threading.Event:
    """An event set by SIGTERM or SIGINT (Ctrl-C), so the main loop ends in order."""
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    return stop


def serve_main(args: argparse.Namespace) -> int:
    # installed first, so a signal while etcd starts still ends everything in order
    stop = _stop_on_signals()
    with contextlib.ExitStack() as stack:
        storage: Storage | None = None
        if args.storage == "etcd":
            from .apiserver.etcd import EtcdStorage
            from .etcdproc import EtcdError, EtcdProcess

            endpoint = args.etcd_endpoint
            if endpoint is None:
                try:
                    etcd = stack.enter_context(EtcdProcess())
                except EtcdError as e:
                    print(f"cannot start etcd: {e}", file=sys.stderr)
                    return 1
                endpoint = etcd.endpoint
                print(f"started etcd at {endpoint} (pid {etcd.pid})", flush=True)
            etcd_storage = stack.enter_context(EtcdStorage(endpoint, key_prefix=args.etcd_prefix))
            try:
                etcd_storage.current_revision()
            except Exception as e:
                print(f"cannot reach etcd at {endpoint}: {e}", file=sys.stderr)
                return 1
            storage = etcd_storage
        elif args.etcd_endpoint is not None:
            print("--etcd-endpoint needs --storage etcd", file=sys.stderr)
            return 2
        token = secrets.token_urlsafe(32)
        if args.token_file is not None:
            try:
                with open(args.token_file) as f:
                    token = f.read().strip()
            except OSError as e:
                print(f"cannot read the token file: {e}", file=sys.stderr)
                return 1
            if not token:
                print(f"the token file {args.token_file} is empty", file=sys.stderr)
                return 2
        routed = route_faults(args.fault)
        replica_faults, api_faults = routed["schedulers"], routed["api"]
        controls = None
        if args.test_controls:
            from .harness import HarnessControls, ManualClock

            clock = ManualClock()
            api = APIServer(storage, clock=clock, faults=api_faults)
            controls = HarnessControls(api, clock)
        else:
            api = APIServer(storage, faults=api_faults)
        server = HTTPAPIServer(api, host=args.host, port=args.port, token=token, controls=controls)
        try:
            server.start()
        except OSError as e:
            print(f"cannot listen on {args.host}:{args.port}: {e}", file=sys.stderr)
            return 1
        # the server stops before its storage closes and etcd stops (the exit stack unwinds in reverse)
        stack.callback(server.stop)
        # written before any controller starts: the node lifecycle controller reaches the server with it
        write_kubeconfig(args.kubeconfig, server.url, token)
        if args.schedulers:
            from .schedrunner import Replicas

            # the lease lives in kube-system, which a real cluster always has
            api.create("namespaces", None, {"apiVersion": "v1", "kind": "Namespace",
                                            "metadata": {"name": "kube-system"}})
            # the replicas stop (and release the lease) while the server still serves
            stack.callback(Replicas(api, args.schedulers, faults=replica_faults).start().stop)
            print(f"scheduler replicas: {args.schedulers} (lease kube-system/kube-scheduler)", flush=True)
        elif replica_faults:
            print(f"note: {', '.join(replica_faults)} act only in scheduler replicas (--schedulers N)", flush=True)
        if args.node_lifecycle:
            if not _start_node_lifecycle(args, api, stack, routed["node-lifecycle"]):
                return 1
        elif routed["node-lifecycle"]:
            print(f"note: {', '.join(routed['node-lifecycle'])} act only in the node lifecycle controller "
                  "(--node-lifecycle)", flush=True)
        if routed["kubelets"]:
            print(f"note: {', '.join(routed['kubelets'])} act only in hollow kubelets, which serve does not run",
                  flush=True)
        if args.fault:
            print(f"seeded faults on: {', '.join(args.fault)}", flush=True)
        if controls is not None:
            print("test controls on: manual clock and compaction under /kubeprop/v1/", flush=True)
        print(f"serving the bundled API server at {server.url} (storage: {args.storage})", flush=True)
        print(f"kubeconfig: {os.path.abspath(args.kubeconfig)} (context {CONTEXT!r})", flush=True)
        # wait in slices so the main thread runs the signal handler promptly
        while not stop.wait(1.0):
            pass
    print("stopped", flush=True)
    return 0


def _start_node_lifecycle(args: argparse.Namespace, api: APIServer, stack: contextlib.ExitStack,
                          faults: list[str]) -> bool:
    """Start the node lifecycle controller against the served API, stopped (on the exit stack) before the server
    stops; whether it started."""
    import logging

    from .noderunner import NodeLifecycleThread
    from .restclient import RESTClient

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    # kube-apiserver creates kube-node-lease at start (pkg/controlplane/controller/systemnamespaces); the kubelets
    # renew their Leases there and the controller reads them there
    api.create("namespaces", None, {"apiVersion": "v1", "kind": "Namespace",
                                    "metadata": {"name": NODE_LEASE_NAMESPACE}})
    try:
        client = RESTClient(args.kubeconfig)
    except Exception as e:  # noqa: BLE001 - the kubeconfig this process just wrote: any error is reported as is
        print(f"cannot load the kubeconfig for the node lifecycle controller: {e}", file=sys.stderr)
        return False
    stack.callback(client.close)
    controller = NodeLifecycleThread(client, grace=args.node_monitor_grace_period, period=args.node_monitor_period,
                                     faults=faults, report=lambda line: print(line, flush=True))
    # it stops while the server still serves (the exit stack unwinds in reverse)
    stack.callback(controller.start().stop)
    print(f"node lifecycle controller: grace period {args.node_monitor_grace_period:g} s, monitor period "
          f"{args.node_monitor_period:g} s" + (f", seeded faults: {', '.join(faults)}" if faults else ""), flush=True)
    return True


def scheduler_main(args: argparse.Namespace) -> int:
    import logging
    import socket
    import time
    import uuid

    from .restclient import RESTClient
    from .schedrunner import ReplicaThread

    stop = _stop_on_signals()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(message)s")
    try:
        client = RESTClient(args.kubeconfig, args.context)
    except Exception as e:  # noqa: BLE001 - any loader error is the user's kubeconfig: say so and stop
        print(f"cannot load kubeconfig {args.kubeconfig!r}: {e}", file=sys.stderr)
        return 2
    # kube-scheduler's identity is hostname_uuid (leaderelection config in cmd/kube-scheduler/app/options):
    # a restarted process is a new candidate
    identity = args.identity or f"{socket.gethostname()}_{uuid.uuid4()}"
    if args.leader_elect:
        # the Lease lives in kube-system, which a real cluster always has and the bundled server creates on demand
        ns = client.create("namespaces", None, {"apiVersion": "v1", "kind": "Namespace",
                                                "metadata": {"name": args.lease_namespace}})
        if ns.code == 0:
            print(f"cannot reach the API server at {client.host}: {ns.body.get('message')}", file=sys.stderr)
            return 1
    replica = ReplicaThread(client, 0, faults=args.fault, identity=identity, scheduler_name=args.scheduler_name,
                            leader_elect=args.leader_elect, lease_name=args.lease_name,
                            lease_namespace=args.lease_namespace, lease_duration=args.lease_duration,
                            renew_deadline=args.renew_deadline, retry_period=args.retry_period)
    replica.start()
    print(f"scheduler {identity} ({args.scheduler_name}) against {client.host}"
          + (f", lease {args.lease_namespace}/{args.lease_name}" if args.leader_elect else ", no leader election")
          + (f"; seeded faults: {', '.join(args.fault)}" if args.fault else ""), flush=True)
    led, code = False, 0
    while not stop.wait(0.1):
        leading = replica.leading()
        if leading and not led:
            print(f"{time.strftime('%H:%M:%S')} leading", flush=True)
        elif led and not leading:
            print(f"{time.strftime('%H:%M:%S')} lost the lease: exiting", file=sys.stderr, flush=True)
            code = 1
            break
        led = leading
    replica.stop()
    client.close()
    print(f"stopped; {replica.bound} pods bound", flush=True)
    return code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m controlplane", description="the bundled control plane")
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve", help="serve the bundled API server over HTTP")
    s.add_argument("--storage", choices=["memory", "etcd"], default="memory")
    s.add_argument("--etcd-endpoint", metavar="URL", default=None,
                   help="with --storage etcd: use this etcd (http://host:port) instead of starting one")
    s.add_argument("--etcd-prefix", default="", metavar="PREFIX",
                   help="with --storage etcd: put this before every key, to share one etcd between servers")
    s.add_argument("--host", default="127.0.0.1", help="address to listen on (default: loopback only)")
    s.add_argument("--port", type=int, default=0, help="port to listen on (default: any free port)")
    s.add_argument("--token-file", default=None, metavar="PATH",
                   help="require the bearer token this file holds (default: a fresh one on every start)")
    s.add_argument("--kubeconfig", required=True, metavar="PATH", help="where to write a kubeconfig for clients")
    s.add_argument("--fault", action="append", default=[], metavar="NAME", choices=sorted(BY_NAME),
                   help="switch a seeded fault on (repeatable); list them with: python -m controlplane.faults")
    s.add_argument("--schedulers", type=int, default=0, metavar="N",
                   help="run N scheduler replicas (leader election on lease kube-system/kube-scheduler)")
    s.add_argument("--node-lifecycle", action="store_true", default=False,
                   help="run the node lifecycle controller: a node not heard from for the grace period is "
                        "marked Unknown")
    s.add_argument("--node-monitor-grace-period", type=float, default=GRACE_PERIOD, metavar="SECONDS",
                   help=f"with --node-lifecycle: the grace period (default {GRACE_PERIOD:g})")
    s.add_argument("--node-monitor-period", type=float, default=MONITOR_PERIOD, metavar="SECONDS",
                   help=f"with --node-lifecycle: how often the controller looks (default {MONITOR_PERIOD:g})")
    s.add_argument("--test-controls", action="store_true", default=False,
                   help="for the conformance harness only: a clock that moves only when told and compaction "
                        "on request, under /kubeprop/v1/ (off by default)")
    r = sub.add_parser("scheduler", help="run one bundled scheduler replica against an API server, by kubeconfig")
    r.add_argument("--kubeconfig", required=True, metavar="PATH")
    r.add_argument("--context", default=None, metavar="NAME", help="kubeconfig context (default: the current one)")
    r.add_argument("--identity", default=None, help="leader-election identity (default: hostname_uuid, new per start)")
    r.add_argument("--scheduler-name", default="default-scheduler",
                   help="schedule only pods whose spec.schedulerName is this (default: default-scheduler)")
    r.add_argument("--no-leader-elect", dest="leader_elect", action="store_false", default=True,
                   help="schedule at once, without taking the Lease")
    r.add_argument("--lease-namespace", default="kube-system")
    r.add_argument("--lease-name", default="kube-scheduler")
    r.add_argument("--lease-duration", type=float, default=15.0, metavar="SECONDS")
    r.add_argument("--renew-deadline", type=float, default=10.0, metavar="SECONDS")
    r.add_argument("--retry-period", type=float, default=2.0, metavar="SECONDS")
    r.add_argument("--fault", action="append", default=[], metavar="NAME",
                   choices=sorted(n for n in BY_NAME if n.split(".")[0] in REPLICA_FAULT_GROUPS),
                   help="switch a seeded scheduler or lease fault on (repeatable)")
    args = parser.parse_args(argv)
    if args.command == "scheduler":
        return scheduler_main(args)
    if args.command == "serve" and args.schedulers < 0:
        parser.error("--schedulers must be 0 or more")
    if args.command == "serve" and (args.node_monitor_grace_period <= 0 or args.node_monitor_period <= 0):
        parser.error("--node-monitor-grace-period and --node-monitor-period must be positive")
    if args.command == "serve":
        return serve_main(args)
    return 2


if __name__ == "__main__":
    sys.exit(main())
