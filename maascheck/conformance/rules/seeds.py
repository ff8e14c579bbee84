"""Repeatability: the same request with `seed` at temperature 0 gives the same answer (best effort).

Spec: CreateChatCompletionRequest.seed ("the system will make a best effort to sample
deterministically... Determinism is not guaranteed") and .temperature (github.com/openai/openai-openapi);
hence SHOULD. PARAM-024 judges the same at temperature > 0.
"""

from __future__ import annotations

from typing import Any

from maascheck.conformance.model.probe import Probe, ProbeEnv, probe
from maascheck.conformance.model.rule import Impact, Level, NotApplicable, RuleContext, Violation, rule
from maascheck.conformance.rules._common import body_of, chat_body, choices_of, message_of

SPEC = "OpenAI spec (github.com/openai/openai-openapi) CreateChatCompletionRequest.seed"
SEED_TOKENS = 12


def _greedy(env: ProbeEnv) -> dict[str, Any]:
    seed = int(getattr(env.options, "seed", 0) or 0)
    return chat_body(env, temperature=0, seed=seed, max_tokens=SEED_TOKENS)


probe(Probe("seed-greedy-a", "POST", "/chat/completions", body=_greedy, requires=("seed",)))
probe(Probe("seed-greedy-b", "POST", "/chat/completions", body=_greedy, requires=("seed",)))
SEED_PROBES = ("seed-greedy-a", "seed-greedy-b")


def _answer(body: dict[str, Any]) -> list[Any]:
    return [(message_of(c).get("content"), message_of(c).get("reasoning_content")) for c in choices_of(body)]


@rule(
    "SEED-001",
    Level.SHOULD,
    "The same seeded request twice at temperature 0 gives the same answer (best effort)",
    source=f"{SPEC} ('best effort to sample deterministically'); CreateChatCompletionRequest.temperature",
    probes=("seed-greedy-a", "seed-greedy-b"),
    requires=("seed",),
    impact=Impact.SPEC,
)
def greedy_repeats(ctx: RuleContext) -> None:
    """Two identical requests with `seed` and `temperature: 0`: the same content (and reasoning) per choice."""
    a, b = ctx.exchange("seed-greedy-a"), ctx.exchange("seed-greedy-b")
    try:
        first, second = _answer(body_of(a)), _answer(body_of(b))
    except NotApplicable:
        raise NotApplicable("a seeded request was not answered 200; CHAT-001 and PARAM-011 judge acceptance") from None
    if first != second:
        raise Violation(
            f"seed {a.request_json.get('seed')} at temperature 0 twice gave {str(first)[:150]} then "
            f"{str(second)[:150]} ({SPEC}). Fix: decode greedily at temperature 0 and seed the sampler.",
            expected=first,
            received=second,
            where="$.choices[].message.content",
        )
