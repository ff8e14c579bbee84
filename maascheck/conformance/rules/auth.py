"""AUTH: requests without a valid bearer key are refused with 401 and an error envelope.

Sources: OpenAI spec `securitySchemes.ApiKeyAuth` (http bearer); OpenAI's error-code guide
("401 - Invalid Authentication / Incorrect API key provided"); every seed documents a Bearer key.
"""

from __future__ import annotations

from typing import Any

from maascheck.conformance.model.exchange import Exchange
from maascheck.conformance.model.probe import Probe, ProbeEnv, probe
from maascheck.conformance.model.rule import Impact, Level, NotApplicable, RuleContext, Violation, rule
from maascheck.conformance.rules.checks import require_status, schema_errors

SOURCE = (
    "OpenAI spec securitySchemes.ApiKeyAuth (bearer); OpenAI error codes: 401 Invalid Authentication"
)


def tiny_chat(env: ProbeEnv) -> dict[str, Any]:
    """A minimal valid non-stream chat request for the model under test."""
    return {
        "model": env.options.model,
        "messages": [{"role": "user", "content": "Say OK."}],
        "max_tokens": 4,
        "stream": False,
    }


probe(Probe(name="auth-missing", method="POST", path="/chat/completions", body=tiny_chat, auth="none"))
probe(Probe(name="auth-wrong", method="POST", path="/chat/completions", body=tiny_chat, auth="wrong"))


@rule(
    "AUTH-001",
    Level.MUST,
    "A request without an API key is refused with 401",
    source=SOURCE,
    probes=("auth-missing",),
    impact=Impact.SPEC,
)
def missing_key(ctx: RuleContext) -> None:
    """A chat request with no Authorization header must not be served; 401 says a key is needed."""
    require_status(ctx.exchange("auth-missing"), 401, "chat request without Authorization")


@rule(
    "AUTH-002",
    Level.MUST,
    "A request with a wrong API key is refused with 401",
    source=SOURCE,
    probes=("auth-wrong",),
    impact=Impact.SPEC,
)
def wrong_key(ctx: RuleContext) -> None:
    """A chat request with a syntactically fine but unknown bearer key must be refused with 401."""
    require_status(ctx.exchange("auth-wrong"), 401, "chat request with a wrong API key")


def _envelope_problem(ex: Exchange) -> list[tuple[str, str]] | None:
    doc = ex.json
    if doc is None:
        return [("$", "the body is not JSON: " + ex.body[:120].decode("utf-8", errors="replace"))]
    return schema_errors("error", doc) or None


@rule(
    "AUTH-003",
    Level.MUST,
    "A 401 response carries an OpenAI error envelope",
    source=SOURCE + "; ErrorResponse",
    probes=("auth-missing", "auth-wrong"),
    impact=Impact.SPEC,
)
def envelope_401(ctx: RuleContext) -> None:
    """Clients read `error.message` to tell the user why the key was refused (SDK: AuthenticationError)."""
    judged = [ex for ex in (ctx.exchange("auth-missing"), ctx.exchange("auth-wrong")) if ex.status == 401]
    if not judged:
        raise NotApplicable("no 401 response to inspect; AUTH-001/AUTH-002 judge that")
    for ex in judged:
        problems = _envelope_problem(ex)
        if problems:
            raise Violation(
                f"the 401 body of {ex.probe} is not an error envelope: {problems[0][0]}: {problems[0][1]}",
                expected='{"error": {"message": str, "type": str, ...}} (schemas/error.json)',
                received=ex.body[:500].decode("utf-8", errors="replace"),
                where=f"{ex.probe} response body",
                exchange=ex,
            )
