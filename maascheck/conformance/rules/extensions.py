"""Finds vendor extension fields in responses: keys the OpenAI schemas do not define (informational).

Response schemas do not forbid extra keys , so extensions such as
`reasoning_content` or `stop_reason` are legal; the report lists them so users see what they get.
"""

from __future__ import annotations

from typing import Any

from maascheck.conformance.model.exchange import Exchange

# Keys defined by the spec's response objects (CreateChatCompletionResponse,
# CreateChatCompletionStreamResponse, CreateCompletionResponse, ListModelsResponse).
TOP = {
    "id",
    "object",
    "created",
    "model",
    "choices",
    "usage",
    "system_fingerprint",
    "service_tier",
    "data",
    "error",
    "obfuscation",
}
CHOICE = {"index", "message", "delta", "finish_reason", "logprobs", "text"}
MESSAGE = {"role", "content", "refusal", "tool_calls", "annotations", "audio", "function_call"}
USAGE = {
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "completion_tokens_details",
    "prompt_tokens_details",
}


def _scan(doc: Any, out: set[tuple[str, str]]) -> None:
    if not isinstance(doc, dict):
        return
    kind = str(doc.get("object", "response"))
    out.update((kind, k) for k in doc if k not in TOP)
    usage = doc.get("usage")
    if isinstance(usage, dict):
        out.update((f"{kind}.usage", k) for k in usage if k not in USAGE)
    for choice in doc.get("choices") or []:
        if not isinstance(choice, dict):
            continue
        out.update((f"{kind}.choices[]", k) for k in choice if k not in CHOICE)
        for part in ("message", "delta"):
            msg = choice.get(part)
            if isinstance(msg, dict):
                out.update((f"{kind}.choices[].{part}", k) for k in msg if k not in MESSAGE)


def find_extensions(exchanges: list[Exchange]) -> list[dict[str, str]]:
    """Each (where, field) extension seen in any successful response, sorted."""
    seen: set[tuple[str, str]] = set()
    for ex in exchanges:
        if ex.status != 200:
            continue
        if ex.events:
            for ev in ex.events:
                _scan(ev.json, seen)
        else:
            _scan(ex.json, seen)
    return [{"where": w, "field": f} for w, f in sorted(seen)]
