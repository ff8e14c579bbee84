"""A loopback chat-stream server that closes keep-alive connections, to prove reconnects and retries are counted.

Every answer is a valid chat stream of `tokens` content chunks (Content-Length delimited, no
`Connection: close`, so the client may keep the connection). Modes:
- "keep": keeps every connection open;
- "close": closes each connection right after its response (the next request finds it closed);
- "drop-reused": answers the first request of a connection; a later request on it is read, then,
  after `drop_delay_s`, the connection is closed without an answer (the close races the send).
It counts the connections it accepted and the requests it answered and dropped; with `tls` it speaks
HTTPS (a self-signed certificate, `self_signed`).
"""

from __future__ import annotations

import json
import socket
import ssl
import subprocess
import threading
import time
from pathlib import Path

_USAGE = {"prompt_tokens": 9, "completion_tokens": 0, "total_tokens": 9}


def stream_body(tokens: int) -> bytes:
    """A chat completion stream: role chunk, `tokens` one-token content chunks, a usage chunk, [DONE]."""

    def event(doc: object) -> bytes:
        return b"data: " + json.dumps(doc).encode() + b"\n\n"

    base = {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m"}
    out = [event({**base, "choices": [{"index": 0, "delta": {"role": "assistant"}, "finish_reason": None}]})]
    for i in range(tokens):
        finish = "length" if i == tokens - 1 else None
        out.append(event({**base, "choices": [{"index": 0, "delta": {"content": f" t{i}"}, "finish_reason": finish}]}))
    usage = {**_USAGE, "completion_tokens": tokens, "total_tokens": 9 + tokens}
    out.append(event({**base, "choices": [], "usage": usage}))
    out.append(b"data: [DONE]\n\n")
    return b"".join(out)


class ClosingServer:
    """Serves POST .../chat/completions on 127.0.0.1 (ephemeral port), one thread per connection."""

    def __init__(
        self, mode: str, tokens: int = 3, drop_delay_s: float = 0.3, tls: ssl.SSLContext | None = None
    ) -> None:
        self.mode, self.tokens, self.drop_delay_s, self.tls = mode, tokens, drop_delay_s, tls
        self.accepted = self.answered = self.dropped = 0
        self._lock = threading.Lock()
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self) -> str:
        self._thread.start()
        scheme = "https" if self.tls else "http"
        return f"{scheme}://127.0.0.1:{self._sock.getsockname()[1]}/v1"

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        self._sock.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            with self._lock:
                self.accepted += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(30)
        if self.tls is not None:
            try:
                conn = self.tls.wrap_socket(conn, server_side=True)
            except OSError:
                conn.close()
                return
        buf, served = b"", 0
        with conn:
            while not self._stop.is_set():
                try:
                    while b"\r\n\r\n" not in buf:
                        data = conn.recv(65536)
                        if not data:
                            return
                        buf += data
                    head, _, buf = buf.partition(b"\r\n\r\n")
                    length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                                   if line.lower().startswith(b"content-length:")), 0)  # fmt: skip
                    while len(buf) < length:
                        buf += conn.recv(65536)
                    buf = buf[length:]
                    if self.mode == "drop-reused" and served:
                        time.sleep(self.drop_delay_s)
                        with self._lock:
                            self.dropped += 1
                        return
                    body = stream_body(self.tokens)
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                                 b"Content-Length: %d\r\n\r\n%s" % (len(body), body))  # fmt: skip
                except OSError:
                    return
                served += 1
                with self._lock:
                    self.answered += 1
                if self.mode == "close":
                    return


def self_signed(directory: Path) -> tuple[ssl.SSLContext, ssl.SSLContext] | None:
    """(server, client) TLS contexts for 127.0.0.1 from a certificate `openssl` makes; None without openssl."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    argv = ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
            "-keyout", str(key), "-out", str(cert)]  # fmt: skip
    try:
        subprocess.run(argv, capture_output=True, check=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert, key)
    client = ssl.create_default_context(cafile=str(cert))
    return server, client
