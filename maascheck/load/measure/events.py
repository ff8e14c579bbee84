"""Parse raw SSE events (as framed by `maascheck.load.client.lean`) into the facts the metrics need.

Runs after the stream ended, off the timing path. SSE field rules follow the WHATWG HTML standard
§9.2.6 ("data:" lines joined with newlines, one optional space after the colon, lines starting with ":"
are comments). Tolerated deviation: a bare JSON object line without the ``data:`` prefix (the stream
example of seed 002 shows one) is read as data.
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
    kind: str  # "data" | "done" | "error" | "comment" | "invalid"
    content: bool = False  # a non-empty delta.content (chat) or choices[].text (completions)
    reasoning: bool = False  # a non-empty delta.reasoning_content / delta.reasoning
    tool_calls: bool = False  # a non-empty delta.tool_calls (or legacy function_call)
    text: str = ""  # content + reasoning text of the chunk (for a tokenizer)
    usage_completion: int | None = None  # usage.completion_tokens carried by this chunk
    usage_prompt: int | None = None
    final_usage: bool = False  # the usage-only chunk: `choices` empty, `usage` set
    logprob_tokens: int | None = None  # tokens listed in logprobs, when present
    error: str | None = None

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


def _from_json(data: bytes, t_ns: int, event_name: bytes) -> Chunk:
    try:
        obj = _loads(data)
    except ValueError:
        return Chunk(t_ns, "invalid", error=f"event data is not JSON: {data[:120]!r}")
    if not isinstance(obj, dict):
        return Chunk(t_ns, "invalid", error=f"event data is not a JSON object: {data[:120]!r}")
    if "error" in obj or event_name == b"error":
        return Chunk(t_ns, "error", error=_error_text(obj))
    return _chunk_from(obj, t_ns)


def _error_text(obj: dict[str, Any]) -> str:
    err = obj.get("error", obj)
    if isinstance(err, dict):
        return str(err.get("message") or err.get("type") or err)[:500]
    return str(err)[:500]


def _chunk_from(obj: dict[str, Any], t_ns: int) -> Chunk:
    choices = obj.get("choices") or []
    chunk = Chunk(t_ns, "data")
    texts: list[str] = []
    for choice in choices if isinstance(choices, list) else []:
        if not isinstance(choice, dict):
            continue
        delta = choice.get("delta")
        if isinstance(delta, dict):
            content = delta.get("content")
            reasoning = delta.get("reasoning_content") or delta.get("reasoning")
            if isinstance(content, str) and content:
                chunk.content = True
                texts.append(content)
            if isinstance(reasoning, str) and reasoning:
                chunk.reasoning = True
                texts.append(reasoning)
            if delta.get("tool_calls") or delta.get("function_call"):
                chunk.tool_calls = True
        text = choice.get("text")  # legacy completions
        if isinstance(text, str) and text:
            chunk.content = True
            texts.append(text)
        chunk.logprob_tokens = _logprob_count(choice.get("logprobs"), chunk.logprob_tokens)
    chunk.text = "".join(texts)
    usage = obj.get("usage")
    if isinstance(usage, dict):
        completion, prompt = usage.get("completion_tokens"), usage.get("prompt_tokens")
        chunk.usage_completion = completion if isinstance(completion, int) else None
        chunk.usage_prompt = prompt if isinstance(prompt, int) else None
        chunk.final_usage = not choices
    return chunk


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
    for raw, t in zip(events, times_ns, strict=True):
        if raw.startswith(b"data: {") and b"\n" not in raw:
            try:
                obj = _loads(raw[6:])
            except ValueError:
                obj = None
            if type(obj) is dict and "error" not in obj and obj.get("usage") is None:
                choices = obj.get("choices")
                if type(choices) is list and len(choices) == 1 and type(choices[0]) is dict:
                    choice = choices[0]
                    delta = choice.get("delta")
                    if type(delta) is dict and len(delta) == 1 and choice.get("logprobs") is None:
                        content = delta.get("content")
                        if type(content) is str and "text" not in choice:
                            out.append(Chunk(t, "data", content=bool(content), text=content))
                            continue
        out.append(parse_event(raw, t))
    return out
