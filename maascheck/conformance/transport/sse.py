"""An incremental WHATWG event-stream parser: bytes in (with arrival times), events out.

Follows the HTML Living Standard, "9.2.6 Interpreting an event stream": lines end with CR, LF or
CRLF; a leading UTF-8 BOM is dropped; lines starting with `:` are comments; `field:value` with one
optional space after the colon; several `data` lines join with LF; a blank line dispatches the
event; events without data are not dispatched; `id` containing NUL and non-integer `retry` are
ignored. Each event is stamped with the arrival time of its first byte. Bytes after the last
dispatched event stay in `tail` (at EOF a non-empty tail with fields means a truncated event).
"""

from __future__ import annotations

from maascheck.conformance.model.exchange import SSEEvent
from maascheck.core import safe_json

_BOM = b"\xef\xbb\xbf"


MAX_LINE_BYTES = 1024 * 1024
MAX_EVENT_BYTES = 1024 * 1024


class SSEParser:
    """Feed byte chunks with `feed(chunk, t_ns)`; complete events come back in arrival order.

    A line longer than `max_line_bytes` or an event (its lines, comments included) longer than
    `max_event_bytes` stops the parser: `overflow` then says which bound and its value, and every
    later `feed` returns nothing. So a line that never ends costs at most the bound in memory.
    """

    def __init__(
        self,
        *,
        max_line_bytes: int = MAX_LINE_BYTES,
        max_event_bytes: int = MAX_EVENT_BYTES,
        max_json_depth: int = safe_json.MAX_DEPTH,
    ) -> None:
        self.max_line_bytes, self.max_event_bytes, self.max_json_depth = max_line_bytes, max_event_bytes, max_json_depth
        self.overflow: str | None = None  # the bound that stopped the parser, stated
        self.overflow_kind: str | None = None  # "line_too_long" | "event_too_large"
        self._buf = b""  # bytes of the current, unfinished line
        self._started = False  # BOM check done
        self._skip_lf = False  # the previous chunk ended with CR: a leading LF belongs to it
        self._line_t: int | None = None  # arrival of the current line's first byte
        self._event_t: int | None = None  # arrival of the current event's first field line
        self._event_raw = b""  # raw bytes of the current event's lines (for `tail`)
        self._data: list[str] = []
        self._event: str | None = None
        self._id: str | None = None
        self._has_fields = False
        self._utf8_error = False
        self.comments = 0
        self.last_id: str | None = None
        self.retry_ms: int | None = None

    @property
    def tail(self) -> bytes:
        """Bytes received since the last dispatched event (blank lines and comments included)."""
        return self._event_raw + self._buf

    @property
    def pending(self) -> bool:
        """Whether an event has started (a field line or unterminated bytes) without being dispatched."""
        return self._has_fields or bool(self._buf.strip(b"\r\n"))

    def _stop(self, kind: str, message: str) -> None:
        self.overflow_kind, self.overflow = kind, message
        self._buf, self._event_raw, self._data = self._buf[:4096], self._event_raw[:4096], []

    def feed(self, chunk: bytes, t_ns: int = 0) -> list[SSEEvent]:
        """Consume `chunk`, which arrived at `t_ns`, and return the events it completed."""
        if self.overflow is not None:
            return []
        if not self._started:
            self._buf += chunk
            if len(self._buf) < len(_BOM) and _BOM.startswith(self._buf):
                return []
            self._started = True
            chunk, self._buf = self._buf, b""
            if chunk.startswith(_BOM):
                chunk = chunk[len(_BOM) :]
        out: list[SSEEvent] = []
        pos = 0
        if self._skip_lf and chunk[:1] == b"\n":
            self._event_raw += b"\n"
            pos = 1
        self._skip_lf = False
        n = len(chunk)
        while pos < n:
            if self._line_t is None:
                self._line_t = t_ns
            cr, lf = chunk.find(b"\r", pos), chunk.find(b"\n", pos)
            ends = [i for i in (cr, lf) if i >= 0]
            if not ends:
                self._buf += chunk[pos:]
                if len(self._buf) > self.max_line_bytes:
                    self._stop(
                        "line_too_long",
                        f"an SSE line exceeds --max-line-bytes {self.max_line_bytes} without a line end "
                        f"(line starts {self._buf[:80]!r}); reading stopped",
                    )
                break
            end = min(ends)
            line = self._buf + chunk[pos:end]
            sep_len = 2 if chunk[end : end + 2] == b"\r\n" else 1
            if chunk[end : end + 1] == b"\r" and end + 1 == n:
                self._skip_lf = True
            if len(line) > self.max_line_bytes:
                self._buf = line
                self._stop(
                    "line_too_long",
                    f"an SSE line of {len(line)} bytes exceeds --max-line-bytes {self.max_line_bytes} "
                    f"(line starts {line[:80]!r}); reading stopped",
                )
                break
            self._event_raw += line + chunk[end : end + sep_len]
            self._buf = b""
            if len(self._event_raw) > self.max_event_bytes:
                self._stop(
                    "event_too_large",
                    f"an SSE event exceeds --max-event-bytes {self.max_event_bytes} before its blank line "
                    f"(event starts {self._event_raw[:80]!r}); reading stopped",
                )
                break
            line_t = self._line_t
            self._line_t = None
            pos = end + sep_len
            event = self._line(line, line_t)
            if event is not None:
                out.append(event)
        return out

    def _line(self, raw: bytes, t_ns: int) -> SSEEvent | None:
        if not raw:
            return self._dispatch()
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            line = raw.decode("utf-8", errors="replace")
            self._utf8_error = True
        if line.startswith(":"):
            self.comments += 1
            return None
        name, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        if self._event_t is None:
            self._event_t = t_ns
        self._has_fields = True
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id":
            if "\0" not in value:
                self._id = value
        elif name == "retry" and value.isdigit():
            self.retry_ms = int(value)
        return None

    def _dispatch(self) -> SSEEvent | None:
        data, event, event_id, t_ns = self._data, self._event, self._id, self._event_t
        utf8_error = self._utf8_error
        self._data, self._event, self._event_t, self._has_fields = [], None, None, False
        self._utf8_error = False
        self._event_raw = b""
        if event_id is not None:
            self.last_id = event_id
        self._id = None
        if not data:
            return None
        return make_event(
            "\n".join(data), event, event_id, t_ns or 0, utf8_error=utf8_error, max_json_depth=self.max_json_depth
        )


def make_event(
    data: str,
    event: str | None,
    event_id: str | None,
    t_ns: int,
    *,
    utf8_error: bool,
    max_json_depth: int = safe_json.MAX_DEPTH,
) -> SSEEvent:
    """An `SSEEvent` with its `data` parsed as JSON when it is not the `[DONE]` terminator."""
    ev = SSEEvent(data=data, event=event, id=event_id, t_ns=t_ns)
    if utf8_error:
        ev.json_error = "event data is not valid UTF-8 (invalid bytes replaced by U+FFFD)"
    if data == "[DONE]":
        return ev
    try:
        ev.json = safe_json.loads(data, max_depth=max_json_depth)
    except safe_json.UnsafeJSON as exc:
        ev.json_error = ev.json_error or f"data is not usable JSON: {exc}"
    return ev


def parse_all(body: bytes) -> tuple[list[SSEEvent], SSEParser]:
    """Parse a complete body at once (all events stamped 0); returns the events and the parser."""
    parser = SSEParser()
    return parser.feed(body, 0), parser
