"""Drives `langchain-openai` as its docs show: `ChatOpenAI(base_url=...)` with invoke, stream, bind_tools;
`OpenAI` (the legacy completions LLM) with invoke. LangChain parses tool arguments into dicts."""

from __future__ import annotations

from typing import Any

import langchain_openai
from _protocol import Job, Outcome, main, outcome
from langchain_openai import ChatOpenAI, OpenAI

try:
    from importlib.metadata import version as _version

    VERSION = _version("langchain-openai")
except Exception:  # pragma: no cover - metadata is always there in a pip-made venv
    VERSION = getattr(langchain_openai, "__version__", "unknown")


def _usage(meta: Any) -> dict[str, Any] | None:
    if not meta:
        return None
    return {
        "prompt_tokens": meta.get("input_tokens"),
        "completion_tokens": meta.get("output_tokens"),
        "total_tokens": meta.get("total_tokens"),
    }


def _calls(message: Any) -> list[dict[str, Any]]:
    return [{"name": c["name"], "arguments": c["args"]} for c in message.tool_calls]


def _reasoning(message: Any) -> str | None:
    value = message.additional_kwargs.get("reasoning_content")
    return value if isinstance(value, str) else None


def run(job: Job) -> Outcome:
    req, scenario = job["request"], job["scenario"]
    common = {"base_url": job["base_url"], "api_key": job["api_key"], "model": req["model"]}
    common |= {"max_tokens": req.get("max_tokens"), "max_retries": 0, "timeout": job["timeout_s"]}
    if scenario == "completions":
        return outcome(OpenAI(**common).invoke(req["prompt"]))
    include_usage = bool(req.get("stream_options", {}).get("include_usage"))
    llm: Any = ChatOpenAI(**common, stream_usage=include_usage)
    if req.get("tools"):
        llm = llm.bind_tools(req["tools"], tool_choice=req["tool_choice"]["function"]["name"])
    if not req.get("stream"):
        message = llm.invoke(req["messages"])
        return outcome(
            message.content,
            reasoning=_reasoning(message),
            tool_calls=_calls(message),
            usage=_usage(message.usage_metadata),
        )
    total: Any = None
    for chunk in llm.stream(req["messages"]):
        total = chunk if total is None else total + chunk
    if total is None:
        return outcome("", tool_calls=[])
    return outcome(
        total.content, reasoning=_reasoning(total), tool_calls=_calls(total), usage=_usage(total.usage_metadata)
    )


if __name__ == "__main__":
    main(VERSION, run)
