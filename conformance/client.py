"""Records one HTTP exchange over a real socket, with bounded waits and classified transport failures.

A misbehaving endpoint (stalls, truncated or oversized bodies, broken framing) yields an `Exchange`
whose `error`/`error_kind` say what happened; it never raises and never hangs past the timeouts.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx

from conformance.exchange import Exchange
from conformance.sse import SSEParser

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


class Recorder:
    """Makes requests against one base URL and records each as an `Exchange` (thread-safe)."""

    def __init__(self, base_url: str, api_key: str | None, timeouts: Timeouts | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.timeouts = timeouts or Timeouts()
        t = self.timeouts
        self._client = httpx.Client(
            timeout=httpx.Timeout(connect=t.connect, read=t.headers, write=t.connect, pool=t.total),
            limits=httpx.Limits(max_connections=32, max_keepalive_connections=16),
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
        """Send one request and record everything that comes back, or how it failed."""
        raw = encode_body(body)
        req_headers = [("Accept", "application/json, text/event-stream")]
        if raw is not None:
            req_headers.append(("Content-Type", "application/json"))
        req_headers += auth_headers(self.api_key, auth) + list(headers)
        ex = Exchange(
            probe=probe, method=method, url=self.url(path), request_headers=req_headers, request_body=raw
        )
        wants_stream = isinstance(ex.request_json, dict) and ex.request_json.get("stream") is True
        t0 = time.perf_counter_ns()
        try:
            with self._client.stream(method, ex.url, content=raw, headers=req_headers) as response:
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
        except httpx.HTTPError as exc:
            _fail(ex, "protocol", f"HTTP error: {exc!r}")
        ex.elapsed_ns = time.perf_counter_ns() - t0
        return ex


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
