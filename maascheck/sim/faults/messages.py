"""Message faults: each breaks exactly one MSG rule (conformance/rules/messages.py).

They recognise the shapes the MSG probes send (a system or developer message, an assistant turn
without tool calls, content made only of text parts) and act on suite requests only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from maascheck.sim.faults import Fault, RequestView, Response, register
from maascheck.sim.faults._util import error_response, from_suite, request_json


def _messages(view: RequestView) -> list[dict[str, Any]]:
    msgs = request_json(view).get("messages") if view.endpoint == "chat" and from_suite(view) else None
    return [m for m in msgs if isinstance(m, dict)] if isinstance(msgs, list) else []


def _has_role(role: str) -> Callable[[RequestView], bool]:
    return lambda view: any(m.get("role") == role for m in _messages(view))


def _plain_history(view: RequestView) -> bool:
    return any(m.get("role") == "assistant" and not m.get("tool_calls") for m in _messages(view))


def _text_parts(view: RequestView) -> bool:
    for m in _messages(view):
        parts = m.get("content")
        if isinstance(parts, list) and parts and all(isinstance(p, dict) and p.get("type") == "text" for p in parts):
            return True
    return False


def _answer(
    when: Callable[[RequestView], bool], response: Callable[[], Response], *, stream: bool | None = None
) -> Callable[[RequestView], Response | None]:
    def hook(view: RequestView) -> Response | None:
        if when(view) and (stream is None or view.stream == stream):
            return response()
        return None

    return hook


def _empty_stream() -> Response:
    return Response(200, b"", [("Content-Type", "text/event-stream")])


for _fault in (
    Fault(
        "system-role-rejected",
        "a request with a system message is refused with 400",
        breaks=("MSG-001",),
        on_request=_answer(
            _has_role("system"), lambda: error_response(400, "Unsupported role: system", "messages")
        ),
    ),
    Fault(
        "developer-role-500",
        "a request with a developer message is answered 500 (llama-cpp-python 0.3)",
        breaks=("MSG-002",),
        on_request=_answer(_has_role("developer"), lambda: error_response(500, "Internal Server Error")),
    ),
    Fault(
        "history-500",
        "a request whose history holds an assistant turn is answered 500",
        breaks=("MSG-003",),
        on_request=_answer(_plain_history, lambda: error_response(500, "Internal Server Error")),
    ),
    Fault(
        "text-parts-500",
        "a non-streaming request with text content parts is answered 500 (llama-cpp-python 0.3)",
        breaks=("MSG-004",),
        on_request=_answer(_text_parts, lambda: error_response(500, "Internal Server Error"), stream=False),
    ),
    Fault(
        "text-parts-stream-empty",
        "a streamed request with text content parts is answered 200 with an empty body (llama-cpp-python 0.3)",
        breaks=("MSG-005",),
        on_request=_answer(_text_parts, _empty_stream, stream=True),
    ),
):
    register(_fault)
