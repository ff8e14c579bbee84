"""A scripted keep-alive HTTP/1.1 server on 127.0.0.1: connection N answers its requests with `scripts[N]` in order.

A step is a complete response (bytes, the connection stays open after it), `DROP` (read the request,
close without a byte: a FIN, as a server closing an idle connection does), `RESET` (read the request,
close with an RST, as uvicorn's reset reached the real client) or `PARTIAL` (send half a status line,
then close). Connections beyond the scripts answer `default`.
"""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager

DROP = "drop"
RESET = "reset"
PARTIAL = "partial"
Step = bytes | str


def keepalive_response(status: int, body: bytes) -> bytes:
    """A complete JSON response that leaves the connection open (no `Connection: close`)."""
    head = f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    return head.encode() + body


class KeepAliveServer:
    """Accepts connections in order; each serves its script's steps, one per request, then closes."""

    def __init__(self, scripts: list[list[Step]], default: bytes) -> None:
        self.scripts, self.default = scripts, default
        self.requests: list[tuple[int, bytes]] = []  # (connection number, request head line)
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self._sock.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._accepted = 0

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
            steps = self.scripts[self._accepted] if self._accepted < len(self.scripts) else [self.default]
            threading.Thread(target=self._handle, args=(conn, self._accepted, steps), daemon=True).start()
            self._accepted += 1

    def _read_request(self, conn: socket.socket, buf: bytes) -> tuple[bytes, bytes] | None:
        while b"\r\n\r\n" not in buf:
            data = conn.recv(65536)
            if not data:
                return None
            buf += data
        head, _, rest = buf.partition(b"\r\n\r\n")
        length = next(
            (int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")),
            0,
        )
        while len(rest) < length:
            rest += conn.recv(65536)
        return head, rest[length:]

    def _handle(self, conn: socket.socket, number: int, steps: list[Step]) -> None:
        conn.settimeout(5)
        buf = b""
        try:
            for step in steps:
                got = self._read_request(conn, buf)
                if got is None:
                    return
                head, buf = got
                self.requests.append((number, head.split(b"\r\n")[0]))
                if step == RESET:
                    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    return
                if step == DROP:
                    return
                if step == PARTIAL:
                    conn.sendall(b"HTTP/1.")
                    return
                assert isinstance(step, bytes)
                conn.sendall(step)
            self._read_request(conn, buf)  # hold the connection open until the client closes it
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
def keepalive_serving(scripts: list[list[Step]], default: bytes) -> Iterator[KeepAliveServer]:
    """Run a KeepAliveServer for the duration of a `with` block."""
    server = KeepAliveServer(scripts, default)
    server.start()
    try:
        yield server
    finally:
        server.stop()
