"""One recorded HTTP exchange: the request as sent and everything that came back, with arrival times.

An exchange is made once per probe and shared by every rule that reads it. Times are
`perf_counter_ns` offsets from the moment the request was sent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from maascheck.core import safe_json

SIZE_BOUND_KINDS = frozenset({"too_large", "line_too_long", "event_too_large", "too_many_events"})
"""Error kinds of a response cut by a size bound (time bounds are `timeout`, `stall`)."""


def owner_of(ex: Exchange) -> str:
    """The rule that reports how `ex` was cut short: for a stream STREAM-003 (a size bound passed before
    [DONE]), STREAM-005 (stalled or past its deadline) or STREAM-004 (cut off); else the probe's acceptance rule."""
    if ex.status is None or not (ex.is_sse or ex.events):
        return "the probe's acceptance rule"
    if ex.error_kind in SIZE_BOUND_KINDS:
        return "STREAM-003"
    if ex.error_kind in ("stall", "timeout"):
        return "STREAM-005"
    return "STREAM-004"


@dataclass(slots=True)
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
    max_json_depth: int = safe_json.MAX_DEPTH  # the nesting bound bodies are parsed under
    _parsed: tuple[int, Any, str | None] | None = field(default=None, repr=False, compare=False)
    # Set when the answer stayed 429/503 after its retries (maascheck.conformance.transport.transient)
    transient: str | None = None

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
            return safe_json.loads(self.request_body)
        except safe_json.UnsafeJSON:
            return None

    @property
    def json(self) -> Any:
        """The response body parsed as JSON (None when it is not JSON, or JSON refused by `safe_json`)."""
        return self._parse()[0]

    @property
    def json_problem(self) -> str | None:
        """Why the body is not usable JSON (None when it is): not JSON, too deep, a huge number, a lone surrogate."""
        return self._parse()[1]

    def _parse(self) -> tuple[Any, str | None]:
        if self._parsed is None or self._parsed[0] != len(self.body):
            try:
                self._parsed = (len(self.body), safe_json.loads(self.body, max_depth=self.max_json_depth), None)
            except safe_json.UnsafeJSON as exc:
                self._parsed = (len(self.body), None, str(exc))
        return self._parsed[1], self._parsed[2]

    @property
    def is_sse(self) -> bool:
        """Whether the response declared `text/event-stream`."""
        return (self.header("content-type") or "").split(";")[0].strip().lower() == "text/event-stream"

    @property
    def data_events(self) -> list[SSEEvent]:
        """Events carrying a JSON payload (the [DONE] terminator excluded)."""
        return [e for e in self.events if not e.is_done]
