"""Non-streaming chat faults: each breaks exactly one CHAT rule (conformance/rules/chat.py).

Faults here and in the other area modules of this helper act on the suite's own requests only,
not on those the openai SDK makes (recognised by its `X-Stainless-Lang` header): the SDK rules
have faults of their own, and a fault must fail exactly the rule it names.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from maascheck.sim.faults import ChunkContext, Fault, RequestView, Response, register

PLAIN_KEYS = frozenset({"model", "messages", "max_tokens", "stream"})
SMALL_N = 4
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


def _plain_500(view: RequestView) -> Response | None:
    req = request_json(view)
    plain = view.endpoint == "chat" and req.get("stream") is False and set(req) <= PLAIN_KEYS
    if plain and from_suite(view) and SEED_PROMPT in json.dumps(req.get("messages")):
        return error_response(500, "Internal server error: no sampling parameters given")
    return None


def _created_string(body: dict[str, Any], req: dict[str, Any]) -> None:
    body["created"] = "2025-01-10T11:11:55Z"


def _object_chunk(body: dict[str, Any], req: dict[str, Any]) -> None:
    body["object"] = "chat.completion.chunk"


def _index_from_one(body: dict[str, Any], req: dict[str, Any]) -> None:
    if req.get("n", 1) != 1:
        return
    for choice in choices(body):
        choice["index"] = int(choice.get("index", 0)) + 1


def _role_model(body: dict[str, Any], req: dict[str, Any]) -> None:
    for choice in choices(body):
        message(choice)["role"] = "model"


def _no_logprobs_key(body: dict[str, Any], req: dict[str, Any]) -> None:
    for choice in choices(body):
        choice.pop("logprobs", None)


def _no_refusal_key(body: dict[str, Any], req: dict[str, Any]) -> None:
    for choice in choices(body):
        message(choice).pop("refusal", None)


def small_n(req: dict[str, Any]) -> bool:
    """Whether the request asks for 2..SMALL_N choices (the n faults leave large n to the PARAM faults)."""
    return isinstance(req.get("n"), int) and 2 <= req["n"] <= SMALL_N


def _n_ignored(body: dict[str, Any], req: dict[str, Any]) -> None:
    if small_n(req):
        body["choices"] = choices(body)[:1]


def _stream_n_ignored(chunk: dict[str, Any], ctx: ChunkContext) -> list[dict[str, Any]] | None:
    if not small_n(request_json(ctx.request)) or ctx.is_usage:
        return None
    kept = [c for c in choices(chunk) if c.get("index") == 0]
    return [{**chunk, "choices": kept}] if kept else []


for _fault in (
    Fault(
        "chat-plain-500",
        "the seeds/000 example chat request without sampling parameters is answered 500",
        breaks=("CHAT-001",),
        on_request=_plain_500,
    ),
    Fault(
        "chat-created-string",
        "non-stream chat completions give `created` as an ISO date string",
        breaks=("CHAT-002",),
        on_body=chat_body_hook(_created_string),
    ),
    Fault(
        "chat-object-chunk",
        "non-stream chat completions are named chat.completion.chunk",
        breaks=("CHAT-003",),
        on_body=chat_body_hook(_object_chunk),
    ),
    Fault(
        "chat-index-from-one",
        "the single choice of an n=1 answer has index 1",
        breaks=("CHAT-004",),
        on_body=chat_body_hook(_index_from_one),
    ),
    Fault(
        "chat-role-model",
        "the answer's role is `model` (Gemini style)",
        breaks=("CHAT-005",),
        on_body=chat_body_hook(_role_model),
    ),
    Fault(
        "chat-no-logprobs-key",
        "choices omit the spec-required `logprobs` key",
        breaks=("CHAT-006",),
        on_body=chat_body_hook(_no_logprobs_key),
    ),
    Fault(
        "chat-no-refusal-key",
        "messages omit the spec-required `refusal` key",
        breaks=("CHAT-007",),
        on_body=chat_body_hook(_no_refusal_key),
    ),
    Fault(
        "chat-n-ignored",
        f"n in 2..{SMALL_N} returns one choice (non-stream)",
        breaks=("CHAT-008",),
        on_body=chat_body_hook(_n_ignored),
    ),
    Fault(
        "stream-n-ignored",
        f"n in 2..{SMALL_N} streams one choice",
        breaks=("CHAT-009",),
        on_chunk=chat_chunk_hook(_stream_n_ignored),
    ),
):
    register(_fault)
