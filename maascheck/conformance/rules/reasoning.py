"""Reasoning models: thinking stays out of `content`, arrives in `reasoning_content`/`reasoning`, comes first.

The OpenAI chat spec has no reasoning text field; the convention comes from the DeepSeek API
(`reasoning_content`) and is served by vLLM (`--reasoning-parser`), SGLang and llama.cpp
(`--reasoning-format deepseek`); OpenRouter and newer vLLM use `reasoning` (schemas/reasoning.json).
常见模型 API 文档 and openapi.hhaice.com serve reasoning models (DeepSeek-R1-Distill, QwQ, deepseek-r1). The rules
apply when the profile documents the `reasoning` feature.
"""

from __future__ import annotations

from typing import Any

from maascheck.conformance.model.exchange import Exchange
from maascheck.conformance.model.probe import Probe, ProbeEnv, probe
from maascheck.conformance.model.rule import Impact, Level, NotApplicable, RuleContext, Violation, rule
from maascheck.conformance.rules._common import (
    accepted,
    body_of,
    choices_by_index,
    choices_of,
    chunks_of,
    delta_of,
    each,
    first_made,
    made,
    message_of,
    model_for,
    stream_accepted,
    user,
)

SOURCE = "schemas/reasoning.json (DeepSeek API reasoning_content; vLLM/SGLang/llama.cpp reasoning parsers)"
FIELDS = ("reasoning_content", "reasoning")
THINK_TAGS = ("<think>", "</think>")
PROBES = ("reasoning", "reasoning-stream")
DISCOVERY = "chat"  # the plain chat probe: its answer shows whether the chat model reasons


def reasoning_model(env: ProbeEnv) -> str:
    """The run's or profile's reasoning model; else the chat model when its plain answer carried reasoning.

    Discovered from the `chat` probe: reasoning in `reasoning_content`/`reasoning`, or a `<think>` block
    in the content (which REASON-001 then judges), marks a reasoning model.
    """
    try:
        return model_for(env.profile, env.options, "reasoning")
    except NotApplicable as undeclared:
        ex = env.exchange(DISCOVERY)
        body = ex.json if not ex.error and ex.status == 200 and isinstance(ex.json, dict) else {}
        msg = message_of(choices_of(body)[0]) if choices_of(body) else {}
        content = msg.get("content")
        if reasoning_text(msg) or (isinstance(content, str) and THINK_TAGS[0] in content):
            return model_for(env.profile, env.options)
        seen = "an answer without reasoning" if body else f"no answer (HTTP {ex.status or ex.error_kind})"
        raise NotApplicable(f"{undeclared}; discovered: the plain chat request got {seen}") from None


def reasoning_body(env: ProbeEnv, **extra: Any) -> dict[str, Any]:
    """A short question to the reasoning model (its thinking may use the whole small budget; that is fine)."""
    body: dict[str, Any] = {
        "model": reasoning_model(env),
        "messages": user("What is 17 + 25? Answer with the number only."),
        "max_tokens": 32,
        "stream": False,
    }
    body.update(extra)
    return body


def reasoning_text(obj: dict[str, Any]) -> str:
    """The reasoning a message or delta carries in `reasoning_content` or `reasoning`."""
    return "".join(obj[f] for f in FIELDS if isinstance(obj.get(f), str))


def texts(ex: Exchange) -> tuple[str, str]:
    """(content, reasoning) of choice 0 of a successful exchange, a stream's deltas joined."""
    if ex.probe == "reasoning":
        choices = choices_of(body_of(ex))
        msg = message_of(choices[0]) if choices else {}
        content = msg.get("content")
        return (content if isinstance(content, str) else ""), reasoning_text(msg)
    deltas = [delta_of(c) for _, c in choices_by_index(chunks_of(ex)).get(0, [])]
    content = "".join(d["content"] for d in deltas if isinstance(d.get("content"), str))
    return content, "".join(reasoning_text(d) for d in deltas)


probe(
    Probe(
        "reasoning",
        "POST",
        "/chat/completions",
        body=lambda env: reasoning_body(env),
        requires=("reasoning",),
        depends=(DISCOVERY,),
    )
)
probe(
    Probe(
        "reasoning-stream",
        "POST",
        "/chat/completions",
        body=lambda env: reasoning_body(env, stream=True),
        requires=("reasoning",),
        depends=(DISCOVERY,),
    )
)


@rule(
    "REASON-001",
    Level.MUST,
    "A reasoning model's content holds no <think> block",
    source=SOURCE,
    probes=PROBES,
    requires=("reasoning",),
    impact=Impact.SPEC,
)
def no_think_in_content(ctx: RuleContext) -> None:
    """`content` (streamed or not) contains neither `<think>` nor `</think>`: the thinking is parsed out."""
    each(first_made(ctx, PROBES), _judge_no_think)


def _judge_no_think(ex: Exchange) -> None:
    content, _ = texts(ex)
    tag = next((t for t in THINK_TAGS if t in content), None)
    if tag is not None:
        raise Violation(
            f"probe {ex.probe}: the content contains {tag!r}: the reasoning was left in the answer "
            "instead of "
            f"reasoning_content/reasoning ({SOURCE}); content {content[:160]!r}",
            expected="content without <think> tags",
            received=content[:300],
            where="choice 0 content",
            exchange=ex,
        )


@rule(
    "REASON-002",
    Level.MUST,
    "A reasoning model's thinking arrives in reasoning_content or reasoning",
    source=SOURCE,
    probes=PROBES,
    requires=("reasoning",),
    impact=Impact.SPEC,
)
def reasoning_field(ctx: RuleContext) -> None:
    """The message (or the deltas) carry non-empty reasoning text in `reasoning_content` or `reasoning`."""
    accepted(ctx.exchange("reasoning"), "the reasoning-model request", SOURCE)
    stream = made(ctx, ("reasoning-stream",))
    if stream:
        try:
            stream_accepted(stream[0], "the streaming reasoning-model request")
        except NotApplicable:
            stream = []
    for ex in [ctx.exchange("reasoning"), *stream]:
        content, reasoning = texts(ex)
        if any(t in content for t in THINK_TAGS):
            continue  # the thinking sits in content: REASON-001 reports it
        if not reasoning:
            raise Violation(
                f"probe {ex.probe}: no reasoning text in {' or '.join(FIELDS)} from the reasoning model "
                f"({SOURCE}); content {content[:120]!r}",
                expected=f"non-empty {FIELDS[0]} or {FIELDS[1]}",
                received=content[:300],
                where="choice 0",
                exchange=ex,
            )


@rule(
    "REASON-003",
    Level.SHOULD,
    "Streamed reasoning deltas all precede the first content delta",
    source=f"{SOURCE}; DeepSeek API streaming (reasoning_content chunks, then content chunks)",
    probes=("reasoning-stream",),
    requires=("reasoning",),
    impact=Impact.SPEC,
)
def reasoning_first(ctx: RuleContext) -> None:
    """No reasoning delta of choice 0 arrives after its first non-empty content delta."""
    ex = ctx.exchange("reasoning-stream")
    entries = choices_by_index(chunks_of(ex)).get(0, [])
    first_content = next((pos for pos, c in entries if delta_of(c).get("content")), None)
    if first_content is None:
        raise NotApplicable("the stream carried no content (the thinking may have used the whole budget)")
    late = next((pos for pos, c in entries if pos > first_content and reasoning_text(delta_of(c))), None)
    if late is not None:
        raise Violation(
            f"a reasoning delta (chunk {late}) follows the first content delta (chunk {first_content}); "
            "clients "
            "show the thinking before the answer",
            expected="all reasoning before content",
            received=f"reasoning at chunk {late}",
            where=f"chunk {late}",
            exchange=ex,
        )
