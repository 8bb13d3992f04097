"""The :class:`~.storage.Storage` protocol on a real etcd v3, over its gRPC API.

Reads are linearizable ranges that report the revision they were served at;
writes are one transaction each that compares the key's mod revision, like
apiserver/pkg/storage/etcd3/store.go does for Create, GuaranteedUpdate and
conditionalDelete. Watches are etcd watches, one gRPC stream and one reader
thread per watch: etcd sends a watch's events in revision order, the reader
hands them to the sink one at a time, never holding a lock of its own while
it does, so a sink may take any lock a caller of this store holds.

Unlike :class:`~.storage.MemoryStorage`, history replayed by a watch reaches
the sink shortly after ``watch`` returns (from the reader thread), not
before; only a compacted start revision is reported synchronously, as
:class:`~.storage.Compacted`.

The generated etcd protobuf and gRPC stubs come from the ``etcd-sdk-python``
package (module ``pyetcd``); its high-level client is not used, as it drops
the response headers that carry the revisions this protocol needs.
"""

from __future__ import annotations

import collections
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from urllib.parse import urlsplit

import grpc
from pyetcd import etcdrpc
from pyetcd.etcdrpc import kv_pb2

from .storage import (
    Compacted,
    FutureRevision,
    KeyExists,
    KeyNotFound,
    RevisionConflict,
    Sink,
    StorageError,
    StorageEvent,
)

log = logging.getLogger(__name__)

ErrorSink = Callable[[StorageError], None]

# etcd/server/mvcc/kvstore.go: ErrCompacted and ErrFutureRev, as gRPC OUT_OF_RANGE details
_COMPACTED_TEXT = "required revision has been compacted"
_FUTURE_TEXT = "required revision is a future revision"


class EtcdUnavailable(StorageError):
    """etcd did not answer (down, unreachable, or too slow)."""


def _prefix_end(prefix: bytes) -> bytes:
    """The range end that covers every key starting with prefix (etcd client/v3/op.go: GetPrefixRangeEnd)."""
    end = bytearray(prefix)
    for i in range(len(end) - 1, -1, -1):
        if end[i] < 0xFF:
            end[i] += 1
            return bytes(end[: i + 1])
    return b"\x00"  # no upper bound: every key from prefix on


def _parse_endpoint(endpoint: str) -> str:
    parts = urlsplit(endpoint if "://" in endpoint else "http://" + endpoint)
    if parts.scheme != "http":
        raise ValueError(f"only plain http etcd endpoints are supported, not {endpoint!r}")
    if not parts.hostname:
        raise ValueError(f"no host in etcd endpoint {endpoint!r}")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{host}:{parts.port or 2379}"


def _is_compacted(e: grpc.RpcError) -> bool:
    return e.code() == grpc.StatusCode.OUT_OF_RANGE and _COMPACTED_TEXT in (e.details() or "")


def _is_future(e: grpc.RpcError) -> bool:
    return e.code() == grpc.StatusCode.OUT_OF_RANGE and _FUTURE_TEXT in (e.details() or "")


class _EtcdWatch:
    """One etcd watch, carried with every other watch of its store on one gRPC stream (:class:`_WatchStream`)."""

    # consecutive broken streams the shared stream resumes after before its watches fail
    RESUME_ATTEMPTS = 5

    def __init__(self, store: EtcdStorage, key: bytes, range_end: bytes, start: int, sink: Sink,
                 on_error: ErrorSink | None, catch_up: bool = False) -> None:
        self._store = store
        self._key = key
        self._range_end = range_end
        self._sink = sink
        self._on_error = on_error
        self._lock = threading.Lock()
        self._cancelled = threading.Event()
        self.created = threading.Event()
        self.compacted = threading.Event()
        self.created_revision = 0
        self.compact_revision = 0
        self.failure: StorageError | None = None
        self._armed = False  # watch() has returned it: later failures go to on_error
        self._next = start  # the first revision not yet delivered: where a resumed stream starts it again
        self._catch_up = catch_up  # start is a committed revision: etcd replays history before going live
        self.watch_id: int | None = None  # etcd's id for it on the current stream, once created there

    def start(self) -> None:
        self._store._stream.add(self)

    def create_request(self) -> etcdrpc.WatchRequest:
        # A watch that replays history asks etcd for one revision more than it needs (and skips it): a
        # compaction at its first revision is then past etcd's start, which etcd reports. Started at that very
        # revision, etcd replays from the compaction point without the change made there when it is a delete
        # (etcd before 3.5.13: a tombstone at the compaction revision is not kept; server/storage/mvcc/
        # key_index.go, keep; etcd-io/etcd#17612), or without its prev_kv. A live watch starts where asked:
        # etcd then sends each change as it commits, and only a watch behind the store waits for etcd's
        # 100 ms sync loop (server/storage/mvcc/watchable_store.go: syncWatchersLoop).
        behind = self._catch_up or self.created.is_set()  # a resumed stream replays what it missed
        start = self._next - 1 if behind and self._next > 1 else self._next
        return etcdrpc.WatchRequest(create_request=etcdrpc.WatchCreateRequest(
            key=self._key, range_end=self._range_end, start_revision=start, prev_kv=True))

    # ---- fed by the stream's reader thread ----

    def _handle(self, resp: etcdrpc.WatchResponse) -> bool:
        """Deliver one response; False once the watch is over."""
        if resp.created and not self.created.is_set():
            self.created_revision = resp.header.revision
            self.created.set()
        if resp.compact_revision:
            # server/mvcc/watcher_group.go: chooseAll -- a watcher starting before the compaction gets its revision
            self.compact_revision = resp.compact_revision
            self.compacted.set()
            self._fail(Compacted(self._next, resp.compact_revision))
            return False
        if resp.canceled:
            self._fail(StorageError(f"etcd cancelled the watch on {self._key!r}: {resp.cancel_reason}"))
            return False
        last = self._next - 1
        for ev in resp.events:
            rev = ev.kv.mod_revision
            if rev < self._next:
                continue  # already delivered before the stream was resumed
            if self._cancelled.is_set():
                return False
            deleted = ev.type == kv_pb2.Event.DELETE
            prev = ev.prev_kv.value if ev.HasField("prev_kv") else None
            event = StorageEvent("delete" if deleted else "put", self._store._unkey(ev.kv.key),
                                 None if deleted else ev.kv.value, prev, rev,
                                 prev_lost=prev is None and (deleted or ev.kv.create_revision != rev))
            try:
                self._sink(event)
            except Exception:
                log.exception("a watch sink failed on %s at revision %d", event.key, rev)
            last = max(last, rev)
        # a revision is never split across responses, so the next one to expect is after the last seen
        self._next = last + 1
        return True

    def _fail(self, err: StorageError) -> None:
        with self._lock:
            self.failure = err
            report = self._armed and not self._cancelled.is_set()
        self._cancelled.set()
        self._store._forget(self)
        if report:
            if self._on_error is not None:
                self._on_error(err)
            else:
                log.warning("etcd watch on %r ended: %s", self._key, err)
        self.created.set()  # a watch() still waiting for the stream to open stops waiting

    # ---- the caller ----

    def arm(self) -> StorageError | None:
        """From now on report failures to on_error; or the failure that already ended the watch."""
        with self._lock:
            if self.failure is None:
                self._armed = True
            return self.failure

    def cancel(self) -> None:
        """Stop the watch; the sink gets nothing more (apart from an event already being handed over)."""
        self._cancelled.set()
        self._store._forget(self)


class _WatchStream:
    """Every watch of one store on one gRPC Watch stream, read by one thread.

    etcd's own client does the same (client/v3/watch.go: watchGrpcStream carries every watcher of a context on
    one stream): a stream and a reader thread per watch cost a thousand threads for a thousand watches, each
    woken ten times a second by grpc's blocking iterator (grpc/_common.py: wait polls every
    MAXIMUM_WAIT_TIMEOUT, 0.1 s), which left the process no time for anything else. etcd answers the create
    requests of one stream in the order they were sent (server/etcdserver/api/v3rpc/watch.go: recvLoop), and sends
    a watch's events only after its created response, so created responses are matched to requests in order.
    A broken stream is opened again and every watch created on it anew from the first revision it has not
    delivered (client/v3/watch.go: resumes from the next revision); a watch etcd never acknowledged fails at once,
    and all of them fail after RESUME_ATTEMPTS broken streams in a row.
    """

    def __init__(self, store: EtcdStorage) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._watches: dict[_EtcdWatch, None] = {}  # every live watch, in the order they came
        self._awaiting: collections.deque[_EtcdWatch] = collections.deque()  # sent a create, no answer yet
        self._by_id: dict[int, _EtcdWatch] = {}
        self._requests: queue.SimpleQueue[etcdrpc.WatchRequest | None] | None = None
        self._call: grpc.Call | None = None
        self._thread: threading.Thread | None = None
        self._closed = False

    def add(self, w: _EtcdWatch) -> None:
        with self._lock:
            if self._closed:
                raise StorageError("the etcd store is closed")
            self._watches[w] = None
            if self._requests is not None:
                self._awaiting.append(w)
                self._requests.put(w.create_request())
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="etcd-watch-stream", daemon=True)
                self._thread.start()

    def discard(self, w: _EtcdWatch) -> None:
        """Forget a watch; cancel it in etcd if etcd has created it (else when its created response comes)."""
        with self._lock:
            self._watches.pop(w, None)
            wid = w.watch_id
            if wid is not None and self._by_id.get(wid) is w:
                del self._by_id[wid]
                if self._requests is not None:
                    self._requests.put(etcdrpc.WatchRequest(cancel_request=etcdrpc.WatchCancelRequest(watch_id=wid)))

    def close(self) -> None:
        with self._lock:
            self._closed = True
            call, requests = self._call, self._requests
        if requests is not None:
            requests.put(None)
        if call is not None:
            call.cancel()

    @staticmethod
    def _request_stream(requests: queue.SimpleQueue[etcdrpc.WatchRequest | None]) -> Iterator:
        while True:
            item = requests.get()
            if item is None:
                return
            yield item

    def _run(self) -> None:
        attempts = 0
        while True:
            with self._lock:
                if self._closed or not self._watches:
                    # nothing to carry: the next watch starts a stream again
                    self._thread = self._requests = self._call = None
                    return
                requests: queue.SimpleQueue[etcdrpc.WatchRequest | None] = queue.SimpleQueue()
                self._requests = requests
                self._awaiting.clear()
                self._by_id.clear()
                for w in self._watches:
                    w.watch_id = None
                    self._awaiting.append(w)
                    requests.put(w.create_request())
                call = self._store._watch_stub.Watch(self._request_stream(requests))
                self._call = call
            reason = "the watch stream ended"
            try:
                for resp in call:
                    attempts = 0
                    self._dispatch(resp)
            except grpc.RpcError as e:
                reason = f"{e.code().name}: {e.details()}"
            finally:
                requests.put(None)
                call.cancel()
            with self._lock:
                if self._closed:
                    self._thread = self._requests = self._call = None
                    return
                self._requests = None  # watches that come now are created when the stream is opened again
                attempts += 1
                doomed = [w for w in self._watches if attempts > _EtcdWatch.RESUME_ATTEMPTS or not w.created.is_set()]
            for w in doomed:
                w._fail(EtcdUnavailable(f"etcd watch on {w._key!r} lost: {reason}"))
            time.sleep(min(2.0, 0.1 * 2**attempts))

    def _dispatch(self, resp: etcdrpc.WatchResponse) -> None:
        with self._lock:
            if resp.created:
                w = self._awaiting.popleft() if self._awaiting else None
                if w is None:
                    return
                if w not in self._watches:  # cancelled before etcd created it: cancel it there now
                    if not resp.canceled and self._requests is not None:
                        self._requests.put(etcdrpc.WatchRequest(
                            cancel_request=etcdrpc.WatchCancelRequest(watch_id=resp.watch_id)))
                    return
                w.watch_id = resp.watch_id
                if not resp.canceled:
                    self._by_id[resp.watch_id] = w
            else:
                w = self._by_id.get(resp.watch_id)
                if w is None:
                    return  # a cancelled watch's last responses
        # the sink runs on this thread, outside this lock, one response after another: each watch's events stay
        # in revision order, and a sink may take any lock a caller of the store holds
        if not w._handle(resp):
            self.discard(w)


class EtcdStorage:
    """A :class:`~.storage.Storage` on etcd v3 at ``endpoint`` (``http://host:port``).

    ``key_prefix`` is put before every key in etcd (and taken off again), so several API servers
    can share one etcd; the default "" keeps the /registry/... keys as they are.
    """

    def __init__(self, endpoint: str, *, key_prefix: str = "", timeout: float = 10.0) -> None:
        self.endpoint = endpoint
        self.key_prefix = key_prefix
        self._prefix = key_prefix.encode()
        self.timeout = timeout
        # etcd client/v3/options.go: no practical receive limit by default (a list may be large)
        self._channel = grpc.insecure_channel(_parse_endpoint(endpoint),
                                              options=[("grpc.max_receive_message_length", 2**31 - 1)])
        self._kv = etcdrpc.KVStub(self._channel)
        self._watch_stub = etcdrpc.WatchStub(self._channel)
        self._lock = threading.Lock()
        self._watches: set[_EtcdWatch] = set()
        self._stream = _WatchStream(self)

    # ---- keys ----

    def _key(self, key: str) -> bytes:
        return self._prefix + key.encode()

    def _unkey(self, raw: bytes) -> str:
        return raw[len(self._prefix):].decode()

    def _span(self, prefix: str) -> tuple[bytes, bytes]:
        start = self._key(prefix)
        if not start:
            return b"\x00", b"\x00"  # every key
        return start, _prefix_end(start)

    # ---- calls ----

    def _rpc(self, method: Callable, request: object) -> object:
        try:
            return method(request, timeout=self.timeout)
        except grpc.RpcError as e:
            if e.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                raise EtcdUnavailable(f"etcd at {self.endpoint}: {e.code().name}: {e.details()}") from None
            raise

    def current_revision(self) -> int:
        resp = self._rpc(self._kv.Range, etcdrpc.RangeRequest(key=self._prefix or b"\x00", count_only=True))
        return int(resp.header.revision)

    def get(self, key: str) -> tuple[bytes, int] | None:
        resp = self._rpc(self._kv.Range, etcdrpc.RangeRequest(key=self._key(key)))
        if not resp.kvs:
            return None
        kv = resp.kvs[0]
        return kv.value, kv.mod_revision

    def range(self, prefix: str) -> tuple[list[tuple[str, bytes, int]], int]:
        start, end = self._span(prefix)
        # etcd returns a range in key (byte) order, which for UTF-8 is the code point order str sorts by
        resp = self._rpc(self._kv.Range, etcdrpc.RangeRequest(key=start, range_end=end))
        return [(self._unkey(kv.key), kv.value, kv.mod_revision) for kv in resp.kvs], int(resp.header.revision)

    def range_at(self, prefix: str, revision: int) -> list[tuple[str, bytes, int]]:
        """Every (key, value, mod_revision) under a prefix as it was at ``revision``: an etcd range at that revision.

        Raises Compacted for a revision older than the compaction point, FutureRevision past the current one.
        """
        start, end = self._span(prefix)
        # apiserver/pkg/storage/etcd3/store.go: GetList -- a paged list reads every page at the first page's revision
        try:
            resp = self._rpc(self._kv.Range, etcdrpc.RangeRequest(key=start, range_end=end, revision=revision))
        except grpc.RpcError as e:
            if _is_compacted(e):
                raise Compacted(revision, self._compact_revision() or revision) from None
            if _is_future(e):
                raise FutureRevision(revision, self.current_revision()) from None
            raise
        return [(self._unkey(kv.key), kv.value, kv.mod_revision) for kv in resp.kvs]

    def _txn(self, key: bytes, expected_mod_revision: int, then: etcdrpc.RequestOp) -> etcdrpc.TxnResponse:
        # apiserver/pkg/storage/etcd3/store.go: writes are If(ModRevision(key) == rev).Then(op).Else(Get(key));
        # a create compares with 0, which a missing key has
        cmp = etcdrpc.Compare(key=key, target=etcdrpc.Compare.MOD, result=etcdrpc.Compare.EQUAL,
                              mod_revision=expected_mod_revision)
        return self._rpc(self._kv.Txn, etcdrpc.TxnRequest(
            compare=[cmp], success=[then],
            failure=[etcdrpc.RequestOp(request_range=etcdrpc.RangeRequest(key=key))]))

    @staticmethod
    def _found(resp: etcdrpc.TxnResponse) -> int | None:
        kvs = resp.responses[0].response_range.kvs
        return kvs[0].mod_revision if kvs else None

    def put(self, key: str, value: bytes, expected_mod_revision: int) -> int:
        k = self._key(key)
        resp = self._txn(k, expected_mod_revision,
                         etcdrpc.RequestOp(request_put=etcdrpc.PutRequest(key=k, value=value)))
        if resp.succeeded:
            return int(resp.header.revision)
        actual = self._found(resp)
        if expected_mod_revision == 0:
            raise KeyExists(key)
        if actual is None:
            raise KeyNotFound(key)
        raise RevisionConflict(key, expected_mod_revision, actual)

    def delete(self, key: str, expected_mod_revision: int) -> int:
        k = self._key(key)
        resp = self._txn(k, expected_mod_revision,
                         etcdrpc.RequestOp(request_delete_range=etcdrpc.DeleteRangeRequest(key=k)))
        if resp.succeeded:
            if resp.responses[0].response_delete_range.deleted:
                return int(resp.header.revision)
            raise KeyNotFound(key)  # expected 0 matched a missing key: nothing was deleted
        actual = self._found(resp)
        if actual is None:
            raise KeyNotFound(key)
        raise RevisionConflict(key, expected_mod_revision, actual)

    # ---- watch ----

    def watch(self, prefix: str, from_revision: int, sink: Sink, on_error: ErrorSink | None = None) -> _EtcdWatch:
        """Send every change under prefix with revision >= from_revision (0: only future ones) to sink.

        Raises Compacted when from_revision is compacted. ``on_error`` (optional) hears of a watch that etcd
        ends later (compacted while catching up, or etcd gone for good); without it that is logged.
        """
        key, end = self._span(prefix)
        current = self.current_revision()
        start = from_revision if from_revision > 0 else current + 1
        w = _EtcdWatch(self, key, end, start, sink, on_error, catch_up=0 < from_revision <= current)
        with self._lock:
            self._watches.add(w)
        w.start()
        if not w.created.wait(self.timeout):
            w.cancel()
            raise w.failure or EtcdUnavailable(f"etcd at {self.endpoint} did not open a watch")
        compacted = False
        if from_revision > 1 and from_revision <= w.created_revision and not w.compacted.is_set():
            # etcd tells a watch that its start is compacted only when its sync loop (every 100ms) reaches it;
            # a range read tells at once. It reads the revision before the start: a start at the compaction
            # point is refused too (see Storage.watch). A compaction landing exactly at the start after this
            # read, while etcd's watcher still catches up, is not seen here; its events come with prev_lost.
            try:
                self._rpc(self._kv.Range, etcdrpc.RangeRequest(key=key, range_end=end, revision=from_revision - 1,
                                                              count_only=True))
            except grpc.RpcError as e:
                if not _is_compacted(e):
                    w.cancel()
                    raise
                compacted = True
        failure = None if compacted else w.arm()
        if compacted or failure is not None:
            w.cancel()
            if compacted or isinstance(failure, Compacted):
                raise Compacted(from_revision, w.compact_revision or self._compact_revision())
            raise failure  # type: ignore[misc]
        return w

    def _forget(self, w: _EtcdWatch) -> None:
        with self._lock:
            self._watches.discard(w)
        self._stream.discard(w)

    # ---- compaction ----

    def _compact_revision(self) -> int:
        """etcd's compaction point, read off a watch from revision 1 (0 when nothing was compacted)."""
        w = _EtcdWatch(self, self._prefix + b"\x00kubeprop-compact-probe", b"", 1, lambda e: None, None)
        w.start()
        try:
            w.compacted.wait(min(self.timeout, 2.0))
            return w.compact_revision
        finally:
            w.cancel()

    def compact(self, revision: int) -> None:
        try:
            # physical: return once the compaction is applied, so no later watch or read sees older history
            self._rpc(self._kv.Compact, etcdrpc.CompactionRequest(revision=revision, physical=True))
        except grpc.RpcError as e:
            if _is_future(e):
                raise ValueError(f"cannot compact at future revision {revision}") from None
            if _is_compacted(e):
                raise Compacted(revision, self._compact_revision() or revision) from None
            raise

    # ---- life ----

    def close(self) -> None:
        """Cancel every open watch and close the connection."""
        with self._lock:
            watches = list(self._watches)
        for w in watches:
            w.cancel()
        self._stream.close()
        self._channel.close()

    def __enter__(self) -> EtcdStorage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
