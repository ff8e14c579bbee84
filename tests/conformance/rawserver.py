"""A scripted raw-socket HTTP server on 127.0.0.1 for client tests: each path answers with given bytes.

A script is a list of steps: bytes to send, a float to sleep (seconds), or None to close the socket.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

Step = bytes | float | None


class RawServer:
    """Serves `scripts[path]` to each request (HTTP/1.1, one request per connection)."""

    def __init__(self, scripts: dict[str, list[Step]]) -> None:
        self.scripts = scripts
        self.requests: list[bytes] = []
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self._sock.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def base_url(self) -> str:
        """The server's base URL."""
        return f"http://127.0.0.1:{self._sock.getsockname()[1]}/v1"

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        conn.settimeout(5)
        data = b""
        try:
            while b"\r\n\r\n" not in data:
                data += conn.recv(65536)
            head, _, rest = data.partition(b"\r\n\r\n")
            length = next(
                (
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                ),
                0,
            )
            while len(rest) < length:
                rest += conn.recv(65536)
            self.requests.append(head + b"\r\n\r\n" + rest)
            path = head.split(b" ")[1].decode().split("?")[0].removeprefix("/v1")
            for step in self.scripts.get(path, [b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"]):
                if step is None:
                    break
                if isinstance(step, float):
                    if self._stop.wait(step):
                        break
                    continue
                conn.sendall(step)
            time.sleep(0.05)
        except OSError:
            pass
        finally:
            conn.close()

    def start(self) -> str:
        """Start serving; returns the base URL."""
        self._thread.start()
        return self.base_url

    def stop(self) -> None:
        """Stop serving."""
        self._stop.set()
        self._thread.join(timeout=2)
        self._sock.close()


@contextmanager
def serving(scripts: dict[str, list[Step]]) -> Iterator[RawServer]:
    """Run a RawServer for the duration of a `with` block."""
    server = RawServer(scripts)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def response(status: int, body: bytes, content_type: str = "application/json", extra: str = "") -> bytes:
    """A complete HTTP/1.1 response with Content-Length."""
    return (
        f"HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n{extra}"
        f"Connection: close\r\n\r\n"
    ).encode() + body


def sse_head() -> bytes:
    """Headers of a chunked event-stream response."""
    return (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
        b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    )


def chunk(data: bytes) -> bytes:
    """One HTTP/1.1 chunk."""
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


END = b"0\r\n\r\n"
