"""Drives the current `openai` Python SDK as its README shows: `OpenAI(base_url=...)`, `create`, iterate."""

from __future__ import annotations

import json
from typing import Any

import openai
from _protocol import Job, Outcome, main, outcome, parsed, usage_numbers


def _extra(obj: Any, name: str) -> Any:
    """A field the SDK's models keep from the wire although they do not declare it (model_extra)."""
    value = getattr(obj, name, None)
    return value if value is not None else (getattr(obj, "model_extra", None) or {}).get(name)


def run(job: Job) -> Outcome:
    client = openai.OpenAI(base_url=job["base_url"], api_key=job["api_key"], max_retries=0, timeout=job["timeout_s"])
    req, scenario = job["request"], job["scenario"]
    args = {k: v for k, v in req.items() if k not in ("stream", "prompt", "messages")}
    if scenario == "completions":
        done = client.completions.create(prompt=req["prompt"], **args)
        return outcome(done.choices[0].text, usage=usage_numbers(done.usage))
    if not req.get("stream"):
        done = client.chat.completions.create(messages=req["messages"], **args)
        msg = done.choices[0].message
        calls = [{"name": c.function.name, "arguments": json.loads(c.function.arguments)} for c in msg.tool_calls or []]
        return outcome(
            msg.content,
            reasoning=_extra(msg, "reasoning_content") or "",
            tool_calls=calls,
            usage=usage_numbers(done.usage),
        )
    text, reasoning, usage = "", "", None
    pieces: dict[int, dict[str, Any]] = {}
    for chunk in client.chat.completions.create(messages=req["messages"], stream=True, **args):
        if chunk.usage is not None:
            usage = usage_numbers(chunk.usage)
        if not chunk.choices and req.get("stream_options", {}).get("include_usage"):
            continue  # the documented final usage chunk: `choices` is empty
        delta = chunk.choices[0].delta
        text += delta.content or ""
        reasoning += _extra(delta, "reasoning_content") or ""
        for tc in delta.tool_calls or []:
            call = pieces.setdefault(tc.index, {"name": "", "arguments": ""})
            if tc.function is not None:
                call["name"] += tc.function.name or ""
                call["arguments"] += tc.function.arguments or ""
    return outcome(text, reasoning=reasoning, tool_calls=parsed([pieces[i] for i in sorted(pieces)]), usage=usage)


if __name__ == "__main__":
    main(openai.__version__, run)
