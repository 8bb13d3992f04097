"""``python -m controlplane serve``: the bundled API server over HTTP, with a kubeconfig to reach it.

    python -m controlplane serve --storage memory [--host 127.0.0.1] [--port N] --kubeconfig PATH

writes a kubeconfig (cluster URL, a context, a user with a fresh bearer token the
server then requires), prints the URL and serves until Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import sys
import threading
from types import FrameType

import yaml

from .http import HTTPAPIServer

CONTEXT = "kubeprop"


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


def serve_main(args: argparse.Namespace) -> int:
    if args.storage != "memory":
        print(f"--storage {args.storage} is not yet supported; use --storage memory", file=sys.stderr)
        return 2
    token = secrets.token_urlsafe(32)
    server = HTTPAPIServer(host=args.host, port=args.port, token=token)
    try:
        server.start()
    except OSError as e:
        print(f"cannot listen on {args.host}:{args.port}: {e}", file=sys.stderr)
        return 1
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        write_kubeconfig(args.kubeconfig, server.url, token)
        print(f"serving the bundled API server at {server.url}", flush=True)
        print(f"kubeconfig: {os.path.abspath(args.kubeconfig)} (context {CONTEXT!r})", flush=True)
        # wait in slices so the main thread runs the signal handler promptly
        while not stop.wait(1.0):
            pass
    finally:
        server.stop()
    print("stopped", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m controlplane", description="the bundled control plane")
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve", help="serve the bundled API server over HTTP")
    s.add_argument("--storage", choices=["memory", "etcd"], default="memory")
    s.add_argument("--host", default="127.0.0.1", help="address to listen on (default: loopback only)")
    s.add_argument("--port", type=int, default=0, help="port to listen on (default: any free port)")
    s.add_argument("--kubeconfig", required=True, metavar="PATH", help="where to write a kubeconfig for clients")
    args = parser.parse_args(argv)
    if args.command == "serve":
        return serve_main(args)
    return 2


if __name__ == "__main__":
    sys.exit(main())
