"""The Locust worker's streaming client: stream sockets read by callbacks in the gevent hub, not by greenlets.

`maascheck.load.client.lean.StreamClient` reads each socket from its user's greenlet: every SSE chunk costs a
failed non-blocking `recv` (EAGAIN), an io-watcher start/stop and two greenlet switches (user -> hub
-> user) before the successful `recv`. Here the user greenlet only sends the request and then sleeps
on a `gevent.hub.Waiter`; the socket gets a libev io watcher whose callback runs *inside the hub*
when the socket is readable: one `recv`, one `perf_counter_ns`, and the bytes are stored with their
arrival time (a chunked body is de-chunked only when its last bytes look like the end). No greenlet
switch and no parsing per chunk. The waiting user is switched to once, when the response has ended
(or failed, or timed out); SSE events are then framed in one pass (`maascheck.load.client.framing`).

Timestamps: the callback reads the clock right after `recv` returned, so each event gets the
arrival time of the read that delivered its first byte, as in `StreamClient` (AIPerf's first-byte
rule, `/work/shared/notes/load-metrics.md` §8). If the user's greenlet is killed mid-stream (the run
stopped), `StreamCancelled` carries what had arrived, with transport "cancelled".

Plain HTTP only: HTTPS endpoints use `StreamClient` (`open_client` picks). Results are the same
`StreamResult`s, with the same outcome rules (connect_error, timeout, http_error, truncated, complete).
"""

from __future__ import annotations

import _socket
import contextlib
import socket
from time import perf_counter_ns
from typing import Any

import gevent
import gevent.socket
from gevent import GreenletExit
from gevent.hub import Waiter

from maascheck.load.client.framing import frame_events
from maascheck.load.client.lean import (
    MAX_ERROR_BODY,
    MAX_HEADER_BYTES,
    RECV_SIZE,
    Endpoint,
    StreamCancelled,
    StreamClient,
    StreamResult,
    _describe,
    _parse_head,
    header_block,
    post_request,
)

_READ = 1  # libev EV_READ


class _Exchange:
    """One response: the head is parsed as it arrives; body bytes are only stored until the end.

    The hot path (one call per `recv`) appends the bytes and their arrival time, and, for a chunked
    body, checks the last bytes for a possible end (``0\\r\\n`` or a blank line). Only then is the body
    de-chunked, incrementally from where the last check stopped, so a false alarm costs nothing twice.
    SSE events are framed once, after the end (`maascheck.load.client.framing.frame_events`).
    """

    __slots__ = (
        "carry", "chunked", "error_body", "in_head", "k", "keep", "left", "limit", "payload_times", "payloads",
        "pieces", "raw", "remaining", "res", "times", "total",
    )  # fmt: skip

    def __init__(self, res: StreamResult) -> None:
        self.res = res
        self.raw = b""  # the head, until it is complete
        self.in_head = True
        self.chunked = False
        self.remaining: int | None = None  # Content-Length body: bytes still to come
        self.keep = False
        self.error_body = False
        self.limit: int | None = None
        self.total = 0  # de-chunked body bytes
        self.pieces: list[bytes] = []  # chunked: raw body bytes per recv, not yet de-chunked past `k`
        self.times: list[int] = []  # their arrival times
        self.k = 0  # the next piece the de-chunker reads
        self.carry = b""  # a chunk-size line or CRLF cut across two pieces
        self.left = -1  # chunk data bytes still to come; -1 a size line is next; -2 the CRLF after data
        self.payloads: list[bytes] = []  # de-chunked body bytes
        self.payload_times: list[int] = []

    def feed(self, data: bytes, t: int) -> bool:
        """Consume bytes that arrived at `t`; True when the response has ended."""
        if self.in_head:
            return self._head_bytes(data, t)
        if self.chunked:
            self.pieces.append(data)
            self.times.append(t)
            if self.error_body or len(data) < 8 or data.endswith(b"\r\n\r\n") or data.endswith(b"0\r\n"):
                return self._dechunk() and self.end()
            return False
        return self._plain(data, t)

    def _head_bytes(self, data: bytes, t: int) -> bool:
        self.raw += data
        if self.raw.startswith(b"\r\n"):  # the CRLF closing the previous chunked body, if late
            self.raw = self.raw.lstrip(b"\r\n")
        end = self.raw.find(b"\r\n\r\n")
        if end < 0:
            if len(self.raw) > MAX_HEADER_BYTES:
                raise ValueError(f"response headers exceed {MAX_HEADER_BYTES} bytes")
            return False
        res = self.res
        res.t_headers_ns = t
        status, headers, keep = _parse_head(self.raw[:end])
        res.status = status
        res.retry_after = headers.get("retry-after") if status >= 300 else None
        rest, self.raw, self.in_head = self.raw[end + 4 :], b"", False
        self.chunked = "chunked" in headers.get("transfer-encoding", "").lower()
        if "content-length" in headers and not self.chunked:
            self.remaining = int(headers["content-length"])
        self.keep = keep and (self.chunked or self.remaining is not None)
        if status >= 400:
            res.transport, self.error_body, self.limit = "http_error", True, MAX_ERROR_BODY
        if self.remaining == 0:
            return self.end()
        if not rest:
            return False
        return self.feed(rest, t)

    def _plain(self, data: bytes, t: int) -> bool:
        if self.remaining is not None:
            data = data[: self.remaining]
            self.remaining -= len(data)
        self.payloads.append(data)
        self.payload_times.append(t)
        self.total += len(data)
        if self.remaining == 0 or (self.limit is not None and self.total >= self.limit):
            return self.end()
        return False

    def _dechunk(self) -> bool:
        """De-chunk the pieces not read yet; True at the last (zero-size) chunk or at the error-body limit."""
        pieces, times, out, out_t = self.pieces, self.times, self.payloads, self.payload_times
        left = self.left
        while self.k < len(pieces):
            raw = self.carry + pieces[self.k] if self.carry else pieces[self.k]
            t = times[self.k]
            self.k += 1
            self.carry = b""
            pos, n = 0, len(raw)
            while pos < n:
                if left == -1:
                    eol = raw.find(b"\r\n", pos)
                    if eol < 0:
                        if n - pos > MAX_HEADER_BYTES:
                            raise ValueError(f"chunk-size line longer than {MAX_HEADER_BYTES} bytes")
                        self.carry = raw[pos:]
                        break
                    size = int(raw[pos:eol].split(b";", 1)[0], 16)
                    pos = eol + 2
                    if size == 0:  # trailers are not read: the server's CRLF stays unread or arrives later
                        self.pieces.clear()
                        self.times.clear()
                        self.k, self.left = 0, -1
                        return True
                    left = size
                elif left == -2:
                    if n - pos < 2:
                        self.carry = raw[pos:]
                        break
                    pos += 2
                    left = -1
                else:
                    take = left if left < n - pos else n - pos
                    out.append(raw[pos : pos + take])
                    out_t.append(t)
                    self.total += take
                    pos += take
                    left = left - take or -2
        self.left = left
        return self.limit is not None and self.total >= self.limit

    def end(self) -> bool:
        """Frame the body received so far into the result's events (also on timeout and truncation)."""
        if self.chunked and self.k < len(self.pieces):
            with contextlib.suppress(ValueError):
                self._dechunk()
        res = self.res
        events, times = frame_events(self.payloads, self.payload_times)
        self.payloads, self.payload_times = [], []
        if self.error_body:
            res.body = b"\n\n".join(events)
            res.error = f"HTTP {res.status}: " + res.body[:500].decode("utf-8", "replace")
        else:
            res.events, res.event_times_ns = events, times
        return True

    def eof(self) -> bool:
        """The peer closed: True when that legitimately ends a close-delimited body."""
        if self.in_head or self.chunked or self.remaining is not None:
            return False
        self.end()
        return True


class ReactorClient:
    """One keep-alive HTTP/1.1 connection per user, read by a hub callback (same API as `StreamClient`).

    `timeout` bounds the whole request from its send (a stalled stream ends as `timeout` after it);
    `connect_timeout` bounds the TCP connect.
    """

    def __init__(
        self,
        endpoint: Endpoint,
        headers: dict[str, str],
        *,
        timeout: float = 120.0,
        connect_timeout: float = 10.0,
    ) -> None:
        if endpoint.scheme != "http":
            raise ValueError("ReactorClient speaks plain HTTP; use open_client() for https endpoints")
        self.endpoint = endpoint
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self._header_block = header_block(endpoint, headers)
        self._sock: Any = None  # a raw `_socket.socket`, non-blocking
        self._watcher: Any = None
        self._ex: _Exchange | None = None
        self._waiter: Waiter[StreamResult] | None = None

    def close(self) -> None:
        """Close the connection (the next request opens a new one)."""
        if self._watcher is not None:
            self._watcher.stop()
            self._watcher.close()
            self._watcher = None
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def _connect(self) -> None:
        sock = socket.create_connection(
            (self.endpoint.host, self.endpoint.port), timeout=self.connect_timeout
        )
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        raw = _socket.socket(sock.family, sock.type, sock.proto, fileno=sock.detach())
        raw.setblocking(False)
        self._sock = raw
        self._watcher = gevent.get_hub().loop.io(raw.fileno(), _READ)

    def post_stream(self, path: str, body: bytes) -> StreamResult:
        """POST `body` to base path + `path`; the calling greenlet sleeps until the response has ended."""
        request = post_request(self.endpoint, self._header_block, path, body)
        reused = self._sock is not None
        result = self._attempt(request)
        if reused and result.transport in ("truncated", "connect_error") and result.status is None:
            result = self._attempt(request)  # the server closed an idle keep-alive connection: retry once
        return result

    def _attempt(self, request: bytes) -> StreamResult:
        res = StreamResult(transport="complete", t_send_ns=perf_counter_ns())
        try:
            if self._sock is None:
                self._connect()
                res.t_send_ns = perf_counter_ns()
            self._send(request)
        except OSError as exc:  # refused, unreachable, connect timeout, reset while sending
            self.close()
            res.transport, res.error, res.t_end_ns = "connect_error", _describe(exc), perf_counter_ns()
            return res
        ex = self._ex = _Exchange(res)
        waiter: Waiter[StreamResult] = Waiter()
        self._waiter = waiter
        loop = gevent.get_hub().loop
        loop.update_now()  # libev timers count from the loop's cached time, stale if the hub was idle
        timer = loop.timer(self.timeout)
        timer.start(self._on_timeout)
        self._watcher.start(self._on_readable)
        try:
            waiter.get()
        except GreenletExit:  # the run stopped mid-stream: hand back what arrived, then let the kill proceed
            if self._ex is ex:
                ex.end()
            self.close()
            res.transport, res.error = "cancelled", "the run stopped while this request was in flight"
            res.t_end_ns = perf_counter_ns()
            raise StreamCancelled(res) from None
        finally:
            timer.stop()
            timer.close()
            if self._watcher is not None:
                self._watcher.stop()
            self._ex = self._waiter = None
        if res.t_end_ns == 0:
            res.t_end_ns = perf_counter_ns()
        return res

    def _send(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            try:
                sent = self._sock.send(view)
            except BlockingIOError:
                gevent.socket.wait_write(self._sock.fileno(), timeout=self.timeout)
                continue
            view = view[sent:]

    def _finish(self, keep: bool) -> None:
        """Hand the result to the waiting user (runs in the hub)."""
        ex, waiter = self._ex, self._waiter
        if ex is None or waiter is None:
            return
        ex.res.t_end_ns = perf_counter_ns()
        self._watcher.stop()
        self._ex = None
        if not keep:
            self.close()
        waiter.switch(ex.res)

    def _fail(self, ex: _Exchange, transport: str, error: str) -> None:
        ex.res.transport, ex.res.error = transport, error
        ex.end()
        self._finish(False)

    def _on_readable(self) -> None:
        """The hot path: one `recv` and one clock read per wake-up; the bytes are only stored."""
        ex = self._ex
        if ex is None:
            return
        try:
            data = self._sock.recv(RECV_SIZE)
        except BlockingIOError:
            return
        except OSError as exc:
            self._fail(ex, "truncated", _describe(exc))
            return
        t = perf_counter_ns()
        if not data:
            if ex.eof():
                self._finish(False)
            else:
                self._fail(ex, "truncated", "connection closed before the response ended")
            return
        try:
            done = ex.feed(data, t)
        except ValueError as exc:  # malformed head or chunk size
            self._fail(ex, "truncated", _describe(exc))
            return
        if done:  # an error body cut at MAX_ERROR_BODY leaves unread bytes: that connection cannot be reused
            self._finish(ex.keep and not (ex.error_body and ex.total >= MAX_ERROR_BODY))

    def _on_timeout(self) -> None:
        ex = self._ex
        if ex is not None:
            self._fail(ex, "timeout", f"no complete response within the {self.timeout:g}s timeout")


def open_client(
    endpoint: Endpoint, headers: dict[str, str], *, timeout: float = 120.0
) -> ReactorClient | StreamClient:
    """The lean hub-callback client for http://, the greenlet-socket `StreamClient` for https://."""
    if endpoint.scheme == "http":
        return ReactorClient(endpoint, headers, timeout=timeout)
    return StreamClient(endpoint, headers, timeout=timeout)
