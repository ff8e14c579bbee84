"""Drives `litellm` as its docs show for an OpenAI-compatible server: `completion(model="openai/<name>",
api_base=...)`, stream=True iterated; `text_completion` with the `text-completion-openai/` prefix."""

from __future__ import annotations

import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # never fetch the cost map: loopback only
os.environ.setdefault("LITELLM_TELEMETRY", "False")

import json
from importlib.metadata import version as _version
from typing import Any

import litellm
from _protocol import Job, Outcome, main, outcome, parsed, usage_numbers

litellm.telemetry = False
litellm.suppress_debug_info = True


def run(job: Job) -> Outcome:
    req, scenario = job["request"], job["scenario"]
    args = {k: v for k, v in req.items() if k not in ("stream", "prompt", "messages", "model")}
    common = {"api_base": job["base_url"], "api_key": job["api_key"], "timeout": job["timeout_s"], "num_retries": 0}
    if scenario == "completions":
        done = litellm.text_completion(
            model="text-completion-openai/" + req["model"], prompt=req["prompt"], **args, **common
        )
        return outcome(done.choices[0].text, usage=usage_numbers(getattr(done, "usage", None)))
    model = "openai/" + req["model"]
    if not req.get("stream"):
        done = litellm.completion(model=model, messages=req["messages"], **args, **common)
        msg = done.choices[0].message
        calls = [{"name": c.function.name, "arguments": json.loads(c.function.arguments)} for c in msg.tool_calls or []]
        reasoning = getattr(msg, "reasoning_content", None) or ""
        return outcome(
            msg.content, reasoning=reasoning, tool_calls=calls, usage=usage_numbers(getattr(done, "usage", None))
        )
    text, reasoning, usage = "", "", None
    pieces: dict[int, dict[str, Any]] = {}
    for chunk in litellm.completion(model=model, messages=req["messages"], stream=True, **args, **common):
        if getattr(chunk, "usage", None) is not None:
            usage = usage_numbers(chunk.usage)
        if not chunk.choices:
            continue
        delta = chunk.choices[0].delta
        text += delta.content or ""
        reasoning += getattr(delta, "reasoning_content", None) or ""
        for tc in delta.tool_calls or []:
            call = pieces.setdefault(tc.index, {"name": "", "arguments": ""})
            if tc.function is not None:
                call["name"] += tc.function.name or ""
                call["arguments"] += tc.function.arguments or ""
    return outcome(text, reasoning=reasoning, tool_calls=parsed([pieces[i] for i in sorted(pieces)]), usage=usage)


if __name__ == "__main__":
    main(_version("litellm"), run)
