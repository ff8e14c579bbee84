"""Legal variations: behaviour that SSE (WHATWG HTML §9.2 event stream interpretation) and the OpenAI
spec allow, which a conforming client must accept and no conformance rule may flag.

Sources: the WHATWG event-stream rules (comment keep-alives; CR/LF/CRLF line ends, `data:` with or
without the space, multi-line `data:` joined with LF, `id:`/`retry:` fields, as openai-python's SSE
decoder accepts them); blank lines before a JSON body, as DeepSeek's API sends them; vendor extension
fields, which the OpenAI spec's objects do not forbid; RFC 8259 §2 and §7 (whitespace around JSON tokens,
`\\uXXXX` escapes and surrogate pairs); the chunk shapes llama-cpp-python 0.3.36 and vLLM send
(docs/real-server.md): a role chunk without `content`, text and `finish_reason` in one chunk, empty
text deltas while a tokenizer holds back an incomplete UTF-8 character.
"""

from __future__ import annotations

import json
from typing import Any

from maascheck.sim.faults import ChunkContext, Fault, RequestView, register


def _keepalive(raw: bytes, ctx: ChunkContext | None) -> bytes:
    return b": keep-alive\n\n" + raw


def _crlf(raw: bytes, ctx: ChunkContext | None) -> bytes:
    return raw.replace(b"\n", b"\r\n")  # JSON payloads never contain a raw newline (orjson escapes it)


def _no_space(raw: bytes, ctx: ChunkContext | None) -> bytes:
    return raw.replace(b"data: ", b"data:", 1)


def _split_writes(raw: bytes, ctx: ChunkContext | None) -> list[bytes]:
    if ctx is not None and ctx.index == 0:
        return [raw[i : i + 1] for i in range(len(raw))]
    cut = max(1, len(raw) // 3)
    return [raw[:cut], raw[cut : 2 * cut], raw[2 * cut :]]


def _split_content(chunk: dict[str, Any], ctx: ChunkContext) -> list[dict[str, Any]]:
    """Split a chunk whose single choice carries text into two chunks (sent in one write)."""
    choices = chunk.get("choices") or []
    if len(choices) != 1:
        return [chunk]
    choice = choices[0]
    holder, key = (choice.get("delta"), "content") if "delta" in choice else (choice, "text")
    if not isinstance(holder, dict) or not isinstance(holder.get(key), str) or len(holder[key]) < 2:
        return [chunk]
    if choice.get("finish_reason") is not None or choice.get("logprobs"):
        return [chunk]
    text = holder[key]
    half = len(text) // 2
    first, second = _with_text(chunk, key, text[:half]), _with_text(chunk, key, text[half:])
    return [first, second]


def _with_text(chunk: dict[str, Any], key: str, text: str) -> dict[str, Any]:
    choice = dict(chunk["choices"][0])
    if "delta" in choice:
        choice["delta"] = {**choice["delta"], key: text}
    else:
        choice[key] = text
    return {**chunk, "choices": [choice]}


def _role_content_null(chunk: dict[str, Any], ctx: ChunkContext) -> list[dict[str, Any]]:
    for choice in chunk.get("choices") or []:
        delta = choice.get("delta")
        if isinstance(delta, dict) and delta.get("role") == "assistant" and delta.get("content") == "":
            delta["content"] = None
    return [chunk]


def _vendor_chunk(chunk: dict[str, Any], ctx: ChunkContext) -> list[dict[str, Any]]:
    for choice in chunk.get("choices") or []:
        choice["stop_reason"] = None
    if ctx.is_final or ctx.is_usage:
        chunk["timings"] = {"prompt_ms": 1.5, "predicted_ms": 12.0}
    return [chunk]


def _vendor_body(body: dict[str, Any], view: RequestView) -> dict[str, Any]:
    if "error" in body:
        return body
    for choice in body.get("choices") or []:
        if isinstance(choice, dict):
            choice["stop_reason"] = None
    if view.endpoint in {"chat", "completions"}:
        body["timings"] = {"prompt_ms": 1.5, "predicted_ms": 12.0}
    return body


def _usage_null(chunk: dict[str, Any], ctx: ChunkContext) -> list[dict[str, Any]]:
    chunk.setdefault("usage", None)
    return [chunk]


def _role_no_content(chunk: dict[str, Any], ctx: ChunkContext) -> list[dict[str, Any]]:
    for choice in chunk.get("choices") or []:
        delta = choice.get("delta")
        if isinstance(delta, dict) and delta.get("role") == "assistant" and delta.get("content") == "":
            del delta["content"]
    return [chunk]


def _text_of(chunk: dict[str, Any]) -> tuple[dict[str, Any], str] | None:
    """The (holder, key) of the single choice's text, when the chunk carries non-empty text."""
    choices = chunk.get("choices") or []
    if len(choices) != 1:
        return None
    choice = choices[0]
    holder, key = (choice.get("delta"), "content") if "delta" in choice else (choice, "text")
    if isinstance(holder, dict) and isinstance(holder.get(key), str) and holder[key]:
        return holder, key
    return None


def _empty_text_first(chunk: dict[str, Any], ctx: ChunkContext) -> list[dict[str, Any]]:
    found = _text_of(chunk)
    if found is None or chunk["choices"][0].get("finish_reason") is not None:
        return [chunk]
    empty = _with_text(chunk, found[1], "")
    empty["choices"][0]["logprobs"] = None
    return [empty, chunk]


class _FinishWithText:
    """Holds back each choice's latest text chunk and sends its text in that choice's finish chunk (vLLM style)."""

    def __init__(self) -> None:
        self.held: dict[tuple[int, Any], dict[str, Any]] = {}  # (id of the request view, choice index) -> chunk

    def __call__(self, chunk: dict[str, Any], ctx: ChunkContext) -> list[dict[str, Any]]:
        choices = chunk.get("choices") or []
        if len(choices) != 1:  # the usage chunk (or a multi-choice chunk): release what is held first
            mine = [k for k in self.held if k[0] == id(ctx.request)]
            return [*(self.held.pop(k) for k in mine), chunk]
        key = (id(ctx.request), choices[0].get("index"))
        held = self.held.pop(key, None)
        if choices[0].get("finish_reason") is not None:
            found = _text_of(held) if held is not None else None
            if held is None or found is None or held["choices"][0].get("logprobs"):
                return [*([held] if held else []), chunk]
            return [_with_text(chunk, found[1], found[0][found[1]])]
        if _text_of(chunk) is None:
            return [*([held] if held else []), chunk]
        self.held[key] = chunk
        return [held] if held else []


def _split_data_lines(raw: bytes, ctx: ChunkContext | None) -> bytes:
    if ctx is None or not raw.startswith(b"data: {"):
        return raw
    payload = raw[len(b"data: ") :].rstrip(b"\r\n")
    comma = payload.find(b",")
    if comma < 0:
        return raw
    return b"data: " + payload[: comma + 1] + b"\ndata: " + payload[comma + 1 :] + b"\n\n"


def _spaced_escaped(raw: bytes, ctx: ChunkContext | None) -> bytes:
    if ctx is None or not raw.startswith(b"data: {"):
        return raw
    try:
        doc = json.loads(raw[len(b"data: ") :])
    except ValueError:  # another variation already reshaped the event
        return raw
    return b"data:  " + json.dumps(doc, ensure_ascii=True).encode("ascii") + b" \n\n"


def _spaced_escaped_body(raw: bytes, view: RequestView) -> bytes:
    try:
        doc = json.loads(raw)
    except ValueError:
        return raw
    return b" \n" + json.dumps(doc, ensure_ascii=True, indent=1).encode("ascii") + b"\n"


def _blank_lines(raw: bytes, view: RequestView) -> bytes:
    return b"\n\n\n" + raw if view.endpoint in {"chat", "completions"} else raw


def _event_id(raw: bytes, ctx: ChunkContext | None) -> bytes:
    return (b"id: done\n" if ctx is None else b"id: %d\n" % (ctx.index + 1)) + raw


def _retry(raw: bytes, ctx: ChunkContext | None) -> bytes:
    return b"retry: 3000\n" + raw if ctx is not None and ctx.index == 0 else raw


LEGAL = [
    Fault(
        "legal-keepalive-comments",
        "an SSE comment `: keep-alive` before every event (DeepSeek style)",
        on_event=_keepalive,
    ),
    Fault("legal-crlf", "SSE lines end with CRLF instead of LF", on_event=_crlf),
    Fault(
        "legal-data-no-space", "`data:{...}` without the optional space after the colon", on_event=_no_space
    ),
    Fault(
        "legal-split-writes",
        "each event split across several chunked frames and socket writes; the first event byte by byte",
        on_frames=_split_writes,
    ),
    Fault(
        "legal-coalesced-events",
        "content chunks split in two events sent in the same write",
        on_chunk=_split_content,
    ),
    Fault(
        "legal-role-content-null",
        "the role chunk carries `content: null` (llama.cpp style)",
        on_chunk=_role_content_null,
    ),
    Fault(
        "legal-vendor-fields",
        "vendor extension fields (`stop_reason`, `timings`) on chunks and bodies",
        on_chunk=_vendor_chunk,
        on_body=_vendor_body,
    ),
    Fault(
        "legal-usage-null", "`usage: null` on every chunk even without include_usage", on_chunk=_usage_null
    ),
    Fault(
        "legal-blank-lines-before-body",
        "blank lines before a non-stream JSON body (DeepSeek keep-alive)",
        on_body_bytes=_blank_lines,
    ),
    Fault("legal-event-id", "an `id:` field on every event", on_event=_event_id),
    Fault(
        "legal-role-no-content",
        "the role chunk's delta is `{\"role\": \"assistant\"}` with no content key (llama-cpp-python)",
        on_chunk=_role_no_content,
    ),
    Fault(
        "legal-empty-text-deltas",
        "a chunk with empty text before every text chunk (a tokenizer holding back an incomplete UTF-8 character)",
        on_chunk=_empty_text_first,
    ),
    Fault(
        "legal-finish-with-text",
        "the last text arrives in the chunk that carries finish_reason (vLLM style)",
        on_chunk=_FinishWithText(),
    ),
    Fault(
        "legal-multiline-data",
        "each event's JSON split across two `data:` lines (joined with LF by the SSE parser)",
        on_event=_split_data_lines,
    ),
    Fault(
        "legal-json-spacing-escapes",
        "JSON with spaces around tokens, non-ASCII as \\uXXXX escapes, and whitespace around the document",
        on_event=_spaced_escaped,
        on_body_bytes=_spaced_escaped_body,
    ),
    Fault("legal-retry-field", "a `retry: 3000` field on the first event", on_event=_retry),
]

for _fault in LEGAL:
    register(_fault)
