"""Request bodies per scenario (OpenAI spec: CreateChatCompletionRequest, CreateCompletionRequest).

All requests stream (`stream: true`) and, unless disabled, ask for the final usage chunk with
`stream_options.include_usage` (spec: ChatCompletionStreamOptions). `continuous_usage_stats` is a vLLM
extension (usage on every chunk) that makes per-token ITL exact with multi-token chunks; opt-in.
"""

from __future__ import annotations

import base64
import json
import struct
import zlib
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from maascheck.load.workload.workloads import Prompt

SCENARIOS: dict[str, str] = {
    "chat": "/chat/completions",
    "completions": "/completions",
    "vision": "/chat/completions",
    "reasoning": "/chat/completions",
}


@lru_cache(maxsize=1)
def tiny_png_data_url(size: int = 16) -> str:
    """A small RGB gradient PNG as a ``data:image/png;base64,`` URL (built with zlib, no imaging library)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    rows = b"".join(
        b"\x00" + bytes(v for x in range(size) for v in (x * 16 % 256, y * 16 % 256, 128))
        for y in range(size)
    )
    png = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


@dataclass(frozen=True)
class BodyOptions:
    """Per-run settings that shape every body."""

    model: str
    include_usage: bool = True
    chunk_usage: bool = False
    extra: dict[str, Any] = field(default_factory=dict)  # --extra-body: merged into every body


OWNED_FIELDS = ("model", "messages", "prompt", "stream", "max_tokens")
"""Body fields the workload sets; `--extra-body` may not replace them."""


def parse_extra_body(text: str) -> dict[str, Any]:
    """`--extra-body` text: a JSON object whose fields are not the workload's own (ValueError otherwise)."""
    try:
        value = json.loads(text) if text else {}
    except ValueError:
        raise ValueError(text) from None
    if not isinstance(value, dict) or set(value) & set(OWNED_FIELDS):
        raise ValueError(text)
    return value


def build_body(
    scenario: str, prompt: Prompt, opts: BodyOptions, messages: list[dict[str, str]] | None = None
) -> bytes:
    """The JSON body of one request; `messages` (a session's history) replaces the single user message."""
    body: dict[str, Any] = {"model": opts.model, "max_tokens": prompt.max_tokens, "stream": True}
    if messages is not None:
        body["messages"] = messages
    elif scenario == "completions":
        body["prompt"] = prompt.text
    elif scenario == "vision":
        body["messages"] = [{"role": "user", "content": [
            {"type": "text", "text": prompt.text},
            {"type": "image_url", "image_url": {"url": tiny_png_data_url()}},
        ]}]  # fmt: skip
    else:
        body["messages"] = [{"role": "user", "content": prompt.text}]
    stream_options: dict[str, Any] = {}
    if opts.include_usage:
        stream_options["include_usage"] = True
    if opts.chunk_usage:
        stream_options["continuous_usage_stats"] = True
    if stream_options:
        body["stream_options"] = stream_options
    if opts.extra:
        body.update(opts.extra)
    return json.dumps(body, separators=(",", ":")).encode()
