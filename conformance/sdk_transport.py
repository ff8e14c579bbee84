"""An httpx transport that records every exchange a client library (the openai SDK) makes through it.

The wrapped response stream tees its bytes into an `Exchange` as the library reads them, so the
exchange holds exactly what the library consumed, with arrival times and parsed SSE events.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import httpx

from conformance.client import BODY_CAP
from conformance.exchange import Exchange
from conformance.sse import SSEParser


class _TeeStream(httpx.SyncByteStream):
    def __init__(self, inner: httpx.SyncByteStream, ex: Exchange, t0: int) -> None:
        self._inner, self._ex, self._t0 = inner, ex, t0
        self._parser = SSEParser() if ex.is_sse else None

    def __iter__(self) -> Iterator[bytes]:
        ex = self._ex
        try:
            for chunk in self._inner:
                room = BODY_CAP - len(ex.body)
                ex.body += chunk[:room]
                ex.body_truncated = ex.body_truncated or len(chunk) > room
                if self._parser is not None:
                    ex.events.extend(self._parser.feed(chunk[:room], time.perf_counter_ns() - self._t0))
                yield chunk
        except httpx.HTTPError as exc:
            ex.error_kind, ex.error = "truncated", f"{type(exc).__name__}: {exc}"
            raise
        finally:
            if self._parser is not None:
                ex.sse_comments, ex.sse_tail = self._parser.comments, self._parser.tail
            ex.elapsed_ns = time.perf_counter_ns() - self._t0

    def close(self) -> None:
        self._inner.close()


class RecordingTransport(httpx.BaseTransport):
    """Delegates to `httpx.HTTPTransport` and appends one `Exchange` per request to `exchanges`."""

    def __init__(self, probe: str) -> None:
        self.probe = probe
        self.exchanges: list[Exchange] = []
        self._inner = httpx.HTTPTransport()
        self._lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Send `request`, recording the request now and the body as it is read."""
        body = request.read()
        ex = Exchange(
            probe=self.probe,
            method=request.method,
            url=str(request.url),
            request_headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw],
            request_body=body or None,
        )
        with self._lock:
            self.exchanges.append(ex)
        t0 = time.perf_counter_ns()
        try:
            response = self._inner.handle_request(request)
        except httpx.HTTPError as exc:
            ex.error_kind, ex.error = "connect", f"{type(exc).__name__}: {exc}"
            ex.elapsed_ns = time.perf_counter_ns() - t0
            raise
        ex.headers_ns = time.perf_counter_ns() - t0
        ex.status = response.status_code
        ex.headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in response.headers.raw]
        stream = response.stream
        assert isinstance(stream, httpx.SyncByteStream)
        return httpx.Response(
            status_code=response.status_code,
            headers=response.headers,
            stream=_TeeStream(stream, ex, t0),
            extensions=response.extensions,
        )

    def close(self) -> None:
        """Close the wrapped transport."""
        self._inner.close()
