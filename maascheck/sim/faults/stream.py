"""Streaming faults: each breaks exactly one STREAM rule (conformance/rules/stream.py).

Framing faults act on the serialised events of suite streams (chat and legacy completions); chunk
faults on the chat chunks. A `[DONE]` event reaches `on_event` without its request, so the faults
that drop it drop it from every stream (the openai SDK tolerates a missing `[DONE]`, notes b.2).
"""

from __future__ import annotations

import json
from typing import Any

from maascheck.sim.faults import ChunkContext, Fault, RequestView, register
from maascheck.sim.faults._util import chat_chunk_hook, choices, from_suite

TRUNCATE_AT = 2  # the data event cut in half (0-based): after the role chunk and one content chunk
STALL_AFTER = 3
LATE_CHUNK = b'data: {"id":"late","object":"chat.completion.chunk","created":0,"model":"x","choices":[]}\n\n'


def _suite_stream(ctx: ChunkContext | None) -> bool:
    return ctx is not None and from_suite(ctx.request)


def _json_content_type(headers: list[tuple[str, str]], view: RequestView) -> list[tuple[str, str]]:
    if not (view.stream and from_suite(view) and view.endpoint in ("chat", "completions")):
        return headers
    return [(k, "application/json" if k.lower() == "content-type" else v) for k, v in headers]


def _ping_event(raw: bytes, ctx: ChunkContext | None) -> bytes:
    return b"data: ping\n\n" + raw if _suite_stream(ctx) and ctx is not None and ctx.index == 1 else raw


def _drop_done(raw: bytes, ctx: ChunkContext | None) -> bytes:
    return b"" if ctx is None else raw


def _truncate(raw: bytes, ctx: ChunkContext | None) -> bytes:
    if ctx is None:
        return b""  # no [DONE] after the cut
    if not _suite_stream(ctx) or ctx.index < TRUNCATE_AT:
        return raw
    return raw[: len(raw) // 2] if ctx.index == TRUNCATE_AT else b""


def _error_event(raw: bytes, ctx: ChunkContext | None) -> bytes:
    if _suite_stream(ctx) and ctx is not None and ctx.index == 1:
        error = {
            "error": {
                "message": "upstream model worker crashed",
                "type": "server_error",
                "param": None,
                "code": None,
            }
        }
        return b"data: " + json.dumps(error).encode("utf-8") + b"\n\n" + raw
    return raw


def _no_finish_key(chunk: dict[str, Any], ctx: ChunkContext) -> list[dict[str, Any]] | None:
    for choice in choices(chunk):
        if choice.get("finish_reason") is None:
            choice.pop("finish_reason", None)
    return None


def _object_completion(chunk: dict[str, Any], ctx: ChunkContext) -> list[dict[str, Any]] | None:
    chunk["object"] = "chat.completion"
    return None


def _id_changes(chunk: dict[str, Any], ctx: ChunkContext) -> list[dict[str, Any]] | None:
    chunk["id"] = f"{chunk.get('id')}-{ctx.index}"
    return None


def _created_changes(chunk: dict[str, Any], ctx: ChunkContext) -> list[dict[str, Any]] | None:
    if isinstance(chunk.get("created"), int):
        chunk["created"] += ctx.index
    return None


def _model_changes(chunk: dict[str, Any], ctx: ChunkContext) -> list[dict[str, Any]] | None:
    if ctx.index > 0:
        chunk["model"] = f"{chunk.get('model')}-2024-11-20"
    return None


def _role_missing(chunk: dict[str, Any], ctx: ChunkContext) -> list[dict[str, Any]] | None:
    for choice in choices(chunk):
        if isinstance(choice.get("delta"), dict):
            choice["delta"].pop("role", None)
    return None


def _role_repeated(chunk: dict[str, Any], ctx: ChunkContext) -> list[dict[str, Any]] | None:
    for choice in choices(chunk):
        if isinstance(choice.get("delta"), dict):
            choice["delta"]["role"] = "assistant"
    return None


def _finish_missing(chunk: dict[str, Any], ctx: ChunkContext) -> list[dict[str, Any]] | None:
    for choice in choices(chunk):
        choice["finish_reason"] = None
    return None


def _content_after_finish(chunk: dict[str, Any], ctx: ChunkContext) -> list[dict[str, Any]] | None:
    if not ctx.is_final:
        return None
    extra = [
        {
            "index": c.get("index"),
            "delta": {"content": " (continued)"},
            "logprobs": None,
            "finish_reason": None,
        }
        for c in choices(chunk)
    ]
    return [chunk, {**chunk, "choices": extra}]


for _fault in (
    Fault(
        "stream-content-type-json",
        "streams are declared Content-Type: application/json",
        breaks=("STREAM-001",),
        on_headers=_json_content_type,
    ),
    Fault(
        "stream-non-json-event",
        "a `data: ping` event (not JSON) before the second chunk",
        breaks=("STREAM-002",),
        on_event=_ping_event,
    ),
    Fault(
        "stream-no-done", "streams end without `data: [DONE]`", breaks=("STREAM-003",), on_event=_drop_done
    ),
    Fault(
        "stream-data-after-done",
        "a chunk follows `data: [DONE]`",
        breaks=("STREAM-003",),
        trailer=LATE_CHUNK,
    ),
    Fault(
        "stream-truncated",
        "the body ends in the middle of the third event, without [DONE]",
        breaks=("STREAM-004",),
        on_event=_truncate,
    ),
    Fault(
        "stream-stall",
        f"streams go silent after {STALL_AFTER} events (connection kept open)",
        breaks=("STREAM-005",),
        stall_after_events=STALL_AFTER,
        applies_to=from_suite,  # the SDK's own stream (SDK-002) has its own faults
    ),
    Fault(
        "stream-error-event",
        "an error event after the first chunk of a valid request's stream",
        breaks=("STREAM-006",),
        on_event=_error_event,
    ),
    Fault(
        "stream-no-finish-key",
        "non-final chunks omit the finish_reason key (vLLM #19650)",
        breaks=("STREAM-007",),
        on_chunk=chat_chunk_hook(_no_finish_key),
    ),
    Fault(
        "stream-object-completion",
        "chat chunks are named chat.completion",
        breaks=("STREAM-008",),
        on_chunk=chat_chunk_hook(_object_completion),
    ),
    Fault(
        "stream-id-changes",
        "each chunk has a different id",
        breaks=("STREAM-009",),
        on_chunk=chat_chunk_hook(_id_changes),
    ),
    Fault(
        "stream-created-changes",
        "each chunk has a later created timestamp",
        breaks=("STREAM-010",),
        on_chunk=chat_chunk_hook(_created_changes),
    ),
    Fault(
        "stream-model-changes",
        "chunks after the first name a dated model alias",
        breaks=("STREAM-011",),
        on_chunk=chat_chunk_hook(_model_changes),
    ),
    Fault(
        "stream-role-missing",
        "no delta carries the role",
        breaks=("STREAM-012",),
        on_chunk=chat_chunk_hook(_role_missing),
    ),
    Fault(
        "stream-role-repeated",
        "every delta repeats role assistant",
        breaks=("STREAM-013",),
        on_chunk=chat_chunk_hook(_role_repeated),
    ),
    Fault(
        "stream-finish-missing",
        "no chunk carries a finish_reason",
        breaks=("STREAM-014",),
        on_chunk=chat_chunk_hook(_finish_missing),
    ),
    Fault(
        "stream-content-after-finish",
        "a content delta follows each choice's finish chunk",
        breaks=("STREAM-015",),
        on_chunk=chat_chunk_hook(_content_after_finish),
    ),
):
    register(_fault)
