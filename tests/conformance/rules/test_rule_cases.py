"""Rule cases as data: each rule judged on hand-built exchanges that pass, fail, or cannot be judged."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from maascheck.conformance import rules
from maascheck.conformance.model.exchange import Exchange
from maascheck.conformance.model.rule import RULES, NotApplicable, Violation
from tests.conformance.rules.builders import (
    USAGE,
    chat_body,
    chat_chunks,
    chat_request,
    choice,
    chunk,
    completion_body,
    context,
    edit,
    exchange,
)

rules.load_all()

REQ = chat_request()
SREQ = chat_request(stream=True)
UREQ = chat_request(stream=True, stream_options={"include_usage": True})
N2 = chat_request(n=2)
N2S = chat_request(n=2, stream=True)
GOOD = exchange("chat", REQ, body=chat_body())
STREAM = exchange("chat-stream", SREQ, events=chat_chunks())
USAGE_STREAM = exchange("chat-stream-usage", UREQ, events=chat_chunks(usage=USAGE))
CREQ = {"model": "sim-chat", "prompt": "Say this is a test!", "max_tokens": 16, "stream": False}
LPREQ = {**CREQ, "logprobs": 2, "max_tokens": 8}
LP = {
    "tokens": [" a", " b"],
    "token_logprobs": [-0.1, -0.2],
    "text_offset": [0, 2],
    "top_logprobs": [{" a": -0.1, " c": -2.0}, {" b": -0.2, " d": -1.5, " e": -3.0}],
}
LONG = chat_request(messages=[{"role": "user", "content": "Count from 1 to 50"}], max_tokens=5)
BASE_REQ = chat_request(max_tokens=32, temperature=0, seed=0)
BASE = exchange(
    "finish-baseline", BASE_REQ, body=chat_body("1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n", finish="length")
)
STOP_REQ = {**BASE_REQ, "stop": ["7"]}
TOOLS_REQ = chat_request(tools=[{"type": "function", "function": {"name": "get_weather"}}], max_tokens=32)
CALL = {
    "id": "call_1",
    "type": "function",
    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
}
TOOLS = exchange("tools", TOOLS_REQ, body=chat_body(None, finish="tool_calls", tool_calls=[CALL]))
FRAGS = [
    {
        "index": 0,
        "id": "call_1",
        "type": "function",
        "function": {"name": "get_weather", "arguments": '{"ci'},
    },
    {"index": 0, "function": {"arguments": 'ty": "Paris"}'}},
]
REASON_REQ = chat_request(model="sim-reasoner", max_tokens=32)


def tool_stream(frags: list[dict[str, Any]], finish: str = "tool_calls") -> Exchange:
    """A streamed tool call: role chunk, one chunk per fragment, finish chunk."""
    events = [chunk([choice(role="assistant", content=None)])]
    events += [chunk([choice(tool_calls=[f])]) for f in frags]
    return exchange(
        "tools-stream",
        {**TOOLS_REQ, "stream": True},
        events=[*events, chunk([choice(finish=finish)]), "[DONE]"],
    )


def reasoning_stream(*deltas: dict[str, Any]) -> Exchange:
    """A reasoning-model stream with the given deltas after the role chunk."""
    events = [chunk([choice(role="assistant", content="")])] + [chunk([choice(**d)]) for d in deltas]
    return exchange(
        "reasoning-stream",
        {**REASON_REQ, "stream": True},
        events=[*events, chunk([choice(finish="stop")]), "[DONE]"],
    )


def with_events(ex: Exchange, events: list[Any], **kw: Any) -> Exchange:
    """`ex`'s request answered with other events."""
    return exchange(ex.probe, ex.request_json, events=events, **kw)


def with_body(ex: Exchange, body: Any, **kw: Any) -> Exchange:
    """`ex`'s request answered with another body."""
    return exchange(ex.probe, ex.request_json, body=body, **kw)


SECOND_CALL = [
    {"index": 1, "id": "call_2", "type": "function", "function": {"name": "get_time", "arguments": '{"city"'}},
    {"index": 1, "function": {"arguments": ': "Tokyo"}'}},
]


def with_name(ex: Exchange, probe: str, body: Any = None) -> Exchange:
    """`ex`'s request and body (or `body`) recorded as probe `probe`."""
    return exchange(probe, ex.request_json, body=ex.json if body is None else body)


def parallel_stream(frags: list[dict[str, Any]]) -> Exchange:
    """A streamed answer to the parallel tool_choice auto request carrying `frags`."""
    ex = tool_stream(frags)
    return exchange("tools-parallel-stream", ex.request_json, events=[e.json or e.data for e in ex.events])


@dataclass(frozen=True)
class Case:
    rule: str
    description: str
    exchanges: tuple[Exchange, ...]
    outcome: str  # passed | failed | skipped
    profile: str = "openai"


def c(rule: str, description: str, outcome: str, *exchanges: Exchange, profile: str = "openai") -> Case:
    return Case(rule, description, exchanges, outcome, profile)


def _set(path: tuple[Any, ...], value: Any) -> Any:
    def fn(doc: Any) -> None:
        target = doc
        for key in path[:-1]:
            target = target[key]
        if value is _DELETE:
            del target[path[-1]]
        else:
            target[path[-1]] = value

    return fn


_DELETE = object()
EVENTS = chat_chunks()

CASES = [
    # CHAT
    c("CHAT-001", "a 200 JSON chat completion is accepted", "passed", GOOD),
    c(
        "CHAT-001",
        "a 500 answer fails",
        "failed",
        with_body(GOOD, {"error": {"message": "boom"}}, status=500),
    ),
    c("CHAT-001", "a 200 body that is not JSON fails", "failed", with_body(GOOD, b"<html>oops</html>")),
    c(
        "CHAT-001",
        "a connection failure fails",
        "failed",
        exchange("chat", REQ, status=None, error_kind="connect"),
    ),
    c("CHAT-002", "a valid chat completion passes", "passed", GOOD),
    c(
        "CHAT-002",
        "vendor extension fields are legal",
        "passed",
        with_body(GOOD, edit(chat_body(reasoning_content="hm"), _set(("timings",), {"prompt_ms": 1.0}))),
    ),
    c(
        "CHAT-002",
        "created as a string fails",
        "failed",
        with_body(GOOD, edit(chat_body(), _set(("created",), "x"))),
    ),
    c(
        "CHAT-002",
        "a wrong object name is left to CHAT-003",
        "passed",
        with_body(GOOD, edit(chat_body(), _set(("object",), "chat.completion.chunk"))),
    ),
    c(
        "CHAT-002",
        "a wrong role is left to CHAT-005",
        "passed",
        with_body(GOOD, edit(chat_body(), _set(("choices", 0, "message", "role"), _DELETE))),
    ),
    c("CHAT-002", "a non-200 answer cannot be judged", "skipped", with_body(GOOD, {"error": {}}, status=500)),
    c("CHAT-003", "object chat.completion passes", "passed", GOOD),
    c(
        "CHAT-003",
        "object chat.completion.chunk fails",
        "failed",
        with_body(GOOD, edit(chat_body(), _set(("object",), "chat.completion.chunk"))),
    ),
    c("CHAT-004", "indexes 0 and 1 of n=2 pass", "passed", exchange("chat-n2", N2, body=chat_body(n=2))),
    c(
        "CHAT-004",
        "an index starting at 1 fails",
        "failed",
        with_body(GOOD, edit(chat_body(), _set(("choices", 0, "index"), 1))),
    ),
    c("CHAT-004", "empty choices fail", "failed", with_body(GOOD, edit(chat_body(), _set(("choices",), [])))),
    c("CHAT-005", "role assistant passes", "passed", GOOD),
    c(
        "CHAT-005",
        "role model fails",
        "failed",
        with_body(GOOD, edit(chat_body(), _set(("choices", 0, "message", "role"), "model"))),
    ),
    c("CHAT-006", "logprobs null passes", "passed", GOOD),
    c(
        "CHAT-006",
        "a missing logprobs key fails",
        "failed",
        with_body(GOOD, edit(chat_body(), _set(("choices", 0, "logprobs"), _DELETE))),
    ),
    c("CHAT-007", "refusal null passes", "passed", GOOD),
    c(
        "CHAT-007",
        "a missing refusal key fails",
        "failed",
        with_body(GOOD, edit(chat_body(), _set(("choices", 0, "message", "refusal"), _DELETE))),
    ),
    c("CHAT-008", "n=2 with two choices passes", "passed", exchange("chat-n2", N2, body=chat_body(n=2))),
    c("CHAT-008", "n=2 with one choice fails", "failed", exchange("chat-n2", N2, body=chat_body(n=1))),
    c(
        "CHAT-009",
        "an n=2 stream with choices 0 and 1 passes",
        "passed",
        exchange("chat-n2-stream", N2S, events=chat_chunks(n=2)),
    ),
    c(
        "CHAT-009",
        "an n=2 stream with only choice 0 fails",
        "failed",
        exchange("chat-n2-stream", N2S, events=chat_chunks(n=1)),
    ),
    # STREAM framing
    c("STREAM-001", "text/event-stream passes", "passed", STREAM),
    c(
        "STREAM-001",
        "a charset parameter is fine",
        "passed",
        with_events(STREAM, EVENTS, content_type="text/event-stream; charset=utf-8"),
    ),
    c(
        "STREAM-001",
        "application/json fails",
        "failed",
        with_events(STREAM, EVENTS, content_type="application/json"),
    ),
    c(
        "STREAM-001",
        "a 400 answer to the plain stream fails",
        "failed",
        with_body(STREAM, {"error": {}}, status=400),
    ),
    c("STREAM-002", "JSON events and [DONE] pass", "passed", STREAM),
    c(
        "STREAM-002",
        "a non-JSON event fails",
        "failed",
        with_events(STREAM, [EVENTS[0], "ping", *EVENTS[1:]]),
    ),
    c(
        "STREAM-002",
        "bare JSON lines (no data: field) fail",
        "failed",
        with_body(STREAM, b'{"id": "x"}\n{"id": "y"}\n', content_type="text/event-stream"),
    ),
    c("STREAM-003", "a stream ending with [DONE] passes", "passed", STREAM),
    c("STREAM-003", "a missing [DONE] fails", "failed", with_events(STREAM, EVENTS[:-1])),
    c("STREAM-003", "a chunk after [DONE] fails", "failed", with_events(STREAM, [*EVENTS, EVENTS[1]])),
    c(
        "STREAM-003",
        "a truncated stream is left to STREAM-004",
        "passed",
        with_events(STREAM, EVENTS[:2], error_kind="truncated"),
    ),
    c(
        "STREAM-003",
        "an error event is left to STREAM-006",
        "passed",
        with_events(STREAM, [EVENTS[0], {"error": {"message": "x"}}]),
    ),
    c("STREAM-004", "a complete stream passes", "passed", STREAM),
    c(
        "STREAM-004",
        "a truncated stream fails",
        "failed",
        with_events(STREAM, EVENTS[:2], error_kind="truncated"),
    ),
    c("STREAM-005", "a complete stream passes", "passed", STREAM),
    c("STREAM-005", "a stalled stream fails", "failed", with_events(STREAM, EVENTS[:2], error_kind="stall")),
    c("STREAM-006", "a stream without error events passes", "passed", STREAM),
    c(
        "STREAM-006",
        "an error event fails",
        "failed",
        with_events(STREAM, [EVENTS[0], {"error": {"message": "worker crashed"}}, *EVENTS[1:]]),
    ),
    # STREAM chunks
    c(
        "STREAM-007",
        "valid chunks pass (usage null on every chunk is legal)",
        "passed",
        with_events(STREAM, [edit(e, _set(("usage",), None)) if isinstance(e, dict) else e for e in EVENTS]),
    ),
    c(
        "STREAM-007",
        "a chunk without the finish_reason key fails",
        "failed",
        with_events(STREAM, [edit(EVENTS[0], _set(("choices", 0, "finish_reason"), _DELETE)), *EVENTS[1:]]),
    ),
    c(
        "STREAM-007",
        "a truncated stream is not judged",
        "skipped",
        with_events(STREAM, EVENTS[:2], error_kind="truncated"),
    ),
    c("STREAM-008", "chat.completion.chunk passes", "passed", STREAM),
    c(
        "STREAM-008",
        "chat.completion fails",
        "failed",
        with_events(
            STREAM, [*EVENTS[:2], edit(EVENTS[2], _set(("object",), "chat.completion")), *EVENTS[3:]]
        ),
    ),
    c("STREAM-009", "a constant id passes", "passed", STREAM),
    c(
        "STREAM-009",
        "a changing id fails",
        "failed",
        with_events(STREAM, [*EVENTS[:2], edit(EVENTS[2], _set(("id",), "other")), *EVENTS[3:]]),
    ),
    c(
        "STREAM-010",
        "a changing created fails",
        "failed",
        with_events(STREAM, [*EVENTS[:2], edit(EVENTS[2], _set(("created",), 1736507516)), *EVENTS[3:]]),
    ),
    c(
        "STREAM-011",
        "a changing model fails",
        "failed",
        with_events(STREAM, [*EVENTS[:2], edit(EVENTS[2], _set(("model",), "sim-chat-v2")), *EVENTS[3:]]),
    ),
    c(
        "STREAM-012",
        "content null in the role chunk is legal",
        "passed",
        with_events(STREAM, [chunk([choice(role="assistant", content=None)]), *EVENTS[1:]]),
    ),
    c("STREAM-012", "a first delta without role fails", "failed", with_events(STREAM, EVENTS[1:])),
    c(
        "STREAM-012",
        "an n=2 stream needs the role for each choice",
        "failed",
        exchange(
            "chat-n2-stream",
            N2S,
            events=[
                chunk([choice(0, role="assistant", content="")]),
                chunk([choice(0, finish="stop"), choice(1, finish="stop")]),
                "[DONE]",
            ],
        ),
    ),
    c(
        "STREAM-013",
        "role: null after the first delta is legal (seeds/002)",
        "passed",
        with_events(
            STREAM,
            [
                EVENTS[0],
                *[edit(e, _set(("choices", 0, "delta", "role"), None)) for e in EVENTS[1:-1]],
                "[DONE]",
            ],
        ),
    ),
    c(
        "STREAM-013",
        "a repeated role fails",
        "failed",
        with_events(
            STREAM,
            [EVENTS[0], edit(EVENTS[1], _set(("choices", 0, "delta", "role"), "assistant")), *EVENTS[2:]],
        ),
    ),
    c("STREAM-014", "one finish_reason passes", "passed", STREAM),
    c("STREAM-014", "no finish_reason fails", "failed", with_events(STREAM, [*EVENTS[:-2], "[DONE]"])),
    c(
        "STREAM-014",
        "two finish_reasons fail",
        "failed",
        with_events(STREAM, [*EVENTS[:-1], EVENTS[-2], "[DONE]"]),
    ),
    c("STREAM-014", "a stream without choices fails", "failed", with_events(STREAM, [chunk([]), "[DONE]"])),
    c(
        "STREAM-015",
        "content in the finish chunk itself is fine",
        "passed",
        with_events(STREAM, [*EVENTS[:-2], chunk([choice(finish="stop", content="!")]), "[DONE]"]),
    ),
    c(
        "STREAM-015",
        "content after the finish chunk fails",
        "failed",
        with_events(STREAM, [*EVENTS[:-1], chunk([choice(content=" more")]), "[DONE]"]),
    ),
    # FINISH
    c(
        "FINISH-001",
        "length when the limit cut passes",
        "passed",
        exchange(
            "finish-length",
            LONG,
            body=edit(chat_body(finish="length"), _set(("usage", "completion_tokens"), 5)),
        ),
    ),
    c(
        "FINISH-001",
        "stop when the limit was reached fails",
        "failed",
        exchange(
            "finish-length",
            LONG,
            body=edit(chat_body(finish="stop"), _set(("usage", "completion_tokens"), 5)),
        ),
    ),
    c(
        "FINISH-001",
        "stop before the limit cannot be judged",
        "skipped",
        exchange(
            "finish-length",
            LONG,
            body=edit(chat_body(finish="stop"), _set(("usage", "completion_tokens"), 3)),
        ),
    ),
    c(
        "FINISH-002",
        "stop when max_completion_tokens was reached fails",
        "failed",
        exchange(
            "finish-length-mct",
            {**LONG, "max_completion_tokens": 5},
            body=edit(chat_body(finish="stop"), _set(("usage", "completion_tokens"), 5)),
        ),
    ),
    c(
        "FINISH-003",
        "a cut stream finishing with length passes",
        "passed",
        exchange("finish-length-stream", {**LONG, "stream": True}, events=chat_chunks(finish="length")),
    ),
    c(
        "FINISH-003",
        "a cut stream finishing with stop fails",
        "failed",
        exchange(
            "finish-length-stream",
            {**LONG, "stream": True},
            events=chat_chunks(
                finish="stop", usage={"prompt_tokens": 3, "completion_tokens": 5, "total_tokens": 8}
            ),
        ),
    ),
    c(
        "FINISH-004",
        "the answer ending before the stop with finish stop passes",
        "passed",
        BASE,
        exchange("finish-stop", STOP_REQ, body=chat_body("1\n2\n3\n4\n5\n6\n")),
    ),
    c(
        "FINISH-004",
        "finish length at the stop point fails",
        "failed",
        BASE,
        exchange("finish-stop", STOP_REQ, body=chat_body("1\n2\n3\n4\n5\n6\n", finish="length")),
    ),
    c(
        "FINISH-004",
        "a different answer (not deterministic) cannot be judged",
        "skipped",
        BASE,
        exchange("finish-stop", STOP_REQ, body=chat_body("one two", finish="length")),
    ),
    c(
        "FINISH-005",
        "an answer without the stop sequence passes",
        "passed",
        BASE,
        exchange("finish-stop", STOP_REQ, body=chat_body("1\n2\n3\n4\n5\n6\n")),
    ),
    c(
        "FINISH-005",
        "an answer including the stop sequence fails",
        "failed",
        BASE,
        exchange("finish-stop", STOP_REQ, body=chat_body("1\n2\n3\n4\n5\n6\n7")),
    ),
    c("FINISH-006", "a tool call finishing with tool_calls passes", "passed", TOOLS, tool_stream(FRAGS)),
    c(
        "FINISH-006",
        "a tool call finishing with stop fails",
        "failed",
        with_body(TOOLS, edit(TOOLS.json, _set(("choices", 0, "finish_reason"), "stop"))),
    ),
    c(
        "FINISH-006",
        "a streamed tool call finishing with stop fails",
        "failed",
        tool_stream(FRAGS, finish="stop"),
    ),
    # USAGE
    c("USAGE-001", "usage present passes", "passed", GOOD),
    c(
        "USAGE-001",
        "usage missing fails",
        "failed",
        with_body(GOOD, edit(chat_body(), _set(("usage",), _DELETE))),
    ),
    c("USAGE-002", "consistent totals pass", "passed", GOOD, USAGE_STREAM),
    c(
        "USAGE-002",
        "total != prompt + completion fails",
        "failed",
        with_body(GOOD, edit(chat_body(), _set(("usage", "total_tokens"), 29))),
    ),
    c("USAGE-003", "completion_tokens within max_tokens passes", "passed", GOOD),
    c(
        "USAGE-003",
        "completion_tokens above max_tokens fails",
        "failed",
        with_body(
            GOOD,
            edit(
                chat_body(),
                _set(("usage",), {"prompt_tokens": 1, "completion_tokens": 17, "total_tokens": 18}),
            ),
        ),
    ),
    c(
        "USAGE-003",
        "n=2 doubles the bound",
        "passed",
        exchange(
            "chat-n2",
            N2,
            body=edit(
                chat_body(n=2),
                _set(("usage",), {"prompt_tokens": 1, "completion_tokens": 32, "total_tokens": 33}),
            ),
        ),
    ),
    c("USAGE-004", "a final usage chunk with choices [] passes", "passed", USAGE_STREAM),
    c("USAGE-004", "a missing usage chunk fails", "failed", with_events(USAGE_STREAM, EVENTS)),
    c(
        "USAGE-004",
        "a usage chunk after [DONE] fails",
        "failed",
        with_events(USAGE_STREAM, [*EVENTS, chunk([], usage=USAGE)]),
    ),
    c(
        "USAGE-005",
        "usage null on earlier chunks passes",
        "passed",
        with_events(
            USAGE_STREAM,
            [*[edit(e, _set(("usage",), None)) for e in EVENTS[:-1]], chunk([], usage=USAGE), "[DONE]"],
        ),
    ),
    c(
        "USAGE-005",
        "usage on an earlier chunk fails",
        "failed",
        with_events(
            USAGE_STREAM,
            [edit(EVENTS[0], _set(("usage",), USAGE)), *EVENTS[1:-1], chunk([], usage=USAGE), "[DONE]"],
        ),
    ),
    c("USAGE-006", "no usage without include_usage passes", "passed", STREAM),
    c(
        "USAGE-006",
        "a usage chunk without include_usage fails",
        "failed",
        with_events(STREAM, chat_chunks(usage=USAGE)),
    ),
    c("USAGE-007", "equal prompt_tokens pass", "passed", GOOD, USAGE_STREAM),
    c(
        "USAGE-007",
        "different prompt_tokens fail",
        "failed",
        GOOD,
        with_events(USAGE_STREAM, chat_chunks(usage={**USAGE, "prompt_tokens": 13, "total_tokens": 29})),
    ),
    c(
        "USAGE-008",
        "cached within prompt passes",
        "passed",
        with_body(GOOD, edit(chat_body(), _set(("usage", "prompt_tokens_details"), {"cached_tokens": 12}))),
    ),
    c(
        "USAGE-008",
        "cached above prompt fails",
        "failed",
        with_body(GOOD, edit(chat_body(), _set(("usage", "prompt_tokens_details"), {"cached_tokens": 13}))),
    ),
    c(
        "USAGE-009",
        "reasoning above completion fails",
        "failed",
        with_body(
            GOOD, edit(chat_body(), _set(("usage", "completion_tokens_details"), {"reasoning_tokens": 17}))
        ),
    ),
    c(
        "USAGE-009",
        "details null are legal",
        "passed",
        with_body(GOOD, edit(chat_body(), _set(("usage", "completion_tokens_details"), None))),
    ),
    # COMP
    c("COMP-001", "a 200 completion passes", "passed", exchange("completions", CREQ, body=completion_body())),
    c("COMP-001", "a 404 fails", "failed", exchange("completions", CREQ, body={"error": {}}, status=404)),
    c(
        "COMP-002",
        "a valid completion and stream pass",
        "passed",
        exchange("completions", CREQ, body=completion_body()),
        exchange(
            "completions-stream",
            {**CREQ, "stream": True},
            events=[
                {
                    **completion_body(),
                    "choices": [{"index": 0, "text": " a", "logprobs": None, "finish_reason": None}],
                },
                completion_body(),
                "[DONE]",
            ],
        ),
    ),
    c(
        "COMP-002",
        "text null fails",
        "failed",
        exchange("completions", CREQ, body=completion_body(text=None)),
    ),
    c(
        "COMP-003",
        "object text_completion.chunk in a stream fails",
        "failed",
        exchange(
            "completions-stream",
            {**CREQ, "stream": True},
            events=[{**completion_body(), "object": "text_completion.chunk"}, "[DONE]"],
        ),
    ),
    c(
        "COMP-004",
        "finish_reason eos_token fails",
        "failed",
        exchange("completions", CREQ, body=completion_body(finish_reason="eos_token")),
    ),
    c(
        "COMP-004",
        "a null finish_reason mid-stream is fine",
        "passed",
        exchange(
            "completions-stream",
            {**CREQ, "stream": True},
            events=[completion_body(finish_reason=None), completion_body(), "[DONE]"],
        ),
    ),
    c(
        "COMP-005",
        "per-position alternatives pass",
        "passed",
        exchange("completions-logprobs", LPREQ, body=completion_body(logprobs=LP)),
    ),
    c(
        "COMP-005",
        "logprobs null fails",
        "failed",
        exchange("completions-logprobs", LPREQ, body=completion_body()),
    ),
    c(
        "COMP-006",
        "at most logprobs+1 alternatives pass",
        "passed",
        exchange("completions-logprobs", LPREQ, body=completion_body(logprobs=LP)),
    ),
    c(
        "COMP-006",
        "four alternatives for logprobs=2 fail",
        "failed",
        exchange(
            "completions-logprobs",
            LPREQ,
            body=completion_body(
                logprobs=edit(LP, _set(("top_logprobs", 0), {"a": -1, "b": -2, "c": -3, "d": -4}))
            ),
        ),
    ),
    # VISION
    c(
        "VISION-001",
        "a 200 answer to a data URL passes",
        "passed",
        exchange("vision-data", REQ, body=chat_body()),
    ),
    c(
        "VISION-001",
        "a 400 answer fails",
        "failed",
        exchange("vision-data", REQ, body={"error": {}}, status=400),
    ),
    c(
        "VISION-002",
        "a 400 answer to an https URL fails",
        "failed",
        exchange("vision-url", REQ, body={"error": {}}, status=400),
    ),
    c(
        "VISION-003",
        "400 for corrupt base64 passes",
        "passed",
        exchange("vision-bad-base64", REQ, body={"error": {}}, status=400),
    ),
    c(
        "VISION-003",
        "200 for corrupt base64 fails",
        "failed",
        exchange("vision-bad-base64", REQ, body=chat_body()),
    ),
    c(
        "VISION-003",
        "500 for corrupt base64 fails",
        "failed",
        exchange("vision-bad-base64", REQ, body={"error": {}}, status=500),
    ),
    # TOOL
    c("TOOL-001", "a forced tool call passes", "passed", TOOLS, tool_stream(FRAGS)),
    c("TOOL-001", "a text answer fails", "failed", with_body(TOOLS, chat_body())),
    c("TOOL-002", "a complete tool call passes", "passed", TOOLS),
    c(
        "TOOL-002",
        "arguments as an object fail",
        "failed",
        with_body(
            TOOLS,
            edit(
                TOOLS.json,
                _set(("choices", 0, "message", "tool_calls", 0, "function", "arguments"), {"city": "Paris"}),
            ),
        ),
    ),
    c(
        "TOOL-003",
        "an undeclared function fails",
        "failed",
        with_body(
            TOOLS,
            edit(
                TOOLS.json,
                _set(("choices", 0, "message", "tool_calls", 0, "function", "name"), "get_weather_v2"),
            ),
        ),
    ),
    c(
        "TOOL-004",
        "cut arguments fail",
        "failed",
        with_body(
            TOOLS,
            edit(
                TOOLS.json,
                _set(("choices", 0, "message", "tool_calls", 0, "function", "arguments"), '{"city": "Par'),
            ),
        ),
    ),
    c("TOOL-005", "indexed fragments pass", "passed", tool_stream(FRAGS)),
    c(
        "TOOL-005",
        "a fragment without index fails",
        "failed",
        tool_stream([FRAGS[0], edit(FRAGS[1], _set(("index",), _DELETE))]),
    ),
    c("TOOL-006", "fragments joining to JSON pass", "passed", tool_stream(FRAGS)),
    c("TOOL-006", "fragments joining to broken JSON fail", "failed", tool_stream(FRAGS[:1])),
    c(
        "TOOL-006",
        "fragments without index are left to TOOL-005",
        "skipped",
        tool_stream([edit(f, _set(("index",), _DELETE)) for f in FRAGS]),
    ),
    c(
        "TOOL-007",
        "a first fragment without id fails",
        "failed",
        tool_stream([edit(FRAGS[0], _set(("id",), _DELETE)), FRAGS[1]]),
    ),
    c("TOOL-008", 'a text answer to tool_choice "none" passes', "passed", with_name(TOOLS, "tools-none", chat_body())),
    c("TOOL-008", 'a tool call despite tool_choice "none" fails', "failed", with_name(TOOLS, "tools-none")),
    c("TOOL-009", 'a tool call for tool_choice "required" passes', "passed", with_name(TOOLS, "tools-required")),
    c(
        "TOOL-009",
        'a text answer to tool_choice "required" fails',
        "failed",
        with_name(TOOLS, "tools-required", chat_body()),
    ),
    c("TOOL-010", "a streamed auto answer passes", "passed", parallel_stream(FRAGS)),
    c(
        "TOOL-010",
        "a 400 for tool_choice auto fails",
        "failed",
        exchange("tools-parallel-stream", {**TOOLS_REQ, "stream": True}, body={"error": {}}, status=400),
    ),
    c("TOOL-011", "two calls with their own index and id pass", "passed", parallel_stream([*FRAGS, *SECOND_CALL])),
    c(
        "TOOL-011",
        "two calls on one index fail",
        "failed",
        parallel_stream([*FRAGS, *[edit(f, _set(("index",), 0)) for f in SECOND_CALL]]),
    ),
    c(
        "TOOL-011",
        "two calls with one id fail",
        "failed",
        parallel_stream([*FRAGS, edit(SECOND_CALL[0], _set(("id",), "call_1")), SECOND_CALL[1]]),
    ),
    c("TOOL-011", "a single call cannot be judged", "skipped", parallel_stream(FRAGS)),
    c(
        "TOOL-012",
        "a text answer to the tool result passes",
        "passed",
        with_name(TOOLS, "tools-second-turn", chat_body("It is 18 degrees and clear in Paris.")),
    ),
    c(
        "TOOL-012",
        "an empty answer to the tool result fails",
        "failed",
        with_name(TOOLS, "tools-second-turn", chat_body("")),
    ),
    c(
        "TOOL-012",
        "a 500 for the tool result fails",
        "failed",
        exchange("tools-second-turn", TOOLS_REQ, body={"error": {"message": "x", "type": "server_error"}}, status=500),
    ),
    # REASON
    c(
        "REASON-001",
        "reasoning in reasoning_content passes",
        "passed",
        exchange("reasoning", REASON_REQ, body=chat_body("42", reasoning_content="17 + 25 = 42")),
        reasoning_stream({"reasoning_content": "17 + 25"}, {"content": "42"}),
    ),
    c(
        "REASON-001",
        "a <think> block in content fails",
        "failed",
        exchange("reasoning", REASON_REQ, body=chat_body("<think>17 + 25</think>42")),
    ),
    c(
        "REASON-002",
        "reasoning in `reasoning` passes",
        "passed",
        exchange("reasoning", REASON_REQ, body=chat_body("42", reasoning="17 + 25 = 42")),
    ),
    c(
        "REASON-002",
        "no reasoning field fails",
        "failed",
        exchange("reasoning", REASON_REQ, body=chat_body("42")),
    ),
    c(
        "REASON-002",
        "reasoning left in content is left to REASON-001",
        "passed",
        exchange("reasoning", REASON_REQ, body=chat_body("<think>x</think>42")),
    ),
    c(
        "REASON-003",
        "reasoning before content passes",
        "passed",
        reasoning_stream({"reasoning_content": "17 + 25"}, {"content": "42"}),
    ),
    c(
        "REASON-003",
        "reasoning after content fails",
        "failed",
        reasoning_stream({"reasoning_content": "17"}, {"content": "42"}, {"reasoning_content": "hm"}),
    ),
    c(
        "REASON-003",
        "a stream of thinking only cannot be judged",
        "skipped",
        reasoning_stream({"reasoning_content": "17 + 25"}),
    ),
    # DEFAULT
    c(
        "DEFAULT-001",
        "a JSON body when the default is false passes",
        "passed",
        exchange("default-stream", {k: v for k, v in REQ.items() if k != "stream"}, body=chat_body()),
    ),
    c(
        "DEFAULT-001",
        "a stream when the default is false fails",
        "failed",
        exchange("default-stream", {k: v for k, v in REQ.items() if k != "stream"}, events=EVENTS),
    ),
    c(
        "DEFAULT-001",
        "a stream when the default is true passes",
        "passed",
        exchange("default-stream", {k: v for k, v in REQ.items() if k != "stream"}, events=EVENTS),
        profile="taichu",
    ),
    c(
        "DEFAULT-001",
        "a JSON body when the default is true fails",
        "failed",
        exchange("default-stream", {k: v for k, v in REQ.items() if k != "stream"}, body=chat_body()),
        profile="taichu",
    ),
    # EXT
    c(
        "EXT-001",
        "stop_token_ids accepted passes",
        "passed",
        exchange("ext-stop-token-ids", chat_request(stop_token_ids=[151329]), body=chat_body()),
        profile="maas-openmodels",
    ),
    c(
        "EXT-001",
        "stop_token_ids refused fails",
        "failed",
        exchange("ext-stop-token-ids", chat_request(stop_token_ids=[151329]), body={"error": {}}, status=400),
        profile="maas-openmodels",
    ),
    c(
        "EXT-001",
        "a profile that does not list the parameter is not judged",
        "skipped",
        exchange("ext-stop-token-ids", chat_request(stop_token_ids=[151329]), body={"error": {}}, status=400),
    ),
    c(
        "EXT-002",
        "repetition_penalty refused fails",
        "failed",
        exchange(
            "ext-repetition-penalty", chat_request(repetition_penalty=1.5), body={"error": {}}, status=400
        ),
        profile="taichu",
    ),
]


def judge(case: Case) -> tuple[str, str]:
    """The outcome of the case's rule on its exchanges, and the message or reason."""
    ctx = context({ex.probe: ex for ex in case.exchanges}, case.profile)
    try:
        RULES[case.rule].check(ctx)
    except Violation as v:
        return "failed", v.message
    except NotApplicable as n:
        return "skipped", str(n)
    return "passed", ""


@pytest.mark.parametrize("case", CASES, ids=[f"{k.rule}: {k.description}" for k in CASES])
def test_rule_case(case: Case) -> None:
    outcome, message = judge(case)
    assert outcome == case.outcome, message


def test_every_rule_of_these_areas_has_a_failing_case() -> None:
    areas = {
        "chat",
        "stream",
        "finish",
        "usage",
        "completions",
        "vision",
        "tools",
        "reasoning",
        "defaults",
        "extras",
    }
    mine = {r.id for r in RULES.values() if r.area in areas}
    failing = {k.rule for k in CASES if k.outcome == "failed"}
    assert mine - failing == set()


def test_case_descriptions_are_unique() -> None:
    seen = [(k.rule, k.description) for k in CASES]
    assert len(seen) == len(set(seen))
