"""Reasoning faults: each breaks exactly one REASON rule (conformance/rules/reasoning.py)."""

from __future__ import annotations

from typing import Any

from maascheck.sim.faults import ChunkContext, Fault, register
from maascheck.sim.faults._util import chat_body_hook, chat_chunk_hook, choices, message

FIELDS = ("reasoning_content", "reasoning")


def _think_in_content(body: dict[str, Any], req: dict[str, Any]) -> None:
    for choice in choices(body):
        msg = message(choice)
        thinking = "".join(msg[f] for f in FIELDS if isinstance(msg.get(f), str))
        if thinking:
            msg["content"] = f"<think>{thinking}</think>" + (msg.get("content") or "")


def _drop_fields(obj: Any) -> None:
    if isinstance(obj, dict):
        for field in FIELDS:
            obj.pop(field, None)


def _drop_body(body: dict[str, Any], req: dict[str, Any]) -> None:
    for choice in choices(body):
        _drop_fields(message(choice))


def _drop_chunk(chunk: dict[str, Any], ctx: ChunkContext) -> list[dict[str, Any]] | None:
    for choice in choices(chunk):
        _drop_fields(choice.get("delta"))
    return None


def _reasoning_after_content(chunk: dict[str, Any], ctx: ChunkContext) -> list[dict[str, Any]] | None:
    late = [
        {
            "index": c.get("index"),
            "delta": {"reasoning_content": " (second thoughts)"},
            "logprobs": None,
            "finish_reason": None,
        }
        for c in choices(chunk)
        if isinstance(c.get("delta"), dict) and c["delta"].get("content") and c.get("finish_reason") is None
    ]
    return [chunk, {**chunk, "choices": late}] if late else None


for _fault in (
    Fault(
        "reasoning-think-in-content",
        "the thinking is also left in content as a <think> block",
        breaks=("REASON-001",),
        on_body=chat_body_hook(_think_in_content),
    ),
    Fault(
        "reasoning-dropped",
        "reasoning_content is stripped from messages and deltas",
        breaks=("REASON-002",),
        on_body=chat_body_hook(_drop_body),
        on_chunk=chat_chunk_hook(_drop_chunk),
    ),
    Fault(
        "reasoning-after-content",
        "a reasoning delta follows each content delta",
        breaks=("REASON-003",),
        on_chunk=chat_chunk_hook(_reasoning_after_content),
    ),
):
    register(_fault)
