"""Load faults: a server that breaks the protocol only on a share of its streams, or only when busy.

Each names the load taxonomy kinds it produces (`Fault.load_kinds`, `maascheck.load.measure.protocol`)
and breaks no single conformance rule, so the conformance fault proofs leave these out. The share is
exact: every `SHARE`-th streamed chat request of the server process is broken (counted from the
process start), so over n streams the load run must count n / SHARE of them, give or take one.
"""

from __future__ import annotations

import itertools
import weakref
from typing import Any

from maascheck.sim.faults import ChunkContext, Fault, RequestView, register

SHARE = 4
"""Every SHARE-th stream is broken (a rate of 1 / SHARE)."""
TRUNCATE_AFTER_EVENTS = 2


def _every_share() -> Any:
    counter = itertools.count(1)
    return lambda: next(counter) % SHARE == 0


_truncate_pick = _every_share()


def _truncated_stream(view: RequestView) -> bool:
    return view.stream and view.endpoint == "chat" and _truncate_pick()


class _DoneDropper:
    """Drops `[DONE]` after the final chunk of every SHARE-th chat stream.

    A `[DONE]` event reaches `on_event` without its request; a stream's final chunk, its usage chunk
    and its `[DONE]` are written in one synchronous step, so the `[DONE]` that follows a picked final
    chunk is that stream's.
    """

    def __init__(self) -> None:
        self._pick = _every_share()
        self._picked: weakref.WeakValueDictionary[int, RequestView] = weakref.WeakValueDictionary()
        self._drop_next = False

    def __call__(self, raw: bytes, ctx: ChunkContext | None) -> bytes:
        if ctx is None:
            dropped, self._drop_next = self._drop_next, False
            return b"" if dropped else raw
        if ctx.kind == "chat" and ctx.index == 0 and self._pick():
            self._picked[id(ctx.request)] = ctx.request
        if ctx.is_final and self._picked.get(id(ctx.request)) is ctx.request:
            del self._picked[id(ctx.request)]
            self._drop_next = True
        return raw


class _BusyUsage:
    """Adds one to `usage.total_tokens` of a chat stream's usage chunk while another stream is active."""

    def __init__(self) -> None:
        self._active: weakref.WeakValueDictionary[int, RequestView] = weakref.WeakValueDictionary()

    def __call__(self, chunk: dict[str, Any], ctx: ChunkContext) -> list[dict[str, Any]]:
        if ctx.kind != "chat":
            return [chunk]
        key = id(ctx.request)
        if ctx.index == 0:
            self._active[key] = ctx.request
        usage = chunk.get("usage")
        if ctx.is_usage and isinstance(usage, dict):
            others = len(self._active) - (self._active.get(key) is ctx.request)
            self._active.pop(key, None)
            if others > 0 and isinstance(usage.get("total_tokens"), int):
                chunk = {**chunk, "usage": {**usage, "total_tokens": usage["total_tokens"] + 1}}
        return [chunk]


for _fault in (
    Fault(
        "load-truncate-share",
        f"every {SHARE}th chat stream is closed after {TRUNCATE_AFTER_EVENTS} events (no [DONE])",
        close_after_events=TRUNCATE_AFTER_EVENTS,
        applies_to=_truncated_stream,
        load_kinds=("truncated",),
    ),
    Fault(
        "load-no-done-share",
        f"every {SHARE}th chat stream ends its body without data: [DONE]",
        on_event=_DoneDropper(),
        load_kinds=("no_done",),
    ),
    Fault(
        "load-usage-busy",
        "usage.total_tokens is one too many while another chat stream is in flight (only under concurrency)",
        on_chunk=_BusyUsage(),
        load_kinds=("usage_arithmetic",),
    ),
):
    register(_fault)
