"""A lean HTTP/1.1 streaming client read from its user's greenlet: one keep-alive connection, TLS when asked.

Per request it records `perf_counter_ns` at the send, at the response head, and at every `recv`; the
bytes go to `maascheck.load.client.exchange.ResponseReader` (the same reader as the reactor's), which
frames SSE events at the end, each stamped with the arrival of its first byte. Nothing is parsed as
JSON here (`maascheck.load.measure.events` does that after the stream). The socket timeout of every
`recv` is the time left until the nearest time bound (head, idle, deadline), so a silent or dripping
server ends the exchange on time.

Sockets come from the stdlib `socket`/`ssl` modules, so under Locust (gevent monkey-patching) every recv
yields to the hub; outside gevent the client is plain blocking I/O. Why this client and not httpx or
geventhttpclient: see `docs/load-client.md` (measured figures).

Every failure is a transport kind, never an exception (`maascheck.load.client.result.Transport`).
"""

from __future__ import annotations

import socket
import ssl
from time import perf_counter_ns

from gevent import GreenletExit

from maascheck.load.client.exchange import ResponseReader
from maascheck.load.client.http11 import Endpoint, connect_failure, describe, header_block, post_request
from maascheck.load.client.limits import BoundExceeded, Limits
from maascheck.load.client.result import StreamResult, cancelled
from maascheck.load.client.reuse import peer_closed, send_once_more

RECV_SIZE = 65536


class StreamClient:
    """One keep-alive HTTP/1.1 connection that streams POST responses (http or https).

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
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.limits = limits or Limits.for_timeout(timeout)
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

    def warm(self) -> None:
        """Open the connection now if none is open (a failure is left to the next request to report)."""
        if self._sock is None:
            try:
                self._sock = self._connect()
            except OSError:
                self.close()

    def _connect(self) -> socket.socket:
        sock = socket.create_connection((self.endpoint.host, self.endpoint.port), timeout=self.limits.connect_s)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self._ssl is not None:
            sock = self._ssl.wrap_socket(sock, server_hostname=self.endpoint.host)
        return sock

    def post_stream(self, path: str, body: bytes) -> StreamResult:
        """POST `body` to base path + `path` and read the whole (streamed) response."""
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
                self._sock = self._connect()
                res.t_send_ns = perf_counter_ns()
                res.connect_ns = res.t_send_ns - t_connect
            self._sock.settimeout(self.limits.deadline_s)
            self._sock.sendall(request)
        except OSError as exc:  # refused, unreachable, DNS, TLS handshake, connect timeout
            self.close()
            res.transport, res.error = connect_failure(exc, self.limits)
            res.t_end_ns = perf_counter_ns()
            return res
        except GreenletExit:  # the run stopped while connecting or sending: a cancelled request, recorded
            self.close()
            raise cancelled(res) from None
        reader = ResponseReader(res, self.limits)
        try:
            keep = self._read(self._sock, reader)
        except GreenletExit:  # the run stopped mid-stream: hand back the events framed so far
            reader.end()
            self.close()
            raise cancelled(res) from None
        res.t_end_ns = perf_counter_ns()
        if not keep:
            self.close()
        return res

    def _read(self, sock: socket.socket, reader: ResponseReader) -> bool:
        """Feed the response to `reader` until it ends or fails; returns whether the connection may be reused."""
        res = reader.res
        while True:
            now = perf_counter_ns()
            late = reader.overdue(now)
            if late is not None:
                reader.fail(*late)
                return False
            try:
                sock.settimeout(max(reader.wait_s(now), 0.001))
                n = sock.recv_into(self._buf)
            except TimeoutError:
                continue  # `overdue` names the bound at the top of the loop
            except OSError as exc:
                reader.fail("truncated", describe(exc))
                return False
            t = perf_counter_ns()
            if n == 0:
                if reader.eof():
                    return False
                reader.fail("truncated", "connection closed before the response ended")
                return False
            res.recvs += 1
            try:
                if reader.feed(bytes(self._view[:n]), t):
                    return reader.keep
            except BoundExceeded as exc:
                reader.fail(exc.kind, str(exc))
                return False
