"""SDK: the official `openai` Python SDK works against the endpoint (client compatibility).

The SDK runs against the base URL with `max_retries=0`; its requests are recorded through the
suite's transport, so evidence shows exactly what it sent and read. The SDK does not validate
response schemas : these rules say "clients work", the schema rules
say "the wire is right". Seed 003 promises the openai SDK; every seed promises OpenAI compatibility.
"""

from __future__ import annotations

from typing import Any

from maascheck.conformance.model.exchange import Exchange
from maascheck.conformance.model.probe import Probe, ProbeEnv, SDKProbeEnv, probe
from maascheck.conformance.model.rule import Impact, Level, RuleContext, Violation, rule
from maascheck.conformance.rules._clients import SDK_OBSERVED

SOURCE = "openai-python (client compatibility); openapi.hhaice.com (promises the openai SDK)"
MESSAGES = [{"role": "user", "content": "Say OK."}]
REASONING_FIELDS = ("reasoning_content", "reasoning")  # DeepSeek's and vLLM's names for streamed reasoning
_MISSING = object()


def _client(env: ProbeEnv) -> Any:
    assert isinstance(env, SDKProbeEnv), "SDK probes run with an SDKProbeEnv"
    return env.client


def sdk_chat(env: ProbeEnv) -> Any:
    """client.chat.completions.create(..., stream=False)."""
    return _client(env).chat.completions.create(
        model=env.options.model, messages=MESSAGES, max_tokens=16, stream=False
    )


def sdk_stream(env: ProbeEnv) -> Any:
    """client.chat.completions.create(..., stream=True), iterated to the end."""
    stream = _client(env).chat.completions.create(
        model=env.options.model, messages=MESSAGES, max_tokens=16, stream=True
    )
    return list(stream)


def sdk_completions(env: ProbeEnv) -> Any:
    """client.completions.create(...) (legacy completions)."""
    return _client(env).completions.create(model=env.options.model, prompt="Say OK.", max_tokens=8)


def sdk_models(env: ProbeEnv) -> Any:
    """client.models.list(), paged to the end."""
    return list(_client(env).models.list())


probe(Probe(name="sdk-chat", method="POST", path="/chat/completions", sdk=sdk_chat))
probe(Probe(name="sdk-stream", method="POST", path="/chat/completions", sdk=sdk_stream))
probe(
    Probe(
        name="sdk-completions",
        method="POST",
        path="/completions",
        sdk=sdk_completions,
        requires=("completions",),
    )
)
probe(Probe(name="sdk-models", method="GET", path="/models", sdk=sdk_models, requires=("models_endpoint",)))


def _no_error(ex: Exchange, call: str) -> Any:
    if ex.sdk_error is not None:
        raise Violation(
            f"{call} raised {ex.sdk_error}",
            expected=f"{call} returns normally",
            received=ex.sdk_error,
            where=f"openai SDK, {ex.method} {ex.url}",
            exchange=ex,
        )
    return ex.sdk_result


def _fail(call: str, expected: str, received: Any, ex: Exchange) -> Violation:
    return Violation(
        f"{call} returned {received!r}; expected {expected}",
        expected=expected,
        received=repr(received)[:500],
        where=f"openai SDK, {ex.method} {ex.url}",
        exchange=ex,
    )


@rule(
    "SDK-001",
    Level.MUST,
    "The openai SDK reads a non-stream chat completion",
    source=SOURCE,
    probes=("sdk-chat",),
    impact=Impact.CLIENT,
    breaks=[SDK_OBSERVED],
)
def sdk_chat_works(ctx: RuleContext) -> None:
    """chat.completions.create returns a completion whose first choice has a message with string or null content.

    `ChatCompletionResponseMessage.content` is nullable and the SDK parses a null (e.g. with
    `finish_reason: stop`) into `None`: this rule judges what the SDK returns, not the schema.
    """
    ex = ctx.exchange("sdk-chat")
    call = "client.chat.completions.create(stream=False)"
    result = _no_error(ex, call)
    choices = getattr(result, "choices", None)
    message = getattr(_first(choices), "message", None)
    content = getattr(message, "content", _MISSING) if message is not None else _MISSING
    if not (content is None or isinstance(content, str)):
        raise _fail(call, "choices[0].message with content a string or None", choices, ex)


@rule(
    "SDK-002",
    Level.MUST,
    "The openai SDK reads a chat stream to its end",
    source=SOURCE,
    probes=("sdk-stream",),
    impact=Impact.CLIENT,
    breaks=[SDK_OBSERVED],
)
def sdk_stream_works(ctx: RuleContext) -> None:
    """Iterating the stream raises nothing and yields chunks whose delta text joins to a non-empty text.

    The text is `delta.content` plus, for reasoning models, the `reasoning_content` / `reasoning` extras
    the SDK keeps on the delta (a 16-token answer of a reasoning model may hold only reasoning).
    """
    ex = ctx.exchange("sdk-stream")
    call = "client.chat.completions.create(stream=True)"
    chunks = _no_error(ex, call) or []
    deltas = (getattr(_first(getattr(c, "choices", None)), "delta", None) for c in chunks)
    text = "".join(_delta_text(d) for d in deltas if d is not None)
    if not text:
        raise _fail(
            call,
            "chunks whose delta.content (or reasoning_content) joins to non-empty text",
            f"{len(chunks)} chunks, no text",
            ex,
        )


def _first(items: Any) -> Any:
    """The first element of a list the SDK built (None when it is not a non-empty list: it trusts the wire)."""
    return items[0] if isinstance(items, list) and items else None


def _delta_text(delta: Any) -> str:
    """The text one SDK delta carries: content and the reasoning extras (non-strings count as none)."""
    parts = (getattr(delta, name, None) for name in ("content", *REASONING_FIELDS))
    return "".join(p for p in parts if isinstance(p, str))


@rule(
    "SDK-003",
    Level.MUST,
    "The openai SDK reads a legacy completion",
    source=SOURCE,
    probes=("sdk-completions",),
    requires=("completions",),
    impact=Impact.CLIENT,
    breaks=[SDK_OBSERVED],
)
def sdk_completions_work(ctx: RuleContext) -> None:
    """completions.create returns a completion whose first choice has string `text`."""
    ex = ctx.exchange("sdk-completions")
    call = "client.completions.create()"
    result = _no_error(ex, call)
    choices = getattr(result, "choices", None)
    if not isinstance(getattr(_first(choices), "text", None), str):
        raise _fail(call, "choices[0].text as a string", choices, ex)


@rule(
    "SDK-004",
    Level.MUST,
    "The openai SDK lists the models",
    source=SOURCE,
    probes=("sdk-models",),
    requires=("models_endpoint",),
    impact=Impact.CLIENT,
    breaks=[SDK_OBSERVED],
)
def sdk_models_work(ctx: RuleContext) -> None:
    """models.list pages to the end and yields models with string ids."""
    ex = ctx.exchange("sdk-models")
    call = "client.models.list()"
    models = _no_error(ex, call) or []
    ids = [getattr(m, "id", None) for m in models]
    if not ids or not all(isinstance(i, str) for i in ids):
        raise _fail(call, "at least one model with a string id", ids, ex)
