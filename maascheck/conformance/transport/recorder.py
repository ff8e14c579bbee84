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
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import httpcore
import httpx

from maascheck.conformance.model.exchange import Exchange
from maascheck.conformance.transport.sse import SSEParser

BODY_CAP = 4 * 1024 * 1024
WRONG_KEY = "maascheck-wrong-key-0123456789"


@dataclass(frozen=True)
class Timeouts:
    """Bounded waits, in seconds: connect, response headers, silence between stream bytes, whole exchange."""

    connect: float = 10.0
    headers: float = 60.0
    stall: float = 20.0
    total: float = 180.0


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

    def reset(self) -> None:
        """Start a new attempt."""
        self.fresh, self.received = False, 0


class _WireStream(httpcore.NetworkStream):
    """A socket stream that counts the bytes it reads into the thread's `_Wire`."""

    def __init__(self, inner: httpcore.NetworkStream, wire: _Wire) -> None:
        self._inner, self._wire = inner, wire

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        data = self._inner.read(max_bytes, timeout)
        self._wire.received += len(data)
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
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.timeouts = timeouts or Timeouts()
        self._may_retry = may_retry or (lambda: True)
        self._wire = _Wire()
        t = self.timeouts
        limits = httpx.Limits(max_connections=32, max_keepalive_connections=16)
        self._client = httpx.Client(
            timeout=httpx.Timeout(connect=t.connect, read=t.headers, write=t.connect, pool=t.total),
            transport=_WireTransport(limits, self._wire),
            follow_redirects=False,
            trust_env=False,
        )

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()

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
        ex, stale = self._attempt(probe, method, path, body, auth, headers)
        if not stale:
            return ex
        note = "it failed on a reused keep-alive connection before any response byte"
        if not self._may_retry():
            ex.error = f"{ex.error} ({note}; not retried: request budget exhausted)"
            return ex
        ex.error = f"{ex.error} ({note}; retried once on a fresh connection)"
        retry, _ = self._attempt(probe, method, path, body, auth, headers, fresh=True)
        retry.prior_attempt = ex
        return retry

    def _attempt(
        self,
        probe: str,
        method: str,
        path: str,
        body: dict[str, Any] | bytes | str | None,
        auth: str,
        headers: tuple[tuple[str, str], ...],
        *,
        fresh: bool = False,
    ) -> tuple[Exchange, bool]:
        """One attempt, and whether it died on a reused connection before any response byte."""
        raw = encode_body(body)
        req_headers = [("Accept", "application/json, text/event-stream")]
        if raw is not None:
            req_headers.append(("Content-Type", "application/json"))
        req_headers += auth_headers(self.api_key, auth) + list(headers)
        ex = Exchange(
            probe=probe, method=method, url=self.url(path), request_headers=req_headers, request_body=raw
        )
        wants_stream = isinstance(ex.request_json, dict) and ex.request_json.get("stream") is True
        # A retry must not meet another stale pooled connection: it goes on a one-off client.
        client = self._fresh_client() if fresh else self._client
        stale = False
        self._wire.reset()
        t0 = time.perf_counter_ns()
        try:
            with client.stream(method, ex.url, content=raw, headers=req_headers) as response:
                ex.headers_ns = time.perf_counter_ns() - t0
                ex.status = response.status_code
                # httpcore reads the read timeout when body reading starts: from here on, the stall bound.
                timeout_ext = response.request.extensions.get("timeout")
                if isinstance(timeout_ext, dict):
                    timeout_ext["read"] = self.timeouts.stall
                ex.headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in response.headers.raw]
                parse_sse = ex.is_sse or (wants_stream and response.status_code == 200)
                _read_body(ex, response.iter_bytes(), t0, self.timeouts.total, parse_sse)
        except httpx.ConnectTimeout as exc:
            _fail(ex, "connect", f"connect timed out after {self.timeouts.connect:g} s ({exc})")
        except httpx.ConnectError as exc:
            _fail(ex, "connect", f"cannot connect to {ex.url}: {exc}")
        except httpx.ReadTimeout:
            if ex.status is None:
                _fail(ex, "timeout", f"no response headers within {self.timeouts.headers:g} s")
            else:
                _fail(ex, "stall", f"no bytes for {self.timeouts.stall:g} s after {len(ex.body)} body bytes")
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


class TotalTimeout(Exception):
    """The whole exchange took longer than the total budget."""


def _read_body(ex: Exchange, chunks: Iterator[bytes], t0: int, total_s: float, parse_sse: bool) -> None:
    parser = SSEParser() if parse_sse else None
    deadline = t0 + int(total_s * 1e9)
    for chunk in chunks:
        now = time.perf_counter_ns()
        room = BODY_CAP - len(ex.body)
        ex.body += chunk[:room]
        if parser is not None:
            ex.events.extend(parser.feed(chunk[:room], now - t0))
        if len(chunk) > room:
            ex.body_truncated = True
            _fail(ex, "too_large", f"body exceeds the {BODY_CAP} byte cap; reading stopped")
            break
        if now > deadline:
            _fail(ex, "timeout", f"exchange exceeded the total timeout of {total_s:g} s; reading stopped")
            break
    if parser is not None:
        ex.sse_comments = parser.comments
        ex.sse_tail = parser.tail
        if ex.error is None and parser.pending:
            _fail(ex, "truncated", f"stream ended inside an event (unterminated tail {parser.tail[:200]!r})")


def _fail(ex: Exchange, kind: str, message: str) -> None:
    if ex.error is None:
        ex.error_kind, ex.error = kind, message
