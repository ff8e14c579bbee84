"""The Locust worker's streaming client: stream sockets read by callbacks in the gevent hub, not by greenlets.

`maascheck.load.client.lean.StreamClient` reads each socket from its user's greenlet: every SSE chunk costs a
failed non-blocking `recv` (EAGAIN), an io-watcher start/stop and two greenlet switches (user -> hub
-> user) before the successful `recv`. Here the user greenlet only sends the request and then sleeps
on a `gevent.hub.Waiter`; the socket gets a libev io watcher whose callback runs *inside the hub*
when the socket is readable: one `recv`, one `perf_counter_ns`, and the bytes are stored with their
arrival time by `maascheck.load.client.exchange.ResponseReader` (no parsing per chunk). The waiting
user is switched to once, when the response has ended (or failed, or passed a bound); SSE events are
then framed in one pass. A repeating libev timer (`Limits.tick_s`) checks the head, idle and deadline
bounds, so the hot path only stores the time of the last read.

Timestamps: the callback reads the clock right after `recv` returned, so each event gets the
arrival time of the read that delivered its first byte, as in `StreamClient` (AIPerf's first-byte
rule). If the user's greenlet is killed mid-stream (the run stopped), `StreamCancelled` carries what
had arrived, with transport "cancelled".

Plain HTTP only: HTTPS endpoints use `StreamClient` (`open_client` picks). Results are the same
`StreamResult`s, with the same transport kinds (`maascheck.load.client.result.Transport`).
"""

from __future__ import annotations

import _socket
import socket
from time import perf_counter_ns
from typing import Any

import gevent
import gevent.socket
from gevent import GreenletExit
from gevent.hub import Waiter

from maascheck.load.client.exchange import FailKind, ResponseReader
from maascheck.load.client.http11 import Endpoint, connect_failure, describe, header_block, post_request
from maascheck.load.client.lean import RECV_SIZE, StreamClient
from maascheck.load.client.limits import BoundExceeded, Limits
from maascheck.load.client.result import StreamResult, cancelled
from maascheck.load.client.reuse import peer_closed, send_once_more

_READ = 1  # libev EV_READ


class ReactorClient:
    """One keep-alive HTTP/1.1 connection per user, read by a hub callback (same API as `StreamClient`).

    `limits` bounds every wait and size of an exchange; `timeout` (when `limits` is not given) is
    its deadline, with the default head and idle bounds capped at it.
    """

    def __init__(
        self,
        endpoint: Endpoint,
        headers: dict[str, str],
        *,
        timeout: float = 120.0,
        limits: Limits | None = None,
    ) -> None:
        if endpoint.scheme != "http":
            raise ValueError("ReactorClient speaks plain HTTP; use open_client() for https endpoints")
        self.endpoint = endpoint
        self.limits = limits or Limits.for_timeout(timeout)
        self._header_block = header_block(endpoint, headers)
        self._sock: Any = None  # a raw `_socket.socket`, non-blocking
        self._watcher: Any = None
        self._ex: ResponseReader | None = None
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

    def warm(self) -> None:
        """Open the connection now if none is open (a failure is left to the next request to report)."""
        if self._sock is None:
            try:
                self._connect()
            except OSError:
                self.close()

    def _connect(self) -> None:
        sock = socket.create_connection(
            (self.endpoint.host, self.endpoint.port), timeout=self.limits.connect_s
        )
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        raw = _socket.socket(sock.family, sock.type, sock.proto, fileno=sock.detach())
        raw.setblocking(False)
        self._sock = raw
        self._watcher = gevent.get_hub().loop.io(raw.fileno(), _READ)

    def post_stream(self, path: str, body: bytes) -> StreamResult:
        """POST `body` to base path + `path`; the calling greenlet sleeps until the response has ended."""
        request = post_request(self.endpoint, self._header_block, path, body)
        reconnect = self._sock is not None and peer_closed(self._sock.fileno())
        if reconnect:  # the server closed the idle keep-alive connection: replace it before sending
            self.close()
        return send_once_more(lambda: self._attempt(request), reused=self._sock is not None, reconnected=reconnect)

    def _attempt(self, request: bytes) -> StreamResult:
        res = StreamResult(transport="complete", t_send_ns=perf_counter_ns(), reused=self._sock is not None)
        t_connect = res.t_send_ns
        try:
            if self._sock is None:
                self._connect()
                res.t_send_ns = perf_counter_ns()
                res.connect_ns = res.t_send_ns - t_connect
            self._send(request)
        except OSError as exc:  # refused, unreachable, connect timeout, reset while sending
            self.close()
            res.transport, res.error = connect_failure(exc, self.limits)
            res.t_end_ns = perf_counter_ns()
            return res
        except GreenletExit:  # the run stopped while connecting or sending: a cancelled request, recorded
            self.close()
            raise cancelled(res) from None
        ex = self._ex = ResponseReader(res, self.limits)
        waiter: Waiter[StreamResult] = Waiter()
        self._waiter = waiter
        loop = gevent.get_hub().loop
        loop.update_now()  # libev timers count from the loop's cached time, stale if the hub was idle
        tick = self.limits.tick_s
        timer = loop.timer(tick, tick)
        timer.start(self._on_tick)
        self._watcher.start(self._on_readable)
        try:
            waiter.get()
        except GreenletExit:  # the run stopped mid-stream: hand back what arrived, then let the kill proceed
            if self._ex is ex:
                ex.end()
            self.close()
            raise cancelled(res) from None
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
                gevent.socket.wait_write(self._sock.fileno(), timeout=self.limits.deadline_s)
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

    def _fail(self, ex: ResponseReader, kind: FailKind, error: str) -> None:
        ex.fail(kind, error)
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
            self._fail(ex, "truncated", describe(exc))
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
        except BoundExceeded as exc:  # a size bound, or bytes that are not HTTP/1.1
            self._fail(ex, exc.kind, str(exc))
            return
        if done:
            self._finish(ex.keep)

    def _on_tick(self) -> None:
        ex = self._ex
        if ex is None:
            return
        late = ex.overdue(perf_counter_ns())
        if late is not None:
            self._fail(ex, *late)


def open_client(
    endpoint: Endpoint, headers: dict[str, str], *, timeout: float = 120.0, limits: Limits | None = None
) -> ReactorClient | StreamClient:
    """The lean hub-callback client for http://, the greenlet-socket `StreamClient` for https://."""
    if endpoint.scheme == "http":
        return ReactorClient(endpoint, headers, timeout=timeout, limits=limits)
    return StreamClient(endpoint, headers, timeout=timeout, limits=limits)
