"""Tool-call faults: each breaks exactly one TOOL rule (conformance/rules/tools.py)."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from maascheck.sim.faults import ChunkContext, Fault, RequestView, register
from maascheck.sim.faults._util import chat_body_hook, chat_chunk_hook, choices, from_suite, message, request_json


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
    if view.endpoint != "chat" or not from_suite(view) or "tools" not in req:
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
        "tools and tool_choice are dropped: the model answers in text",
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
