"""Watches are written by the watch loop, not by the request pool: the pool stays free, hang-ups free what a watch
held, and a watch that ends cleanly gives its connection back for the next request."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator

import pytest
import requests

from controlplane.http import DEBUG_WATCHES, HTTPAPIServer

from .conftest import TOKEN, auth

NS = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ns"}}


def pod(name: str) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [{"name": "c", "image": "i"}]}}


@pytest.fixture
def small_pool() -> Iterator[HTTPAPIServer]:
    # two request threads: before the watch loop, the third open watch hung every later request
    s = HTTPAPIServer(port=0, token=TOKEN, threads=2)
    s.start()
    try:
        yield s
    finally:
        s.stop()


def _open_watch(server: HTTPAPIServer, query: str = "watch=1") -> tuple[socket.socket, bytes]:
    """A watch on a raw socket: (the socket, what came after the 200 headers)."""
    s = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    s.sendall(f"GET /api/v1/namespaces/ns/pods?{query} HTTP/1.1\r\nHost: x\r\n"
              f"Authorization: Bearer {TOKEN}\r\n\r\n".encode())
    data = b""
    while b"\r\n\r\n" not in data:
        more = s.recv(65536)
        assert more, data
        data += more
    head, _, rest = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200") and b"chunked" in head.lower(), head
    return s, rest


def _read_until(s: socket.socket, have: bytes, done: Callable[[bytes], bool]) -> bytes:
    while not done(have):
        more = s.recv(65536)
        assert more, have
        have += more
    return have


def _eventually(check: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "not within the guard timeout"
        time.sleep(0.02)


def test_watches_do_not_hold_the_request_pool(small_pool: HTTPAPIServer) -> None:
    server = small_pool
    assert requests.post(server.url + "/api/v1/namespaces", json=NS, headers=auth(), timeout=10).status_code == 201
    watches = [_open_watch(server) for _ in range(20)]
    assert server.app.open_watches == 20
    r = requests.get(server.url + "/api/v1/namespaces/ns/pods", headers=auth(), timeout=10)
    assert r.status_code == 200
    assert requests.post(server.url + "/api/v1/namespaces/ns/pods", json=pod("p"), headers=auth(),
                         timeout=10).status_code == 201
    for s, rest in watches:
        got = _read_until(s, rest, lambda b: b'"name":"p"' in b)
        assert b'"type":"ADDED"' in got
        s.close()
    _eventually(lambda: server.app.open_watches == 0)


def test_hung_up_watches_are_freed_and_counted(server: HTTPAPIServer) -> None:
    requests.post(server.url + "/api/v1/namespaces", json=NS, headers=auth(), timeout=10)
    watches = [_open_watch(server) for _ in range(50)]
    r = requests.get(server.url + DEBUG_WATCHES, headers=auth(), timeout=10)
    assert r.status_code == 200 and r.json()["open"] == 50
    assert requests.get(server.url + DEBUG_WATCHES, timeout=10).status_code == 401  # behind authentication too
    for s, _ in watches:
        s.close()
    _eventually(lambda: server.app.open_watches == 0)
    assert requests.get(server.url + DEBUG_WATCHES, headers=auth(), timeout=10).json()["open"] == 0


def test_a_watch_that_ends_gives_its_connection_back(server: HTTPAPIServer) -> None:
    requests.post(server.url + "/api/v1/namespaces", json=NS, headers=auth(), timeout=10)
    s, rest = _open_watch(server, "watch=1&timeoutSeconds=1")
    body = _read_until(s, rest, lambda b: b.endswith(b"0\r\n\r\n"))
    assert body == b"0\r\n\r\n"  # no event, then the last chunk
    # the same connection serves the next request
    s.sendall(f"GET /api/v1/namespaces/ns HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n\r\n".encode())
    answer = _read_until(s, b"", lambda b: b"\r\n\r\n" in b and b.rstrip().endswith(b"}"))
    assert answer.startswith(b"HTTP/1.1 200") and b'"name":"ns"' in answer
    s.close()
    _eventually(lambda: server.app.open_watches == 0)


def test_stopping_the_server_ends_open_watches() -> None:
    server = HTTPAPIServer(port=0, token=TOKEN).start()
    try:
        requests.post(server.url + "/api/v1/namespaces", json=NS, headers=auth(), timeout=10)
        watches = [_open_watch(server) for _ in range(5)]
    finally:
        server.stop()
    for s, rest in watches:
        # the stream ends (with its last chunk) and the connection closes
        assert _read_until(s, rest, lambda b: b.endswith(b"0\r\n\r\n")) == b"0\r\n\r\n"
        assert s.recv(65536) == b""
        s.close()
    assert server.app.open_watches == 0
