"""Fault injection: each named fault makes the simulator break exactly one documented behaviour.

A fault is data plus optional hooks the simulator calls at fixed points of its response path.
Faults with an empty `breaks` are *legal variations* (behaviour SSE or the spec allows) that must
make no conformance rule fail. Faults live in the area modules of this package
(`stream.py`, `usage.py`, ...), each registering its own with `register`.

Hook order for one request: `on_request` (may rewrite the request or answer it outright) →
auth and validation (minus `skip_validation`) → generation → `on_status`/`on_headers` →
`on_body` / `on_body_bytes` (non-stream) or, per stream event, `on_chunk` → `on_event` → after the
last event `trailer`. `stall_after_events` / `close_after_events` count stream data events.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from maascheck.errors import ConfigError


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
    skip_validation: frozenset[str] = frozenset()
    on_request: Callable[[RequestView], RequestView | Response | None] | None = None
    on_status: Callable[[int, RequestView], int] | None = None
    on_headers: Callable[[list[tuple[str, str]], RequestView], list[tuple[str, str]]] | None = None
    on_body: Callable[[dict[str, Any], RequestView], dict[str, Any]] | None = None
    on_body_bytes: Callable[[bytes, RequestView], bytes] | None = None
    on_chunk: Callable[[dict[str, Any], ChunkContext], list[dict[str, Any]]] | None = None
    on_event: Callable[[bytes, ChunkContext | None], bytes] | None = None  # ctx None: the [DONE] event
    stall_after_events: int | None = None
    close_after_events: int | None = None
    trailer: bytes = b""

    @property
    def legal(self) -> bool:
        """A legal variation: no conformance rule may fail because of it."""
        return not self.breaks


FAULTS: dict[str, Fault] = {}


def register(fault: Fault) -> Fault:
    """Add `fault` to the catalog (names are unique)."""
    if fault.name in FAULTS:
        raise ValueError(f"fault {fault.name!r} registered twice")
    FAULTS[fault.name] = fault
    return fault


def _load_all() -> None:
    for info in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{info.name}")


def all_faults() -> dict[str, Fault]:
    """Every registered fault and legal variation, by name."""
    if not FAULTS:
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
