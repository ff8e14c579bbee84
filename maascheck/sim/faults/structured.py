"""Structured-output faults: each breaks exactly one SO rule (conformance/rules/structured.py)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from maascheck.sim.faults import ChunkContext, Fault, register
from maascheck.sim.faults._util import chat_body_hook, chat_chunk_hook, choices, message, request_json


def _format(req: dict[str, Any]) -> str | None:
    fmt = req.get("response_format")
    kind = fmt.get("type") if isinstance(fmt, dict) else None
    return kind if isinstance(kind, str) else None


def _content_edit(kind: str, edit: Callable[[str], str]) -> Callable[[dict[str, Any], dict[str, Any]], None]:
    def apply(body: dict[str, Any], req: dict[str, Any]) -> None:
        if _format(req) != kind:
            return
        for choice in choices(body):
            msg = message(choice)
            if isinstance(msg.get("content"), str):
                msg["content"] = edit(msg["content"])

    return apply


def _prose(text: str) -> str:
    return "Sure! Here is the JSON you asked for: " + text


def _population_as_text(text: str) -> str:
    try:
        doc = json.loads(text)
    except ValueError:
        return text
    if isinstance(doc, dict) and "population" in doc:
        doc["population"] = f"{doc['population']} million"
    return json.dumps(doc)


def _reordered(text: str) -> str:
    try:
        doc = json.loads(text)
    except ValueError:
        return text
    return json.dumps(dict(reversed(list(doc.items()))), indent=2) if isinstance(doc, dict) else text


def _stream_extra_key(chunk: dict[str, Any], ctx: ChunkContext) -> list[dict[str, Any]] | None:
    if _format(request_json(ctx.request)) != "json_schema":
        return None
    for choice in choices(chunk):
        delta = choice.get("delta")
        piece = delta.get("content") if isinstance(delta, dict) else None
        if isinstance(delta, dict) and isinstance(piece, str) and piece.startswith("{"):
            delta["content"] = '{"note": "streamed", ' + piece[1:]
    return None


for _fault in (
    Fault(
        "json-mode-prose",
        "json_object answers wrap the JSON in a sentence",
        breaks=("SO-001",),
        on_body=chat_body_hook(_content_edit("json_object", _prose)),
    ),
    Fault(
        "json-schema-wrong-type",
        "strict json_schema answers give the integer population as a string",
        breaks=("SO-002",),
        on_body=chat_body_hook(_content_edit("json_schema", _population_as_text)),
    ),
    Fault(
        "json-schema-stream-extra-key",
        "streamed strict json_schema answers carry a key the schema forbids (additionalProperties: false)",
        breaks=("SO-003",),
        on_chunk=chat_chunk_hook(_stream_extra_key),
    ),
    Fault(
        "invalid-schema-accepted",
        "a json_schema response_format whose schema is not a JSON Schema is answered 200",
        breaks=("SO-004",),
        skip_validation=frozenset({"response_format"}),
    ),
    Fault(
        "legal-json-reordered",
        "legal: structured answers pretty-printed with their keys in another order (JSON objects are unordered)",
        on_body=chat_body_hook(_content_edit("json_schema", _reordered)),
    ),
    Fault(
        "legal-json-mode-padded",
        "legal: json_object answers with whitespace around the JSON (RFC 8259 §2 allows it)",
        on_body=chat_body_hook(_content_edit("json_object", lambda text: "\n  " + text + "\n")),
    ),
):
    register(_fault)
