"""finish_reason faults: each breaks exactly one FINISH rule (conformance/rules/finish.py)."""

from __future__ import annotations

from typing import Any

from maascheck.sim.faults import ChunkContext, Fault, register
from maascheck.sim.faults._util import chat_body_hook, chat_chunk_hook, choices, message, request_json


def _length_as_stop(limit_key: str) -> Any:
    """An on_body edit: answers cut by `limit_key` report finish_reason "stop"."""

    def edit(body: dict[str, Any], req: dict[str, Any]) -> None:
        if limit_key in req:
            for choice in choices(body):
                if choice.get("finish_reason") == "length":
                    choice["finish_reason"] = "stop"

    return edit


def _stream_length_as_stop(chunk: dict[str, Any], ctx: ChunkContext) -> list[dict[str, Any]] | None:
    for choice in choices(chunk):
        if choice.get("finish_reason") == "length":
            choice["finish_reason"] = "stop"
    return None


def _stop_as_length(body: dict[str, Any], req: dict[str, Any]) -> None:
    stops = req.get("stop")
    if isinstance(stops, list) and len(stops) == 1:  # several stops: the PARAM stop-list faults' ground
        for choice in choices(body):
            if choice.get("finish_reason") == "stop":
                choice["finish_reason"] = "length"


def _stop_included(body: dict[str, Any], req: dict[str, Any]) -> None:
    stops = req.get("stop")
    first = stops[0] if isinstance(stops, list) and stops else stops
    if not isinstance(first, str):
        return
    for choice in choices(body):
        msg = message(choice)
        if choice.get("finish_reason") == "stop" and isinstance(msg.get("content"), str):
            msg["content"] += first


def _tool_finish_stop(body: dict[str, Any], req: dict[str, Any]) -> None:
    for choice in choices(body):
        if choice.get("finish_reason") == "tool_calls":
            choice["finish_reason"] = "stop"


def _stream_tool_finish_stop(chunk: dict[str, Any], ctx: ChunkContext) -> list[dict[str, Any]] | None:
    if request_json(ctx.request).get("tools"):
        _tool_finish_stop(chunk, {})
    return None


for _fault in (
    Fault(
        "finish-length-as-stop",
        "answers cut by max_tokens say finish_reason stop",
        breaks=("FINISH-001",),
        on_body=chat_body_hook(_length_as_stop("max_tokens")),
    ),
    Fault(
        "finish-mct-length-as-stop",
        "answers cut by max_completion_tokens say finish_reason stop",
        breaks=("FINISH-002",),
        on_body=chat_body_hook(_length_as_stop("max_completion_tokens")),
    ),
    Fault(
        "stream-length-as-stop",
        "streams cut by the token limit finish with stop",
        breaks=("FINISH-003",),
        on_chunk=chat_chunk_hook(_stream_length_as_stop),
    ),
    Fault(
        "stop-reported-as-length",
        "answers ended by their one stop sequence say finish_reason length",
        breaks=("FINISH-004",),
        on_body=chat_body_hook(_stop_as_length),
    ),
    Fault(
        "stop-sequence-included",
        "the matched stop sequence is appended to the answer (include_stop_str_in_output)",
        breaks=("FINISH-005",),
        on_body=chat_body_hook(_stop_included),
    ),
    Fault(
        "tool-finish-stop",
        "tool-call answers finish with stop instead of tool_calls",
        breaks=("FINISH-006",),
        on_body=chat_body_hook(_tool_finish_stop),
        on_chunk=chat_chunk_hook(_stream_tool_finish_stop),
    ),
):
    register(_fault)
