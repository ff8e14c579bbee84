"""Structured outputs: JSON mode answers parse as JSON; strict json_schema answers validate; a bad schema is a 400.

Spec: CreateChatCompletionRequest.response_format (ResponseFormatJsonObject, ResponseFormatJsonSchema:
`json_schema.name`, `schema`, `strict`), github.com/openai/openai-openapi; OpenAI's structured outputs
guide (platform.openai.com/docs/guides/structured-outputs: with `strict: true` the output matches the
schema; JSON mode needs the word "JSON" in the conversation). openai-python's
`client.chat.completions.parse` reads `message.content` into the schema's model and raises on
invalid JSON (pydantic ValidationError). Judged only on answers that finished (`finish_reason: stop`).
"""

from __future__ import annotations

import json
from typing import Any

from maascheck.conformance.model.exchange import Exchange
from maascheck.conformance.model.probe import Probe, ProbeEnv, probe
from maascheck.conformance.model.rule import (
    ClientBreak,
    Impact,
    Level,
    NotApplicable,
    RuleContext,
    Violation,
    rule,
)
from maascheck.conformance.rules._clients import OPENAI_PYTHON
from maascheck.conformance.rules._common import (
    accepted,
    chat_body,
    choices_of,
    delta_of,
    message_of,
    stream_accepted,
    user,
)
from maascheck.conformance.rules.checks import require_status

SPEC = "OpenAI spec (github.com/openai/openai-openapi) CreateChatCompletionRequest.response_format"
STRUCTURED_TOKENS = 64  # room for a two-field object from any model
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "population": {"type": "integer"}},
    "required": ["city", "population"],
    "additionalProperties": False,
}
INVALID_SCHEMA: dict[str, Any] = {"type": "object", "properties": "city", "required": "city"}
PARSE_FAILS = ClientBreak(
    OPENAI_PYTHON, "client.chat.completions.parse raises pydantic ValidationError reading message.content"
)
JSON_MODE_FAILS = ClientBreak(
    "langchain-openai", "JsonOutputParser raises OutputParserException: the content is not JSON"
)


def _json_schema(schema: dict[str, Any]) -> dict[str, Any]:
    return {"type": "json_schema", "json_schema": {"name": "city_facts", "schema": schema, "strict": True}}


def _asked(env: ProbeEnv, response_format: dict[str, Any], **extra: Any) -> dict[str, Any]:
    question = "Reply in JSON: the city of Paris and its population, as keys city and population."
    return chat_body(
        env, messages=user(question), response_format=response_format, max_tokens=STRUCTURED_TOKENS, **extra
    )


probe(
    Probe(
        "so-json-object",
        "POST",
        "/chat/completions",
        body=lambda env: _asked(env, {"type": "json_object"}),
        requires=("structured_outputs",),
    )
)
probe(
    Probe(
        "so-json-schema",
        "POST",
        "/chat/completions",
        body=lambda env: _asked(env, _json_schema(SCHEMA)),
        requires=("structured_outputs",),
    )
)
probe(
    Probe(
        "so-json-schema-stream",
        "POST",
        "/chat/completions",
        body=lambda env: _asked(env, _json_schema(SCHEMA), stream=True),
        requires=("structured_outputs",),
    )
)
probe(
    Probe(
        "so-invalid-schema",
        "POST",
        "/chat/completions",
        body=lambda env: _asked(env, _json_schema(INVALID_SCHEMA)),
        requires=("structured_outputs",),
    )
)
STRUCTURED_PROBES = ("so-json-object", "so-json-schema", "so-json-schema-stream")


def finished_content(ex: Exchange) -> str:
    """The first choice's content of a non-stream answer that finished; NotApplicable when cut or absent."""
    choices = choices_of(accepted(ex, f"the {ex.probe} request", SPEC))
    if not choices:
        raise NotApplicable(f"probe {ex.probe} returned no choice; CHAT-004 reports it")
    if choices[0].get("finish_reason") != "stop":
        raise NotApplicable(f"probe {ex.probe} finished with {choices[0].get('finish_reason')!r}, not 'stop'")
    content = message_of(choices[0]).get("content")
    return content if isinstance(content, str) else ""


def streamed_content(ex: Exchange) -> str:
    """Choice 0's delta contents up to its finish chunk joined, for a stream that finished with `stop`.

    NotApplicable otherwise; content after the finish chunk is STREAM-015's to report.
    """
    chunks = stream_accepted(ex, f"the {ex.probe} request")
    text, finish = [], None
    for chunk in chunks:
        for choice in choices_of(chunk):
            if choice.get("index") == 0 and finish is None:
                piece = delta_of(choice).get("content")
                text.append(piece if isinstance(piece, str) else "")
                finish = choice.get("finish_reason") or finish
    if finish != "stop":
        raise NotApplicable(f"probe {ex.probe} finished with {finish!r}, not 'stop'")
    return "".join(text)


def parsed(ex: Exchange, text: str, what: str) -> Any:
    """`text` parsed as JSON, or a Violation quoting it."""
    try:
        return json.loads(text)
    except ValueError as exc:
        raise Violation(
            f"probe {ex.probe}: {what} is not JSON ({exc}): {text[:200]!r} ({SPEC})",
            expected="a JSON text",
            received=text[:300],
            where="$.choices[0].message.content" if "stream" not in ex.probe else "joined delta.content",
            exchange=ex,
        ) from None


def conforms(ex: Exchange, text: str) -> None:
    """A Violation unless `text` is JSON valid against SCHEMA."""
    from jsonschema import Draft202012Validator

    doc = parsed(ex, text, "the strict json_schema answer")
    problems = sorted(Draft202012Validator(SCHEMA).iter_errors(doc), key=lambda e: e.json_path)
    if problems:
        raise Violation(
            f"probe {ex.probe}: the strict json_schema answer does not validate against the request's schema: "
            f"{problems[0].json_path}: {problems[0].message} ({SPEC})",
            expected=SCHEMA,
            received=doc,
            where=problems[0].json_path,
            exchange=ex,
        )


@rule(
    "SO-001",
    Level.MUST,
    "A json_object response_format answer parses as a JSON object",
    source=f"{SPEC} ResponseFormatJsonObject ('ensures the message the model generates is valid JSON')",
    probes=("so-json-object",),
    requires=("structured_outputs",),
    impact=Impact.CLIENT,
    breaks=[JSON_MODE_FAILS],
)
def json_mode(ctx: RuleContext) -> None:
    """With `response_format: {type: json_object}`, a finished answer's content is the JSON text of an object."""
    ex = ctx.exchange("so-json-object")
    doc = parsed(ex, finished_content(ex), "the json_object answer")
    if not isinstance(doc, dict):
        raise Violation(
            f"probe {ex.probe}: the json_object answer is a JSON {type(doc).__name__}, not an object ({SPEC})",
            expected="a JSON object",
            received=doc,
            where="$.choices[0].message.content",
            exchange=ex,
        )


@rule(
    "SO-002",
    Level.MUST,
    "A strict json_schema answer validates against the schema",
    source=f"{SPEC} ResponseFormatJsonSchema.json_schema.strict ('the model will always follow the exact schema')",
    probes=("so-json-schema",),
    requires=("structured_outputs",),
    impact=Impact.CLIENT,
    breaks=[PARSE_FAILS],
)
def json_schema_strict(ctx: RuleContext) -> None:
    """With a strict `json_schema` (city: string, population: integer, both required, nothing else) it validates."""
    ex = ctx.exchange("so-json-schema")
    conforms(ex, finished_content(ex))


@rule(
    "SO-003",
    Level.MUST,
    "A streamed strict json_schema answer validates against the schema",
    source=f"{SPEC} ResponseFormatJsonSchema.json_schema.strict; CreateChatCompletionStreamResponse delta.content",
    probes=("so-json-schema-stream",),
    requires=("structured_outputs",),
    impact=Impact.CLIENT,
    breaks=[PARSE_FAILS],
)
def json_schema_strict_stream(ctx: RuleContext) -> None:
    """The streamed answer's `delta.content` pieces joined validate against the strict schema."""
    ex = ctx.exchange("so-json-schema-stream")
    conforms(ex, streamed_content(ex))


@rule(
    "SO-004",
    Level.MUST,
    "A json_schema response_format with an invalid JSON Schema is refused with 400",
    source=f"{SPEC} ResponseFormatJsonSchema.json_schema.schema ('described as a JSON Schema object'); OpenAI "
    "answers 400 'Invalid schema for response_format'",
    probes=("so-invalid-schema",),
    requires=("structured_outputs",),
    impact=Impact.SPEC,
)
def invalid_schema(ctx: RuleContext) -> None:
    """`properties: "city"` is not a JSON Schema: the request is refused (400), not answered or failed (5xx)."""
    require_status(
        ctx.exchange("so-invalid-schema"), 400, "a json_schema response_format whose schema is not a JSON Schema"
    )
