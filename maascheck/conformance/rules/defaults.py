"""Documented defaults: a request without `stream` streams exactly when the profile says the default is true.

Spec: CreateChatCompletionRequest.stream (OpenAI spec, default false);
预置多模态大模型服务接口说明 (Taichu-VL: stream "默认值为 true"); openapi.hhaice.com (stream "默认为 false").
"""

from __future__ import annotations

from typing import Any

from maascheck.conformance.model.probe import Probe, ProbeEnv, probe
from maascheck.conformance.model.rule import Impact, Level, RuleContext, Violation, rule
from maascheck.conformance.rules._clients import STREAM_UNASKED
from maascheck.conformance.rules._common import chat_body, failure

SOURCE = (
    "OpenAI spec CreateChatCompletionRequest.stream (default false); "
    "预置多模态大模型服务接口说明 (默认值为 true)"
)


def _no_stream_body(env: ProbeEnv) -> dict[str, Any]:
    """The plain chat request without the `stream` key."""
    body = chat_body(env)
    del body["stream"]
    return body


probe(Probe("default-stream", "POST", "/chat/completions", body=_no_stream_body))


@rule(
    "DEFAULT-001",
    Level.MUST,
    "A request without stream streams exactly when the documented default is true",
    source=SOURCE,
    probes=("default-stream",),
    impact=Impact.CLIENT,
    breaks=[STREAM_UNASKED],
)
def stream_default(ctx: RuleContext) -> None:
    """Omitting `stream` yields an event stream iff the profile's `defaults.stream` is true."""
    ex = ctx.exchange("default-stream")
    want = bool(ctx.profile.defaults.get("stream", ctx.profile.feature("stream_default", False)))
    problem = failure(ex)
    if problem is not None:
        raise Violation(
            f"the request without 'stream' failed: {problem}",
            expected="HTTP 200",
            received=problem,
            exchange=ex,
        )
    streamed = ex.is_sse or bool(ex.events)
    if streamed != want:
        got = (
            f"{'an event stream' if streamed else 'a JSON body'} (Content-Type {ex.header('content-type')!r})"
        )
        raise Violation(
            f"omitting 'stream' produced {got}; profile {ctx.profile.name!r} documents stream default "
            f"{str(want).lower()} ({SOURCE})",
            expected="an event stream" if want else "a JSON body",
            received=got,
            where="Content-Type / body",
            exchange=ex,
        )
