"""FaultSet: the active faults' hooks, gathered once per server so the no-fault path pays nothing."""

from __future__ import annotations

from typing import Any

from maascheck.sim.faults import ChunkContext, Fault, RequestView, Response, get_fault


class FaultSet:
    """The hooks of the active faults, in the order the faults were given."""

    def __init__(self, faults: list[Fault]) -> None:
        self.faults = faults
        self.names = [f.name for f in faults]
        self.skip: frozenset[str] = frozenset().union(*(f.skip_validation for f in faults))
        self.on_request = [f.on_request for f in faults if f.on_request]
        self.on_status = [f.on_status for f in faults if f.on_status]
        self.on_headers = [f.on_headers for f in faults if f.on_headers]
        self.on_body = [f.on_body for f in faults if f.on_body]
        self.on_body_bytes = [f.on_body_bytes for f in faults if f.on_body_bytes]
        self.on_chunk = [f.on_chunk for f in faults if f.on_chunk]
        self.on_event = [f.on_event for f in faults if f.on_event]
        self.on_frames = [f.on_frames for f in faults if f.on_frames]
        stalls = [(f.stall_after_events, f.applies_to) for f in faults if f.stall_after_events is not None]
        closes = [(f.close_after_events, f.applies_to) for f in faults if f.close_after_events is not None]
        self._stalls, self._closes = stalls, closes
        self.trailer = b"".join(f.trailer for f in faults)
        self.stream_hooks = bool(self.on_chunk or self.on_event or self.on_frames or stalls or closes)
        self.response_hooks = bool(self.on_status or self.on_headers or self.on_body or self.on_body_bytes)

    def stall_after(self, view: RequestView) -> int | None:
        """After how many data events this request's stream goes silent (None: never)."""
        return _first_limit(self._stalls, view)

    def close_after(self, view: RequestView) -> int | None:
        """After how many data events this request's connection is closed (None: never)."""
        return _first_limit(self._closes, view)

    @classmethod
    def from_names(cls, names: list[str]) -> FaultSet:
        """The FaultSet of the named faults (ConfigError for an unknown name)."""
        return cls([get_fault(n) for n in names])

    def request(self, view: RequestView) -> RequestView | Response:
        """Run `on_request` hooks; a Response ends the chain."""
        for hook in self.on_request:
            result = hook(view)
            if isinstance(result, Response):
                return result
            if result is not None:
                view = result
        return view

    def status(self, status: int, view: RequestView) -> int:
        """Run `on_status` hooks."""
        for hook in self.on_status:
            status = hook(status, view)
        return status

    def headers(self, headers: list[tuple[str, str]], view: RequestView) -> list[tuple[str, str]]:
        """Run `on_headers` hooks."""
        for hook in self.on_headers:
            headers = hook(headers, view)
        return headers

    def body(self, body: dict[str, Any], view: RequestView) -> dict[str, Any]:
        """Run `on_body` hooks."""
        for hook in self.on_body:
            body = hook(body, view)
        return body

    def body_bytes(self, raw: bytes, view: RequestView) -> bytes:
        """Run `on_body_bytes` hooks."""
        for hook in self.on_body_bytes:
            raw = hook(raw, view)
        return raw

    def chunks(self, chunk: dict[str, Any], ctx: ChunkContext) -> list[dict[str, Any]]:
        """Run `on_chunk` hooks; each may drop, keep or split the chunks it receives."""
        out = [chunk]
        for hook in self.on_chunk:
            out = [c for item in out for c in hook(item, ctx)]
        return out

    def event(self, raw: bytes, ctx: ChunkContext | None) -> bytes:
        """Run `on_event` hooks over one serialised event."""
        for hook in self.on_event:
            raw = hook(raw, ctx)
        return raw

    def frames(self, raw: bytes, ctx: ChunkContext | None) -> list[bytes]:
        """Cut one event into write pieces with `on_frames` hooks (one piece when there are none)."""
        pieces = [raw]
        for hook in self.on_frames:
            pieces = [p for piece in pieces for p in hook(piece, ctx)]
        return pieces


def _first_limit(limits: list[tuple[int, Any]], view: RequestView) -> int | None:
    values = [n for n, applies in limits if applies is None or applies(view)]
    return min(values) if values else None
