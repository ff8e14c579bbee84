"""Hand-built exchanges for rule cases: well-formed bodies and streams, and a RuleContext over them."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Mapping
from typing import Any

from maascheck.conformance.engine.options import RunOptions
from maascheck.conformance.model.exchange import Exchange
from maascheck.conformance.model.rule import NotApplicable, RuleContext
from maascheck.conformance.transport.sse import make_event
from maascheck.core.profiles import load_profile

URL = "http://127.0.0.1:9/v1"
USAGE = {"prompt_tokens": 12, "completion_tokens": 16, "total_tokens": 28}


def exchange(
    probe: str,
    request: dict[str, Any],
    *,
    body: Any = None,
    events: list[Any] | None = None,
    status: int | None = 200,
    content_type: str | None = None,
    error_kind: str | None = None,
) -> Exchange:
    """An exchange answering `request` with a JSON `body` or SSE `events` (dicts, raw strings or "[DONE]")."""
    path = "/completions" if "prompt" in request else "/chat/completions"
    ex = Exchange(probe, "POST", URL + path, [], json.dumps(request).encode("utf-8"), status=status)
    if events is not None:
        ex.headers = [("content-type", content_type or "text/event-stream")]
        for item in events:
            data = item if isinstance(item, str) else json.dumps(item)
            ex.events.append(make_event(data, None, None, 0, utf8_error=False))
        ex.body = b"".join(b"data: " + e.data.encode() + b"\n\n" for e in ex.events)
    elif body is not None:
        ex.headers = [("content-type", content_type or "application/json")]
        ex.body = body if isinstance(body, bytes) else json.dumps(body).encode("utf-8")
    if error_kind is not None:
        ex.error_kind, ex.error = error_kind, f"simulated {error_kind}"
    return ex


def chat_request(**extra: Any) -> dict[str, Any]:
    """The suite's plain chat request plus `extra`."""
    return {
        "model": "sim-chat",
        "messages": [{"role": "user", "content": "Say this is a test!"}],
        "max_tokens": 16,
        "stream": False,
        **extra,
    }


def chat_body(
    content: str | None = "This is a test.", *, n: int = 1, finish: str = "stop", **message: Any
) -> dict[str, Any]:
    """A spec-complete chat.completion (logprobs and refusal keys included)."""
    msg = {"role": "assistant", "content": content, "refusal": None, **message}
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1736507515,
        "model": "sim-chat",
        "choices": [
            {"index": i, "message": copy.deepcopy(msg), "logprobs": None, "finish_reason": finish}
            for i in range(n)
        ],
        "usage": dict(USAGE),
    }


def chunk(choices: list[dict[str, Any]], **top: Any) -> dict[str, Any]:
    """One chat.completion.chunk."""
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1736507515,
        "model": "sim-chat",
        "choices": choices,
        **top,
    }


def choice(index: int = 0, finish: str | None = None, **delta: Any) -> dict[str, Any]:
    """One stream choice."""
    return {"index": index, "delta": delta, "logprobs": None, "finish_reason": finish}


def chat_chunks(
    texts: tuple[str, ...] = ("This", " is", " a test."),
    *,
    finish: str = "stop",
    n: int = 1,
    usage: dict[str, Any] | None = None,
) -> list[Any]:
    """A well-formed chat stream: role, content and finish chunks (per choice), optional usage, [DONE]."""
    out: list[Any] = [chunk([choice(i, role="assistant", content="") for i in range(n)])]
    out += [chunk([choice(i, content=t) for i in range(n)]) for t in texts]
    out += [chunk([choice(i, finish=finish) for i in range(n)])]
    if usage is not None:
        out.append(chunk([], usage=usage))
    return [*out, "[DONE]"]


def completion_body(text: str | None = " This is a test.", **choice_extra: Any) -> dict[str, Any]:
    """A legacy text_completion."""
    return {
        "id": "cmpl-1",
        "object": "text_completion",
        "created": 1736507515,
        "model": "sim-chat",
        "choices": [{"index": 0, "text": text, "logprobs": None, "finish_reason": "length", **choice_extra}],
        "usage": dict(USAGE),
    }


def edit(doc: Any, fn: Callable[[Any], Any]) -> Any:
    """A deep copy of `doc` changed by `fn` (edits in place, or returns the new doc)."""
    doc = copy.deepcopy(doc)
    out = fn(doc)
    return doc if out is None else out


def context(exchanges: Mapping[str, Exchange], profile: str = "openai") -> RuleContext:
    """A RuleContext serving `exchanges`; any other probe counts as not made."""

    def get(name: str) -> Exchange:
        if name not in exchanges:
            raise NotApplicable(f"probe {name} not made in this case")
        return exchanges[name]

    return RuleContext(load_profile(profile), RunOptions(model="sim-chat"), get)
