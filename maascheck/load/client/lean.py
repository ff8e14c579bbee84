"""A lean HTTP/1.1 streaming client: one keep-alive connection, SSE framing by events, a timestamp per event.

Per request it records `perf_counter_ns` at the send, at the response headers, and at the arrival of the
first byte of every SSE event. Events are framed on blank lines (``\\n\\n`` or ``\\r\\n\\r\\n``) of the
de-chunked body; the time of an event is the time of the `recv` that delivered its first byte. Nothing is
parsed as JSON here: the raw event bytes are kept and parsed after the stream ends (`maascheck.load.measure.events`).

Sockets come from the stdlib `socket`/`ssl` modules, so under Locust (gevent monkey-patching) every recv
yields to the hub; outside gevent the client is plain blocking I/O. Why this client and not httpx or
geventhttpclient: see `docs/load-client.md` (measured figures).

Every failure is an outcome, never an exception: `connect_error`, `timeout`, `http_error` (status >= 400,
with the error body), `truncated` (the connection closed before the body ended), else `complete`.
"""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass, field
from time import perf_counter_ns
from urllib.parse import urlsplit

from gevent import GreenletExit

from maascheck.core.errors import ConfigError

RECV_SIZE = 65536
MAX_HEADER_BYTES = 65536
MAX_ERROR_BODY = 65536


@dataclass(slots=True)
class StreamResult:
    """What one streamed request produced on the wire (times in `perf_counter_ns`)."""

    transport: str  # "complete" | "truncated" | "timeout" | "connect_error" | "http_error" | "cancelled"
    t_send_ns: int
    status: int | None = None
    error: str | None = None
    t_headers_ns: int | None = None
    t_end_ns: int = 0
    event_times_ns: list[int] = field(default_factory=list)
    events: list[bytes] = field(default_factory=list)
    body: bytes = b""  # the error body (status >= 400), kept raw
    retry_after: str | None = None  # the Retry-After header of a non-2xx answer (RFC 9110 §10.2.3), raw
    recvs: int = 0  # number of recv calls that returned data (for CPU accounting)


class StreamCancelled(GreenletExit):  # type: ignore[misc]  # gevent re-exports greenlet's untyped class
    """The request's greenlet was killed mid-stream (the run stopped); `result` holds what had arrived."""

    def __init__(self, result: StreamResult) -> None:
        super().__init__()
        self.result = result


class _Closed(Exception):
    """The peer closed the connection."""


@dataclass(frozen=True)
class Endpoint:
    """Where requests go: scheme, host, port and the base path (e.g. ``/v1``)."""

    scheme: str
    host: str
    port: int
    base_path: str

    @classmethod
    def parse(cls, base_url: str) -> Endpoint:
        """Parse a base URL such as ``http://127.0.0.1:8000/v1``."""
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(
                f"base URL must be http:// or https:// with a host, got {base_url!r}; "
                "example: --base-url http://127.0.0.1:8000/v1"
            )
        port = parts.port or (443 if parts.scheme == "https" else 80)
        return cls(parts.scheme, parts.hostname, port, parts.path.rstrip("/"))


def header_block(endpoint: Endpoint, headers: dict[str, str]) -> bytes:
    """The fixed header lines of every request to `endpoint` (Host without the scheme's default port)."""
    default_port = 443 if endpoint.scheme == "https" else 80
    host = endpoint.host if endpoint.port == default_port else f"{endpoint.host}:{endpoint.port}"
    fixed = {"Host": host, "Accept": "text/event-stream", "Content-Type": "application/json"}
    fixed.update(headers)
    return "".join(f"{k}: {v}\r\n" for k, v in fixed.items()).encode("latin-1")


def post_request(endpoint: Endpoint, head: bytes, path: str, body: bytes) -> bytes:
    """The bytes of a POST of `body` to base path + `path`, `head` being `header_block`'s lines."""
    return (
        f"POST {endpoint.base_path}{path} HTTP/1.1\r\n".encode("latin-1")
        + head
        + b"Content-Length: %d\r\n\r\n" % len(body)
        + body
    )


class StreamClient:
    """One keep-alive HTTP/1.1 connection that streams POST responses and frames SSE events.

    `timeout` bounds both a stall (no byte for `timeout` seconds) and the whole request: a request is
    abandoned at most ~2 x `timeout` after its send. `connect_timeout` bounds the TCP/TLS connect.
    """

    def __init__(
        self,
        endpoint: Endpoint,
        headers: dict[str, str],
        *,
        timeout: float = 120.0,
        connect_timeout: float = 10.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self._ssl = ssl_context or (ssl.create_default_context() if endpoint.scheme == "https" else None)
        self._header_block = header_block(endpoint, headers)
        self._sock: socket.socket | None = None
        self._buf = bytearray(RECV_SIZE)
        self._view = memoryview(self._buf)

    def close(self) -> None:
        """Close the connection (a new one is opened by the next request)."""
        if self._sock is not None:
            try:
                self._sock.close()
            finally:
                self._sock = None

    def _connect(self) -> socket.socket:
        sock = socket.create_connection(
            (self.endpoint.host, self.endpoint.port), timeout=self.connect_timeout
        )
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self._ssl is not None:
            sock = self._ssl.wrap_socket(sock, server_hostname=self.endpoint.host)
        sock.settimeout(self.timeout)
        return sock

    def post_stream(self, path: str, body: bytes) -> StreamResult:
        """POST `body` to base path + `path` and read the whole (streamed) response."""
        request = post_request(self.endpoint, self._header_block, path, body)
        reused = self._sock is not None
        result = self._attempt(request)
        if reused and result.transport in ("truncated", "connect_error") and result.status is None:
            # The server closed an idle keep-alive connection before answering: retry once, fresh.
            result = self._attempt(request)
        return result

    def _attempt(self, request: bytes) -> StreamResult:
        t_send = perf_counter_ns()
        res = StreamResult(transport="complete", t_send_ns=t_send)
        try:
            if self._sock is None:
                self._sock = self._connect()
                t_send = res.t_send_ns = perf_counter_ns()
            self._sock.sendall(request)
        except OSError as exc:  # refused, unreachable, DNS, TLS handshake, connect timeout
            self.close()
            res.transport, res.error, res.t_end_ns = "connect_error", _describe(exc), perf_counter_ns()
            return res
        keep = False
        try:
            keep = self._read_response(self._sock, res)
        except TimeoutError:
            res.transport, res.error = "timeout", f"no complete response within the {self.timeout:g}s timeout"
        except _Closed:
            res.transport = "truncated"
            res.error = "connection closed before the response ended"
        except (OSError, ValueError) as exc:
            res.transport, res.error = "truncated", _describe(exc)
        except GreenletExit:  # the run stopped mid-stream: hand back the events framed so far
            self.close()
            res.transport, res.error = "cancelled", "the run stopped while this request was in flight"
            res.t_end_ns = perf_counter_ns()
            raise StreamCancelled(res) from None
        res.t_end_ns = perf_counter_ns()
        if not keep:
            self.close()
        return res

    def _recv(self, sock: socket.socket) -> bytes:
        n = sock.recv_into(self._buf)
        if n == 0:
            raise _Closed
        return bytes(self._view[:n])

    def _read_response(self, sock: socket.socket, res: StreamResult) -> bool:
        """Fill `res`; return whether the connection may be reused."""
        deadline = res.t_send_ns + int(self.timeout * 1e9)
        raw = b""
        while True:
            raw += self._recv(sock)
            end = raw.find(b"\r\n\r\n")
            if end >= 0:
                break
            if len(raw) > MAX_HEADER_BYTES:
                raise ValueError(f"response headers exceed {MAX_HEADER_BYTES} bytes")
        t = res.t_headers_ns = perf_counter_ns()
        status, headers, keep = _parse_head(raw[:end])
        res.status = status
        res.retry_after = headers.get("retry-after") if status >= 300 else None
        rest = raw[end + 4 :]
        chunked = "chunked" in headers.get("transfer-encoding", "").lower()
        length = int(headers["content-length"]) if "content-length" in headers and not chunked else None
        if status >= 400:
            res.transport = "http_error"
            res.body = self._read_plain(sock, rest, chunked, length, deadline)
            res.error = f"HTTP {status}: " + res.body[:500].decode("utf-8", "replace")
            return keep
        if chunked:
            self._stream_chunked(sock, rest, t, res, deadline)
        else:
            self._stream_plain(sock, rest, t, length, res, deadline)
            keep = keep and length is not None
        return keep

    def _read_plain(
        self, sock: socket.socket, rest: bytes, chunked: bool, length: int | None, deadline: int
    ) -> bytes:
        """Read a (small) error body; bounded by MAX_ERROR_BODY and the deadline."""
        probe = StreamResult(transport="complete", t_send_ns=0)
        try:
            if chunked:
                self._stream_chunked(sock, rest, perf_counter_ns(), probe, deadline, limit=MAX_ERROR_BODY)
            else:
                self._stream_plain(
                    sock, rest, perf_counter_ns(), length, probe, deadline, limit=MAX_ERROR_BODY
                )
        except (_Closed, OSError, ValueError):
            pass
        return b"\n\n".join(probe.events)

    def _stream_plain(
        self,
        sock: socket.socket,
        data: bytes,
        t: int,
        length: int | None,
        res: StreamResult,
        deadline: int,
        limit: int | None = None,
    ) -> None:
        """A body delimited by Content-Length, or by the connection close when no length is given."""
        frame = _Framer(res)
        remaining = length
        total = 0
        while True:
            if data:
                if remaining is not None:
                    data = data[:remaining]
                    remaining -= len(data)
                frame.feed(data, t)
                total += len(data)
            if remaining == 0 or (limit is not None and total >= limit):
                break
            try:
                data = self._recv(sock)
            except _Closed:
                if remaining is None:
                    break  # close-delimited body: EOF is its end
                raise
            t = perf_counter_ns()
            res.recvs += 1
            if t > deadline:
                raise TimeoutError
        frame.finish()

    def _stream_chunked(
        self,
        sock: socket.socket,
        raw: bytes,
        t: int,
        res: StreamResult,
        deadline: int,
        limit: int | None = None,
    ) -> None:
        """Decode Transfer-Encoding: chunked and frame SSE events as the de-chunked bytes arrive."""
        frame = _Framer(res)
        pos = 0
        left = -1  # bytes of chunk data still to come; -1: a size line is next; -2: the CRLF after data
        total = 0
        while True:
            while True:  # decode everything `raw[pos:]` holds
                if left == -1:
                    eol = raw.find(b"\r\n", pos)
                    if eol < 0:
                        break
                    size = int(raw[pos:eol].split(b";", 1)[0], 16)
                    pos = eol + 2
                    if size == 0:
                        frame.finish()
                        self._skip_trailers(sock, raw[pos:])
                        return
                    left = size
                elif left == -2:
                    if len(raw) - pos < 2:
                        break
                    pos += 2
                    left = -1
                else:
                    avail = len(raw) - pos
                    if avail <= 0:
                        break
                    take = left if left < avail else avail
                    frame.feed(raw[pos : pos + take], t)
                    total += take
                    pos += take
                    left -= take
                    if left == 0:
                        left = -2
            if limit is not None and total >= limit:
                frame.finish()
                return
            raw = raw[pos:] + self._recv(sock)
            pos = 0
            t = perf_counter_ns()
            res.recvs += 1
            if t > deadline:
                raise TimeoutError

    def _skip_trailers(self, sock: socket.socket, raw: bytes) -> None:
        """Consume the (usually empty) trailer section after the last chunk."""
        while not (raw.startswith(b"\r\n") or b"\r\n\r\n" in raw):
            raw += self._recv(sock)


class _Framer:
    """Frames SSE events on blank lines and stamps each with the arrival time of its first byte."""

    __slots__ = ("_events", "_pending", "_t", "_times")

    def __init__(self, res: StreamResult) -> None:
        self._pending = b""
        self._t = 0
        self._events = res.events
        self._times = res.event_times_ns

    def feed(self, data: bytes, t: int) -> None:
        pending = self._pending
        if not pending:
            self._t = t
            scan = 0
        else:
            scan = len(pending) - 2 if len(pending) > 2 else 0
        pending += data
        while True:
            i = pending.find(b"\n\n", scan)
            j = pending.find(b"\n\r\n", scan)
            if i < 0 and j < 0:
                break
            if j >= 0 and (i < 0 or j < i):
                event, rest = pending[:j], pending[j + 3 :]
            else:
                event, rest = pending[:i], pending[i + 2 :]
            self._events.append(event)
            self._times.append(self._t)
            pending = rest
            scan = 0
            self._t = t  # bytes after a separator arrived in this recv
        self._pending = pending

    def finish(self) -> None:
        """Keep an unterminated trailing event (SSE would drop it; the parser decides)."""
        if self._pending.strip():
            self._events.append(self._pending)
            self._times.append(self._t)
        self._pending = b""


def _parse_head(head: bytes) -> tuple[int, dict[str, str], bool]:
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/"):
        raise ValueError(f"not an HTTP response: {lines[0][:80]!r}")
    status = int(parts[1])
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    conn = headers.get("connection", "").lower()
    keep = parts[0] == "HTTP/1.1" and "close" not in conn
    return status, headers, keep


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
