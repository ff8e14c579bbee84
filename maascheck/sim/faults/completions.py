"""Legacy /completions faults: each breaks exactly one COMP rule (conformance/rules/completions.py).

The suite's plain completion probes send no `logprobs`; the status fault spares requests with
`logprobs` (the PARAM rules explore that parameter's range) and those of the openai SDK.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from maascheck.sim.faults import ChunkContext, Fault, RequestView, Response, register
from maascheck.sim.faults._util import choices, error_response, from_suite, request_json

LOGPROBS_EXTRA = 3  # alternatives added beyond what was asked


def _suite_completion(view: RequestView) -> bool:
    return view.endpoint == "completions" and from_suite(view)


def _not_found(view: RequestView) -> Response | None:
    if _suite_completion(view) and "logprobs" not in request_json(view):
        return error_response(404, "Not Found: this deployment serves /v1/chat/completions only")
    return None


Edit = Callable[[dict[str, Any], dict[str, Any]], None]


def _body_edit(edit: Edit) -> Callable[[dict[str, Any], RequestView], dict[str, Any]]:
    """An on_body hook applying `edit(body, request)` to suite completion bodies."""

    def hook(body: dict[str, Any], view: RequestView) -> dict[str, Any]:
        if _suite_completion(view) and "error" not in body:
            edit(body, request_json(view))
        return body

    return hook


def _chunk_edit(edit: Edit) -> Callable[[dict[str, Any], ChunkContext], list[dict[str, Any]]]:
    """An on_chunk hook applying `edit(chunk, request)` to suite completion chunks."""

    def hook(chunk: dict[str, Any], ctx: ChunkContext) -> list[dict[str, Any]]:
        if ctx.kind == "completions" and from_suite(ctx.request):
            edit(chunk, request_json(ctx.request))
        return [chunk]

    return hook


def _text_null(doc: dict[str, Any], req: dict[str, Any]) -> None:
    for choice in choices(doc):
        choice["text"] = None


def _object_chunk(doc: dict[str, Any], req: dict[str, Any]) -> None:
    doc["object"] = "text_completion.chunk"


def _finish_eos(doc: dict[str, Any], req: dict[str, Any]) -> None:
    for choice in choices(doc):
        if choice.get("finish_reason") is not None:
            choice["finish_reason"] = "eos_token"


def _logprobs_null(doc: dict[str, Any], req: dict[str, Any]) -> None:
    if req.get("logprobs"):
        for choice in choices(doc):
            choice["logprobs"] = None


def _logprobs_extra(doc: dict[str, Any], req: dict[str, Any]) -> None:
    asked = req.get("logprobs")
    if not isinstance(asked, int) or asked < 1:
        return
    for choice in choices(doc):
        lp = choice.get("logprobs")
        top = lp.get("top_logprobs") if isinstance(lp, dict) else None
        for alts in top if isinstance(top, list) else []:
            if isinstance(alts, dict):
                alts.update({f" extra{i}": -20.0 - i for i in range(asked + LOGPROBS_EXTRA - len(alts))})


for _fault in (
    Fault(
        "completions-not-found",
        "/completions without logprobs answers 404",
        breaks=("COMP-001",),
        on_request=_not_found,
    ),
    Fault(
        "completions-text-null",
        "completion choices carry text null",
        breaks=("COMP-002",),
        on_body=_body_edit(_text_null),
        on_chunk=_chunk_edit(_text_null),
    ),
    Fault(
        "completions-object-chunk",
        "completion stream chunks are named text_completion.chunk",
        breaks=("COMP-003",),
        on_chunk=_chunk_edit(_object_chunk),
    ),
    Fault(
        "completions-finish-eos",
        "completions finish with eos_token (TGI style)",
        breaks=("COMP-004",),
        on_body=_body_edit(_finish_eos),
        on_chunk=_chunk_edit(_finish_eos),
    ),
    Fault(
        "completions-logprobs-ignored",
        "logprobs=N returns logprobs null",
        breaks=("COMP-005",),
        on_body=_body_edit(_logprobs_null),
    ),
    Fault(
        "completions-logprobs-extra",
        f"logprobs=N returns N+{LOGPROBS_EXTRA} alternatives per position",
        breaks=("COMP-006",),
        on_body=_body_edit(_logprobs_extra),
    ),
):
    register(_fault)
