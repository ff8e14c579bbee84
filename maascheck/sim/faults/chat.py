"""Non-streaming chat faults: each breaks exactly one CHAT rule (conformance/rules/chat.py).

Faults here and in the other area modules of this helper act on the suite's own requests only,
not on those the openai SDK makes (see `_util.from_suite`): the SDK rules have faults of their own,
and a fault must fail exactly the rule it names.
"""

from __future__ import annotations

import json
from typing import Any

from maascheck.sim.faults import ChunkContext, Fault, RequestView, Response, register
from maascheck.sim.faults._util import (
    SEED_PROMPT,
    chat_body_hook,
    chat_chunk_hook,
    choices,
    error_response,
    from_suite,
    message,
    request_json,
)

PLAIN_KEYS = frozenset({"model", "messages", "max_tokens", "stream"})
SMALL_N = 4


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
        if choice.get("logprobs") is None:  # the key left out where it would be null (not requested)
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
