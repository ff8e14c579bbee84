"""The Locust worker's streaming client: stream sockets read by callbacks in the gevent hub, not by greenlets.

`loadtests.client.StreamClient` reads each socket from its user's greenlet: every SSE chunk costs a
failed non-blocking `recv` (EAGAIN), an io-watcher start/stop and two greenlet switches (user -> hub
-> user) before the successful `recv`. Here the user greenlet only sends the request and then sleeps
on a `gevent.hub.Waiter`; the socket gets a libev io watcher whose callback runs *inside the hub*
when the socket is readable: one `recv_into`, one `perf_counter_ns`, incremental chunked decoding and
SSE framing (`loadtests.client._Framer`), no greenlet switch per chunk. The waiting user is switched
to once, when the response has ended (or failed, or timed out).

Timestamps: the callback reads the clock right after `recv_into` returned, so each event gets the
arrival time of the read that delivered its first byte, as in `StreamClient` (AIPerf's first-byte
rule, `/work/shared/notes/load-metrics.md` §8).

Plain HTTP only: HTTPS endpoints use `StreamClient` (`open_client` picks). Results are the same
`StreamResult`s, with the same outcome rules (connect_error, timeout, http_error, truncated, complete).
"""

from __future__ import annotations

import _socket
import socket
from time import perf_counter_ns
from typing import Any

import gevent
import gevent.socket
from gevent.hub import Waiter

from loadtests.client import (
    MAX_ERROR_BODY,
    MAX_HEADER_BYTES,
    RECV_SIZE,
    Endpoint,
    StreamClient,
    StreamResult,
    _describe,
    _Framer,
    _parse_head,
)

_READ = 1  # libev EV_READ


class _Ended(Exception):
    """The response is complete (raised inside the parser to unwind to the callback)."""


class _Exchange:
    """The incremental parser of one response: head, then a chunked, length- or close-delimited body."""

    __slots__ = (
        "chunked", "error_body", "framer", "in_head", "keep", "left", "limit", "pos", "raw", "remaining",
        "res", "total",
    )  # fmt: skip

    def __init__(self, res: StreamResult) -> None:
        self.res = res
        self.framer = _Framer(res)
        self.raw = b""
        self.pos = 0
        self.left = -1  # chunked: data bytes still to come; -1 a size line is next; -2 the CRLF after data
        self.in_head = True
        self.chunked = False
        self.remaining: int | None = None  # Content-Length body: bytes still to come
        self.keep = False
        self.error_body = False
        self.total = 0
        self.limit: int | None = None

    def feed(self, data: bytes, t: int) -> bool:
        """Consume bytes that arrived at `t`; True when the response has ended."""
        if self.in_head:
            self.raw += data
            if self.raw.startswith(b"\r\n"):  # the CRLF closing the previous chunked body, if late
                self.raw = self.raw.lstrip(b"\r\n")
            end = self.raw.find(b"\r\n\r\n")
            if end < 0:
                if len(self.raw) > MAX_HEADER_BYTES:
                    raise ValueError(f"response headers exceed {MAX_HEADER_BYTES} bytes")
                return False
            return self._head(end, t)
        if self.chunked:
            return self._chunked(data, t)
        return self._plain(data, t)

    def _head(self, end: int, t: int) -> bool:
        res = self.res
        res.t_headers_ns = t
        status, headers, keep = _parse_head(self.raw[:end])
        res.status = status
        rest, self.raw, self.in_head = self.raw[end + 4 :], b"", False
        self.chunked = "chunked" in headers.get("transfer-encoding", "").lower()
        if "content-length" in headers and not self.chunked:
            self.remaining = int(headers["content-length"])
        self.keep = keep and (self.chunked or self.remaining is not None)
        if status >= 400:
            res.transport, self.error_body, self.limit = "http_error", True, MAX_ERROR_BODY
        if self.remaining == 0:
            return self._end()
        if not rest:
            return False
        return self._chunked(rest, t) if self.chunked else self._plain(rest, t)

    def _plain(self, data: bytes, t: int) -> bool:
        if self.remaining is not None:
            data = data[: self.remaining]
            self.remaining -= len(data)
        self.framer.feed(data, t)
        self.total += len(data)
        if self.remaining == 0 or (self.limit is not None and self.total >= self.limit):
            return self._end()
        return False

    def _chunked(self, data: bytes, t: int) -> bool:
        raw = self.raw[self.pos :] + data if self.pos < len(self.raw) else data
        pos, left, feed = 0, self.left, self.framer.feed
        n = len(raw)
        while True:
            if left == -1:
                eol = raw.find(b"\r\n", pos)
                if eol < 0:
                    break
                size = int(raw[pos:eol].split(b";", 1)[0], 16)
                pos = eol + 2
                if size == 0:  # trailers are not read: the server's CRLF stays unread or arrives later
                    self.raw, self.pos, self.left = b"", 0, -1
                    return self._end()
                left = size
            elif left == -2:
                if n - pos < 2:
                    break
                pos += 2
                left = -1
            else:
                if pos >= n:
                    break
                take = left if left < n - pos else n - pos
                feed(raw[pos : pos + take], t)
                self.total += take
                pos += take
                left = left - take or -2
        self.raw, self.pos, self.left = raw, pos, left
        if self.limit is not None and self.total >= self.limit:
            return self._end()
        return False

    def _end(self) -> bool:
        self.framer.finish()
        if self.error_body:
            body = b"\n\n".join(self.res.events)
            self.res.events.clear()
            self.res.event_times_ns.clear()
            self.res.body = body
            self.res.error = f"HTTP {self.res.status}: " + body[:500].decode("utf-8", "replace")
        return True

    def eof(self) -> bool:
        """The peer closed: True when that legitimately ends a close-delimited body."""
        if self.in_head or self.chunked or self.remaining is not None:
            return False
        self._end()
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
        host_header = endpoint.host if endpoint.port == 80 else f"{endpoint.host}:{endpoint.port}"
        fixed = {"Host": host_header, "Accept": "text/event-stream", "Content-Type": "application/json"}
        fixed.update(headers)
        self._header_block = "".join(f"{k}: {v}\r\n" for k, v in fixed.items()).encode("latin-1")
        self._sock: Any = None  # a raw `_socket.socket`, non-blocking
        self._watcher: Any = None
        self._buf = bytearray(RECV_SIZE)
        self._view = memoryview(self._buf)
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
        request = (
            f"POST {self.endpoint.base_path}{path} HTTP/1.1\r\n".encode("latin-1")
            + self._header_block
            + b"Content-Length: %d\r\n\r\n" % len(body)
            + body
        )
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
        self._ex = _Exchange(res)
        waiter: Waiter[StreamResult] = Waiter()
        self._waiter = waiter
        loop = gevent.get_hub().loop
        loop.update_now()  # libev timers count from the loop's cached time, stale if the hub was idle
        timer = loop.timer(self.timeout)
        timer.start(self._on_timeout)
        self._watcher.start(self._on_readable)
        try:
            waiter.get()
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

    def _on_readable(self) -> None:
        ex = self._ex
        if ex is None:
            return
        try:
            n = self._sock.recv_into(self._buf)
        except BlockingIOError:
            return
        except OSError as exc:
            ex.res.transport, ex.res.error = "truncated", _describe(exc)
            self._finish(False)
            return
        t = perf_counter_ns()
        if n == 0:
            if not ex.eof():
                ex.res.transport = "truncated"
                ex.res.error = "connection closed before the response ended"
            self._finish(False)
            return
        ex.res.recvs += 1
        try:
            done = ex.feed(bytes(self._view[:n]), t)
        except ValueError as exc:  # malformed head or chunk size
            ex.res.transport, ex.res.error = "truncated", _describe(exc)
            self._finish(False)
            return
        if done:  # an error body cut at MAX_ERROR_BODY leaves unread bytes: that connection cannot be reused
            self._finish(ex.keep and not (ex.error_body and ex.total >= MAX_ERROR_BODY))

    def _on_timeout(self) -> None:
        ex = self._ex
        if ex is None:
            return
        ex.framer.finish()
        ex.res.transport = "timeout"
        ex.res.error = f"no complete response within the {self.timeout:g}s timeout"
        self._finish(False)


def open_client(
    endpoint: Endpoint, headers: dict[str, str], *, timeout: float = 120.0
) -> ReactorClient | StreamClient:
    """The lean hub-callback client for http://, the greenlet-socket `StreamClient` for https://."""
    if endpoint.scheme == "http":
        return ReactorClient(endpoint, headers, timeout=timeout)
    return StreamClient(endpoint, headers, timeout=timeout)
