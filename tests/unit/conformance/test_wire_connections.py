"""The wire (conformance/wire.py) keeps a client's connection usable across answers the server chunked, and says
when it ends one: a client that sends a PATCH on a connection the wire had quietly closed gets EOF, and net/http
does not send a PATCH again."""

from __future__ import annotations

import http.client
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from conformance.wire import Wire

BODY = b'{"kind":"Pod","apiVersion":"v1","metadata":{"name":"p"}}'


class _Chunking(BaseHTTPRequestHandler):
    """An upstream that answers everything chunked, as net/http does a body it did not buffer whole."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass

    def _any(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for part in (BODY[:10], BODY[10:]):
            self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
        self.wfile.write(b"0\r\n\r\n")

    do_GET = do_PATCH = do_POST = _any


def _kubeconfig(path: Path, server: str) -> Path:
    path.write_text(f"""apiVersion: v1
kind: Config
clusters: [{{name: c, cluster: {{server: "{server}"}}}}]
users: [{{name: u, user: {{token: t}}}}]
contexts: [{{name: x, context: {{cluster: c, user: u}}}}]
current-context: x
""")
    return path


def test_a_chunked_answer_leaves_the_connection_usable_and_a_watch_says_it_closes(tmp_path: Path) -> None:
    upstream = ThreadingHTTPServer(("127.0.0.1", 0), _Chunking)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    wire = Wire(_kubeconfig(tmp_path / "kubeconfig", f"http://127.0.0.1:{upstream.server_address[1]}"),
                tmp_path / "wire")
    conn = http.client.HTTPConnection(wire.url.removeprefix("http://"), timeout=5)
    try:
        for _ in range(3):  # one connection, as a client's pool reuses it
            conn.request("PATCH", "/api/v1/namespaces/n/pods/p/status", body=b"{}",
                         headers={"Content-Type": "application/merge-patch+json"})
            resp = conn.getresponse()
            assert (resp.status, resp.read()) == (200, BODY)
            assert resp.getheader("Content-Length") == str(len(BODY))
        conn.request("GET", "/api/v1/namespaces/n/pods?watch=true")
        resp = conn.getresponse()
        assert resp.getheader("Connection") == "close"
        assert resp.read() == BODY
    finally:
        conn.close()
        wire.close()
        upstream.shutdown()
        upstream.server_close()
