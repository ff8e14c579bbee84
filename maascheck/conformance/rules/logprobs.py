"""Chat logprobs: self-consistent token log-probabilities when `logprobs: true`, `top_logprobs: N`.

Spec: CreateChatCompletionRequest.logprobs, .top_logprobs; CreateChatCompletionResponse
choices[].logprobs.content[] (ChatCompletionTokenLogprob: token, logprob, bytes, top_logprobs),
github.com/openai/openai-openapi. A log-probability is the log of a probability, so never above 0;
`top_logprobs` are "the most likely tokens", at most N of them. The probe runs at temperature 0
(greedy decoding), so the chosen token is the most likely one. The legacy /v1/completions format is
judged by COMP-005/COMP-006.
"""

from __future__ import annotations

from typing import Any

from maascheck.conformance.model.exchange import Exchange
from maascheck.conformance.model.probe import Probe, probe
from maascheck.conformance.model.rule import Impact, Level, NotApplicable, RuleContext, Violation, rule
from maascheck.conformance.rules._common import accepted, body_of, chat_body, choices_of, message_of

SPEC = "OpenAI spec (github.com/openai/openai-openapi) ChatCompletionTokenLogprob"
LOGPROBS_PROBES = ("logprobs-chat",)
TOP = 3
LOGPROB_TOKENS = 8

probe(
    Probe(
        "logprobs-chat",
        "POST",
        "/chat/completions",
        body=lambda env: chat_body(env, logprobs=True, top_logprobs=TOP, temperature=0, max_tokens=LOGPROB_TOKENS),
        requires=("logprobs",),
    )
)


def entries(ex: Exchange, *, owner: bool = False) -> tuple[str, list[dict[str, Any]]]:
    """(message content, logprobs.content entries) of choice 0; NotApplicable (or, for the owner, a Violation)."""
    body = accepted(ex, "the chat request with logprobs", SPEC) if owner else body_of(ex)
    choices = choices_of(body)
    if not choices:
        raise NotApplicable("no choice; CHAT-004 reports it")
    lp = choices[0].get("logprobs")
    content = lp.get("content") if isinstance(lp, dict) else None
    text = message_of(choices[0]).get("content")
    if not isinstance(content, list) or not all(isinstance(e, dict) for e in content):
        if owner:
            raise Violation(
                f"logprobs: true returned choices[0].logprobs {str(lp)[:200]}; expected {{content: [token entries]}} "
                f"({SPEC})",
                expected="{content: [{token, logprob, bytes, top_logprobs}, ...]}",
                received=lp,
                where="$.choices[0].logprobs",
                exchange=ex,
            )
        raise NotApplicable("no logprobs.content list; LOGPROBS-001 reports it")
    return (text if isinstance(text, str) else ""), content


def _numbers(entry: dict[str, Any]) -> list[tuple[str, Any]]:
    out = [("logprob", entry.get("logprob"))]
    top = entry.get("top_logprobs")
    for j, alt in enumerate(top if isinstance(top, list) else []):
        out.append((f"top_logprobs[{j}].logprob", alt.get("logprob") if isinstance(alt, dict) else None))
    return out


@rule(
    "LOGPROBS-001",
    Level.MUST,
    "With logprobs, the tokens of logprobs.content concatenate to the message content",
    source=f"{SPEC} token; CreateChatCompletionResponse choices[].logprobs.content ('message content tokens')",
    probes=("logprobs-chat",),
    requires=("logprobs",),
    impact=Impact.SPEC,
)
def tokens_join(ctx: RuleContext) -> None:
    """`"".join(e.token for e in logprobs.content) == message.content`: one entry per generated content token."""
    ex = ctx.exchange("logprobs-chat")
    text, content = entries(ex, owner=True)
    joined = "".join(str(e["token"]) if isinstance(e.get("token"), str) else "\ufffd" for e in content)
    if joined != text:
        raise Violation(
            f"the {len(content)} logprobs tokens join to {joined[:120]!r}, the content is {text[:120]!r} ({SPEC})",
            expected=text[:300],
            received=joined[:300],
            where="$.choices[0].logprobs.content[].token",
            exchange=ex,
        )


@rule(
    "LOGPROBS-002",
    Level.MUST,
    "Every log-probability is a number at most 0",
    source=f"{SPEC} logprob ('the log probability of this token'; the log of a probability is <= 0)",
    probes=("logprobs-chat",),
    requires=("logprobs",),
    impact=Impact.SPEC,
)
def logprob_range(ctx: RuleContext) -> None:
    """Each entry's `logprob` and each alternative's is a finite number <= 0 (-9999.0 marks "very unlikely")."""
    ex = ctx.exchange("logprobs-chat")
    for i, entry in enumerate(entries(ex)[1]):
        for where, value in _numbers(entry):
            if type(value) not in (int, float) or not value <= 0:
                raise Violation(
                    f"logprobs.content[{i}].{where} is {value!r}, not a number <= 0 ({SPEC})",
                    expected="a number <= 0",
                    received=value,
                    where=f"$.choices[0].logprobs.content[{i}].{where}",
                    exchange=ex,
                )


@rule(
    "LOGPROBS-003",
    Level.MUST,
    "top_logprobs holds at most the requested number of alternatives, most likely first",
    source=f"{SPEC} top_logprobs ('the most likely tokens'); CreateChatCompletionRequest.top_logprobs "
    "('the number of most likely tokens to return at each token position')",
    probes=("logprobs-chat",),
    requires=("logprobs",),
    impact=Impact.SPEC,
)
def top_sorted(ctx: RuleContext) -> None:
    """With `top_logprobs: 3`, each entry's `top_logprobs` is a list of at most 3, sorted by logprob descending."""
    ex = ctx.exchange("logprobs-chat")
    for i, entry in enumerate(entries(ex)[1]):
        top = entry.get("top_logprobs")
        values = [a.get("logprob") for a in top if isinstance(a, dict)] if isinstance(top, list) else None
        numbers = [float(v) for v in values or [] if isinstance(v, int | float) and not isinstance(v, bool)]
        ordered = len(numbers) != len(values or []) or numbers == sorted(numbers, reverse=True)
        if values is None or len(values) > TOP or not ordered:
            raise Violation(
                f"logprobs.content[{i}].top_logprobs is {str(top)[:200]}; expected at most {TOP} alternatives, "
                f"most likely first ({SPEC})",
                expected=f"<= {TOP} entries sorted by logprob, descending",
                received=top,
                where=f"$.choices[0].logprobs.content[{i}].top_logprobs",
                exchange=ex,
            )


@rule(
    "LOGPROBS-004",
    Level.SHOULD,
    "At temperature 0 the chosen token is among its top_logprobs",
    source=f"{SPEC} top_logprobs; CreateChatCompletionRequest.temperature (0: greedy, the most likely token)",
    probes=("logprobs-chat",),
    requires=("logprobs",),
    impact=Impact.SPEC,
)
def chosen_in_top(ctx: RuleContext) -> None:
    """Greedy decoding picks the most likely token, so it appears in the alternatives listed for its position."""
    ex = ctx.exchange("logprobs-chat")
    for i, entry in enumerate(entries(ex)[1]):
        top = entry.get("top_logprobs")
        tokens = [a.get("token") for a in top if isinstance(a, dict)] if isinstance(top, list) else []
        if tokens and entry.get("token") not in tokens:
            raise Violation(
                f"logprobs.content[{i}] chose {entry.get('token')!r}, which is not among its top_logprobs {tokens} "
                f"at temperature 0 ({SPEC})",
                expected=f"{entry.get('token')!r} in top_logprobs",
                received=tokens,
                where=f"$.choices[0].logprobs.content[{i}]",
                exchange=ex,
            )
