"""A deterministic tokenizer and text generator, so usage counts are reproducible.

Tokenizer: a token is a run of ASCII letters/digits/underscores, or any other single non-space
character (so each CJK character is one token). Generated text is made of such tokens only, so
re-tokenising the output gives `completion_tokens` back (before stop-sequence truncation).
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import re
from typing import Any

_TOKEN_RE = re.compile(r"[A-Za-z0-9_]+|[^\sA-Za-z0-9_]")

MESSAGE_OVERHEAD_TOKENS = 3
"""Tokens added per chat message (role and separators), as OpenAI's cookbook counts about 3."""
REPLY_PRIMING_TOKENS = 3
"""Tokens added once per chat prompt for the assistant reply header."""
IMAGE_TOKENS = 85
"""Tokens counted per image part (OpenAI's fixed cost of a low-detail image)."""

_WORDS = [
    "the",
    "model",
    "serves",
    "tokens",
    "in",
    "batches",
    "while",
    "the",
    "engine",
    "schedules",
    "each",
    "sequence",
    "on",
    "the",
    "device",
    "and",
    "every",
    "request",
    "waits",
    "for",
    "a",
    "slot",
    "before",
    "prefill",
    "then",
    "decode",
    "emits",
    "one",
    "token",
    "per",
    "step",
    "for",
    "all",
    "running",
    "sequences",
    "so",
    "latency",
    "grows",
    "with",
    "load",
    "and",
    "throughput",
    "saturates",
    "when",
    "the",
    "batch",
    "is",
    "full",
    "a",
    "cache",
    "keeps",
    "shared",
    "prefixes",
    "warm",
    "which",
    "saves",
    "prefill",
    "time",
    "for",
    "repeated",
    "system",
    "prompts",
    "and",
    "streaming",
    "clients",
    "measure",
    "time",
    "to",
    "first",
    "token",
    "and",
    "inter",
    "token",
    "latency",
    "across",
    "many",
    "users",
]
_PUNCT = (",", ".")


def count_tokens(text: str) -> int:
    """The number of tokens in `text` under the simulator's tokenizer."""
    return len(_TOKEN_RE.findall(text))


def tokenize(text: str) -> list[str]:
    """The tokens of `text` (used for prefix-cache block hashing)."""
    return _TOKEN_RE.findall(text)


def rng_for(parts: Any) -> random.Random:
    """A Random seeded from a canonical JSON rendering of `parts` (stable across runs and processes)."""
    blob = json.dumps(parts, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return random.Random(int.from_bytes(hashlib.sha256(blob.encode()).digest()[:8], "big"))


def generate_tokens(rng: random.Random, count: int) -> list[str]:
    """`count` token strings forming plausible sentences: " word" tokens with occasional punctuation."""
    out: list[str] = []
    since_punct = 0
    for i in range(count):
        if since_punct >= 3 and rng.random() < 0.15 and i > 0:
            out.append(_PUNCT[rng.random() < 0.5])
            since_punct = 0
            continue
        word = _WORDS[rng.randrange(len(_WORDS))]
        out.append(word if i == 0 else " " + word)
        since_punct += 1
    return out


def token_logprob(rng: random.Random) -> float:
    """A plausible log-probability (<= 0) for a sampled token."""
    return round(math.log(max(1e-6, 1.0 - rng.random() * 0.9)), 6)


def alternatives(rng: random.Random, chosen: str, chosen_lp: float, k: int) -> list[tuple[str, float]]:
    """The top-`k` alternatives at one position, most likely first; the sampled token leads."""
    out = [(chosen, chosen_lp)]
    lp = chosen_lp
    seen = {chosen}
    while len(out) < k:
        word = " " + _WORDS[rng.randrange(len(_WORDS))]
        if word in seen:
            word = word + str(len(out))
        seen.add(word)
        lp = round(lp - 0.1 - rng.random() * 2.0, 6)
        out.append((word, lp))
    return out[:k]


def json_fragments(text: str, size: int = 4) -> list[str]:
    """`text` cut into pieces of `size` characters (one piece counts as one generated token)."""
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def arguments_for(schema: Any, rng: random.Random) -> dict[str, Any]:
    """A JSON object satisfying the common subset of a function's `parameters` JSON Schema."""
    if not isinstance(schema, dict):
        return {}
    props = schema.get("properties")
    if not isinstance(props, dict):
        return {}
    out: dict[str, Any] = {}
    for name, spec in props.items():
        out[str(name)] = _value_for(spec if isinstance(spec, dict) else {}, rng)
    return out


def instance_of(schema: dict[str, Any], rng: random.Random) -> Any:
    """A value of the common subset of JSON Schema structured outputs use (objects, enums, scalars, arrays)."""
    return _value_for(schema, rng)


def _value_for(spec: dict[str, Any], rng: random.Random) -> Any:
    if isinstance(spec.get("enum"), list) and spec["enum"]:
        return spec["enum"][rng.randrange(len(spec["enum"]))]
    kind = spec.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    if kind == "integer":
        return rng.randrange(1, 100)
    if kind == "number":
        return round(rng.random() * 100, 2)
    if kind == "boolean":
        return rng.random() < 0.5
    if kind == "array":
        items = spec.get("items")
        return [_value_for(items, rng)] if isinstance(items, dict) else []
    if kind == "object":
        return arguments_for(spec, rng)
    return _WORDS[rng.randrange(len(_WORDS))]
