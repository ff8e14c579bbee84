"""One response read within its bounds: bytes and their arrival times in, a `StreamResult` out. Both clients feed it.

The hot path (one `feed` per `recv`) stores the bytes and their arrival time and counts them against
`Limits.max_response_bytes`; a chunked body is de-chunked only when its last bytes look like the end
(``0\\r\\n`` or a blank line) or when another half `max_line_bytes` arrived (then the line being read is
measured against `max_line_bytes`, so a line without an end is cut early). SSE events are framed
once, at the end (`maascheck.load.client.sse.frame_events`). The time bounds are checked by the
client with `overdue` (the reactor on a timer, the greenlet client as its socket timeout).
"""

from __future__ import annotations

import contextlib
from typing import Literal

from maascheck.load.client.http11 import ChunkedDecoder, HeadReader
from maascheck.load.client.limits import BoundExceeded, BoundKind, Limits
from maascheck.load.client.result import StreamResult
from maascheck.load.client.sse import frame_events, line_run

TimeBound = Literal["head_timeout", "idle_timeout", "deadline"]
FailKind = BoundKind | Literal["truncated"]
_NO_BODY = (204, 304)  # RFC 9110 §15.3.5, §15.4.5


class ResponseReader:
    """The state of one response: head, body delimiting, caps; `feed` returns True when the response ended."""

    __slots__ = (
        "cap", "chunked", "decoder", "error_body", "head", "in_head", "keep", "last_t", "limits", "payload_times",
        "payloads", "pieces", "remaining", "res", "run", "scan_at", "scanned", "times", "wire",
    )  # fmt: skip

    def __init__(self, res: StreamResult, limits: Limits) -> None:
        self.res = res
        self.limits = limits
        self.head = HeadReader(limits.max_head_bytes)
        self.in_head = True
        self.chunked = False
        self.remaining: int | None = None  # Content-Length body: bytes still to come
        self.keep = False
        self.error_body = False
        self.cap = limits.max_response_bytes
        self.wire = 0  # body bytes as sent (chunk framing included)
        self.scan_at = limits.max_line_bytes // 2
        self.pieces: list[bytes] = []  # chunked: wire bytes per recv, not de-chunked yet
        self.times: list[int] = []
        self.decoder = ChunkedDecoder()
        self.payloads: list[bytes] = []  # body bytes
        self.payload_times: list[int] = []
        self.run = 0  # bytes since the last line end, as of `scanned`
        self.scanned = 0  # payloads measured for `run`
        self.last_t = res.t_send_ns

    def feed(self, data: bytes, t: int) -> bool:
        """Consume bytes that arrived at `t`; True when the response ended. Raises `BoundExceeded`."""
        self.last_t = t
        if self.in_head:
            return self._head_bytes(data, t)
        self.wire += len(data)
        if self.wire > self.cap:
            return self._over_cap(data, t)
        if self.chunked:
            self.pieces.append(data)
            self.times.append(t)
            if (len(data) < 8 or data.endswith(b"\r\n\r\n") or data.endswith(b"0\r\n")) and self._dechunk():
                return self.end()
            if self.wire >= self.scan_at:
                if self._dechunk():
                    return self.end()
                self._measure_line()
            return False
        if self.remaining is not None:
            data = data[: self.remaining]
            self.remaining -= len(data)
        self.payloads.append(data)
        self.payload_times.append(t)
        if self.remaining == 0:
            return self.end()
        if self.wire >= self.scan_at:
            self._measure_line()
        return False

    def _head_bytes(self, data: bytes, t: int) -> bool:
        head = self.head.feed(data)
        if head is None:
            return False
        res = self.res
        res.t_headers_ns, res.status = t, head.status
        self.in_head, self.keep = False, head.keep_alive
        self.chunked, self.remaining = head.chunked, head.content_length
        if head.status in _NO_BODY:
            self.chunked, self.remaining = False, 0
        if head.status != 200:  # any other answer is an error kind of its own (http_307, http_429, ...)
            res.transport, self.error_body, self.cap = "http_error", True, self.limits.max_error_body
            res.retry_after = head.headers.get("retry-after") if head.status >= 300 else None
        else:
            head.refuse_coding()
        if self.remaining == 0:
            return self.end()
        rest = self.head.rest
        return self.feed(rest, t) if rest else False

    def _over_cap(self, data: bytes, t: int) -> bool:
        if not self.error_body:
            raise BoundExceeded(
                "too_large", f"the response body passed max_response_bytes={self.limits.max_response_bytes}"
            )
        self.keep = False  # unread bytes stay on the connection
        if self.chunked:
            self.pieces.append(data)
            self.times.append(t)
        else:
            self.payloads.append(data)
            self.payload_times.append(t)
        return self.end()

    def _dechunk(self) -> bool:
        """De-chunk the stored pieces (dropping them); True at the zero-size chunk."""
        decoder, out, out_t = self.decoder, self.payloads, self.payload_times
        try:
            for piece, t in zip(self.pieces, self.times, strict=True):
                decoder.feed(piece, t, out, out_t)
                if decoder.done:  # trailer fields, or bytes after them, make the connection unusable
                    self.keep = self.keep and decoder.rest in (b"", b"\r\n")
                    return True
            return False
        finally:
            self.pieces.clear()
            self.times.clear()

    def _measure_line(self) -> None:
        self.scan_at = self.wire + max(self.limits.max_line_bytes // 2, 1)
        self.run = line_run(self.payloads[self.scanned :], self.run)
        self.scanned = len(self.payloads)
        if self.run > self.limits.max_line_bytes and not self.error_body:
            raise BoundExceeded("line_too_long", f"an SSE line passed max_line_bytes={self.limits.max_line_bytes}")

    def overdue(self, now: int) -> tuple[TimeBound, str] | None:
        """The time bound passed at `now` (perf_counter_ns), with its evidence, or None."""
        lim, send = self.limits, self.res.t_send_ns
        if now - send >= lim.deadline_s * 1e9:
            return "deadline", f"the response did not end within deadline_s={lim.deadline_s:g}"
        if self.in_head and now - send >= lim.head_s * 1e9:
            interim = f" ({self.head.interim} interim 1xx answers)" if self.head.interim else ""
            return "head_timeout", f"no complete response head within head_s={lim.head_s:g}{interim}"
        if now - self.last_t >= lim.idle_s * 1e9:
            return "idle_timeout", f"no byte for idle_s={lim.idle_s:g}"
        return None

    def wait_s(self, now: int) -> float:
        """Seconds from `now` until the nearest time bound could pass."""
        lim, send = self.limits, self.res.t_send_ns
        ends = [send + lim.deadline_s * 1e9, self.last_t + lim.idle_s * 1e9]
        if self.in_head:
            ends.append(send + lim.head_s * 1e9)
        return max(min(ends) - now, 0.0) / 1e9

    def fail(self, kind: FailKind, error: str) -> None:
        """End the exchange with `kind` (an answer already known to be an HTTP error keeps that kind)."""
        res = self.res
        if res.transport == "complete":
            res.transport, res.error = kind, error
        self.keep = False
        self.end()

    def end(self) -> bool:
        """Frame the body received so far into the result (also on a bound, a close or a cancel)."""
        if self.chunked and self.pieces:
            with contextlib.suppress(BoundExceeded):
                self._dechunk()
        res, payloads, times = self.res, self.payloads, self.payload_times
        self.payloads, self.payload_times = [], []
        if self.error_body:
            res.body = b"".join(payloads)[: self.limits.max_error_body]
            res.error = f"HTTP {res.status}: " + res.body[:500].decode("utf-8", "replace")
            return True
        framed = frame_events(payloads, times, self.limits)
        res.events, res.event_times_ns = framed.events, framed.times
        if framed.bound is not None and res.transport == "complete":
            res.transport, res.error = framed.bound.kind, str(framed.bound)
        return True

    def eof(self) -> bool:
        """The peer closed: True (and the response ended) when that legitimately ends a close-delimited body."""
        if self.in_head or self.chunked or self.remaining is not None:
            return False
        self.end()
        return True
