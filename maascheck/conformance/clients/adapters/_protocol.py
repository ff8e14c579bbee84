"""The adapter protocol (Python side): one JSON job list on stdin, one JSON result document on stdout.

Input: {"jobs": [{"scenario", "base_url", "api_key", "request", "timeout_s"}]}. Output: one line per job as
it finishes (so a client that hangs on one job still reports the ones before it):
{"scenario", "ok": true, "text", "reasoning", "tool_calls", "usage"} or {"scenario", "ok": false,
"error": {"type", "message", "where"}}. A value of None means "the client does not expose it".
This file runs inside a client's own venv: it imports only the standard library.
"""

from __future__ import annotations

import json
import sys
import traceback
from collections.abc import Callable
from typing import Any

Job = dict[str, Any]
Outcome = dict[str, Any]


def outcome(
    text: str | None = None,
    *,
    reasoning: str | None = None,
    tool_calls: list[dict[str, Any]] | None = None,
    usage: dict[str, Any] | None = None,
) -> Outcome:
    """What the client handed the application for one scenario."""
    return {"ok": True, "text": text, "reasoning": reasoning, "tool_calls": tool_calls, "usage": usage}


def usage_numbers(usage: Any) -> dict[str, Any] | None:
    """prompt/completion/total token counts of a usage object, dict or attribute style."""
    if usage is None:
        return None
    get = usage.get if isinstance(usage, dict) else (lambda k: getattr(usage, k, None))
    return {k: get(k) for k in ("prompt_tokens", "completion_tokens", "total_tokens")}


def parsed(calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Tool calls with their `arguments` JSON string parsed, as an application does before calling the tool."""
    return [{"name": c["name"], "arguments": json.loads(c["arguments"])} for c in calls]


def main(version: str, run: Callable[[Job], Outcome]) -> None:
    """Run every job of stdin through `run`, printing one JSON line per job; never raise."""
    del version  # the runner reads the installed versions from the environment's marker
    for job in json.loads(sys.stdin.read())["jobs"]:
        try:
            result = run(job)
        except BaseException as exc:  # the client's failure is the result
            result = {
                "ok": False,
                "error": {
                    "type": f"{type(exc).__module__}.{type(exc).__qualname__}",
                    "message": str(exc)[:2000],
                    "where": traceback.format_exc(limit=-3)[-1500:],
                },
            }
        sys.stdout.write(json.dumps({"scenario": job["scenario"], **result}, default=repr) + "\n")
        sys.stdout.flush()
