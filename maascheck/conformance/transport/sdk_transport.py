"""An HTTP transport that records every exchange a client library (the openai SDK) makes through it.

The wrapped response stream tees its bytes into an `Exchange` as the library reads them, so the
exchange holds exactly what the library consumed, with arrival times and parsed SSE events.
openai>=3 runs on `httpx2` (a fork with httpx's API), older releases on `httpx`: the transport is
built on whichever module the installed SDK uses, so the SDK sees its own exception types.

The key goes to the configured origin only: the SDK follows redirects (openai-python sets
`follow_redirects=True` on every request) and its HTTP library drops `Authorization` on a cross-origin
hop, except on an http -> https upgrade of the same host; the transport goes further and refuses to
send any request to another origin (scheme, host, port: RFC 6454 §4), so neither the key nor the
prompt leaves the target, whatever the library version does.
"""

from __future__ import annotations

import importlib
import threading
import time
from collections.abc import Iterator
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

from maascheck.conformance.model.exchange import Exchange
from maascheck.conformance.transport.recorder import BODY_CAP
from maascheck.conformance.transport.sse import SSEParser


def sdk_http_module() -> ModuleType:
    """The httpx-compatible module the installed openai SDK is built on (`httpx2` or `httpx`)."""
    base = importlib.import_module("openai._base_client")
    for name in ("httpx2", "httpx"):
        module = getattr(base, name, None)
        if isinstance(module, ModuleType):
            return module
    return importlib.import_module("httpx")


class _TeeMixin:
    """Iterates the inner byte stream, copying each chunk into the exchange (mixed into `SyncByteStream`)."""

    def __init__(self, inner: Any, ex: Exchange, t0: int, http_error: type[Exception]) -> None:
        self._inner, self._ex, self._t0, self._http_error = inner, ex, t0, http_error
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
        except self._http_error as exc:
            ex.error_kind, ex.error = "truncated", f"{type(exc).__name__}: {exc}"
            raise
        finally:
            if self._parser is not None:
                ex.sse_comments, ex.sse_tail = self._parser.comments, self._parser.tail
            ex.elapsed_ns = time.perf_counter_ns() - self._t0

    def close(self) -> None:
        """Close the inner stream."""
        self._inner.close()


class _RecordingMixin:
    """Delegates to the module's `HTTPTransport`, appending one `Exchange` per request to `exchanges`."""

    http: ModuleType

    def __init__(self, probe: str, origin: str | None = None) -> None:
        self.probe = probe
        self.origin = url_origin(origin) if origin else None
        self.exchanges: list[Exchange] = []
        self._inner = self.http.HTTPTransport()
        self._lock = threading.Lock()
        self._tee: Any = type("TeeStream", (_TeeMixin, self.http.SyncByteStream), {})

    def handle_request(self, request: Any) -> Any:
        """Send `request`, recording the request now and the body as the caller reads it."""
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
        if self.origin is not None and url_origin(str(request.url)) != self.origin:
            ex.error_kind = "cross_origin"
            ex.error = (
                f"refused to follow the client to {url_origin(str(request.url))}: maascheck sends requests "
                f"only to the configured origin {self.origin}"
            )
            raise self.http.TransportError(ex.error)
        t0 = time.perf_counter_ns()
        try:
            response = self._inner.handle_request(request)
        except self.http.HTTPError as exc:
            ex.error_kind, ex.error = "connect", f"{type(exc).__name__}: {exc}"
            ex.elapsed_ns = time.perf_counter_ns() - t0
            raise
        ex.headers_ns = time.perf_counter_ns() - t0
        ex.status = response.status_code
        ex.headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in response.headers.raw]
        return self.http.Response(
            status_code=response.status_code,
            headers=response.headers,
            stream=self._tee(response.stream, ex, t0, self.http.HTTPError),
            extensions=response.extensions,
        )

    def close(self) -> None:
        """Close the wrapped transport."""
        self._inner.close()


def url_origin(url: str) -> str:
    """`scheme://host:port` of `url`, the port made explicit (RFC 6454 §4)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    port = parts.port or {"http": 80, "https": 443}.get(scheme, 0)
    return f"{scheme}://{(parts.hostname or '').lower()}:{port}"


def recording_client(
    probe: str, *, connect: float, read: float, total: float, origin: str | None = None
) -> tuple[Any, Any]:
    """An SDK-compatible HTTP client and its recording transport (read `transport.exchanges` afterwards).

    With `origin` (the base URL), a request to any other origin is refused before it is sent.
    """
    http = sdk_http_module()
    transport_cls: Any = type("RecordingTransport", (_RecordingMixin, http.BaseTransport), {"http": http})
    transport = transport_cls(probe, origin)
    timeout = http.Timeout(connect=connect, read=read, write=connect, pool=total)
    return http.Client(transport=transport, timeout=timeout), transport
