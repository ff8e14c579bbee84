"""Faults that break the official openai SDK only: a gateway that mishandles requests carrying its
`X-Stainless-*` headers (as header-filtering WAFs do). Each breaks one SDK rule (conformance/rules/sdk.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from maascheck.sim.faults import ChunkContext, Fault, RequestView, Response, register


def _from_sdk(view: RequestView) -> bool:
    return "x-stainless-lang" in view.headers


def _garble(raw: bytes, view: RequestView) -> bytes:
    if _from_sdk(view) and view.endpoint == "chat" and b'"choices"' in raw:
        return raw[: len(raw) // 2]
    return raw


def _error_event(raw: bytes, ctx: ChunkContext | None) -> bytes:
    if ctx is not None and ctx.kind == "chat" and ctx.index == 1 and _from_sdk(ctx.request):
        payload = {
            "error": {"message": "upstream overloaded", "type": "server_error", "param": None, "code": None}
        }
        return b"data: " + json.dumps(payload).encode() + b"\n\n"
    return raw


def _null_content(body: dict[str, Any], view: RequestView) -> dict[str, Any]:
    if _from_sdk(view) and view.endpoint == "chat" and "error" not in body:
        for choice in body.get("choices") or []:
            if isinstance(choice, dict) and isinstance(choice.get("message"), dict):
                choice["message"]["content"] = None
                choice["finish_reason"] = "stop"
    return body


def _reasoning_only(chunk: dict[str, Any], ctx: ChunkContext) -> list[dict[str, Any]]:
    if ctx.kind == "chat" and _from_sdk(ctx.request):
        for choice in chunk.get("choices") or []:
            delta = choice.get("delta") if isinstance(choice, dict) else None
            if isinstance(delta, dict) and isinstance(delta.get("content"), str):
                delta["reasoning_content"] = delta.pop("content")
    return [chunk]


def _answer_500(endpoint: str) -> Callable[[RequestView], Response | None]:
    def hook(view: RequestView) -> Response | None:
        if _from_sdk(view) and view.endpoint == endpoint:
            body = {
                "error": {
                    "message": "Internal Server Error",
                    "type": "server_error",
                    "param": None,
                    "code": None,
                }
            }
            return Response(500, json.dumps(body).encode())
        return None

    return hook


for _fault in (
    Fault(
        "sdk-chat-garbled",
        "non-stream chat bodies sent to the openai SDK are cut in half (invalid JSON)",
        breaks=("SDK-001",),
        on_body_bytes=_garble,
    ),
    Fault(
        "sdk-stream-error-event",
        "chat streams to the openai SDK carry an error event after the first chunk",
        breaks=("SDK-002",),
        on_event=_error_event,
    ),
    Fault(
        "sdk-completions-500",
        "legacy completions from the openai SDK are answered 500",
        breaks=("SDK-003",),
        on_request=_answer_500("completions"),
    ),
    Fault(
        "sdk-models-500",
        "GET /models from the openai SDK is answered 500",
        breaks=("SDK-004",),
        on_request=_answer_500("models"),
    ),
    Fault(
        "sdk-chat-null-content",
        "legal: the SDK's non-stream answer has message.content null with finish_reason stop (content is nullable)",
        on_body=_null_content,
    ),
    Fault(
        "sdk-stream-reasoning-only",
        "legal: the SDK's stream carries its text only as delta.reasoning_content, as a reasoning model's short answer",
        on_chunk=_reasoning_only,
    ),
):
    register(_fault)
