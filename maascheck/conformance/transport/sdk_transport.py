"""An HTTP transport for a client library (the openai SDK) that sends its requests through the suite's `Recorder`.

Every request the library makes goes out exactly as the library built it (headers and body), over the
recorder's bounded socket (connect, response head with 1xx answers, idle gap, total deadline, caps on
bytes, decoded size, SSE lines, events and JSON depth), and is recorded as one `Exchange`. The
library then reads the recorded body: the decoded bytes, ending with the transport error the library
would have met when a bound or the endpoint cut the response. So the SDK can never wait or read
beyond the suite's bounds. openai>=3 runs on `httpx2` (a fork with httpx's API), older releases on
`httpx`: the transport is built on whichever module the installed SDK uses, so the SDK sees its own
exception types.

The key goes to the configured origin only: the SDK follows redirects (openai-python sets
`follow_redirects=True` on every request) and its HTTP library drops `Authorization` on a cross-origin
hop, except on an http -> https upgrade of the same host; the transport goes further and refuses to
send any request to another origin (scheme, host, port: RFC 6454 §4), so neither the key nor the
prompt leaves the target, whatever the library version does.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Iterator
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

from maascheck.conformance.model.exchange import Exchange
from maascheck.conformance.transport.recorder import ACCEPT_ENCODING, DEFAULT_TIMEOUTS, Recorder, Timeouts

# Headers that describe the wire framing of the recorded body, not the decoded bytes the SDK is given.
_FRAMING = frozenset({"content-encoding", "content-length", "transfer-encoding"})


def sdk_http_module() -> ModuleType:
    """The httpx-compatible module the installed openai SDK is built on (`httpx2` or `httpx`)."""
    base = importlib.import_module("openai._base_client")
    for name in ("httpx2", "httpx"):
        module = getattr(base, name, None)
        if isinstance(module, ModuleType):
            return module
    return importlib.import_module("httpx")


class _ReplayMixin:
    """The recorded body, then the error that ended it (mixed into the module's `SyncByteStream`)."""

    def __init__(self, ex: Exchange, error: Exception | None) -> None:
        self._ex, self._error = ex, error

    def __iter__(self) -> Iterator[bytes]:
        body = self._ex.body
        for start in range(0, len(body), 65536):
            yield body[start : start + 65536]
        if self._error is not None:
            raise self._error

    def close(self) -> None:
        """Nothing to release: the body was read by the recorder."""


class _RecordingMixin:
    """Sends through a `Recorder`, appending one `Exchange` per request to `exchanges`."""

    http: ModuleType

    def __init__(self, probe: str, recorder: Recorder, origin: str | None = None, *, owned: bool = False) -> None:
        self.probe = probe
        self.recorder = recorder
        self.origin = url_origin(origin) if origin else None
        self._owned = owned
        self.exchanges: list[Exchange] = []
        self._lock = threading.Lock()
        self._replay: Any = type("ReplayStream", (_ReplayMixin, self.http.SyncByteStream), {})

    def handle_request(self, request: Any) -> Any:
        """Send `request` through the recorder; answer with the recorded response (or raise its failure)."""
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw]
        headers = [(k, ACCEPT_ENCODING if k.lower() == "accept-encoding" else v) for k, v in headers]
        url = str(request.url)
        if self.origin is not None and url_origin(url) != self.origin:
            ex = Exchange(self.probe, request.method, url, headers, None)
            ex.error_kind = "cross_origin"
            ex.error = (
                f"refused to follow the client to {url_origin(url)}: maascheck sends requests "
                f"only to the configured origin {self.origin}"
            )
            with self._lock:
                self.exchanges.append(ex)
            raise self.http.TransportError(ex.error)
        ex = self.recorder.send(Exchange(self.probe, request.method, url, headers, request.read() or None))
        with self._lock:
            self.exchanges.append(ex)
        error = self._error_of(ex, request)
        if ex.status is None:
            raise error or self.http.RemoteProtocolError("no response", request=request)
        shown = [(k, v) for k, v in ex.headers if k.lower() not in _FRAMING]
        return self.http.Response(status_code=ex.status, headers=shown, stream=self._replay(ex, error))

    def _error_of(self, ex: Exchange, request: Any) -> Exception | None:
        """The library's own exception for how the recorded exchange failed (None when it did not)."""
        if not ex.error:
            return None
        http = self.http
        kind: Any = {
            "connect": http.ConnectError,
            "timeout": http.ReadTimeout,
            "stall": http.ReadTimeout,
        }.get(ex.error_kind or "", http.RemoteProtocolError)
        error: Exception = kind(f"{ex.error_kind}: {ex.error}", request=request)
        return error

    def close(self) -> None:
        """Close the recorder when this transport made it (a suite's recorder belongs to the suite)."""
        if self._owned:
            self.recorder.close()


def url_origin(url: str) -> str:
    """`scheme://host:port` of `url`, the port made explicit (RFC 6454 §4)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    port = parts.port or {"http": 80, "https": 443}.get(scheme, 0)
    return f"{scheme}://{(parts.hostname or '').lower()}:{port}"


def recording_client(
    probe: str,
    recorder: Recorder | None = None,
    *,
    connect: float = DEFAULT_TIMEOUTS.connect,
    read: float = DEFAULT_TIMEOUTS.stall,
    total: float = DEFAULT_TIMEOUTS.total,
    origin: str | None = None,
) -> tuple[Any, Any]:
    """An SDK-compatible HTTP client sending through `recorder`, and its transport (read `transport.exchanges`).

    Without `recorder`, one of its own is made with these timeouts (`read` bounds the head and the idle
    gap). With `origin` (the base URL), a request to any other origin is refused before it is sent.
    """
    http = sdk_http_module()
    owned = recorder is None
    if recorder is None:
        recorder = Recorder(
            origin or "http://127.0.0.1", None, Timeouts(connect=connect, headers=read, stall=read, total=total)
        )
    transport_cls: Any = type("RecordingTransport", (_RecordingMixin, http.BaseTransport), {"http": http})
    transport = transport_cls(probe, recorder, origin, owned=owned)
    # The recorder bounds every wait; the client's own timeout only backs it up.
    return http.Client(transport=transport, timeout=http.Timeout(recorder.timeouts.total)), transport
