"""A counting HTTP/1.1 test server on 127.0.0.1 (port 0) whose answers come from a Python function.

`answer(method, path, headers, body)` returns (status, headers, body), or HANG to hold the
connection silent for `hang_s` seconds. Every request is counted and kept in `seen`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

HANG = object()
Answer = Callable[[str, str, dict[str, str], bytes], Any]


class ScriptedServer(ThreadingHTTPServer):
    """Serves `answer` on 127.0.0.1:<ephemeral>; `seen` holds (method, path, headers, body) per request."""

    daemon_threads = True

    def __init__(self, answer: Answer, hang_s: float = 5.0) -> None:
        self.answer = answer
        self.hang_s = hang_s
        self.seen: list[tuple[str, str, dict[str, str], bytes]] = []
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)

    @property
    def origin(self) -> str:
        """http://127.0.0.1:PORT"""
        return f"http://127.0.0.1:{self.server_address[1]}"

    @property
    def count(self) -> int:
        """Requests received so far."""
        with self.lock:
            return len(self.seen)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: ScriptedServer

    def log_message(self, *_args: Any) -> None:  # keep the test output quiet
        return

    def _serve(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        with self.server.lock:
            self.server.seen.append((self.command, self.path, headers, body))
        out = self.server.answer(self.command, self.path, headers, body)
        if out is HANG:
            time.sleep(self.server.hang_s)
            self.close_connection = True
            return
        status, extra, payload = out
        self.send_response(status)
        for name, value in extra.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = _serve
    do_POST = _serve


@contextmanager
def scripted(answer: Answer, hang_s: float = 5.0) -> Iterator[ScriptedServer]:
    """Run a ScriptedServer in a thread for the duration of the block."""
    server = ScriptedServer(answer, hang_s)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
