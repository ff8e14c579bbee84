"""Drives `openai` 0.28 the legacy way the hhaice documentation (openapi.hhaice.com) shows:
`openai.api_base`, `openai.ChatCompletion.create`."""

from __future__ import annotations

import json
from typing import Any

import openai
from _protocol import Job, Outcome, main, outcome, parsed, usage_numbers


def run(job: Job) -> Outcome:
    openai.api_base = job["base_url"]
    openai.api_key = job["api_key"]
    req, scenario = job["request"], job["scenario"]
    args = {k: v for k, v in req.items() if k not in ("stream", "prompt", "messages")}
    args["request_timeout"] = job["timeout_s"]
    if scenario == "completions":
        done = openai.Completion.create(prompt=req["prompt"], **args)
        return outcome(done["choices"][0]["text"], usage=usage_numbers(done.get("usage")))
    if not req.get("stream"):
        done = openai.ChatCompletion.create(messages=req["messages"], **args)
        msg = done["choices"][0]["message"]
        calls = [
            {"name": c["function"]["name"], "arguments": json.loads(c["function"]["arguments"])}
            for c in msg.get("tool_calls") or []
        ]
        return outcome(
            msg.get("content"),
            reasoning=msg.get("reasoning_content") or "",
            tool_calls=calls,
            usage=usage_numbers(done.get("usage")),
        )
    text, reasoning, usage = "", "", None
    pieces: dict[int, dict[str, Any]] = {}
    for chunk in openai.ChatCompletion.create(messages=req["messages"], stream=True, **args):
        if chunk.get("usage"):
            usage = usage_numbers(chunk["usage"])
        if not chunk["choices"] and req.get("stream_options", {}).get("include_usage"):
            continue
        delta = chunk["choices"][0]["delta"]
        text += delta.get("content") or ""
        reasoning += delta.get("reasoning_content") or ""
        for tc in delta.get("tool_calls") or []:
            call = pieces.setdefault(tc["index"], {"name": "", "arguments": ""})
            fn = tc.get("function") or {}
            call["name"] += fn.get("name") or ""
            call["arguments"] += fn.get("arguments") or ""
    return outcome(text, reasoning=reasoning, tool_calls=parsed([pieces[i] for i in sorted(pieces)]), usage=usage)


if __name__ == "__main__":
    main(openai.version.VERSION, run)
