"""Routes: an unknown path and a wrong method are refused with 404/405 and a JSON OpenAI error envelope.

Clients (openai-python's `APIStatusError`, LangChain's retry logic) read `error.message` from the body
and branch on the status; an HTML 404 page or a framework's `{"detail": ...}` hides the reason.
OpenAI answers an unknown path with 404 `{"error": {"message": "Invalid URL (GET /v1/...)", ...}}`.
Spec: ErrorResponse and Error (github.com/openai/openai-openapi).
"""

from __future__ import annotations

from maascheck.conformance.model.exchange import Exchange
from maascheck.conformance.model.probe import Probe, probe
from maascheck.conformance.model.rule import Impact, Level, NotApplicable, RuleContext, Violation, rule
from maascheck.conformance.rules.checks import media_type, require_status, schema_errors

ENVELOPE = "OpenAI spec (github.com/openai/openai-openapi) ErrorResponse.error, Error"
UNKNOWN_PATH = "/maascheck-no-such-endpoint"
ROUTE_PROBES = ("route-unknown-path", "route-wrong-method")

probe(Probe("route-unknown-path", "GET", UNKNOWN_PATH))
probe(Probe("route-wrong-method", "GET", "/chat/completions"))


@rule(
    "ROUTE-001",
    Level.MUST,
    "A path the API does not serve is answered 404",
    source=f"{ENVELOPE}; OpenAI answers an unknown path 404 'Invalid URL'; RFC 9110 §15.5.5",
    probes=("route-unknown-path",),
    impact=Impact.SPEC,
)
def unknown_path(ctx: RuleContext) -> None:
    """`GET <base>/maascheck-no-such-endpoint` is a 404: not a 200, a redirect or a server error."""
    require_status(ctx.exchange("route-unknown-path"), 404, f"GET {UNKNOWN_PATH} (a path no API serves)")


@rule(
    "ROUTE-002",
    Level.MUST,
    "A served path asked with the wrong method is answered 404 or 405",
    source=f"{ENVELOPE}; RFC 9110 §15.5.6 (405 Method Not Allowed); the spec defines only POST /chat/completions",
    probes=("route-wrong-method",),
    impact=Impact.SPEC,
)
def wrong_method(ctx: RuleContext) -> None:
    """`GET <base>/chat/completions` is refused (405, or 404 as OpenAI does), never served or a 5xx."""
    require_status(ctx.exchange("route-wrong-method"), {404, 405}, "GET /chat/completions (only POST is defined)")


def _refusals(ctx: RuleContext) -> list[Exchange]:
    out = [ex for ex in (ctx.exchange(p) for p in ROUTE_PROBES) if not ex.error and ex.status in (404, 405)]
    if not out:
        raise NotApplicable("neither probe was refused with 404/405; ROUTE-001/ROUTE-002 judge the statuses")
    return out


@rule(
    "ROUTE-003",
    Level.MUST,
    "The 404/405 of an unknown path or wrong method is a JSON OpenAI error envelope",
    source=f"{ENVELOPE} (message: string, type: string); Content-Type application/json",
    probes=ROUTE_PROBES,
    impact=Impact.SPEC,
)
def route_envelope(ctx: RuleContext) -> None:
    """The refusal declares `application/json` and is `{"error": {"message": str, "type": str, ...}}`.

    An HTML error page or `{"detail": "Not Found"}` fails: clients read `error.message`.
    """
    for ex in _refusals(ctx):
        doc = ex.json
        problems = [("$", "the body is not JSON")] if doc is None else schema_errors("error", doc)
        if media_type(ex) != "application/json":
            problems.insert(0, ("Content-Type", f"{ex.header('content-type')!r}, not application/json"))
        if problems:
            raise Violation(
                f"the {ex.status} answer to {ex.method} {ex.url} is not a JSON error envelope: "
                f"{problems[0][0]}: {problems[0][1]} ({ENVELOPE})",
                expected='Content-Type application/json, {"error": {"message": str, "type": str, ...}}',
                received=f"{ex.header('content-type')!r}: {ex.body[:300].decode('utf-8', 'replace')}",
                where=f"{ex.probe} response",
                exchange=ex,
            )
