"""Parse raw SSE events (as framed by `maascheck.load.client.sse`) into the facts the metrics need.

Runs after the stream ended, off the timing path. SSE field rules follow the WHATWG HTML standard
§9.2.6 ("data:" lines joined with newlines, one optional space after the colon, lines starting with ":"
are comments; line ends are LF after framing). Tolerated deviation: a bare JSON object line without the
``data:`` prefix (the stream example of seed 002 shows one) is read as data.

Every event is untrusted: data that is not JSON (invalid UTF-8, lone surrogates, numbers beyond a
double, nesting past the parser's depth limit) is a `bad_json` chunk; JSON whose fields have the wrong
types for `CreateChatCompletionStreamResponse` / `CreateCompletionResponse` (github.com/openai/openai-openapi:
`choices` an array of objects, `delta` an object, `content`/`text` strings, `created` an integer,
`usage` token counts non-negative integers) is a `bad_chunk` chunk. Neither ever raises.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

try:  # optional speed-up; the stdlib parser gives the same result
    import orjson

    _loads: Any = orjson.loads
except ImportError:  # pragma: no cover - depends on the environment
    _loads = json.loads


@dataclass(slots=True)
class Chunk:
    """One SSE event reduced to what the metrics use."""

    t_ns: int
    kind: str  # "data" | "done" | "error" | "comment" | "bad_json" | "bad_chunk"
    content: bool = False  # a non-empty delta.content (chat) or choices[].text (completions)
    reasoning: bool = False  # a non-empty delta.reasoning_content / delta.reasoning
    tool_calls: bool = False  # a non-empty delta.tool_calls (or legacy function_call)
    text: str = ""  # content + reasoning text of the chunk (for a tokenizer)
    usage_completion: int | None = None  # usage.completion_tokens carried by this chunk
    usage_prompt: int | None = None
    final_usage: bool = False  # the usage-only chunk: `choices` empty, `usage` set
    logprob_tokens: int | None = None  # tokens listed in logprobs, when present
    error: str | None = None
    usage_total: int | None = None
    usage_cached: int | None = None  # usage.prompt_tokens_details.cached_tokens (prompt-cache reads)
    id: object = None  # the chunk's id, created and model, for the stream invariants
    created: object = None
    model: object = None
    finishes: tuple[tuple[int, object], ...] = ()  # (choice index, finish_reason) of each choice

    @property
    def is_token(self) -> bool:
        """Carries generated output (content, reasoning or a tool call); role-only/usage-only do not."""
        return self.content or self.reasoning or self.tool_calls


def parse_event(raw: bytes, t_ns: int) -> Chunk:
    """Parse one raw event (without its terminating blank line)."""
    if raw.startswith(b"data: {") and b"\n" not in raw:  # the usual single-line JSON event
        return _from_json(raw[6:], t_ns, b"")
    data_lines: list[bytes] = []
    event_name = b""
    for line in raw.split(b"\n"):
        line = line.rstrip(b"\r")
        if not line or line.startswith(b":"):
            continue
        name, sep, value = line.partition(b":")
        if not sep or name.startswith(b"{"):
            if line.lstrip().startswith(b"{"):
                data_lines.append(line)
            continue
        if value.startswith(b" "):
            value = value[1:]
        if name == b"data":
            data_lines.append(value)
        elif name == b"event":
            event_name = value
    if not data_lines:
        return Chunk(t_ns, "comment")
    data = b"\n".join(data_lines)
    if data.strip() == b"[DONE]":
        return Chunk(t_ns, "done")
    return _from_json(data, t_ns, event_name)


MAX_TOKEN_COUNT = 2**31 - 1
"""Largest token count taken from a chunk's usage; larger or negative counts make the chunk `bad_chunk`."""


def printable(text: str, limit: int = 500) -> str:
    """`text` cut to `limit` characters, lone surrogates escaped (so any JSON encoder takes it)."""
    return text[:limit].encode("utf-8", "backslashreplace").decode("utf-8")


def _from_json(data: bytes, t_ns: int, event_name: bytes) -> Chunk:
    try:
        obj = _loads(data)
    except (ValueError, RecursionError) as exc:  # orjson: JSONDecodeError; json: also RecursionError
        return Chunk(t_ns, "bad_json", error=f"event data is not JSON ({printable(str(exc), 120)}): {data[:120]!r}")
    if not isinstance(obj, dict):
        return Chunk(t_ns, "bad_json", error=f"event data is not a JSON object: {data[:120]!r}")
    if "error" in obj or event_name == b"error":
        return Chunk(t_ns, "error", error=_error_text(obj))
    try:
        return _chunk_from(obj, t_ns)
    except _WrongType as wrong:
        return Chunk(t_ns, "bad_chunk", error=f"{wrong} in {data[:120]!r}")


def _error_text(obj: dict[str, Any]) -> str:
    err = obj.get("error", obj)
    if isinstance(err, dict):
        return printable(str(err.get("message") or err.get("type") or err))
    return printable(str(err))


class _WrongType(Exception):
    """A chunk field of the wrong JSON type; the message names the field, what came and what is expected."""


_JSON_NAMES = {dict: "an object", list: "an array", str: "a string", int: "an integer", float: "a number",
               bool: "a boolean", type(None): "null"}  # fmt: skip


def _expect(value: object, types: tuple[type, ...], where: str) -> None:
    if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
        expected = " or ".join(_JSON_NAMES[t] for t in types)
        got = _JSON_NAMES.get(type(value), type(value).__name__)
        raise _WrongType(f"{where} is {got}, expected {expected}")


def _count(usage: dict[str, Any], name: str) -> int | None:
    value = usage.get(name)
    _expect(value, (int, type(None)), f"usage.{name}")
    if value is not None and not 0 <= value <= MAX_TOKEN_COUNT:
        raise _WrongType(f"usage.{name} is {value}, expected 0..{MAX_TOKEN_COUNT}")
    return value


_OPTIONAL_STR = (str, type(None))
_STR_TYPES = frozenset(_OPTIONAL_STR)


def _chunk_from(obj: dict[str, Any], t_ns: int) -> Chunk:
    for name in ("id", "model", "object", "system_fingerprint"):
        _expect(obj.get(name), _OPTIONAL_STR, name)
    _expect(obj.get("created"), (int, type(None)), "created")
    choices = obj.get("choices")
    _expect(choices, (list, type(None)), "choices")
    chunk = Chunk(t_ns, "data", id=obj.get("id"), created=obj.get("created"), model=obj.get("model"))
    texts: list[str] = []
    finishes: list[tuple[int, object]] = []
    for i, choice in enumerate(choices or ()):
        _expect(choice, (dict,), f"choices[{i}]")
        _expect(choice.get("finish_reason"), _OPTIONAL_STR, f"choices[{i}].finish_reason")
        finishes.append((_choice_index(choice, i), choice.get("finish_reason")))
        delta = choice.get("delta")
        _expect(delta, (dict, type(None)), f"choices[{i}].delta")
        if delta is not None:
            content = delta.get("content")
            _expect(content, _OPTIONAL_STR, f"choices[{i}].delta.content")
            reasoning = delta.get("reasoning_content") or delta.get("reasoning")
            _expect(reasoning, _OPTIONAL_STR, f"choices[{i}].delta.reasoning_content")
            _expect(delta.get("tool_calls"), (list, type(None)), f"choices[{i}].delta.tool_calls")
            if content:
                chunk.content = True
                texts.append(content)
            if reasoning:
                chunk.reasoning = True
                texts.append(reasoning)
            if delta.get("tool_calls") or delta.get("function_call"):
                chunk.tool_calls = True
        text = choice.get("text")  # legacy completions
        _expect(text, _OPTIONAL_STR, f"choices[{i}].text")
        if text:
            chunk.content = True
            texts.append(text)
        chunk.logprob_tokens = _logprob_count(choice.get("logprobs"), chunk.logprob_tokens)
    chunk.text = "".join(texts)
    chunk.finishes = tuple(finishes)
    usage = obj.get("usage")
    _expect(usage, (dict, type(None)), "usage")
    if usage is not None:
        chunk.usage_completion = _count(usage, "completion_tokens")
        chunk.usage_prompt = _count(usage, "prompt_tokens")
        chunk.usage_total = _count(usage, "total_tokens")
        details = usage.get("prompt_tokens_details")
        _expect(details, (dict, type(None)), "usage.prompt_tokens_details")
        if details is not None:
            chunk.usage_cached = _count(details, "cached_tokens")
        chunk.final_usage = not choices
    return chunk


def _choice_index(choice: dict[str, Any], position: int) -> int:
    """`choices[].index`, or the choice's position when the index is missing or not an integer."""
    index = choice.get("index")
    return index if type(index) is int else position


def _logprob_count(logprobs: object, so_far: int | None) -> int | None:
    """Tokens listed in a choice's logprobs: chat `content[]`, completions `tokens[]`."""
    if not isinstance(logprobs, dict):
        return so_far
    items = logprobs.get("content")
    if not isinstance(items, list):
        items = logprobs.get("tokens")
    if not isinstance(items, list):
        return so_far
    return (so_far or 0) + len(items)


def parse_stream(events: list[bytes], times_ns: list[int]) -> list[Chunk]:
    """Parse every event of one stream, keeping the arrival times.

    The usual token event (one ``data: {`` line, one choice whose delta holds only `content`, no usage)
    is recognised inline; every other event goes through `parse_event` (same result, more calls).
    """
    out: list[Chunk] = []
    # A stream repeats its id, created, model and (index, finish_reason) in every chunk: one object each is
    # kept for the whole stream, not one per chunk (100,000 tiny chunks would otherwise hold ~100,000 copies).
    same: dict[object, object] = {}
    for raw, t in zip(events, times_ns, strict=True):
        if raw.startswith(b"data: {") and b"\n" not in raw:
            try:
                obj = _loads(raw[6:])
            except (ValueError, RecursionError):
                obj = None
            if (
                type(obj) is dict
                and "error" not in obj
                and obj.get("usage") is None
                and type(obj.get("created", 0)) is int
                and type(obj.get("id")) in _STR_TYPES
                and type(obj.get("model")) in _STR_TYPES
                and type(obj.get("object")) in _STR_TYPES
                and type(obj.get("system_fingerprint")) in _STR_TYPES
            ):
                choices = obj.get("choices")
                if type(choices) is list and len(choices) == 1 and type(choices[0]) is dict:
                    choice = choices[0]
                    delta = choice.get("delta")
                    if (
                        type(delta) is dict
                        and len(delta) == 1
                        and choice.get("logprobs") is None
                        and type(choice.get("finish_reason")) in _STR_TYPES
                    ):
                        content = delta.get("content")
                        if type(content) is str and "text" not in choice:
                            finishes = ((_choice_index(choice, 0), choice.get("finish_reason")),)
                            ident, created, model = obj.get("id"), obj.get("created"), obj.get("model")
                            out.append(
                                Chunk(
                                    t, "data", content=bool(content), text=content,
                                    id=same.setdefault(("id", ident), ident),
                                    created=same.setdefault(("created", created), created),
                                    model=same.setdefault(("model", model), model),
                                    finishes=same.setdefault(finishes, finishes),  # type: ignore[arg-type]
                                )
                            )
                            continue
        out.append(parse_event(raw, t))
    return out
