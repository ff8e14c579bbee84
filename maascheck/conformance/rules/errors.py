"""ERR: invalid requests are refused before generation with a 4xx and an OpenAI error envelope.

The spec documents no 4xx for /chat/completions ; the envelope is
ErrorResponse / Error, and OpenAI answers invalid requests with 400
`invalid_request_error`  and unknown models with 404 `model_not_found`.
"""

from __future__ import annotations

from typing import Any

from maascheck.conformance.model.exchange import Exchange
from maascheck.conformance.model.probe import Probe, ProbeEnv, probe
from maascheck.conformance.model.rule import Impact, Level, NotApplicable, RuleContext, Violation, rule
from maascheck.conformance.rules.checks import media_type, require_status, schema_errors

ENVELOPE = "OpenAI spec ErrorResponse, Error"
REQUEST = "OpenAI spec CreateChatCompletionRequest"
UNKNOWN_MODEL = "maascheck-no-such-model"
_DROP = object()


def _chat(env: ProbeEnv, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": env.options.model,
        "messages": [{"role": "user", "content": "Say OK."}],
        "max_tokens": 4,
        "stream": False,
    }
    body.update(changes)
    return {k: v for k, v in body.items() if v is not _DROP}


# name -> (body builder, what is wrong with it)
CASES: dict[str, tuple[Any, str]] = {
    "err-malformed-json": (
        lambda env: b'{"model": "' + env.options.model.encode() + b'", "messages": [',
        "with a truncated JSON body",
    ),
    "err-missing-messages": (lambda env: _chat(env, messages=_DROP), "without `messages`"),
    "err-wrong-type": (lambda env: _chat(env, messages="Say OK."), "with `messages` as a string"),
    "err-unknown-model": (lambda env: _chat(env, model=UNKNOWN_MODEL), f"for model {UNKNOWN_MODEL!r}"),
    "err-bad-role": (
        lambda env: _chat(env, messages=[{"role": "wizard", "content": "Say OK."}]),
        "with role `wizard`",
    ),
    "err-bad-content-part": (
        lambda env: _chat(
            env, messages=[{"role": "user", "content": [{"type": "hologram", "hologram": "x"}]}]
        ),
        "with a content part of type `hologram`",
    ),
}
for _name, (_body, _what) in CASES.items():
    probe(Probe(name=_name, method="POST", path="/chat/completions", body=_body))

ERROR_PROBES = tuple(CASES)


def _rejected(ctx: RuleContext, probe_name: str, allowed: set[int]) -> None:
    ex = ctx.exchange(probe_name)
    shown = "4xx" if len(allowed) > 2 else None
    require_status(ex, allowed, f"chat request {CASES[probe_name][1]}", shown)


@rule(
    "ERR-001",
    Level.MUST,
    "A body that is not valid JSON is refused with a 4xx status",
    source=REQUEST,
    probes=("err-malformed-json",),
    impact=Impact.SPEC,
)
def malformed_json(ctx: RuleContext) -> None:
    """A request that cannot be parsed is the client's error (4xx), never a server error or a completion."""
    _rejected(ctx, "err-malformed-json", set(range(400, 500)))


@rule(
    "ERR-002",
    Level.MUST,
    "A chat request without `messages` is refused with 400",
    source=REQUEST + " required: model, messages",
    probes=("err-missing-messages",),
    impact=Impact.SPEC,
)
def missing_messages(ctx: RuleContext) -> None:
    """`messages` is required (minItems 1); OpenAI answers 400 invalid_request_error."""
    _rejected(ctx, "err-missing-messages", {400})


@rule(
    "ERR-003",
    Level.MUST,
    "A wrongly typed field (`messages` as a string) is refused with 400",
    source=REQUEST + " messages: array, minItems 1",
    probes=("err-wrong-type",),
    impact=Impact.SPEC,
)
def wrong_type(ctx: RuleContext) -> None:
    """`messages` is an array of message objects; a bare string must be rejected, not coerced."""
    _rejected(ctx, "err-wrong-type", {400})


@rule(
    "ERR-004",
    Level.MUST,
    "An unknown model is refused with 400 or 404",
    source=REQUEST + "; OpenAI 404 model_not_found",
    probes=("err-unknown-model",),
    impact=Impact.SPEC,
)
def unknown_model(ctx: RuleContext) -> None:
    """Serving a different model than asked silently is wrong; OpenAI answers 404, many servers 400."""
    _rejected(ctx, "err-unknown-model", {400, 404})


@rule(
    "ERR-005",
    Level.MUST,
    "A message with an unknown role is refused with 400",
    source="OpenAI spec ChatCompletionRequestMessage (oneOf, discriminated on role)",
    probes=("err-bad-role",),
    impact=Impact.SPEC,
)
def bad_role(ctx: RuleContext) -> None:
    """Roles are developer, system, user, assistant, tool (and deprecated function); `wizard` is none."""
    _rejected(ctx, "err-bad-role", {400})


@rule(
    "ERR-006",
    Level.MUST,
    "A content part of an unknown type is refused with 400",
    source="OpenAI spec ChatCompletionRequestUserMessageContentPart (text, image_url, ...)",
    probes=("err-bad-content-part",),
    impact=Impact.SPEC,
)
def bad_content_part(ctx: RuleContext) -> None:
    """A user content part has a documented `type`; an unknown one must be rejected, not dropped."""
    _rejected(ctx, "err-bad-content-part", {400})


def _error_responses(ctx: RuleContext) -> list[Exchange]:
    out = [
        ex
        for ex in (ctx.exchange(p) for p in ERROR_PROBES)
        if not ex.error and ex.status and ex.status >= 400
    ]
    if not out:
        raise NotApplicable("no error response to inspect; ERR-001..ERR-006 judge the statuses")
    return out


@rule(
    "ERR-007",
    Level.MUST,
    "Every error response body is an OpenAI error envelope",
    source=ENVELOPE,
    probes=ERROR_PROBES,
    impact=Impact.SPEC,
)
def error_envelope(ctx: RuleContext) -> None:
    """`{"error": {"message": str, "type": str, "param"?, "code"?}}`; SDKs read error.message from it."""
    for ex in _error_responses(ctx):
        doc = ex.json
        problems = [("$", "the body is not JSON")] if doc is None else schema_errors("error", doc)
        if problems:
            raise Violation(
                f"the {ex.status} body of {ex.probe} is not an error envelope: "
                f"{problems[0][0]}: {problems[0][1]}",
                expected='{"error": {"message": str, "type": str, ...}} (schemas/error.json)',
                received=ex.body[:500].decode("utf-8", errors="replace"),
                where=f"{ex.probe} response body",
                exchange=ex,
            )


@rule(
    "ERR-008",
    Level.MUST,
    "Every error response declares Content-Type application/json",
    source=ENVELOPE,
    probes=ERROR_PROBES,
    impact=Impact.HYGIENE,
)
def error_content_type(ctx: RuleContext) -> None:
    """The error envelope is JSON and says so, so clients parse it instead of showing raw text."""
    for ex in _error_responses(ctx):
        if media_type(ex) != "application/json":
            raise Violation(
                f"the {ex.status} response of {ex.probe} has Content-Type {ex.header('content-type')!r}",
                expected="application/json",
                received=ex.header("content-type"),
                where=f"{ex.probe} response headers",
                exchange=ex,
            )


@rule(
    "ERR-009",
    Level.SHOULD,
    "The error for a wrongly typed field names it in `error.param`",
    source=ENVELOPE + " param: string|null",
    probes=("err-wrong-type",),
    impact=Impact.HYGIENE,
)
def error_param(ctx: RuleContext) -> None:
    """OpenAI sets `param` to the offending parameter, which lets clients point at the field."""
    ex = ctx.exchange("err-wrong-type")
    if ex.error or ex.status != 400 or not isinstance(ex.json, dict):
        raise NotApplicable("no 400 JSON response for the wrongly typed field; ERR-003/ERR-007 judge that")
    err = ex.json.get("error")
    if not isinstance(err, dict):
        raise NotApplicable("the 400 body is not an error envelope; ERR-007 judges that")
    param = err.get("param")
    if not isinstance(param, str) or not param.startswith("messages"):
        raise Violation(
            f"error.param is {param!r}; it does not name the offending field",
            expected="messages",
            received=param,
            where="err-wrong-type response body error.param",
            exchange=ex,
        )


@rule(
    "ERR-010",
    Level.MUST,
    "A 200 response never carries an `error` object",
    source=ENVELOPE + "; OpenAI error codes guide (platform.openai.com/docs/guides/error-codes: "
    "errors are HTTP 4xx/5xx)",
    probes=(*ERROR_PROBES, "models-list", "sdk-chat"),
    impact=Impact.SPEC,
)  # sdk-chat: a plain successful non-stream chat
def no_error_in_200(ctx: RuleContext) -> None:
    """An error body with status 200 hides the failure from every client that checks the status."""
    seen = []
    for name in (*ERROR_PROBES, "models-list", "sdk-chat"):
        try:
            ex = ctx.exchange(name)
        except NotApplicable:
            continue
        seen.append(ex)
        doc = ex.json
        if ex.status == 200 and isinstance(doc, dict) and doc.get("error") not in (None, {}):
            raise Violation(
                f"{ex.probe} answered 200 with an `error` object",
                expected="an error status (4xx/5xx) for errors, no `error` key in 200 bodies",
                received=doc.get("error"),
                where=f"{ex.probe} response body",
                exchange=ex,
            )
    if not seen:
        raise NotApplicable("none of the inspected probes was made")


@rule(
    "ERR-011",
    Level.SHOULD,
    "Error objects carry `message`, `type`, `param` and `code` (string or null)",
    source=ENVELOPE + " (Error requires all four; code: string|null)",
    probes=ERROR_PROBES,
    impact=Impact.SPEC,
)
def error_strict(ctx: RuleContext) -> None:
    """The spec's Error requires param and code; vLLM's integer `code: 400` is a deviation ."""
    for ex in _error_responses(ctx):
        doc = ex.json
        if doc is None or schema_errors("error", doc):
            continue  # not an envelope at all: ERR-007 judges that
        problems = schema_errors("error.json#/$defs/strict", doc)
        if problems:
            raise Violation(
                f"the error object of {ex.probe} is not spec-exact: {problems[0][0]}: {problems[0][1]}",
                expected='{"error": {"message": str, "type": str, "param": str|null, "code": str|null}}',
                received=doc.get("error") if isinstance(doc, dict) else doc,
                where=f"{ex.probe} response body",
                exchange=ex,
            )
