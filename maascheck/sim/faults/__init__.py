"""Fault injection: each named fault makes the simulator break exactly one documented behaviour.

A fault is data plus optional hooks the simulator calls at fixed points of its response path.
Faults with an empty `breaks` are *legal variations* (behaviour SSE or the spec allows) that must
make no conformance rule fail. Faults live in the area modules of this package
(`stream.py`, `usage.py`, ...), each registering its own with `register`; `legal.py` holds the
legal variations. Several faults may be active at once; their hooks run in the order given.

Hook order for one request: `on_request` (may rewrite the request or answer it outright) →
auth and validation (minus `skip_validation`) → generation → `on_status`/`on_headers` →
`on_body` / `on_body_bytes` (non-stream) or, per stream event, `on_chunk` → `on_event` →
`on_frames` → after the last event `trailer`. `stall_after_events` / `close_after_events` count
stream data events.

Where each hook applies (maascheck/sim/server.py and stream.py call them):
- `on_request(view)`: every request below the base path, before auth. Return a `Response` to answer
  outright, a new `RequestView` to replace the request (its `json` is used as the body), or None.
- `skip_validation`: check names switched off (see maascheck/sim/validate.py): "auth", "json",
  "required", "types", "model", "role", "content_part", "image", "image_input" (an image part
  sent to a model that is not a vision model), "stream_options", "path", "unknown", "tools",
  "tool_choice", "logprobs", "response_format", and each profile range name ("temperature", "top_p",
  "n", "max_tokens", "stop_count", ...). A skipped check lets the request through with a
  best-effort value (a skipped "json" check parses leniently, e.g. tolerating trailing commas).
- `on_status(status, view)` and `on_headers(headers, view)`: every response the simulator writes,
  errors included (not `Response`s returned by `on_request`). For streams they run once, before the
  first byte.
- `on_body(body, view)` then `on_body_bytes(raw, view)`: every non-stream JSON body: chat and
  legacy completions, `/models`, and error envelopes (check `"error" in body` / `view.endpoint`).
- `on_chunk(chunk, ctx)`: every stream chunk dict (role chunk, content chunks, the finish chunk,
  the usage chunk); return the list of chunks to send instead ([] drops it, several split it; all
  of them go out in the same write).
- `on_event(raw, ctx)`: the serialised SSE event bytes (`data: {...}\n\n`); ctx is None for `[DONE]`.
- `on_frames(raw, ctx)`: cut one event's bytes into pieces, each sent as its own HTTP chunk frame
  and socket write (e.g. byte by byte).
- `stall_after_events=N`: after N data events nothing more is sent; the connection stays open
  until the client goes away. `close_after_events=N`: the connection is closed after N data events.
  `applies_to(view)`, when set, limits both counters to the requests it accepts.
- `trailer`: bytes written after `data: [DONE]` (inside the chunked body).
Hooks cost nothing when no fault is active: the simulator keeps a fast path without them.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from maascheck.core.errors import ConfigError


@dataclass
class RequestView:
    """What a hook sees of one request."""

    method: str
    path: str  # path below the persona's base path, e.g. "/chat/completions", "/models"
    headers: dict[str, str]  # lower-cased names
    body: bytes
    json: dict[str, Any] | None  # the parsed body when it is a JSON object
    endpoint: str  # "chat" | "completions" | "models" | "other"

    @property
    def stream(self) -> bool:
        """Whether the request asked for a stream (after persona defaults were applied)."""
        return bool(self.json and self.json.get("stream"))


@dataclass
class ChunkContext:
    """Where one stream event sits in its stream."""

    request: RequestView
    index: int  # position among the stream's data events, 0-based ([DONE] excluded)
    kind: str  # "chat" | "completions"
    is_usage: bool = False  # the final usage-only chunk (choices == [])
    is_final: bool = False  # carries a non-null finish_reason


@dataclass
class Response:
    """A complete response a hook can answer with, bypassing the simulator."""

    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=lambda: [("Content-Type", "application/json")])


@dataclass(frozen=True)
class Fault:
    """One named, documented breakage (or legal variation when `breaks` is empty)."""

    name: str
    description: str
    breaks: tuple[str, ...] = ()
    # The profile (the simulator's persona and the suite's profile) under which the broken rules apply:
    # vendor-parameter rules are not applicable under `openai`.
    profile: str = "openai"
    skip_validation: frozenset[str] = frozenset()
    on_request: Callable[[RequestView], RequestView | Response | None] | None = None
    on_status: Callable[[int, RequestView], int] | None = None
    on_headers: Callable[[list[tuple[str, str]], RequestView], list[tuple[str, str]]] | None = None
    on_body: Callable[[dict[str, Any], RequestView], dict[str, Any]] | None = None
    on_body_bytes: Callable[[bytes, RequestView], bytes] | None = None
    on_chunk: Callable[[dict[str, Any], ChunkContext], list[dict[str, Any]]] | None = None
    on_event: Callable[[bytes, ChunkContext | None], bytes] | None = None  # ctx None: the [DONE] event
    on_frames: Callable[[bytes, ChunkContext | None], list[bytes]] | None = None
    stall_after_events: int | None = None
    close_after_events: int | None = None
    applies_to: Callable[[RequestView], bool] | None = None  # limits the two counters above to some requests
    trailer: bytes = b""
    # A load fault breaks a share of streams (load taxonomy kinds, `maascheck.sim.faults.load`), not one
    # conformance rule: the fault proofs of the conformance suite leave it out.
    load_kinds: tuple[str, ...] = ()

    @property
    def legal(self) -> bool:
        """A legal variation: no conformance rule may fail because of it."""
        return not self.breaks and not self.load_kinds


FAULTS: dict[str, Fault] = {}


def register(fault: Fault) -> Fault:
    """Add `fault` to the catalog (names are unique)."""
    if fault.name in FAULTS:
        raise ValueError(f"fault {fault.name!r} registered twice")
    FAULTS[fault.name] = fault
    return fault


_loaded = False


def _load_all() -> None:
    global _loaded
    if not _loaded:
        _loaded = True  # set first: area modules import this package while loading
        for info in pkgutil.iter_modules(__path__):
            importlib.import_module(f"{__name__}.{info.name}")


def all_faults() -> dict[str, Fault]:
    """Every registered fault and legal variation, by name (area modules are imported on first use)."""
    _load_all()
    return dict(FAULTS)


def get_fault(name: str) -> Fault:
    """The fault called `name`, or a ConfigError listing the valid names."""
    faults = all_faults()
    if name not in faults:
        raise ConfigError(
            f"unknown fault {name!r}; valid: {', '.join(sorted(faults))} (see `maascheck sim --list-faults`)"
        )
    return faults[name]
