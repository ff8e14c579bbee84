"""SSE framing of a de-chunked body: events split at blank lines, each stamped with its first byte's arrival time.

WHATWG HTML §9.2.6 (https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation):
a line ends at CRLF, LF or CR; a blank line dispatches the event; a leading U+FEFF BOM is dropped.
Line ends are normalised to LF here (a CR cut from its LF by a read boundary is carried over), so an
event holds LF-separated lines and `maascheck.load.measure.events` reads the fields. An unterminated
non-blank tail is kept (SSE would drop it; the event parser decides). Runs after the stream ended, off
the timing path: one `join` and one `split` in C for a body without CR.

Bounds (`maascheck.load.client.limits.Limits`): events beyond `max_events`, an event longer than
`max_event_bytes` or a line longer than `max_line_bytes` stop the framing, and `Framed.bound` says
which bound tripped; the events before it are kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from maascheck.load.client.limits import BoundExceeded, Limits

_BOM = b"\xef\xbb\xbf"


@dataclass(slots=True)
class Framed:
    """The events of one body, their first-byte times, and the bound that stopped the framing, if one did."""

    events: list[bytes] = field(default_factory=list)
    times: list[int] = field(default_factory=list)
    bound: BoundExceeded | None = None


def normalise_line_ends(payloads: list[bytes]) -> list[bytes]:
    """The pieces with CRLF and CR turned into LF (a CR ending one piece pairs with an LF opening the next)."""
    out: list[bytes] = []
    carry = False  # the previous piece ended in CR
    for piece in payloads:
        if carry and piece.startswith(b"\n"):
            piece = piece[1:]
        carry = piece.endswith(b"\r")
        out.append(piece.replace(b"\r\n", b"\n").replace(b"\r", b"\n"))
    return out


def line_run(pieces: list[bytes], run: int) -> int:
    """Bytes since the last line end after reading `pieces`, `run` being the count before them."""
    for piece in pieces:
        end = max(piece.rfind(b"\n"), piece.rfind(b"\r"))
        run = len(piece) - 1 - end if end >= 0 else run + len(piece)
    return run


def frame_events(payloads: list[bytes], times: list[int], limits: Limits | None = None) -> Framed:
    """Events of the body `payloads` (received at `times`), each stamped with its first byte's time."""
    lim = limits or Limits()
    if not payloads:
        return Framed()
    body = payloads[0] if len(payloads) == 1 else b"".join(payloads)
    if b"\r" in body:
        payloads = normalise_line_ends(payloads)
        body = b"".join(payloads)
    skip = len(_BOM) if body.startswith(_BOM) else 0
    if skip:
        body = body[skip:]
    events = body.split(b"\n\n")
    tail = events.pop()
    if tail.strip():
        events.append(tail)
    starts: list[int] | None = None  # body offset of each event's first byte, when not implied
    if b"\n\n\n" in body or body.startswith(b"\n"):  # blank lines beyond the first: drop them from events
        events, starts = _strip_blank_lines(events)
    framed = Framed(events=events)
    cut, framed.bound = _within_bounds(events, lim)
    del events[cut:]
    stamps = framed.times
    j, piece_end, offset = 0, len(payloads[0]) - skip, 0
    for i, event in enumerate(events):
        at = offset if starts is None else starts[i]
        while at >= piece_end and j + 1 < len(payloads):  # the event's first byte is in a later piece
            j += 1
            piece_end += len(payloads[j])
        stamps.append(times[j])
        offset += len(event) + 2
    return framed


def _strip_blank_lines(raw: list[bytes]) -> tuple[list[bytes], list[int]]:
    events: list[bytes] = []
    starts: list[int] = []
    offset = 0
    for event in raw:
        text = event.lstrip(b"\n")
        if text:
            events.append(text)
            starts.append(offset + len(event) - len(text))
        offset += len(event) + 2
    return events, starts


def _within_bounds(events: list[bytes], lim: Limits) -> tuple[int, BoundExceeded | None]:
    """How many leading events are within the bounds, and the bound the next one passed."""
    n = min(len(events), lim.max_events)
    if n and max(map(len, events[:n])) > lim.max_line_bytes:  # one C pass; the loop only when needed
        for i, event in enumerate(events[:n]):
            if len(event) <= lim.max_line_bytes:
                continue
            if max(map(len, event.split(b"\n"))) > lim.max_line_bytes:
                return i, BoundExceeded("line_too_long", f"an SSE line passed max_line_bytes={lim.max_line_bytes}")
            if len(event) > lim.max_event_bytes:
                return i, BoundExceeded(
                    "event_too_large", f"an SSE event passed max_event_bytes={lim.max_event_bytes}"
                )
    if len(events) > n:
        return n, BoundExceeded("too_many_events", f"the stream passed max_events={lim.max_events}")
    return n, None
