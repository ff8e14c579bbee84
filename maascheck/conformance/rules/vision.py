"""Vision input: base64 data URLs and https URLs are accepted as images; corrupt base64 gets a 400.

Spec: ChatCompletionRequestMessageContentPartImage (OpenAI spec: "Either a URL of
the image or the base64 encoded image data"). 常见模型 API 文档 and 百炼openAi文档 send
`data:image/...;base64,...`; 预置多模态大模型服务接口说明 and 百炼openAi文档 send https URLs.
"""

from __future__ import annotations

import base64
import struct
import zlib
from typing import Any

from maascheck.conformance.model.probe import Probe, ProbeEnv, probe
from maascheck.conformance.model.rule import Impact, Level, NotApplicable, RuleContext, Violation, rule
from maascheck.conformance.rules._common import accepted, model_for
from maascheck.conformance.rules.checks import body_excerpt

SPEC_PART = "OpenAI spec ChatCompletionRequestMessageContentPartImage"
SEED_001_IMAGE = "https://zdtc-cdn.wair.ac.cn/assets/caption_2_file_1.jpeg"
CORRUPT_DATA_URL = "data:image/png;base64,@@not*base64@@"
DISCOVERY = "input-image"  # the chat model sent an image (conformance/rules/inputs.py)


def png(width: int = 32, height: int = 32, rgb: tuple[int, int, int] = (200, 120, 40)) -> bytes:
    """A solid-colour RGB PNG (32x32 by default: vision preprocessors reject images below ~28 px)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def data_url(env: ProbeEnv) -> str:
    """The run's image when it is a data URL, else a generated 32x32 PNG as a data URL."""
    given = str(getattr(env.options, "image_url", "") or "")
    if given.startswith("data:"):
        return given
    return "data:image/png;base64," + base64.b64encode(png()).decode("ascii")


def remote_url(env: ProbeEnv) -> str:
    """The run's image when it is an http(s) URL, else the 预置多模态大模型服务接口说明 https image (never fetched)."""
    given = str(getattr(env.options, "image_url", "") or "")
    return given if given.startswith(("https://", "http://")) else SEED_001_IMAGE


def require_scheme(env: ProbeEnv, url: str) -> None:
    """NotApplicable when the profile lists image URL schemes and `url`'s is not among them."""
    schemes = env.profile.feature("image_url_schemes", None)
    scheme = url.split(":", 1)[0].lower()
    if isinstance(schemes, list) and scheme not in schemes:
        raise NotApplicable(
            f"profile {env.profile.name!r} documents image URL schemes {schemes}, not {scheme!r}"
        )


def vision_model(env: ProbeEnv) -> str:
    """The run's or profile's vision model; else the chat model when it accepted an image (discovered).

    The discovery probe is `input-image` (conformance/rules/inputs.py): a 200 means the chat model takes
    images, so the vision rules judge it; a refusal skips them with its status as the reason (INPUT-001
    fails a 5xx).
    """
    try:
        return model_for(env.profile, env.options, "vision")
    except NotApplicable as undeclared:
        ex = env.exchange(DISCOVERY)
        if not ex.error and ex.status == 200:
            return model_for(env.profile, env.options)
        got = f"transport failure ({ex.error_kind})" if ex.error else f"HTTP {ex.status} {body_excerpt(ex)}"
        raise NotApplicable(
            f"{undeclared}; discovered: the chat model answered an image with {got}, so it does not take images"
        ) from None


def vision_body(env: ProbeEnv, url: str) -> dict[str, Any]:
    """A vision-model request with a text part and one image_url part."""
    require_scheme(env, url)
    return {
        "model": vision_model(env),
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Describe this image in one sentence."},
                    {"type": "image_url", "image_url": {"url": url}},
                ],
            }
        ],
        "max_tokens": 16,
        "stream": False,
    }


probe(
    Probe(
        "vision-data",
        "POST",
        "/chat/completions",
        body=lambda env: vision_body(env, data_url(env)),
        requires=("vision",),
        depends=(DISCOVERY,),
    )
)
probe(
    Probe(
        "vision-url",
        "POST",
        "/chat/completions",
        body=lambda env: vision_body(env, remote_url(env)),
        requires=("vision",),
        depends=(DISCOVERY,),
    )
)
probe(
    Probe(
        "vision-bad-base64",
        "POST",
        "/chat/completions",
        body=lambda env: vision_body(env, CORRUPT_DATA_URL),
        requires=("vision",),
        depends=(DISCOVERY,),
    )
)


@rule(
    "VISION-001",
    Level.MUST,
    "A base64 data: image URL is accepted",
    source=f"{SPEC_PART}; 常见模型 API 文档 (MiniCPM-V data:image/jpeg;base64) and 百炼openAi文档 "
    "(data:image/png;base64)",
    probes=("vision-data",),
    requires=("vision",),
    impact=Impact.SPEC,
)
def vision_data_url(ctx: RuleContext) -> None:
    """A user message with an `image_url` part holding a base64 PNG data URL gets 200."""
    accepted(ctx.exchange("vision-data"), "the request with a base64 data: image", SPEC_PART)


@rule(
    "VISION-002",
    Level.MUST,
    "An http(s) image URL is accepted",
    source=f"{SPEC_PART}; 预置多模态大模型服务接口说明 (taichu_vl https image) and 百炼openAi文档 "
    "(qwen-vl-plus https image)",
    probes=("vision-url",),
    requires=("vision",),
    impact=Impact.SPEC,
)
def vision_remote_url(ctx: RuleContext) -> None:
    """A user message with an `image_url` part holding an https URL gets a 200 chat completion."""
    accepted(ctx.exchange("vision-url"), "the request with an https image URL", SPEC_PART)


@rule(
    "VISION-003",
    Level.MUST,
    "A corrupt base64 image is rejected with 400",
    source="RFC 9110 15.5.1 (400: the client sent an invalid request) and 15.6 (5xx: the server failed); "
    f"{SPEC_PART} (the url must be an image or base64 image data)",
    probes=("vision-bad-base64",),
    requires=("vision",),
    impact=Impact.SPEC,
)
def vision_corrupt_base64(ctx: RuleContext) -> None:
    """A data URL whose payload is not base64 gets 400: not 200 (accepted garbage), not 5xx."""
    ex = ctx.exchange("vision-bad-base64")
    if ex.status == 400:
        return
    received = (
        f"transport failure ({ex.error_kind}): {ex.error}" if ex.status is None else f"HTTP {ex.status}"
    )
    hint = {200: "the server accepted an image it cannot have decoded"}.get(ex.status or 0, "")
    if ex.status is not None and ex.status >= 500:
        hint = "a client error reported as a server failure (clients retry 5xx)"
    raise Violation(
        f"a corrupt base64 image ({CORRUPT_DATA_URL!r}) got {received}, expected 400"
        + (f": {hint}" if hint else ""),
        expected=400,
        received=ex.status,
        where=f"{ex.method} {ex.url}",
        exchange=ex,
    )
