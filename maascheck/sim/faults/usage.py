"""Usage faults: each breaks exactly one USAGE rule (conformance/rules/usage.py).

Body edits apply to chat and legacy completions of suite requests; chunk edits to both kinds of
stream. Every edit keeps the other usage invariants true, so only the targeted rule fails.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from maascheck.sim.faults import ChunkContext, Fault, RequestView, register
from maascheck.sim.faults._util import from_suite, request_json

UsageEdit = Callable[[dict[str, Any], dict[str, Any]], None]


def _limit(req: dict[str, Any]) -> int | None:
    value = req.get("max_completion_tokens", req.get("max_tokens"))
    return value if isinstance(value, int) else None


def usage_body_hook(edit: UsageEdit) -> Callable[[dict[str, Any], RequestView], dict[str, Any]]:
    """An on_body hook applying `edit(usage, request)` to the usage of suite chat and completions bodies."""

    def hook(doc: dict[str, Any], view: RequestView) -> dict[str, Any]:
        if (
            view.endpoint in ("chat", "completions")
            and from_suite(view)
            and isinstance(doc.get("usage"), dict)
        ):
            edit(doc["usage"], request_json(view))
        return doc

    return hook


def usage_chunk_hook(edit: UsageEdit) -> Callable[[dict[str, Any], ChunkContext], list[dict[str, Any]]]:
    """An on_chunk hook applying `edit(usage, request)` to every usage object of suite stream chunks."""

    def hook(doc: dict[str, Any], ctx: ChunkContext) -> list[dict[str, Any]]:
        if from_suite(ctx.request) and isinstance(doc.get("usage"), dict):
            edit(doc["usage"], request_json(ctx.request))
        return [doc]

    return hook


def _drop_body_usage(doc: dict[str, Any], view: RequestView) -> dict[str, Any]:
    if view.endpoint in ("chat", "completions") and from_suite(view) and "error" not in doc:
        doc.pop("usage", None)
    return doc


def _total_off(usage: dict[str, Any], req: dict[str, Any]) -> None:
    usage["total_tokens"] = int(usage.get("total_tokens", 0)) + 1


def _total_off_after_tool(usage: dict[str, Any], req: dict[str, Any]) -> None:
    msgs = req.get("messages")
    if isinstance(msgs, list) and any(isinstance(m, dict) and m.get("role") == "tool" for m in msgs):
        _total_off(usage, req)


def _over_limit(usage: dict[str, Any], req: dict[str, Any]) -> None:
    limit = _limit(req)
    if limit is not None and limit > 1:  # the smallest limit is the PARAM limit faults' ground
        extra = limit * int(req.get("n", 1) or 1) + 7 - int(usage.get("completion_tokens", 0))
        usage["completion_tokens"] = int(usage.get("completion_tokens", 0)) + extra
        usage["total_tokens"] = int(usage.get("total_tokens", 0)) + extra


def _prompt_inflated(usage: dict[str, Any], req: dict[str, Any]) -> None:
    usage["prompt_tokens"] = int(usage.get("prompt_tokens", 0)) + 3
    usage["total_tokens"] = int(usage.get("total_tokens", 0)) + 3


def _cached_over_prompt(usage: dict[str, Any], req: dict[str, Any]) -> None:
    details = usage.get("prompt_tokens_details")
    usage["prompt_tokens_details"] = {
        **(details if isinstance(details, dict) else {}),
        "cached_tokens": int(usage.get("prompt_tokens", 0)) + 5,
    }


def _reasoning_over_completion(usage: dict[str, Any], req: dict[str, Any]) -> None:
    details = usage.get("completion_tokens_details")
    usage["completion_tokens_details"] = {
        **(details if isinstance(details, dict) else {}),
        "reasoning_tokens": int(usage.get("completion_tokens", 0)) + 5,
    }


def _include_usage(ctx: ChunkContext) -> bool:
    opts = request_json(ctx.request).get("stream_options")
    return isinstance(opts, dict) and opts.get("include_usage") is True


def _drop_usage_chunk(doc: dict[str, Any], ctx: ChunkContext) -> list[dict[str, Any]]:
    return [] if ctx.is_usage and from_suite(ctx.request) else [doc]


def _usage_every_chunk(doc: dict[str, Any], ctx: ChunkContext) -> list[dict[str, Any]]:
    if from_suite(ctx.request) and _include_usage(ctx) and not ctx.is_usage:
        doc["usage"] = {"prompt_tokens": 1, "completion_tokens": 0, "total_tokens": 1}
    return [doc]


def _usage_unrequested(doc: dict[str, Any], ctx: ChunkContext) -> list[dict[str, Any]]:
    if not from_suite(ctx.request) or _include_usage(ctx) or not ctx.is_final:
        return [doc]
    usage = {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}
    return [doc, {**doc, "choices": [], "usage": usage}]


for _fault in (
    Fault(
        "usage-missing",
        "non-stream responses carry no usage",
        breaks=("USAGE-001",),
        on_body=_drop_body_usage,
    ),
    Fault(
        "usage-total-off",
        "total_tokens is prompt + completion + 1",
        breaks=("USAGE-002",),
        on_body=usage_body_hook(_total_off),
        on_chunk=usage_chunk_hook(_total_off),
    ),
    Fault(
        "usage-total-off-after-tool",
        "total_tokens is one more than prompt + completion, only on requests carrying a tool result",
        breaks=("USAGE-002",),
        on_body=usage_body_hook(_total_off_after_tool),
    ),
    Fault(
        "usage-over-limit",
        "completion_tokens exceeds a max_tokens above 1 (total kept consistent)",
        breaks=("USAGE-003",),
        on_body=usage_body_hook(_over_limit),
        on_chunk=usage_chunk_hook(_over_limit),
    ),
    Fault(
        "usage-chunk-missing",
        "include_usage streams end without the usage chunk",
        breaks=("USAGE-004",),
        on_chunk=_drop_usage_chunk,
    ),
    Fault(
        "usage-every-chunk",
        "include_usage streams carry a running usage on every chunk",
        breaks=("USAGE-005",),
        on_chunk=_usage_every_chunk,
    ),
    Fault(
        "usage-unrequested",
        "streams send a usage chunk though include_usage was not set",
        breaks=("USAGE-006",),
        on_chunk=_usage_unrequested,
    ),
    Fault(
        "usage-stream-prompt-inflated",
        "the stream's usage chunk counts 3 more prompt tokens",
        breaks=("USAGE-007",),
        on_chunk=usage_chunk_hook(_prompt_inflated),
    ),
    Fault(
        "usage-cached-over-prompt",
        "cached_tokens exceeds prompt_tokens",
        breaks=("USAGE-008",),
        on_body=usage_body_hook(_cached_over_prompt),
        on_chunk=usage_chunk_hook(_cached_over_prompt),
    ),
    Fault(
        "usage-reasoning-over-completion",
        "reasoning_tokens exceeds completion_tokens",
        breaks=("USAGE-009",),
        on_body=usage_body_hook(_reasoning_over_completion),
        on_chunk=usage_chunk_hook(_reasoning_over_completion),
    ),
):
    register(_fault)
