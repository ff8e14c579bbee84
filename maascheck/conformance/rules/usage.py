"""Token usage: present where documented, consistent, within the limit, and placed right in streams.

Spec (OpenAI spec): CompletionUsage, ChatCompletionStreamOptions.include_usage,
CreateChatCompletionStreamResponse.usage. Arithmetic rules judge every usage object any probe returned
(bodies and chunks), for every request shape the suite sends.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from maascheck.conformance.model.exchange import Exchange
from maascheck.conformance.model.probe import Probe, probe
from maascheck.conformance.model.rule import Defect, Impact, Level, NotApplicable, RuleContext, Violation, rule
from maascheck.conformance.rules._common import (
    ALL_STREAMS,
    NON_STREAM_CHAT,
    before_done,
    body_of,
    chat_body,
    chunks_of,
    first_made,
    made,
    requested_n,
    stream_accepted,
)
from maascheck.conformance.rules.finish import limit_of
from maascheck.conformance.rules.inputs import INPUT_PROBES
from maascheck.conformance.rules.logprobs import LOGPROBS_PROBES
from maascheck.conformance.rules.messages import MESSAGE_PROBES
from maascheck.conformance.rules.seeds import SEED_PROBES
from maascheck.conformance.rules.structured import STRUCTURED_PROBES
from maascheck.conformance.rules.tools import TOOL_CHOICE_PROBES
from maascheck.core.stream_invariants import usage_total_off

SPEC_USAGE = "OpenAI spec CompletionUsage"
SPEC_INCLUDE = "OpenAI spec ChatCompletionStreamOptions.include_usage"
NON_STREAM_ALL = (*NON_STREAM_CHAT, "completions", "completions-logprobs")
# Every other request shape that can be answered 200: roles, histories, content parts, inputs the model
# may not support, structured outputs, tool_choice modes and the second turn, logprobs, seeds.
OTHER_SHAPES = (
    *MESSAGE_PROBES,
    "msg-text-parts-stream",
    *INPUT_PROBES,
    *STRUCTURED_PROBES,
    *TOOL_CHOICE_PROBES,
    *LOGPROBS_PROBES,
    *SEED_PROBES,
    "params-seed-a",
    "params-seed-b",
)
EVERY_PROBE = (*NON_STREAM_ALL, *ALL_STREAMS, *OTHER_SHAPES)
INCLUDE_USAGE_STREAMS = ("chat-stream-usage", "finish-length-stream")


def include_usage(ex: Exchange) -> bool:
    """Whether the request set `stream_options.include_usage: true`."""
    req = ex.request_json if isinstance(ex.request_json, dict) else {}
    opts = req.get("stream_options")
    return isinstance(opts, dict) and opts.get("include_usage") is True


def usages(ex: Exchange) -> Iterator[tuple[str, dict[str, Any]]]:
    """(where, usage object) for every usage a successful exchange carried: its body's, or each chunk's."""
    try:
        if isinstance(ex.request_json, dict) and ex.request_json.get("stream") is True:
            for pos, chunk in enumerate(chunks_of(ex)):
                if isinstance(chunk.get("usage"), dict):
                    yield f"chunk {pos} $.usage", chunk["usage"]
        elif isinstance(body_of(ex).get("usage"), dict):
            yield "$.usage", body_of(ex)["usage"]
    except NotApplicable:
        return


def every_usage(ctx: RuleContext) -> list[tuple[Exchange, str, dict[str, Any]]]:
    """Every usage object of every probe made; NotApplicable when there is none."""
    found = [(ex, where, u) for ex in made(ctx, EVERY_PROBE) for where, u in usages(ex)]
    if not found:
        raise NotApplicable("no exchange carried a usage object")
    return found


def count(obj: Any, *path: str) -> int | None:
    """The integer at `path` inside `obj` (None when absent, null or not an integer)."""
    for key in path:
        obj = obj.get(key) if isinstance(obj, dict) else None
    return obj if type(obj) is int else None


def final_usage(chunks: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The usage of the last chunk when it is the include_usage chunk (`choices: []` and a usage object)."""
    last = chunks[-1]
    return last["usage"] if last.get("choices") == [] and isinstance(last.get("usage"), dict) else None


probe(
    Probe(
        "chat-stream-usage",
        "POST",
        "/chat/completions",
        body=lambda env: chat_body(env, stream=True, stream_options={"include_usage": True}),
        requires=("include_usage",),
    )
)


@rule(
    "USAGE-001",
    Level.MUST,
    "Non-streaming chat and completions responses carry usage",
    source=f"{SPEC_USAGE}; 预置多模态大模型服务接口说明 and openapi.hhaice.com response tables "
    "(usage: prompt/completion/total tokens)",
    probes=("chat", "completions"),
    requires=("usage",),
    impact=Impact.SPEC,
)
def usage_present(ctx: RuleContext) -> None:
    """The body of a successful non-streaming request has a `usage` object (the profile documents usage)."""
    for ex in first_made(ctx, ("chat", "completions")):
        try:
            body = body_of(ex)
        except NotApplicable:
            continue
        if not isinstance(body.get("usage"), dict):
            raise Violation(
                f"probe {ex.probe}: the response has usage {body.get('usage')!r}; the profile documents "
                "token "
                f"usage on every response ({SPEC_USAGE})",
                expected="a usage object",
                received=body.get("usage"),
                where="$.usage",
                exchange=ex,
            )


@rule(
    "USAGE-002",
    Level.MUST,
    "total_tokens equals prompt_tokens + completion_tokens",
    source=f"{SPEC_USAGE} total_tokens ('Total number of tokens used in the request (prompt + completion)')",
    probes=EVERY_PROBE,
    impact=Impact.SPEC,
    defect=Defect.ARITHMETIC,
)
def usage_total(ctx: RuleContext) -> None:
    """On every usage object any probe returned, `total_tokens == prompt_tokens + completion_tokens`."""
    for ex, where, u in every_usage(ctx):
        p, c, t = count(u, "prompt_tokens"), count(u, "completion_tokens"), count(u, "total_tokens")
        if usage_total_off(p, c, t):
            raise Violation(
                f"probe {ex.probe}: total_tokens {t} != prompt_tokens {p} + completion_tokens {c} "
                f"({SPEC_USAGE})",
                expected=(p or 0) + (c or 0),
                received=t,
                where=where,
                exchange=ex,
            )


def _limit_field(ex: Exchange) -> str:
    """Which limit field the request set (max_completion_tokens wins over max_tokens, as in `limit_of`)."""
    body = ex.request_json if isinstance(ex.request_json, dict) else {}
    return "max_completion_tokens" if type(body.get("max_completion_tokens")) is int else "max_tokens"


@rule(
    "USAGE-003",
    Level.MUST,
    "completion_tokens does not exceed the request's token limit (times n)",
    source="OpenAI spec CreateChatCompletionRequest.max_tokens ('The maximum number of "
    "tokens that can be generated'), max_completion_tokens",
    probes=EVERY_PROBE,
    impact=Impact.SPEC,
    defect=Defect.ARITHMETIC,
)
def usage_within_limit(ctx: RuleContext) -> None:
    """`completion_tokens <= max_completion_tokens (or max_tokens) * n` wherever the request set a limit."""
    for ex, where, u in every_usage(ctx):
        limit, used = limit_of(ex), count(u, "completion_tokens")
        if limit is None or used is None:
            continue
        bound = limit * requested_n(ex)
        if used > bound:
            raise Violation(
                f"probe {ex.probe}: usage.completion_tokens {used} exceeds the request's limit "
                f"{_limit_field(ex)}={limit} x n={requested_n(ex)} = {bound}: the limit was not applied. "
                "Fix: stop generating at the limit (finish_reason 'length') and count what was generated.",
                expected=f"<= {bound}",
                received=used,
                where=where,
                exchange=ex,
            )


@rule(
    "USAGE-004",
    Level.MUST,
    "include_usage adds exactly one final chunk with choices [] and usage, before [DONE]",
    source=f"{SPEC_INCLUDE} ('an additional chunk will be streamed before the data: [DONE] message... the "
    "choices field will always be an empty array'); 百炼openAi文档 last stream line",
    probes=INCLUDE_USAGE_STREAMS,
    requires=("include_usage",),
    impact=Impact.SPEC,
)
def usage_chunk(ctx: RuleContext) -> None:
    """The last chunk before [DONE] has `choices: []` and a usage object, and no other chunk is one."""
    for ex in first_made(ctx, INCLUDE_USAGE_STREAMS):
        if not include_usage(ex):
            continue
        try:
            chunks = (
                stream_accepted(ex, "the include_usage streaming request")
                if ex.probe == "chat-stream-usage"
                else chunks_of(ex)
            )
        except NotApplicable:
            continue
        usage_chunks = [
            i for i, c in enumerate(chunks) if c.get("choices") == [] and isinstance(c.get("usage"), dict)
        ]
        if usage_chunks != [len(chunks) - 1]:
            late = [ev.data[:120] for ev in ex.events[len(before_done(ex)) :] if not ev.is_done]
            raise Violation(
                f"probe {ex.probe}: expected exactly one usage chunk (choices [] + usage) as the last "
                "chunk before "
                f"[DONE]; found one at chunk positions {usage_chunks} of {len(chunks)}"
                + (f"; events after [DONE]: {late}" if late else "")
                + f" ({SPEC_INCLUDE})",
                expected=f"[{len(chunks) - 1}]",
                received=usage_chunks,
                where="chunks with choices [] and usage",
                exchange=ex,
            )


@rule(
    "USAGE-005",
    Level.MUST,
    "With include_usage, every chunk before the usage chunk has usage null or absent",
    source=f"{SPEC_INCLUDE} ('All other chunks will also include a usage field, but with a null value')",
    probes=INCLUDE_USAGE_STREAMS,
    requires=("include_usage",),
    impact=Impact.SPEC,
)
def usage_null_before(ctx: RuleContext) -> None:
    """No chunk but the last carries a usage object (cumulative per-chunk usage is a vendor extension)."""
    for ex in first_made(ctx, INCLUDE_USAGE_STREAMS):
        if not include_usage(ex):
            continue
        try:
            chunks = chunks_of(ex)
        except NotApplicable:
            continue
        early = next((i for i, c in enumerate(chunks[:-1]) if c.get("usage") is not None), None)
        if early is not None:
            raise Violation(
                f"probe {ex.probe}: chunk {early} of {len(chunks)} carries usage "
                f"{chunks[early]['usage']!r}; only the "
                f"final chunk does, the others have usage null ({SPEC_INCLUDE})",
                expected=None,
                received=chunks[early]["usage"],
                where=f"chunk {early} $.usage",
                exchange=ex,
            )


@rule(
    "USAGE-006",
    Level.SHOULD,
    "Without include_usage no stream chunk carries a usage object",
    source="OpenAI spec CreateChatCompletionStreamResponse.usage ('only present when you set "
    "stream_options: {include_usage: true}')",
    probes=ALL_STREAMS,
    impact=Impact.SPEC,
)
def usage_not_unrequested(ctx: RuleContext) -> None:
    """A stream whose request did not ask for usage has `usage` null or absent on every chunk."""
    for ex in made(ctx, ALL_STREAMS):
        if include_usage(ex):
            continue
        try:
            chunks = chunks_of(ex)
        except NotApplicable:
            continue
        pos = next((i for i, c in enumerate(chunks) if c.get("usage") is not None), None)
        if pos is not None:
            raise Violation(
                f"probe {ex.probe}: chunk {pos} carries usage {chunks[pos]['usage']!r} though the "
                "request did not "
                "set stream_options.include_usage",
                expected=None,
                received=chunks[pos]["usage"],
                where=f"chunk {pos} $.usage",
                exchange=ex,
            )


@rule(
    "USAGE-007",
    Level.SHOULD,
    "A stream reports the same prompt_tokens as the same request without stream",
    source=f"{SPEC_USAGE} prompt_tokens ('Number of tokens in the prompt': a property of the prompt alone)",
    probes=("chat", "chat-stream-usage"),
    requires=("include_usage",),
    impact=Impact.SPEC,
)
def usage_parity(ctx: RuleContext) -> None:
    """`prompt_tokens` of the include_usage chunk equals that of the identical non-streaming request."""
    plain, streamed = ctx.exchange("chat"), ctx.exchange("chat-stream-usage")
    p_plain = count(body_of(plain), "usage", "prompt_tokens")
    final = final_usage(chunks_of(streamed))
    p_stream = count(final, "prompt_tokens")
    if p_plain is None or p_stream is None:
        raise NotApplicable("a usage with prompt_tokens is missing; USAGE-001/USAGE-004 report it")
    if p_plain != p_stream:
        raise Violation(
            f"the same prompt counts {p_plain} prompt_tokens without stream and {p_stream} with stream",
            expected=p_plain,
            received=p_stream,
            where="usage.prompt_tokens of the final chunk",
            exchange=streamed,
        )


@rule(
    "USAGE-008",
    Level.MUST,
    "cached_tokens does not exceed prompt_tokens",
    source=f"{SPEC_USAGE} prompt_tokens_details.cached_tokens ('Cached tokens present in the prompt'); "
    "百炼openAi文档 (cached_tokens)",
    probes=EVERY_PROBE,
    impact=Impact.SPEC,
    defect=Defect.ARITHMETIC,
)
def usage_cached(ctx: RuleContext) -> None:
    """`prompt_tokens_details.cached_tokens <= prompt_tokens` wherever both are present."""
    for ex, where, u in every_usage(ctx):
        cached, prompt = count(u, "prompt_tokens_details", "cached_tokens"), count(u, "prompt_tokens")
        if cached is not None and prompt is not None and cached > prompt:
            raise Violation(
                f"probe {ex.probe}: cached_tokens {cached} > prompt_tokens {prompt}; cached tokens are "
                "part of the "
                f"prompt ({SPEC_USAGE})",
                expected=f"<= {prompt}",
                received=cached,
                where=f"{where}.prompt_tokens_details",
                exchange=ex,
            )


@rule(
    "USAGE-009",
    Level.MUST,
    "reasoning_tokens does not exceed completion_tokens",
    source=f"{SPEC_USAGE} completion_tokens_details.reasoning_tokens ('Tokens generated by the model for "
    "reasoning', counted in completion tokens)",
    probes=EVERY_PROBE,
    impact=Impact.SPEC,
    defect=Defect.ARITHMETIC,
)
def usage_reasoning(ctx: RuleContext) -> None:
    """`completion_tokens_details.reasoning_tokens <= completion_tokens` wherever both are present."""
    for ex, where, u in every_usage(ctx):
        reasoning, completion = (
            count(u, "completion_tokens_details", "reasoning_tokens"),
            count(u, "completion_tokens"),
        )
        if reasoning is not None and completion is not None and reasoning > completion:
            raise Violation(
                f"probe {ex.probe}: reasoning_tokens {reasoning} > completion_tokens {completion}; "
                "reasoning tokens "
                f"are part of the completion ({SPEC_USAGE})",
                expected=f"<= {completion}",
                received=reasoning,
                where=f"{where}.completion_tokens_details",
                exchange=ex,
            )
