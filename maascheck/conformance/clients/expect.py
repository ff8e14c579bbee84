"""What a client should hand the application: read off the raw exchange the client was served.

The view has four parts: `text` (choice 0's content, a stream's deltas joined), `reasoning`
(`reasoning_content` or `reasoning`, joined), `tool_calls` (name and arguments per call: a stream's
fragments joined per `index`, else per `id`; arguments parsed as JSON when they parse) and `usage`
(the last usage object's token counts). A scenario compares only the parts it is about.
"""

from __future__ import annotations

import json
from typing import Any

from maascheck.conformance.model.exchange import Exchange

REASONING_FIELDS = ("reasoning_content", "reasoning")
USAGE_KEYS = ("prompt_tokens", "completion_tokens", "total_tokens")


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _first_choice(doc: Any) -> dict[str, Any]:
    choices = _dict(doc).get("choices")
    if not isinstance(choices, list):
        return {}
    zero = [c for c in choices if isinstance(c, dict) and c.get("index", 0) == 0]
    return zero[0] if zero else {}


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _reasoning(obj: dict[str, Any]) -> str:
    return "".join(_str(obj.get(f)) for f in REASONING_FIELDS)


def parse_arguments(value: Any) -> Any:
    """Arguments as an application sees them after parsing: JSON text parsed; anything else as it is."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _usage(value: Any) -> dict[str, Any] | None:
    usage = _dict(value)
    return {k: usage.get(k) for k in USAGE_KEYS} if usage else None


def _stream_docs(ex: Exchange) -> list[dict[str, Any]]:
    return [e.json for e in ex.data_events if isinstance(e.json, dict)]


def _join_fragments(fragments: list[dict[str, Any]]) -> list[dict[str, Any]]:
    calls: dict[Any, dict[str, Any]] = {}
    last: Any = None
    for frag in fragments:
        key = frag.get("index")
        if not isinstance(key, int):
            key = frag.get("id") if isinstance(frag.get("id"), str) else last
        if key is None:
            key = 0
        last = key
        call = calls.setdefault(key, {"name": "", "arguments": ""})
        fn = _dict(frag.get("function"))
        call["name"] += _str(fn.get("name"))
        args = fn.get("arguments")
        if isinstance(args, str) and isinstance(call["arguments"], str):
            call["arguments"] += args
        elif args is not None:
            call["arguments"] = args
    return [{"name": c["name"], "arguments": parse_arguments(c["arguments"])} for c in calls.values()]


def expected_view(ex: Exchange) -> dict[str, Any]:
    """{text, reasoning, tool_calls, usage} as the exchange carried them (stream or not)."""
    stream = bool(_dict(ex.request_json).get("stream"))
    if not stream:
        doc = _dict(ex.json)
        choice = _first_choice(doc)
        msg = _dict(choice.get("message"))
        text = _str(msg.get("content")) if msg else _str(choice.get("text"))
        calls = [c for c in msg.get("tool_calls") or [] if isinstance(c, dict)] if msg else []
        return {
            "text": text,
            "reasoning": _reasoning(msg),
            "tool_calls": [
                {
                    "name": _str(_dict(c.get("function")).get("name")),
                    "arguments": parse_arguments(_dict(c.get("function")).get("arguments")),
                }
                for c in calls
            ],
            "usage": _usage(doc.get("usage")),
        }
    text, reasoning, usage = "", "", None
    fragments: list[dict[str, Any]] = []
    for doc in _stream_docs(ex):
        if doc.get("usage"):
            usage = _usage(doc["usage"])
        choice = _first_choice(doc)
        delta = _dict(choice.get("delta"))
        text += _str(delta.get("content")) if delta else _str(choice.get("text"))
        reasoning += _reasoning(delta)
        fragments += [f for f in delta.get("tool_calls") or [] if isinstance(f, dict)]
    return {"text": text, "reasoning": reasoning, "tool_calls": _join_fragments(fragments), "usage": usage}


def error_message(ex: Exchange) -> str:
    """The human-readable message an error answer carries: `error.message`, else a `detail` or `message`
    string (FastAPI and other non-standard bodies), else the body text itself (at most 200 characters)."""
    doc = ex.json
    if isinstance(doc, dict):
        error = doc.get("error")
        for value in (_dict(error).get("message"), error, doc.get("detail"), doc.get("message")):
            if isinstance(value, str) and value.strip():
                return value.strip()
    return ex.body.decode("utf-8", errors="replace").strip()[:200]


def differences(scenario_parts: tuple[str, ...], expected: dict[str, Any], got: dict[str, Any]) -> list[str]:
    """One line per part the client handed differently from what the exchange carried."""
    out = []
    for part in scenario_parts:
        want, have = expected.get(part), got.get(part)
        if part == "reasoning" and have is None:
            continue  # the client does not expose reasoning
        if part == "usage":
            if want is None:
                continue  # the exchange carried no usage: nothing to hand on
            have_numbers = {k: _dict(have).get(k) for k in USAGE_KEYS}
            wrong = {
                k: (want[k], have_numbers[k]) for k in USAGE_KEYS if want[k] is not None and want[k] != have_numbers[k]
            }
            if wrong:
                out.append("usage: " + ", ".join(f"{k} {w!r} on the wire, {h!r} handed" for k, (w, h) in wrong.items()))
            continue
        if part == "text":
            want, have = want or "", have or ""
        if part == "tool_calls":
            have = [
                {"name": _str(_dict(c).get("name")), "arguments": parse_arguments(_dict(c).get("arguments"))}
                for c in have or []
            ]
        if want != have:
            out.append(f"{part}: {_short(want)} on the wire, {_short(have)} handed to the application")
    return out


def _short(value: Any, limit: int = 300) -> str:
    text = json.dumps(value, ensure_ascii=False, default=repr)
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} chars)"
