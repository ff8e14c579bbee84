"""One recorded HTTP exchange: the request as sent and everything that came back, with arrival times.

An exchange is made once per probe and shared by every rule that reads it. Times are
`perf_counter_ns` offsets from the moment the request was sent.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


@dataclass
class SSEEvent:
    """One dispatched server-sent event (WHATWG event-stream interpretation)."""

    data: str
    event: str | None = None
    id: str | None = None
    t_ns: int = 0  # arrival of the event's first byte, relative to the send
    json: Any = None  # the parsed `data` when it is JSON (None for [DONE] or non-JSON)
    json_error: str | None = None  # why `data` did not parse, when it did not and is not [DONE]

    @property
    def is_done(self) -> bool:
        """The `data: [DONE]` terminator."""
        return self.data == "[DONE]"


@dataclass
class Exchange:
    """A request and its response, or the transport failure that cut it short."""

    probe: str
    method: str
    url: str
    request_headers: list[tuple[str, str]]
    request_body: bytes | None
    status: int | None = None
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""  # raw body bytes (capped; `body_truncated` says when the cap cut it)
    body_truncated: bool = False
    events: list[SSEEvent] = field(default_factory=list)  # filled when the response is an event stream
    sse_comments: int = 0
    sse_tail: bytes = b""  # bytes after the last complete event (a partial event means truncation)
    error: str | None = None  # transport failure, stated
    error_kind: str | None = None  # "connect" | "timeout" | "stall" | "truncated" | "too_large" | "protocol"
    elapsed_ns: int = 0
    headers_ns: int = 0  # arrival of the response headers
    sdk_result: Any = None  # client-compatibility probes: what the openai SDK call returned
    sdk_error: str | None = None  # ...or the exception it raised, stated
    # The attempt that died on a reused keep-alive connection before this one (maascheck.conformance.transport.recorder)
    prior_attempt: Exchange | None = None

    def header(self, name: str) -> str | None:
        """The first response header called `name` (case-insensitive)."""
        lname = name.lower()
        return next((v for k, v in self.headers if k.lower() == lname), None)

    @property
    def request_json(self) -> Any:
        """The request body parsed as JSON (None when absent or not JSON)."""
        if not self.request_body:
            return None
        try:
            return json.loads(self.request_body)
        except ValueError:
            return None

    @property
    def json(self) -> Any:
        """The response body parsed as JSON (None when it is not JSON)."""
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    @property
    def is_sse(self) -> bool:
        """Whether the response declared `text/event-stream`."""
        return (self.header("content-type") or "").split(";")[0].strip().lower() == "text/event-stream"

    @property
    def data_events(self) -> list[SSEEvent]:
        """Events carrying a JSON payload (the [DONE] terminator excluded)."""
        return [e for e in self.events if not e.is_done]
