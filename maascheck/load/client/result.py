"""What one streamed request produced on the wire, as both load clients report it."""

from __future__ import annotations

from dataclasses import dataclass, field
from time import perf_counter_ns
from typing import Literal

from gevent import GreenletExit

from maascheck.load.client.limits import BoundKind

Transport = Literal["complete", "truncated", "connect_error", "http_error", "cancelled"] | BoundKind
"""How the exchange ended: complete; truncated (closed before the body ended); connect_error;
http_error (any status but 200, with its body); cancelled (the run stopped); or the bound that tripped."""


@dataclass(slots=True)
class StreamResult:
    """One streamed exchange (times in `perf_counter_ns`); events are raw SSE events, not parsed yet."""

    transport: Transport
    t_send_ns: int
    status: int | None = None
    error: str | None = None
    t_headers_ns: int | None = None
    t_end_ns: int = 0
    event_times_ns: list[int] = field(default_factory=list)
    events: list[bytes] = field(default_factory=list)
    body: bytes = b""  # the body of a non-200 answer, raw, cut at `Limits.max_error_body`
    retry_after: str | None = None  # the Retry-After header of a non-2xx answer (RFC 9110 §10.2.3), raw
    recvs: int = 0  # number of recv calls that returned data (for CPU accounting)
    connect_ns: int | None = None  # TCP connect (+ TLS handshake) of the fresh connection it was sent on
    reused: bool = False  # sent and answered on a kept-alive connection
    reconnected: bool = False  # a kept-alive connection was found closed and replaced for this request
    retries: int = 0  # times re-sent because the kept-alive connection died before a response head


class StreamCancelled(GreenletExit):  # type: ignore[misc]  # gevent re-exports greenlet's untyped class
    """The request's greenlet was killed mid-stream (the run stopped); `result` holds what had arrived."""

    def __init__(self, result: StreamResult) -> None:
        super().__init__()
        self.result = result


def cancelled(res: StreamResult) -> StreamCancelled:
    """Mark `res` cancelled now (the run stopped while it was in flight) and wrap it for raising."""
    res.transport, res.error = "cancelled", "the run stopped while this request was in flight"
    res.t_end_ns = perf_counter_ns()
    return StreamCancelled(res)
