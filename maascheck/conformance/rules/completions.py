"""Legacy /completions: status, schema, object name, finish_reason values, and logprobs alternatives.

Spec: CreateCompletionRequest (OpenAI spec) and CreateCompletionResponse:
"both the streamed and non-streamed response objects share the same shape". 常见模型 API 文档 documents
the endpoint as returning "one or more predicted completions, with the probabilities of
alternative tokens at each position" (logprobs).
"""

from __future__ import annotations

import contextlib
from typing import Any

from maascheck.conformance.model.exchange import Exchange
from maascheck.conformance.model.probe import Probe, ProbeEnv, probe
from maascheck.conformance.model.rule import Impact, Level, NotApplicable, RuleContext, Violation, rule
from maascheck.conformance.rules._clients import STATUS_ERROR
from maascheck.conformance.rules._common import (
    PROMPT,
    accepted,
    at,
    body_of,
    choices_of,
    chunks_of,
    each,
    first_made,
    model_for,
    schema_problems,
    stream_accepted,
)

SPEC = "OpenAI spec CreateCompletionResponse"
SCHEMA = "completion"
CHUNK_SCHEMA = "completion-chunk"
FINISH = ("stop", "length", "content_filter")
MAX_TOKENS = 16
LOGPROBS = 2
PROBES = ("completions", "completions-stream")
# Paths a more specific rule owns: the object name (COMP-003) and finish_reason (COMP-004).
OWNED = (at("object"), at("choices", None, "finish_reason"))


def completion_body(env: ProbeEnv, **extra: Any) -> dict[str, Any]:
    """The suite's legacy completion request: the 常见模型 API 文档 prompt, a small max_tokens, explicit `stream`."""
    body: dict[str, Any] = {
        "model": model_for(env.profile, env.options),
        "prompt": PROMPT,
        "max_tokens": MAX_TOKENS,
        "stream": False,
    }
    body.update(extra)
    return body


def documents(ex: Exchange) -> list[tuple[str, dict[str, Any]]]:
    """(where, object) for a successful exchange: its body, or each stream chunk."""
    if isinstance(ex.request_json, dict) and ex.request_json.get("stream") is True:
        return [(f"chunk {pos}", c) for pos, c in enumerate(chunks_of(ex))]
    return [("body", body_of(ex))]


def all_documents(ctx: RuleContext) -> list[tuple[Exchange, str, dict[str, Any]]]:
    """Every body and chunk of the completions probes that succeeded; NotApplicable when none did."""
    out: list[tuple[Exchange, str, dict[str, Any]]] = []

    def collect(ex: Exchange) -> None:
        out.extend((ex, where, doc) for where, doc in documents(ex))

    each(first_made(ctx, (*PROBES, "completions-logprobs")), collect)
    return out


probe(
    Probe(
        "completions",
        "POST",
        "/completions",
        body=lambda env: completion_body(env),
        requires=("completions",),
    )
)
probe(
    Probe(
        "completions-stream",
        "POST",
        "/completions",
        body=lambda env: completion_body(env, stream=True),
        requires=("completions",),
    )
)
probe(
    Probe(
        "completions-logprobs",
        "POST",
        "/completions",
        body=lambda env: completion_body(env, logprobs=LOGPROBS, max_tokens=8),
        requires=("completions", "logprobs"),
    )
)


@rule(
    "COMP-001",
    Level.MUST,
    "A valid legacy completion request is answered 200, streamed or not",
    source=f"{SPEC} (200); 常见模型 API 文档 (POST /v1/completions)",
    probes=PROBES,
    requires=("completions",),
    impact=Impact.CLIENT,
    breaks=[STATUS_ERROR],
)
def completion_accepted(ctx: RuleContext) -> None:
    """The plain /completions request gets a JSON body; with `stream: true` it gets a 200 event stream."""
    accepted(ctx.exchange("completions"), "the legacy completion request", SPEC)
    try:
        stream = ctx.exchange("completions-stream")
    except NotApplicable:
        return
    with contextlib.suppress(NotApplicable):  # a truncated or stalled stream: STREAM-004/005 report it
        stream_accepted(stream, "the streaming legacy completion request")


@rule(
    "COMP-002",
    Level.MUST,
    "A completion and each of its stream chunks validate against the completion schema",
    source=f"{SPEC} ('the streamed and non-streamed response objects share the same shape'); "
    f"schemas/{SCHEMA}.json, schemas/{CHUNK_SCHEMA}.json",
    probes=(*PROBES, "completions-logprobs"),
    requires=("completions",),
    impact=Impact.SPEC,
)
def completion_schema(ctx: RuleContext) -> None:
    """Every body and chunk validates (object and finish_reason are left to COMP-003 and COMP-004)."""
    for ex, where, doc in all_documents(ctx):
        schema = CHUNK_SCHEMA if where.startswith("chunk") else SCHEMA
        problems = schema_problems(schema, doc, OWNED)
        if problems:
            raise Violation(
                f"probe {ex.probe}: {where} does not validate against schemas/{schema}.json ({SPEC}): "
                f"{problems[0]}",
                expected=f"valid against schemas/{schema}.json",
                received=problems,
                where=where,
                exchange=ex,
            )


@rule(
    "COMP-003",
    Level.MUST,
    'A completion\'s object is "text_completion", in a stream too',
    source=f"{SPEC} object enum [text_completion]; NVIDIA/TensorRT-LLM#12758",
    probes=(*PROBES, "completions-logprobs"),
    requires=("completions",),
    impact=Impact.SPEC,
)
def completion_object(ctx: RuleContext) -> None:
    """`object` is `text_completion` on the body and on every chunk (no `.chunk` suffix, unlike chat)."""
    for ex, where, doc in all_documents(ctx):
        if doc.get("object") != "text_completion":
            raise Violation(
                f"probe {ex.probe}: {where} has object {doc.get('object')!r}, expected "
                f"'text_completion' ({SPEC})",
                expected="text_completion",
                received=doc.get("object"),
                where=f"{where} $.object",
                exchange=ex,
            )


@rule(
    "COMP-004",
    Level.MUST,
    "A completion's finish_reason is stop, length or content_filter",
    source=f"{SPEC} choices[].finish_reason enum [stop, length, content_filter]",
    probes=(*PROBES, "completions-logprobs"),
    requires=("completions",),
    impact=Impact.SPEC,
)
def completion_finish(ctx: RuleContext) -> None:
    """Every non-null `choices[].finish_reason` is one of the three legacy values (no tool_calls, no eos)."""
    for ex, where, doc in all_documents(ctx):
        for i, choice in enumerate(choices_of(doc)):
            reason = choice.get("finish_reason")
            streamed = where.startswith("chunk")
            if (reason is None and streamed) or reason in FINISH:
                continue
            raise Violation(
                f"probe {ex.probe}: {where} choices[{i}].finish_reason is {reason!r}, expected one of "
                f"{FINISH} ({SPEC})",
                expected=list(FINISH),
                received=reason,
                where=f"{where} $.choices[{i}].finish_reason",
                exchange=ex,
            )


def _logprobs(ctx: RuleContext, *, owner: bool) -> tuple[Exchange, list[Any]]:
    """(exchange, [logprobs, tokens, top_logprobs]) of choice 0 (owner: report a failure)."""
    ex = ctx.exchange("completions-logprobs")
    body = accepted(ex, f"the completion request with logprobs={LOGPROBS}", SPEC) if owner else body_of(ex)
    choices = choices_of(body)
    lp = choices[0].get("logprobs") if choices else None
    top = lp.get("top_logprobs") if isinstance(lp, dict) else None
    tokens = lp.get("tokens") if isinstance(lp, dict) else None
    return ex, [lp, tokens, top]


@rule(
    "COMP-005",
    Level.MUST,
    "logprobs=N returns the alternatives of each generated position",
    source="常见模型 API 文档 (/v1/completions '返回每个位置的替代标记的概率'); OpenAI spec "
    "CreateCompletionRequest.logprobs",
    probes=("completions-logprobs",),
    requires=("completions", "logprobs"),
    impact=Impact.SPEC,
)
def completion_logprobs(ctx: RuleContext) -> None:
    """`choices[0].logprobs` has `tokens` and one non-empty `top_logprobs` mapping per token."""
    ex, (lp, tokens, top) = _logprobs(ctx, owner=True)
    ok = (
        isinstance(tokens, list)
        and isinstance(top, list)
        and len(top) == len(tokens)
        and all(isinstance(t, dict) and t for t in top)
    )
    if not ok or not tokens:
        raise Violation(
            f"logprobs={LOGPROBS} returned logprobs {str(lp)[:200]}; expected tokens[] and, per token, "
            "a non-empty "
            "top_logprobs mapping of alternative tokens to log probabilities (常见模型 API 文档)",
            expected="{tokens: [...], top_logprobs: [{token: logprob, ...} per token]}",
            received=lp,
            where="$.choices[0].logprobs",
            exchange=ex,
        )


@rule(
    "COMP-006",
    Level.MUST,
    "logprobs=N returns at most N+1 alternatives per position",
    source="OpenAI spec CreateCompletionRequest.logprobs ('there may be up to logprobs+1 "
    "elements in the response')",
    probes=("completions-logprobs",),
    requires=("completions", "logprobs"),
    impact=Impact.SPEC,
)
def completion_logprobs_bound(ctx: RuleContext) -> None:
    """No `top_logprobs` entry has more than `logprobs + 1` alternatives (N most likely + the sampled one)."""
    ex, (_, _, top) = _logprobs(ctx, owner=False)
    if not isinstance(top, list):
        raise NotApplicable("no top_logprobs list; COMP-005 reports it")
    for pos, alts in enumerate(top):
        if isinstance(alts, dict) and len(alts) > LOGPROBS + 1:
            raise Violation(
                f"top_logprobs[{pos}] has {len(alts)} alternatives for logprobs={LOGPROBS}; at most "
                f"{LOGPROBS + 1} are allowed (CreateCompletionRequest.logprobs)",
                expected=f"<= {LOGPROBS + 1}",
                received=len(alts),
                where=f"$.choices[0].logprobs.top_logprobs[{pos}]",
                exchange=ex,
            )
