"""finish_reason: `length` when the limit cuts, `stop` on a stop sequence, `tool_calls` on a tool call.

The stop-sequence rules work against any model, even a tiny real one: a deterministic baseline
(lowest temperature, a seed) asks for a long enumerated answer; a word from the middle of that
answer becomes the stop sequence of a second, otherwise identical request. Spec:
CreateChatCompletionResponse.choices[].finish_reason (OpenAI spec),
StopConfiguration.
"""

from __future__ import annotations

import re
from typing import Any

from maascheck.conformance.model.exchange import Exchange
from maascheck.conformance.model.probe import Probe, ProbeEnv, probe
from maascheck.conformance.model.rule import Impact, Level, NotApplicable, RuleContext, Violation, rule
from maascheck.conformance.rules._common import (
    accepted,
    body_of,
    chat_body,
    choices_by_index,
    choices_of,
    chunks_of,
    delta_of,
    each,
    finish_reasons,
    first_made,
    message_of,
    stream_accepted,
    user,
)
from maascheck.core.profiles import Profile

SPEC_FINISH = "OpenAI spec CreateChatCompletionResponse.choices[].finish_reason"
SPEC_STOP = (
    "OpenAI spec StopConfiguration ('The returned text will not contain the stop sequence')"
)
LONG_PROMPT = "Count from 1 to 50, one number per line, with no other text."
LENGTH_LIMIT = 5  # tokens: far below what LONG_PROMPT elicits
BASELINE_TOKENS = 32
MIN_BASELINE_CHARS = 12


# -- requests ------------------------------------------------------------------------------------


def lowest_temperature(profile: Profile) -> float | None:
    """0 when the profile's temperature range allows it, else its closed lower bound, else None (omit)."""
    r = profile.ranges.get("temperature")
    if r is None or r.contains(0):
        return 0
    if r.min is not None and not r.min_open:
        return r.min
    return None


def long_body(env: ProbeEnv, **extra: Any) -> dict[str, Any]:
    """A chat request whose honest answer is far longer than the token limit it sets."""
    return chat_body(env, messages=user(LONG_PROMPT), **extra)


def baseline_body(env: ProbeEnv) -> dict[str, Any]:
    """The deterministic long request: lowest temperature and, when documented, a seed."""
    body = long_body(env, max_tokens=BASELINE_TOKENS)
    temperature = lowest_temperature(env.profile)
    if temperature is not None:
        body["temperature"] = temperature
    if env.profile.feature("seed"):
        body["seed"] = int(getattr(env.options, "seed", 0) or 0)
    return body


def content_of(body: dict[str, Any]) -> str:
    """The first choice's message content ('' when absent)."""
    choices = choices_of(body)
    content = message_of(choices[0]).get("content") if choices else None
    return content if isinstance(content, str) else ""


def pick_stop(text: str) -> tuple[str, int] | None:
    """A word of `text` whose first occurrence starts at or after a third of it, and that position."""
    if len(text.strip()) < MIN_BASELINE_CHARS:
        return None
    for m in re.finditer(r"\S{1,20}", text):
        if m.start() >= len(text) // 3 and text.find(m.group()) == m.start():
            return m.group(), m.start()
    return None


def stop_body(env: ProbeEnv) -> dict[str, Any]:
    """The baseline request again, with a stop sequence taken from the middle of the baseline's answer."""
    baseline = env.exchange("finish-baseline")
    try:
        text = content_of(body_of(baseline))
    except NotApplicable as exc:
        raise NotApplicable(f"the baseline did not succeed: {exc}") from exc
    picked = pick_stop(text)
    if picked is None:
        raise NotApplicable(f"the baseline answer is too short to pick a stop sequence from: {text[:80]!r}")
    body = baseline_body(env)
    body["stop"] = [picked[0]]
    return body


def limit_of(ex: Exchange) -> int | None:
    """The token limit the request set (max_completion_tokens, else max_tokens)."""
    req = ex.request_json if isinstance(ex.request_json, dict) else {}
    for key in ("max_completion_tokens", "max_tokens"):
        if type(req.get(key)) is int:
            return int(req[key])
    return None


def completion_tokens(usage: Any) -> int | None:
    """usage.completion_tokens when it is an integer."""
    value = usage.get("completion_tokens") if isinstance(usage, dict) else None
    return value if type(value) is int else None


def require_cut(ex: Exchange, usage: Any, reason: Any) -> None:
    """NotApplicable unless the token limit demonstrably cut the output (or the usage cannot tell)."""
    limit, used = limit_of(ex), completion_tokens(usage)
    if used is not None and limit is not None and used < limit:
        raise NotApplicable(f"probe {ex.probe}: the model stopped on its own after {used} < {limit} tokens")
    if used is None and reason == "stop":
        raise NotApplicable(
            f"probe {ex.probe}: finish_reason 'stop' and no usage: cannot tell whether the limit cut"
        )


# -- probes --------------------------------------------------------------------------------------

probe(
    Probe(
        "finish-length", "POST", "/chat/completions", body=lambda env: long_body(env, max_tokens=LENGTH_LIMIT)
    )
)


def _mct_body(env: ProbeEnv) -> dict[str, Any]:
    body = long_body(env, max_completion_tokens=LENGTH_LIMIT)
    body.pop("max_tokens")
    return body


probe(
    Probe(
        "finish-length-mct", "POST", "/chat/completions", body=_mct_body, requires=("max_completion_tokens",)
    )
)


def _length_stream_body(env: ProbeEnv) -> dict[str, Any]:
    body = long_body(env, max_tokens=LENGTH_LIMIT, stream=True)
    if env.profile.feature("include_usage"):
        body["stream_options"] = {"include_usage": True}
    return body


probe(Probe("finish-length-stream", "POST", "/chat/completions", body=_length_stream_body))
probe(Probe("finish-baseline", "POST", "/chat/completions", body=baseline_body, requires=("stop",)))
probe(
    Probe(
        "finish-stop",
        "POST",
        "/chat/completions",
        body=stop_body,
        requires=("stop",),
        depends=("finish-baseline",),
    )
)


# -- rules ---------------------------------------------------------------------------------------


def _expect_length(ex: Exchange, body: dict[str, Any], param: str) -> None:
    choices = choices_of(body)
    reason = choices[0].get("finish_reason") if choices else None
    require_cut(ex, body.get("usage"), reason)
    if reason != "length":
        raise Violation(
            f"probe {ex.probe}: {param}={limit_of(ex)} cut the answer but finish_reason is {reason!r}, "
            "expected "
            f"'length' ({SPEC_FINISH}: 'length if the maximum number of tokens specified in the request was "
            "reached'; 预置多模态大模型服务接口说明 finish_reason table)",
            expected="length",
            received=reason,
            where="$.choices[0].finish_reason",
            exchange=ex,
        )


@rule(
    "FINISH-001",
    Level.MUST,
    'finish_reason is "length" when max_tokens cuts the answer',
    source=f"{SPEC_FINISH}; 预置多模态大模型服务接口说明 finish_reason ('length: 输出长度达到 max_tokens')",
    probes=("finish-length",),
    impact=Impact.SPEC,
)
def finish_length(ctx: RuleContext) -> None:
    """A request whose answer is far longer than `max_tokens` finishes with `length`."""
    ex = ctx.exchange("finish-length")
    _expect_length(ex, accepted(ex, "the max_tokens request", SPEC_FINISH), "max_tokens")


@rule(
    "FINISH-002",
    Level.MUST,
    'finish_reason is "length" when max_completion_tokens cuts the answer',
    source=f"{SPEC_FINISH}; CreateChatCompletionRequest.max_completion_tokens",
    probes=("finish-length-mct",),
    requires=("max_completion_tokens",),
    impact=Impact.SPEC,
)
def finish_length_mct(ctx: RuleContext) -> None:
    """The same with `max_completion_tokens` (the non-deprecated limit) instead of `max_tokens`."""
    ex = ctx.exchange("finish-length-mct")
    _expect_length(
        ex, accepted(ex, "the max_completion_tokens request", SPEC_FINISH), "max_completion_tokens"
    )


@rule(
    "FINISH-003",
    Level.MUST,
    'A stream cut by max_tokens finishes with "length"',
    source="OpenAI spec CreateChatCompletionStreamResponse.choices[].finish_reason",
    probes=("finish-length-stream",),
    impact=Impact.SPEC,
)
def finish_length_stream(ctx: RuleContext) -> None:
    """The finishing chunk of a streamed answer cut by `max_tokens` says `length`."""
    ex = ctx.exchange("finish-length-stream")
    chunks = stream_accepted(ex, "the streaming max_tokens request")
    reasons = finish_reasons(chunks, 0)
    if len(reasons) != 1:
        raise NotApplicable(f"choice 0 carried {len(reasons)} finish_reason values; STREAM-014 reports it")
    usage = next((c.get("usage") for c in reversed(chunks) if isinstance(c.get("usage"), dict)), None)
    require_cut(ex, usage, reasons[0])
    if reasons[0] != "length":
        raise Violation(
            f"probe {ex.probe}: max_tokens={limit_of(ex)} cut the streamed answer but its finish_reason is "
            f"{reasons[0]!r}, expected 'length' (CreateChatCompletionStreamResponse.choices[].finish_reason)",
            expected="length",
            received=reasons[0],
            where="finish chunk of choice 0",
            exchange=ex,
        )


def _stop_case(ctx: RuleContext) -> tuple[Exchange, str, str, str]:
    """(stop exchange, stop string, baseline text before the stop, stopped answer)."""
    baseline = ctx.exchange("finish-baseline")
    base_text = content_of(accepted(baseline, "the deterministic baseline request", SPEC_STOP))
    ex = ctx.exchange("finish-stop")
    stop_ex_body = accepted(ex, "the request with a stop sequence", SPEC_STOP)
    stop = ex.request_json["stop"][0]
    return ex, stop, base_text[: base_text.find(stop)], content_of(stop_ex_body)


@rule(
    "FINISH-004",
    Level.MUST,
    'finish_reason is "stop" when a stop sequence ends the answer',
    source=f"{SPEC_FINISH} ('stop if the model hit a natural stop point or a provided stop sequence')",
    probes=("finish-baseline", "finish-stop"),
    requires=("stop",),
    impact=Impact.SPEC,
)
def finish_stop(ctx: RuleContext) -> None:
    """When the answer ends exactly where the baseline had the stop sequence, finish_reason is `stop`.

    NotApplicable when the answer differs from the baseline before that point (the model is not
    deterministic here) or contains the stop sequence (FINISH-005 reports that).
    """
    ex, stop, expected_text, got = _stop_case(ctx)
    if stop in got:
        raise NotApplicable("the answer contains the stop sequence; FINISH-005 reports it")
    if got.rstrip() != expected_text.rstrip():
        raise NotApplicable(
            f"the answer {got[:60]!r} is not the baseline's text before the stop "
            f"{expected_text[:60]!r}: the model "
            "is not deterministic at the lowest temperature with a seed, so the stop point cannot be judged"
        )
    reason = (choices_of(body_of(ex)) or [{}])[0].get("finish_reason")
    if reason != "stop":
        raise Violation(
            f"the answer ended at stop sequence {stop!r} but finish_reason is {reason!r}, expected 'stop' "
            f"({SPEC_FINISH})",
            expected="stop",
            received=reason,
            where="$.choices[0].finish_reason",
            exchange=ex,
        )


@rule(
    "FINISH-005",
    Level.MUST,
    "The answer does not contain the stop sequence",
    source=SPEC_STOP,
    probes=("finish-baseline", "finish-stop"),
    requires=("stop",),
    impact=Impact.SPEC,
)
def stop_excluded(ctx: RuleContext) -> None:
    """The output of a request with `stop` ends before the stop sequence and excludes it."""
    ex, stop, expected_text, got = _stop_case(ctx)
    if stop in got:
        raise Violation(
            f"the answer contains stop sequence {stop!r} at offset {got.find(stop)}; the output must "
            "end before "
            f"it ({SPEC_STOP}); expected {expected_text[-40:]!r} as the end",
            expected=f"text without {stop!r}",
            received=got[:300],
            where="$.choices[0].message.content",
            exchange=ex,
        )


@rule(
    "FINISH-006",
    Level.MUST,
    'finish_reason is "tool_calls" when the model called a tool',
    source=f"{SPEC_FINISH} ('tool_calls if the model called a tool'); "
    "预置多模态大模型服务接口说明 ('tool_calls: 表示模型命中函数')",
    probes=("tools", "tools-stream"),
    requires=("tools",),
    impact=Impact.SPEC,
)
def finish_tool_calls(ctx: RuleContext) -> None:
    """A choice that carries a tool call (forced with `tool_choice`) finishes with `tool_calls`.

    `length` is accepted only when usage shows the limit was reached. (OpenAI itself answers `stop`
    when a named function is forced; the spec's wording is unconditional, so this rule follows it.)
    """
    each(first_made(ctx, ("tools", "tools-stream")), _judge_tool_finish)


def _judge_tool_finish(ex: Exchange) -> None:
    if ex.probe == "tools":
        body = body_of(ex)
        choices = choices_of(body)
        if not choices or not message_of(choices[0]).get("tool_calls"):
            raise NotApplicable("no tool call in the answer; TOOL-001 reports it")
        reason, usage = choices[0].get("finish_reason"), body.get("usage")
    else:
        chunks = chunks_of(ex)
        reasons = finish_reasons(chunks, 0)
        if not any(delta_of(c).get("tool_calls") for _, c in choices_by_index(chunks).get(0, [])):
            raise NotApplicable("no tool call in the stream; TOOL-001 reports it")
        if len(reasons) != 1:
            raise NotApplicable(
                f"choice 0 carried {len(reasons)} finish_reason values; STREAM-014 reports it"
            )
        reason = reasons[0]
        usage = next((c.get("usage") for c in reversed(chunks) if isinstance(c.get("usage"), dict)), None)
    if reason == "length":
        used, limit = completion_tokens(usage), limit_of(ex)
        if used is not None and limit is not None and used >= limit:
            return
    if reason != "tool_calls":
        raise Violation(
            f"probe {ex.probe}: the answer called a tool but finish_reason is {reason!r}, expected "
            f"'tool_calls' ({SPEC_FINISH})",
            expected="tool_calls",
            received=reason,
            where="finish_reason of choice 0",
            exchange=ex,
        )
