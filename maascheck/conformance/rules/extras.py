"""Vendor extensions the profile documents: `stop_token_ids` and `repetition_penalty` are accepted.

These are not OpenAI parameters (vLLM sampling parameters); a profile lists the ones its provider
documents in `features.vendor_params`. Only acceptance at a documented or in-range value is judged
here; the range of repetition_penalty is a PARAM rule.
"""

from __future__ import annotations

from typing import Any

from maascheck.conformance.model.probe import Probe, ProbeEnv, probe
from maascheck.conformance.model.rule import Impact, Level, NotApplicable, RuleContext, rule
from maascheck.conformance.rules._common import accepted, chat_body
from maascheck.core.profiles import Profile

SEED_STOP_TOKEN_IDS = [151329, 151336, 151338]  # 常见模型 API 文档, ChatGLM4-9B example


def require_listed(profile: Profile, param: str) -> None:
    """NotApplicable unless the profile lists `param` in `features.vendor_params`."""
    listed = profile.feature("vendor_params", []) or []
    if param not in listed:
        raise NotApplicable(
            f"profile {profile.name!r} does not document vendor parameter {param!r} "
            f"(features.vendor_params: {listed})"
        )


def repetition_penalty(profile: Profile) -> float:
    """The documented default when it lies in the documented range, else the range's midpoint, else 1.0."""
    r = profile.ranges.get("repetition_penalty")
    if r is None:
        return 1.0
    if isinstance(r.default, int | float) and r.contains(r.default):
        return float(r.default)
    if r.min is not None and r.max is not None:
        return round((r.min + r.max) / 2, 2)
    return 1.0


def vendor_body(env: ProbeEnv, param: str, value: Any) -> dict[str, Any]:
    """The plain chat request plus vendor parameter `param` (NotApplicable if unlisted)."""
    require_listed(env.profile, param)
    return chat_body(env, **{param: value})


probe(
    Probe(
        "ext-stop-token-ids",
        "POST",
        "/chat/completions",
        body=lambda env: vendor_body(env, "stop_token_ids", SEED_STOP_TOKEN_IDS),
    )
)
probe(
    Probe(
        "ext-repetition-penalty",
        "POST",
        "/chat/completions",
        body=lambda env: vendor_body(env, "repetition_penalty", repetition_penalty(env.profile)),
    )
)


@rule(
    "EXT-001",
    Level.MUST,
    "A documented stop_token_ids list is accepted",
    source="常见模型 API 文档 (ChatGLM4-9B stop_token_ids [151329,151336,151338]; MiniCPM-V [292542])",
    probes=("ext-stop-token-ids",),
    impact=Impact.SPEC,
)
def stop_token_ids(ctx: RuleContext) -> None:
    """A chat request with the seed's `stop_token_ids` gets 200 when the profile lists the parameter."""
    require_listed(ctx.profile, "stop_token_ids")
    accepted(ctx.exchange("ext-stop-token-ids"), "the request with stop_token_ids", "常见模型 API 文档")


@rule(
    "EXT-002",
    Level.MUST,
    "repetition_penalty at an in-range value is accepted",
    source="预置多模态大模型服务接口说明 (repetition_penalty: (1.0, 2.0), default 1.0)",
    probes=("ext-repetition-penalty",),
    impact=Impact.SPEC,
)
def repetition_penalty_accepted(ctx: RuleContext) -> None:
    """A chat request with an in-range `repetition_penalty` gets 200 when the profile lists the parameter."""
    require_listed(ctx.profile, "repetition_penalty")
    accepted(
        ctx.exchange("ext-repetition-penalty"), "the request with repetition_penalty", "预置多模态大模型服务接口说明"
    )
