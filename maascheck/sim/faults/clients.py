"""Client-breaking deviations: what real client libraries trip over, as reported in their trackers.

Reports behind them: `arguments` as an object (ggml-org/llama.cpp#20198, huggingface/text-generation-
inference#2461); reasoning under `reasoning` rather than `reasoning_content` (BerriAI/litellm#8193,
langchain-ai/langchain#38769); a chunk with `choices: []` crashing `choices[0]` (gradio-app/gradio#11729,
TheR1D/shell_gpt#457); a body or event that is not JSON (every client's parser raises); an error sent
with status 200 (the application sees no error); the existing `error-detail-envelope` (a non-standard
error body, which a client may surface as "(no body)").

The client matrix (conformance rules `CLIENT-...`, run with `--clients`) shows which clients each of
these breaks; `tests/conformance/clients/break_table.json` pins that table. Like every fault, each
names in `breaks` the wire rules a default run (no client matrix) fails under it, so the fault proofs
hold it to exactly those. Deviations the other areas already model and the matrix also replays:
`usage-unrequested` (a usage chunk with `choices: []`), `tool-fragment-no-index`, `stream-no-done`,
`stream-truncated`, `tool-arguments-cut`, `reasoning-dropped`.
"""

from __future__ import annotations

import json
from typing import Any

from maascheck.sim.faults import ChunkContext, Fault, RequestView, register
from maascheck.sim.faults._util import chat_body_hook, chat_chunk_hook, choices, from_suite, message


def _rename_reasoning(obj: dict[str, Any]) -> None:
    if "reasoning_content" in obj:
        obj["reasoning"] = obj.pop("reasoning_content")


def _reasoning_renamed_body(body: dict[str, Any], req: dict[str, Any]) -> None:
    for c in choices(body):
        _rename_reasoning(message(c))


def _reasoning_renamed_chunk(chunk: dict[str, Any], ctx: ChunkContext) -> None:
    for c in choices(chunk):
        if isinstance(c.get("delta"), dict):
            _rename_reasoning(c["delta"])


def _object_arguments(call: Any) -> None:
    fn = call.get("function") if isinstance(call, dict) else None
    if isinstance(fn, dict) and isinstance(fn.get("arguments"), str):
        try:
            fn["arguments"] = json.loads(fn["arguments"])
        except ValueError:
            return


def _arguments_object_body(body: dict[str, Any], req: dict[str, Any]) -> None:
    for c in choices(body):
        for call in message(c).get("tool_calls") or []:
            _object_arguments(call)


def _arguments_object_chunk(chunk: dict[str, Any], ctx: ChunkContext) -> list[dict[str, Any]] | None:
    """Each streamed call arrives whole, its arguments an object (as some servers send them)."""
    for c in choices(chunk):
        delta = c.get("delta")
        calls = delta.get("tool_calls") if isinstance(delta, dict) else None
        if isinstance(calls, list) and calls:
            fn = calls[0].get("function") if isinstance(calls[0], dict) else None
            if isinstance(fn, dict) and isinstance(fn.get("arguments"), str) and fn.get("name"):
                fn["arguments"] = {"city": "Paris"}  # the whole call in its first fragment
            elif isinstance(fn, dict):
                return []  # the later fragments carried the rest of the string
    return None


def _garble_body(raw: bytes, view: RequestView) -> bytes:
    ok = view.endpoint in ("chat", "completions") and from_suite(view) and b'"error"' not in raw[:200]
    return raw + b"\n<!-- served from cache -->" if ok else raw


def _garble_event(raw: bytes, ctx: ChunkContext | None) -> bytes:
    if ctx is None or not from_suite(ctx.request) or not raw.startswith(b"data: {"):
        return raw
    return raw.replace(b"data: {", b"data: {{", 1)


for _fault in (
    Fault(
        "client-reasoning-renamed",
        "reasoning comes as `reasoning` instead of `reasoning_content` (clients that read only one drop it)",
        on_body=chat_body_hook(_reasoning_renamed_body),
        on_chunk=chat_chunk_hook(lambda chunk, ctx: _reasoning_renamed_chunk(chunk, ctx)),
    ),
    Fault(
        "client-tool-arguments-object",
        "tool-call `arguments` is a JSON object, not a JSON string (in a stream: the whole call at once)",
        breaks=("TOOL-002", "TOOL-006"),
        on_body=chat_body_hook(_arguments_object_body),
        on_chunk=chat_chunk_hook(_arguments_object_chunk),
    ),
    Fault(
        "client-body-not-json",
        "chat and completion bodies carry a trailing HTML comment after the JSON (no JSON parser accepts it)",
        breaks=(
            "CHAT-001",
            "CHAT-008",
            "COMP-001",
            "COMP-005",
            "FINISH-001",
            "FINISH-002",
            "FINISH-004",
            "FINISH-005",
            "LOGPROBS-001",
            "REASON-002",
            "SO-001",
            "SO-002",
            "TOOL-001",
            "TOOL-008",
            "TOOL-009",
            "TOOL-012",
            "VISION-001",
            "VISION-002",
        ),
        on_body_bytes=_garble_body,
    ),
    Fault(
        "client-event-not-json",
        "every stream event's data has a doubled opening brace (not JSON)",
        breaks=("STREAM-002",),
        on_event=_garble_event,
    ),
):
    register(_fault)


def _error_status_200(status: int, view: RequestView) -> int:
    return 200 if status == 404 and view.endpoint == "chat" and from_suite(view) else status


register(
    Fault(
        "client-error-status-200",
        "a chat request for a model that is not served is answered 200, the 404 error envelope kept as the body",
        breaks=("ERR-004", "ERR-010"),
        on_status=_error_status_200,
    )
)
