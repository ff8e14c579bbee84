"""The bounds of one streamed exchange, and the exception that names the bound a response tripped.

Every response is untrusted: each wait (connect, response head, gap between bytes, whole exchange)
and each size (head, body, SSE line, SSE event, event count) has a bound. A bound that trips ends
the exchange with a transport kind named after it (`BOUND_KINDS`), and the error text says which
bound and its value. Defaults fit long reasoning streams: a 100,000-token stream of ~250-byte chunks
(about 25 MB, 100,000 events) stays under every default.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

KIB = 1024
MIB = 1024 * KIB

BoundKind = Literal[
    "connect_timeout",
    "head_timeout",
    "idle_timeout",
    "deadline",
    "head_too_large",
    "too_large",
    "line_too_long",
    "event_too_large",
    "too_many_events",
    "encoding_refused",
    "bad_response",
]
BOUND_KINDS: tuple[BoundKind, ...] = get_args(BoundKind)
"""Transport kinds of an exchange ended by a bound (or by bytes that are not HTTP/1.1)."""


@dataclass(frozen=True, slots=True)
class Limits:
    """Time bounds in seconds and size bounds in bytes of one streamed exchange."""

    connect_s: float = 10.0
    head_s: float = 60.0  # send -> the final (non-1xx) response head, 1xx answers included
    idle_s: float = 60.0  # the longest silence between two reads
    deadline_s: float = 120.0  # send -> the end of the response
    max_head_bytes: int = 64 * KIB  # every head of the answer together, 1xx answers included
    max_response_bytes: int = 32 * MIB  # wire bytes of the body
    max_line_bytes: int = 1 * MIB  # one SSE line
    max_event_bytes: int = 4 * MIB  # one SSE event (its lines together)
    max_events: int = 200_000  # SSE events of one stream
    max_error_body: int = 64 * KIB  # the body of a non-200 answer is kept up to this, then cut

    @classmethod
    def for_timeout(cls, timeout_s: float) -> Limits:
        """Defaults with `timeout_s` as the deadline; head and idle waits never exceed it."""
        base = cls()
        return cls(deadline_s=timeout_s, head_s=min(base.head_s, timeout_s), idle_s=min(base.idle_s, timeout_s))

    @property
    def tick_s(self) -> float:
        """How often a reactor checks its time bounds: a bound trips at most this late."""
        return max(min(self.head_s, self.idle_s, self.deadline_s) / 8, 0.01)


class BoundExceeded(Exception):
    """A response passed one of the `Limits`: `kind` names the bound, the message says its value."""

    def __init__(self, kind: BoundKind, message: str) -> None:
        super().__init__(message)
        self.kind: BoundKind = kind


class ProtocolError(BoundExceeded):
    """Bytes that are not an HTTP/1.1 response (status line, header, chunk size)."""

    def __init__(self, message: str) -> None:
        super().__init__("bad_response", message)
