"""Tool-call faults: each breaks exactly one TOOL rule (conformance/rules/tools.py)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from maascheck.sim.faults import ChunkContext, Fault, RequestView, Response, register
from maascheck.sim.faults._util import (
    chat_body_hook,
    chat_chunk_hook,
    choices,
    error_response,
    from_suite,
    message,
    request_json,
)


def _calls(body: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for choice in choices(body):
        calls = message(choice).get("tool_calls")
        out += [c for c in calls if isinstance(c, dict)] if isinstance(calls, list) else []
    return out


def _fragments(chunk: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for choice in choices(chunk):
        delta = choice.get("delta")
        calls = delta.get("tool_calls") if isinstance(delta, dict) else None
        out += [c for c in calls if isinstance(c, dict)] if isinstance(calls, list) else []
    return out


def _ignore_tools(view: RequestView) -> RequestView | None:
    req = request_json(view)
    if view.endpoint != "chat" or not from_suite(view) or not isinstance(req.get("tool_choice"), dict):
        return None
    body = {k: v for k, v in req.items() if k not in ("tools", "tool_choice")}
    return replace(view, json=body, body=json.dumps(body).encode("utf-8"))


def _no_id(body: dict[str, Any], req: dict[str, Any]) -> None:
    for call in _calls(body):
        call.pop("id", None)


def _undeclared(body: dict[str, Any], req: dict[str, Any]) -> None:
    for call in _calls(body):
        if isinstance(call.get("function"), dict):
            call["function"]["name"] = "get_weather_v2"


def _stream_undeclared(chunk: dict[str, Any], ctx: ChunkContext) -> list[dict[str, Any]] | None:
    for frag in _fragments(chunk):
        fn = frag.get("function")
        if isinstance(fn, dict) and fn.get("name"):
            fn["name"] = "get_weather_v2"
    return None


def _args_cut(body: dict[str, Any], req: dict[str, Any]) -> None:
    for call in _calls(body):
        fn = call.get("function")
        if isinstance(fn, dict) and isinstance(fn.get("arguments"), str):
            fn["arguments"] = fn["arguments"][:-1]


def _no_index(chunk: dict[str, Any], ctx: ChunkContext) -> list[dict[str, Any]] | None:
    for frag in _fragments(chunk):
        frag.pop("index", None)
    return None


def _lost_brace(chunk: dict[str, Any], ctx: ChunkContext) -> list[dict[str, Any]] | None:
    for frag in _fragments(chunk):
        fn = frag.get("function")
        if isinstance(fn, dict) and isinstance(fn.get("arguments"), str) and fn["arguments"].startswith("{"):
            fn["arguments"] = fn["arguments"][1:]
    return None


def _fragment_no_id(chunk: dict[str, Any], ctx: ChunkContext) -> list[dict[str, Any]] | None:
    for frag in _fragments(chunk):
        frag.pop("id", None)
    return None


for _fault in (
    Fault(
        "tool-choice-ignored",
        "a forced (named) tool_choice is dropped with the tools: the model answers in text",
        breaks=("TOOL-001",),
        on_request=_ignore_tools,
    ),
    Fault("tool-call-no-id", "tool calls carry no id", breaks=("TOOL-002",), on_body=chat_body_hook(_no_id)),
    Fault(
        "tool-call-undeclared",
        "tool calls name a function the request did not declare",
        breaks=("TOOL-003",),
        on_body=chat_body_hook(_undeclared),
        on_chunk=chat_chunk_hook(_stream_undeclared),
    ),
    Fault(
        "tool-arguments-cut",
        "tool-call arguments lose their last character (invalid JSON)",
        breaks=("TOOL-004",),
        on_body=chat_body_hook(_args_cut),
    ),
    Fault(
        "tool-fragment-no-index",
        "streamed tool-call fragments carry no index",
        breaks=("TOOL-005",),
        on_chunk=chat_chunk_hook(_no_index),
    ),
    Fault(
        "tool-fragment-lost-brace",
        "the opening brace of streamed arguments is lost",
        breaks=("TOOL-006",),
        on_chunk=chat_chunk_hook(_lost_brace),
    ),
    Fault(
        "tool-fragment-no-id",
        "the first streamed tool-call fragment carries no id",
        breaks=("TOOL-007",),
        on_chunk=chat_chunk_hook(_fragment_no_id),
    ),
):
    register(_fault)



# -- tool_choice modes, parallel calls and the second turn -------------------------------------------


def _rewrite_choice(old: str, new: str) -> Callable[[RequestView], RequestView | None]:
    """An on_request hook that replaces `tool_choice: old` by `new` in suite requests."""

    def hook(view: RequestView) -> RequestView | None:
        req = request_json(view)
        if view.endpoint != "chat" or not from_suite(view) or req.get("tool_choice") != old:
            return None
        body = {**req, "tool_choice": new}
        return replace(view, json=body, body=json.dumps(body).encode("utf-8"))

    return hook


def _refuse_auto(view: RequestView) -> Response | None:
    req = request_json(view)
    if view.endpoint == "chat" and from_suite(view) and req.get("tool_choice") == "auto":
        return error_response(400, "tool_choice 'auto' is not supported; name a function", "tool_choice")
    return None


def _serial(view: RequestView) -> RequestView | None:
    req = request_json(view)
    if view.endpoint != "chat" or not from_suite(view) or "tools" not in req:
        return None
    body = {**req, "parallel_tool_calls": False}
    return replace(view, json=body, body=json.dumps(body).encode("utf-8"))


def _heads_share(key: str) -> Callable[[dict[str, Any], ChunkContext], list[dict[str, Any]] | None]:
    """Every tool-call fragment of a stream gets the first call's `key` (index or id) where it has one."""
    first: dict[int, Any] = {}

    def edit(chunk: dict[str, Any], ctx: ChunkContext) -> list[dict[str, Any]] | None:
        for frag in _fragments(chunk):
            if key in frag:
                frag[key] = first.setdefault(id(ctx.request), frag[key])
        return None

    return edit


def _second_turn_500(view: RequestView) -> Response | None:
    msgs = request_json(view).get("messages")
    has_tool = isinstance(msgs, list) and any(isinstance(m, dict) and m.get("role") == "tool" for m in msgs)
    if view.endpoint == "chat" and from_suite(view) and has_tool:
        return error_response(500, "Internal Server Error: cannot render a tool message")
    return None


for _fault in (
    Fault(
        "tool-choice-none-ignored",
        'tool_choice "none" is treated as "auto": the model calls the tool the question names',
        breaks=("TOOL-008",),
        on_request=_rewrite_choice("none", "auto"),
    ),
    Fault(
        "tool-choice-required-ignored",
        'tool_choice "required" is treated as "auto": a question that names no tool gets text',
        breaks=("TOOL-009",),
        on_request=_rewrite_choice("required", "auto"),
    ),
    Fault(
        "tool-choice-auto-rejected",
        'tool_choice "auto" is refused with 400',
        breaks=("TOOL-010",),
        on_request=_refuse_auto,
    ),
    Fault(
        "parallel-calls-one-index",
        "parallel tool calls in a stream all carry index 0",
        breaks=("TOOL-011",),
        on_chunk=chat_chunk_hook(_heads_share("index")),
    ),
    Fault(
        "parallel-calls-one-id",
        "parallel tool calls in a stream all carry the first call's id",
        breaks=("TOOL-011",),
        on_chunk=chat_chunk_hook(_heads_share("id")),
    ),
    Fault(
        "tool-result-500",
        "a request carrying a tool message (the second turn) is answered 500",
        breaks=("TOOL-012",),
        on_request=_second_turn_500,
    ),
    Fault(
        "legal-tool-calls-serial",
        "legal: parallel_tool_calls is ignored, the model makes one call at a time",
        on_request=_serial,
    ),
):
    register(_fault)
