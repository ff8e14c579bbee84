"""Records one HTTP exchange over a real socket, with bounded waits and classified transport failures.

A misbehaving endpoint (stalls, truncated or oversized bodies, broken framing) yields an `Exchange`
whose `error`/`error_kind` say what happened; it never raises and never hangs past the timeouts.

One failure is the client's, not the endpoint's: a server may close an idle keep-alive connection at
any time (RFC 9112 §9.3 and §9.6), without `Connection: close`, e.g. uvicorn after an unhandled
exception. A request that the pool sent on such a connection dies before any response byte. Such a
request is retried once on a fresh connection, as browsers do for any method (Chromium's
`HttpNetworkTransaction::ShouldResendRequest`: a reused socket, reset or closed, nothing received)
and urllib3 and Go's net/http do for idempotent or replayable requests. RFC 9112 §9.3.1 allows a
non-idempotent retry when the client knows the semantics are idempotent: every probe is a stateless
read (a completion changes nothing on the server but its bill). A request that fails on a fresh
connection, or after a response byte, or by a timeout, is never retried: that failure is the
endpoint's. The failed attempt is kept (`Exchange.prior_attempt`) and shown in the evidence.
"""

from __future__ import annotations

import json
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import httpcore
import httpx

from maascheck.conformance.model.exchange import Exchange
from maascheck.conformance.transport.sse import MAX_EVENT_BYTES, MAX_LINE_BYTES, SSEParser
from maascheck.conformance.transport.transient import TRANSIENT_STATUSES, TransientPolicy, transient_note
from maascheck.core import safe_json

MIB = 1024 * 1024
WRONG_KEY = "maascheck-wrong-key-0123456789"
ACCEPT_ENCODING = "gzip, deflate"  # what the recorder can inflate within its bounds


@dataclass(frozen=True)
class Timeouts:
    """Bounded waits, in seconds: connect, the final response head (1xx answers included), silence between
    body bytes, and the whole exchange. Defaults leave room for long reasoning streams."""

    connect: float = 10.0
    headers: float = 120.0
    stall: float = 20.0
    total: float = 600.0


DEFAULT_TIMEOUTS = Timeouts()
"""The defaults every face of the suite starts from (the option table, the SDK transport, the client matrix)."""


@dataclass(frozen=True)
class Limits:
    """Caps on what one response may make the suite hold: decoded bytes (after any Content-Encoding), one
    SSE line, one SSE event, events per stream, JSON nesting depth. Each names its option in the evidence."""

    response_bytes: int = 16 * MIB
    line_bytes: int = MAX_LINE_BYTES
    event_bytes: int = MAX_EVENT_BYTES
    events: int = 10_000
    json_depth: int = safe_json.MAX_DEPTH
    run_bytes: int = 128 * MIB


EVENT_OVERHEAD = 1500
"""Bytes one parsed event holds besides twice its data (the data, the strings of its parsed JSON): the
event object and the JSON's containers."""


class RunBytes:
    """What every response of one run may hold in memory together (bodies, events), counted as they arrive.

    A run keeps every exchange for its rules and reports, so without this bound a target answering
    each of ~100 probes with the response cap would hold GBs; with it, memory stays near the bound.
    """

    def __init__(self, limit: int) -> None:
        self.limit, self.used = limit, 0
        self._lock = threading.Lock()

    def take(self, n: int) -> bool:
        """Account for `n` more bytes; False when that passes the bound (they are counted anyway)."""
        with self._lock:
            self.used += n
            return self.used <= self.limit

    def message(self) -> str:
        """The bound that tripped, stated."""
        return (
            f"the run's responses together passed --max-run-bytes {self.limit} ({self.limit / MIB:g} MiB of "
            "bodies and events held for the rules); reading stopped"
        )


BODY_CAP = Limits().response_bytes  # the default response cap (the SDK transport shares it)


def encode_body(body: dict[str, Any] | bytes | str | None) -> bytes | None:
    """The request body as bytes: JSON objects are serialised compactly, bytes are sent as given."""
    if body is None:
        return None
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode("utf-8")
    return json.dumps(body, ensure_ascii=False).encode("utf-8")


def auth_headers(api_key: str | None, auth: str) -> list[tuple[str, str]]:
    """The Authorization header for auth mode `valid`, `wrong` or `none`."""
    if auth == "none":
        return []
    if auth == "wrong":
        return [("Authorization", f"Bearer {WRONG_KEY}")]
    if auth != "valid":
        raise ValueError(f"unknown auth mode {auth!r}; valid: valid, wrong, none")
    return [("Authorization", f"Bearer {api_key}")] if api_key else []


class _Wire(threading.local):
    """What the current thread's request attempt did on the wire (httpcore's sync pool runs in the caller)."""

    def __init__(self) -> None:
        self.fresh = False  # the attempt opened a new connection
        self.received = 0  # response bytes the attempt read from its socket
        self.head_deadline: int | None = None  # perf_counter_ns by which the final response head must be in
        self.deadline: int | None = None  # perf_counter_ns by which the whole exchange must be over
        self.tripped: str | None = None  # "head" | "total": the deadline that ended a read

    def reset(self, head_deadline: int | None = None, deadline: int | None = None) -> None:
        """Start a new attempt, with its deadlines."""
        self.fresh, self.received, self.tripped = False, 0, None
        self.head_deadline, self.deadline = head_deadline, deadline

    def earliest(self) -> tuple[int, str] | None:
        """The nearest deadline still running, and its name."""
        running = [(d, n) for d, n in ((self.head_deadline, "head"), (self.deadline, "total")) if d is not None]
        return min(running) if running else None


class _WireStream(httpcore.NetworkStream):
    """A socket stream that counts the bytes it reads into the thread's `_Wire`."""

    def __init__(self, inner: httpcore.NetworkStream, wire: _Wire) -> None:
        self._inner, self._wire = inner, wire

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        """Read under the attempt's deadlines too: a server that drips bytes or 1xx answers cannot outlast them."""
        wire = self._wire
        bound = wire.earliest()
        if bound is not None:
            remaining = (bound[0] - time.perf_counter_ns()) / 1e9
            if remaining <= 0:
                wire.tripped = bound[1]
                raise httpcore.ReadTimeout(f"the {bound[1]} deadline passed")
            timeout = remaining if timeout is None else min(timeout, remaining)
        try:
            data = self._inner.read(max_bytes, timeout)
        except httpcore.ReadTimeout:
            if bound is not None and time.perf_counter_ns() >= bound[0] - 5_000_000:
                wire.tripped = bound[1]
            raise
        wire.received += len(data)
        return data

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, timeout)

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        return _WireStream(self._inner.start_tls(ssl_context, server_hostname, timeout), self._wire)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _WireBackend(httpcore.NetworkBackend):
    """httpcore's socket backend, marking each new connection in the thread's `_Wire`."""

    def __init__(self, wire: _Wire) -> None:
        self._inner, self._wire = httpcore.SyncBackend(), wire

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        stream = self._inner.connect_tcp(host, port, timeout, local_address, socket_options)
        self._wire.fresh = True
        return _WireStream(stream, self._wire)

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        stream = self._inner.connect_unix_socket(path, timeout, socket_options)
        self._wire.fresh = True
        return _WireStream(stream, self._wire)

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class _WireTransport(httpx.HTTPTransport):
    """httpx's transport on a pool whose sockets report to a `_Wire` (httpx has no network-backend option)."""

    def __init__(self, limits: httpx.Limits, wire: _Wire) -> None:
        super().__init__(limits=limits, trust_env=False)
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_WireBackend(wire),
        )


# What a dead keep-alive connection raises besides an EOF (RemoteProtocolError): a reset or a broken pipe.
_RESET_ERRORS = (httpx.ReadError, httpx.WriteError)


def _again(ex: Exchange) -> Exchange:
    """A new request exactly like the one `ex` made."""
    return Exchange(ex.probe, ex.method, ex.url, ex.request_headers, ex.request_body)


class Recorder:
    """Makes requests against one base URL and records each as an `Exchange` (thread-safe).

    `may_retry` is asked before the one retry of a request that died on a reused keep-alive
    connection (module docstring); the runner passes its request budget, so a retry is a request
    the endpoint received and is counted like any other. Without it, retries are always allowed.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str | None,
        timeouts: Timeouts | None = None,
        *,
        may_retry: Callable[[], bool] | None = None,
        limits: Limits | None = None,
        run_timeout: float | None = None,
        transient: TransientPolicy | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.run_timeout = run_timeout
        self.run_deadline = None if run_timeout is None else time.perf_counter_ns() + int(run_timeout * 1e9)
        self.api_key = api_key
        self.timeouts = timeouts or Timeouts()
        self.limits = limits or Limits()
        self.run_bytes = RunBytes(self.limits.run_bytes)
        self._may_retry = may_retry or (lambda: True)
        self._transient = transient or TransientPolicy()
        self._wire = _Wire()
        t = self.timeouts
        pool_limits = httpx.Limits(max_connections=32, max_keepalive_connections=16)
        self._client = httpx.Client(
            timeout=httpx.Timeout(connect=t.connect, read=t.headers, write=t.connect, pool=t.total),
            transport=_WireTransport(pool_limits, self._wire),
            follow_redirects=False,
            trust_env=False,
        )

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()

    def run_over(self) -> bool:
        """Whether the whole run's deadline (`run_timeout`) has passed."""
        return self.run_deadline is not None and time.perf_counter_ns() >= self.run_deadline

    def run_over_reason(self) -> str:
        """Why no more requests are made."""
        return f"the run passed --run-timeout {self.run_timeout:g} s; no further request was made"

    def url(self, path: str) -> str:
        """The absolute URL of `path` below the base URL."""
        return self.base_url + (path if path.startswith("/") else "/" + path)

    def record(
        self,
        probe: str,
        method: str,
        path: str,
        body: dict[str, Any] | bytes | str | None = None,
        *,
        auth: str = "valid",
        headers: tuple[tuple[str, str], ...] = (),
    ) -> Exchange:
        """Send one request and record everything that comes back, or how it failed.

        A request that died on a reused keep-alive connection before any response byte is sent
        once more on a fresh connection (module docstring); the failed attempt is kept in the
        returned exchange's `prior_attempt`.
        """
        raw = encode_body(body)
        req_headers = [("Accept", "application/json, text/event-stream"), ("Accept-Encoding", ACCEPT_ENCODING)]
        if raw is not None:
            req_headers.append(("Content-Type", "application/json"))
        req_headers += auth_headers(self.api_key, auth) + list(headers)
        return self.send(Exchange(probe, method, self.url(path), req_headers, raw))

    def send(self, request: Exchange) -> Exchange:
        """Send the request `request` describes, exactly as described; the exchange recorded (module docstring)."""
        ex, stale = self.exchange(request)
        if stale:
            note = "it failed on a reused keep-alive connection before any response byte"
            if not self._may_retry():
                ex.error = f"{ex.error} ({note}; not retried: request budget exhausted)"
                return ex
            ex.error = f"{ex.error} ({note}; retried once on a fresh connection)"
            retry, _ = self.exchange(_again(ex), fresh=True)
            retry.prior_attempt = ex
            ex = retry
        return self._outwait_transient(ex)

    def _outwait_transient(self, ex: Exchange) -> Exchange:
        """Retry a 429/503 answer as `Retry-After` asks, within the policy and the budget (transient.py)."""
        done = 0
        while (wait := self._transient.wait_before_retry(ex, done)) is not None:
            if self.run_deadline is not None and time.perf_counter_ns() + int(wait * 1e9) >= self.run_deadline:
                break  # the wait would outlast the run: the answer stays transient
            if not self._may_retry():
                break
            time.sleep(wait)
            retry, _ = self.exchange(_again(ex))
            retry.prior_attempt = ex
            ex, done = retry, done + 1
        if ex.status in TRANSIENT_STATUSES:
            ex.transient = transient_note(ex, done, self._transient)
        return ex

    def exchange(self, ex: Exchange, *, fresh: bool = False) -> tuple[Exchange, bool]:
        """Send the request `ex` describes, exactly as described, and record the response into it.

        Returns the exchange and whether it died on a reused connection before any response byte.
        """
        t, limits = self.timeouts, self.limits
        ex.max_json_depth = limits.json_depth
        wants_stream = isinstance(ex.request_json, dict) and ex.request_json.get("stream") is True
        # A retry must not meet another stale pooled connection: it goes on a one-off client.
        client = self._fresh_client() if fresh else self._client
        stale = False
        t0 = time.perf_counter_ns()
        deadline = t0 + int(t.total * 1e9)
        by_run = self.run_deadline is not None and self.run_deadline < deadline
        if by_run and self.run_deadline is not None:
            deadline = self.run_deadline
        self._wire.reset(head_deadline=min(deadline, t0 + int(t.headers * 1e9)), deadline=deadline)
        try:
            with client.stream(ex.method, ex.url, content=ex.request_body, headers=ex.request_headers) as response:
                self._wire.head_deadline = None
                ex.headers_ns = time.perf_counter_ns() - t0
                ex.status = response.status_code
                # httpcore reads the read timeout when body reading starts: from here on, the stall bound.
                timeout_ext = response.request.extensions.get("timeout")
                if isinstance(timeout_ext, dict):
                    timeout_ext["read"] = t.stall
                ex.headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in response.headers.raw]
                parse_sse = ex.is_sse or (wants_stream and response.status_code == 200)
                inflater = Inflater.for_encoding(ex.header("content-encoding"))
                if isinstance(inflater, str):
                    _fail(ex, "protocol", inflater)
                else:
                    read_body(ex, response.iter_raw(), t0, limits, parse_sse, inflater, self.run_bytes)
        except httpx.ConnectTimeout as exc:
            _fail(ex, "connect", f"connect timed out after --connect-timeout {t.connect:g} s ({exc})")
        except httpx.ConnectError as exc:
            _fail(ex, "connect", f"cannot connect to {ex.url}: {exc}")
        except httpx.ReadTimeout:
            if self._wire.tripped == "total" and by_run:
                _fail(
                    ex,
                    "timeout",
                    f"{self.run_over_reason()[: -len('; no further request was made')]} "
                    f"during this exchange, after {len(ex.body)} body bytes; reading stopped",
                )
            elif self._wire.tripped == "total":
                _fail(
                    ex,
                    "timeout",
                    f"the exchange exceeded --exchange-timeout {t.total:g} s "
                    f"after {len(ex.body)} body bytes and {len(ex.events)} events; reading stopped",
                )
            elif ex.status is None:
                _fail(
                    ex,
                    "timeout",
                    f"no final response head within --head-timeout {t.headers:g} s "
                    f"({self._wire.received} bytes received, 1xx interim answers included)",
                )
            else:
                _fail(ex, "stall", f"no bytes for --stall-timeout {t.stall:g} s after {len(ex.body)} body bytes")
        except httpx.TimeoutException as exc:
            _fail(ex, "timeout", f"timed out: {exc!r}")
        except httpx.RemoteProtocolError as exc:
            kind = "truncated" if ex.status is not None else "protocol"
            _fail(ex, kind, f"connection closed before the response was complete: {exc}")
            stale = True
        except httpx.HTTPError as exc:
            _fail(ex, "protocol", f"HTTP error: {exc!r}")
            stale = isinstance(exc, _RESET_ERRORS)
        finally:
            self._wire.head_deadline = self._wire.deadline = None
            if fresh:
                client.close()
        ex.elapsed_ns = time.perf_counter_ns() - t0
        stale = stale and not self._wire.fresh and self._wire.received == 0 and ex.status is None
        return ex, stale

    def _fresh_client(self) -> httpx.Client:
        """A client with no pooled connection, for the one retry."""
        t = self.timeouts
        return httpx.Client(
            timeout=httpx.Timeout(connect=t.connect, read=t.headers, write=t.connect, pool=t.total),
            transport=_WireTransport(httpx.Limits(max_connections=1, max_keepalive_connections=0), self._wire),
            follow_redirects=False,
            trust_env=False,
        )


class Inflater:
    """Decodes a `Content-Encoding` (RFC 9110 §8.4: gzip, deflate, identity) without ever producing more than asked.

    A bomb (a few MB inflating to GBs) costs at most the response cap: `pieces` yields the decoded
    bytes of one raw chunk in pieces of at most `STEP` bytes, and stops once more than `room` came.
    """

    STEP = 256 * 1024

    def __init__(self, wbits: int | None) -> None:
        self.wbits = wbits
        self._z = zlib.decompressobj(wbits) if wbits is not None else None
        self._started = False

    @classmethod
    def for_encoding(cls, header: str | None) -> Inflater | str:
        """The inflater of a Content-Encoding header value, or why it cannot be read."""
        coding = (header or "").strip().lower()
        if coding in ("", "identity"):
            return cls(None)
        if coding in ("gzip", "x-gzip"):
            return cls(31)
        if coding == "deflate":
            return cls(15)
        return (
            f"Content-Encoding {coding[:60]!r} is not one the request accepted "
            f"(Accept-Encoding: {ACCEPT_ENCODING}, RFC 9110 §12.5.3); the body was not read"
        )

    @property
    def compressed(self) -> bool:
        """Whether the body is compressed."""
        return self._z is not None

    def pieces(self, data: bytes, room: int) -> Iterator[bytes]:
        """The decoded bytes of `data`, `STEP` at most at a time, ending after the piece that passes `room`."""
        if self._z is None:
            yield data
            return
        if not self._started and self.wbits == 15:
            self._started = True
            try:  # "deflate" is zlib-wrapped (RFC 9110 §8.4.1.2); some servers send raw deflate
                first = self._z.decompress(data, self.STEP)
            except zlib.error:
                self._z = zlib.decompressobj(-15)
                first = self._z.decompress(data, self.STEP)
        else:
            self._started = True
            first = self._z.decompress(data, self.STEP)
        produced = len(first)
        yield first
        while self._z.unconsumed_tail and produced <= room:
            piece = self._z.decompress(self._z.unconsumed_tail, self.STEP)
            produced += len(piece)
            yield piece


def read_body(
    ex: Exchange,
    chunks: Iterator[bytes],
    t0: int,
    limits: Limits,
    parse_sse: bool,
    inflater: Inflater,
    run_bytes: RunBytes | None = None,
) -> None:
    """Read raw body `chunks` into `ex` (decoded, SSE-parsed when `parse_sse`) until the end or a bound trips."""
    parser = (
        SSEParser(
            max_line_bytes=limits.line_bytes, max_event_bytes=limits.event_bytes, max_json_depth=limits.json_depth
        )
        if parse_sse
        else None
    )
    buf = bytearray()
    try:
        for raw in chunks:
            now = time.perf_counter_ns()
            try:
                for data in inflater.pieces(raw, limits.response_bytes - len(buf)):
                    _take(ex, data, buf, parser, now - t0, limits, inflater.compressed, run_bytes)
                    if ex.error is not None:
                        break
            except zlib.error as exc:
                _fail(ex, "protocol", f"the {ex.header('content-encoding')} body does not decode: {exc}")
            if ex.error is not None:
                break
    finally:
        ex.body = bytes(buf)
        if parser is not None:
            ex.sse_comments = parser.comments
            ex.sse_tail = parser.tail
    if parser is not None and ex.error is None and parser.pending:
        _fail(ex, "truncated", f"stream ended inside an event (unterminated tail {parser.tail[:200]!r})")


def _take(
    ex: Exchange,
    data: bytes,
    buf: bytearray,
    parser: SSEParser | None,
    t_ns: int,
    limits: Limits,
    compressed: bool,
    run_bytes: RunBytes | None,
) -> None:
    """Add decoded `data` to the body (and the stream's events), failing `ex` when a size bound is passed."""
    room = limits.response_bytes - len(buf)
    over = len(data) > room
    data = data[:room]
    buf += data
    cost = len(data)
    if parser is not None:
        events = parser.feed(data, t_ns)
        cost += sum(2 * len(ev.data) + EVENT_OVERHEAD for ev in events)  # the data and its parsed JSON
        ex.events.extend(events)
    if run_bytes is not None and not run_bytes.take(cost):
        ex.body_truncated = True
        _fail(ex, "too_large", run_bytes.message())
        return
    if parser is not None:
        if parser.overflow is not None:
            _fail(ex, parser.overflow_kind or "too_large", parser.overflow)
            return
        if len(ex.events) > limits.events:
            del ex.events[limits.events :]
            _fail(
                ex,
                "too_many_events",
                f"the stream passed --max-events {limits.events} events without ending; reading stopped",
            )
            return
    if over:
        ex.body_truncated = True
        after = " after decompression" if compressed else ""
        _fail(
            ex,
            "too_large",
            f"the response exceeds --max-response-bytes {limits.response_bytes} "
            f"({limits.response_bytes / MIB:g} MiB){after}; reading stopped",
        )


def _fail(ex: Exchange, kind: str, message: str) -> None:
    if ex.error is None:
        ex.error_kind, ex.error = kind, message
