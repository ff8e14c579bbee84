"""What the fault area modules share: recognising the suite's own requests, reading bodies, hook builders.

Faults act on the suite's own requests only, not on those the openai SDK makes (recognised by its
`X-Stainless-Lang` header): the SDK rules have faults of their own, and a fault must fail exactly
the rule it names. This module registers no fault.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from maascheck.sim.faults import ChunkContext, RequestView, Response

SEED_PROMPT = "Say this is a test!"  # the seeds/000 example prompt, which the suite's plain probes use


def from_suite(view: RequestView) -> bool:
    """Whether the request comes from the conformance suite rather than the openai SDK."""
    return "x-stainless-lang" not in view.headers


def request_json(view: RequestView) -> dict[str, Any]:
    """The request body as a dict ({} when it is not a JSON object)."""
    return view.json if isinstance(view.json, dict) else {}


def is_chat_body(body: dict[str, Any], view: RequestView) -> bool:
    """Whether `body` is a successful chat completion answering a suite request."""
    return view.endpoint == "chat" and "error" not in body and from_suite(view)


def choices(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """The choice objects of a body or chunk."""
    found = doc.get("choices")
    return [c for c in found if isinstance(c, dict)] if isinstance(found, list) else []


def message(choice: dict[str, Any]) -> dict[str, Any]:
    """A choice's message ({} when absent)."""
    msg = choice.get("message")
    return msg if isinstance(msg, dict) else {}


def chat_body_hook(
    edit: Callable[[dict[str, Any], dict[str, Any]], None],
) -> Callable[[dict[str, Any], RequestView], dict[str, Any]]:
    """An `on_body` hook applying `edit(body, request)` to the chat completions of suite requests."""

    def hook(body: dict[str, Any], view: RequestView) -> dict[str, Any]:
        if is_chat_body(body, view):
            edit(body, request_json(view))
        return body

    return hook


def chat_chunk_hook(
    edit: Callable[[dict[str, Any], ChunkContext], list[dict[str, Any]] | None],
) -> Callable[[dict[str, Any], ChunkContext], list[dict[str, Any]]]:
    """An `on_chunk` hook applying `edit` to the chat chunks of suite streams (None keeps the chunk)."""

    def hook(chunk: dict[str, Any], ctx: ChunkContext) -> list[dict[str, Any]]:
        if ctx.kind != "chat" or not from_suite(ctx.request):
            return [chunk]
        out = edit(chunk, ctx)
        return [chunk] if out is None else out

    return hook


def error_response(status: int, message_text: str, param: str | None = None) -> Response:
    """An OpenAI error envelope response."""
    kind = "server_error" if status >= 500 else "invalid_request_error"
    body = {"error": {"message": message_text, "type": kind, "param": param, "code": None}}
    return Response(status, json.dumps(body).encode("utf-8"))
