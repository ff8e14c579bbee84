"""Inputs the model may not support: an image to the chat model, an audio part, an unknown parameter.

Whatever the model supports, a client's input is answered 200 or refused with a 4xx, never a 5xx
(RFC 9110 §15.6: 5xx means the server failed) and never a broken stream. The image probe doubles as
capability discovery: when the run names no vision model, the vision rules run on the chat model
if it accepted the image (conformance/rules/vision.py). Spec: ChatCompletionRequestUserMessage.content
parts `image_url` and `input_audio`, CreateChatCompletionRequest (github.com/openai/openai-openapi).
"""

from __future__ import annotations

import base64
import struct
from typing import Any

from maascheck.conformance.model.exchange import Exchange
from maascheck.conformance.model.probe import Probe, ProbeEnv, probe
from maascheck.conformance.model.rule import Defect, Impact, Level, RuleContext, Violation, rule
from maascheck.conformance.rules._clients import STATUS_ERROR
from maascheck.conformance.rules._common import chat_body
from maascheck.conformance.rules.checks import body_excerpt
from maascheck.conformance.rules.messages import MESSAGE_TOKENS, plain_answered, plain_streamed, stream_problem
from maascheck.conformance.rules.vision import data_url, remote_url

SPEC = "OpenAI spec (github.com/openai/openai-openapi)"
RFC_5XX = "RFC 9110 §15.5 (4xx: the client's request cannot be served) and §15.6 (5xx: the server failed)"
UNKNOWN_PARAMETER = "maascheck_unknown_parameter"


def wav(samples: int = 800, rate: int = 8000) -> bytes:
    """A silent mono 16-bit PCM WAV (0.1 s at 8 kHz)."""
    data = b"\x00\x00" * samples
    fmt = struct.pack("<HHIIHH", 1, 1, rate, rate * 2, 2, 16)
    return b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVEfmt " + struct.pack("<I", 16) + fmt + (
        b"data" + struct.pack("<I", len(data)) + data
    )


def _chat(env: ProbeEnv, content: Any, **extra: Any) -> dict[str, Any]:
    return chat_body(env, messages=[{"role": "user", "content": content}], max_tokens=MESSAGE_TOKENS, **extra)


def image_body(env: ProbeEnv) -> dict[str, Any]:
    """The chat model asked about a 32x32 PNG as a data URL (an https URL where the profile documents no data:)."""
    schemes = env.profile.feature("image_url_schemes", None)
    url = remote_url(env) if isinstance(schemes, list) and schemes and "data" not in schemes else data_url(env)
    parts = [
        {"type": "text", "text": "What colour is this image?"},
        {"type": "image_url", "image_url": {"url": url}},
    ]
    return _chat(env, parts)


def audio_body(env: ProbeEnv) -> dict[str, Any]:
    """The chat model sent a 0.1 s silent WAV as an `input_audio` part."""
    audio = {"data": base64.b64encode(wav()).decode("ascii"), "format": "wav"}
    return _chat(env, [{"type": "text", "text": "What do you hear?"}, {"type": "input_audio", "input_audio": audio}])


def unknown_parameter_body(env: ProbeEnv) -> dict[str, Any]:
    """A streamed chat request with a top-level parameter no API defines."""
    return _chat(env, "Name a fruit.", stream=True, **{UNKNOWN_PARAMETER: True})


probe(Probe("input-image", "POST", "/chat/completions", body=image_body))
probe(Probe("input-audio", "POST", "/chat/completions", body=audio_body))
probe(Probe("input-unknown-parameter", "POST", "/chat/completions", body=unknown_parameter_body))
INPUT_PROBES = ("input-image", "input-audio", "input-unknown-parameter")


def answered_or_refused(ex: Exchange, what: str) -> None:
    """A Violation unless `ex` completed with 200 or a 4xx."""
    if not ex.error and ex.status is not None and (ex.status == 200 or 400 <= ex.status < 500):
        return
    received = f"transport failure ({ex.error_kind}): {ex.error}" if ex.error else f"HTTP {ex.status}"
    raise Violation(
        f"{what} got {received} {body_excerpt(ex)}; input a model does not support is refused with a 4xx "
        f"({RFC_5XX})",
        expected="HTTP 200, or a 4xx refusal",
        received=received,
        where=f"{ex.method} {ex.url}",
        exchange=ex,
    )


@rule(
    "INPUT-001",
    Level.MUST,
    "An image sent to the chat model is answered 200 or refused with a 4xx, never a 5xx",
    source=f"{SPEC} ChatCompletionRequestMessageContentPartImage; {RFC_5XX}",
    probes=("input-image", "chat"),
    impact=Impact.CLIENT,
    breaks=[STATUS_ERROR],
    defect=Defect.SERVER_ERROR,
)
def image_to_chat_model(ctx: RuleContext) -> None:
    """A text model may refuse images (400 "model does not support image input"); it may not fail on them."""
    plain_answered(ctx)
    answered_or_refused(ctx.exchange("input-image"), "an image_url part sent to the chat model")


@rule(
    "INPUT-002",
    Level.MUST,
    "An input_audio part is answered 200 or refused with a 4xx, never a 5xx",
    source=f"{SPEC} ChatCompletionRequestMessageContentPartAudio (type input_audio); {RFC_5XX}",
    probes=("input-audio", "chat"),
    impact=Impact.CLIENT,
    breaks=[STATUS_ERROR],
    defect=Defect.SERVER_ERROR,
)
def audio_part(ctx: RuleContext) -> None:
    """A server without audio input refuses the part with a 4xx; a 5xx or a dropped connection fails."""
    plain_answered(ctx)
    answered_or_refused(ctx.exchange("input-audio"), "an input_audio part sent to the chat model")


@rule(
    "INPUT-003",
    Level.MUST,
    "A streamed request with an unknown parameter is refused with a 4xx or streams completely",
    source=f"{SPEC} CreateChatCompletionRequest (OpenAI refuses unknown parameters with 400; many servers "
    f"ignore them); {RFC_5XX}",
    probes=("input-unknown-parameter", "chat-stream"),
    impact=Impact.CLIENT,
    breaks=[STATUS_ERROR],
    defect=Defect.SERVER_ERROR,
)
def unknown_parameter_stream(ctx: RuleContext) -> None:
    """`maascheck_unknown_parameter: true` with `stream: true`: a 4xx, or a 200 stream of chunks ending in [DONE].

    Judged where the plain stream is complete (the STREAM rules judge that one).
    """
    plain_streamed(ctx)
    ex = ctx.exchange("input-unknown-parameter")
    if not ex.error and ex.status is not None and 400 <= ex.status < 500:
        return
    problem = stream_problem(ex)
    if problem is not None:
        raise Violation(
            f"the streamed request with {UNKNOWN_PARAMETER!r} was neither refused (4xx) nor streamed: {problem}",
            expected="HTTP 4xx, or HTTP 200 with chunks then data: [DONE]",
            received=problem,
            where=f"{ex.method} {ex.url}",
            exchange=ex,
        )
