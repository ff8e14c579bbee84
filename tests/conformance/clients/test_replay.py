"""The replay server sends a recorded exchange back byte for byte, and refuses a request that does not match."""

from __future__ import annotations

import json

import httpx

from maascheck.conformance.clients.expect import differences, expected_view
from maascheck.conformance.clients.replay import ReplayServer, recorded_source
from maascheck.conformance.model.exchange import Exchange, SSEEvent


def _stream(events: list[dict[str, object]], *, done: bool = True) -> Exchange:
    raw = b"".join(b"data: " + json.dumps(e).encode() + b"\n\n" for e in events) + (
        b"data: [DONE]\n\n" if done else b""
    )
    ex = Exchange(
        "chat-stream",
        "POST",
        "http://target.example/v1/chat/completions",
        [],
        json.dumps({"stream": True}).encode(),
        status=200,
        headers=[("content-type", "text/event-stream"), ("transfer-encoding", "chunked")],
        body=raw,
    )
    ex.events = [SSEEvent(json.dumps(e), json=e) for e in events] + ([SSEEvent("[DONE]")] if done else [])
    return ex


def _delta(**delta: object) -> dict[str, object]:
    return {"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}


def test_a_recorded_stream_is_served_byte_for_byte() -> None:
    ex = _stream([_delta(content="Hel"), _delta(content="lo")])
    with ReplayServer(recorded_source({"stream": ex})) as server:
        r = httpx.post(server.base_url("stream") + "/chat/completions", json={"stream": True}, timeout=5)
    assert r.status_code == 200 and r.content == ex.body
    assert r.headers["content-type"] == "text/event-stream"
    assert [req.scenario for req, _ in server.served] == ["stream"]


def test_a_request_that_does_not_match_the_recording_is_refused_with_the_reason() -> None:
    ex = _stream([_delta(content="x")])
    with ReplayServer(recorded_source({"stream": ex})) as server:
        wrong_stream = httpx.post(server.base_url("stream") + "/chat/completions", json={"stream": False}, timeout=5)
        unknown = httpx.post(server.base_url("chat") + "/chat/completions", json={}, timeout=5)
    assert wrong_stream.status_code == 404 and "stream=False" in wrong_stream.json()["error"]["message"]
    assert unknown.status_code == 404 and "no recorded exchange" in unknown.json()["error"]["message"]
    assert all(isinstance(made, str) for _, made in server.served)


def test_the_expected_view_joins_fragments_by_index_and_parses_arguments() -> None:
    call = {"index": 0, "id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": '{"ci'}}
    more = {"index": 0, "function": {"arguments": 'ty": "Paris"}'}}
    ex = _stream([_delta(tool_calls=[call]), _delta(tool_calls=[more]), _delta(reasoning_content="hm", content="ok")])
    view = expected_view(ex)
    assert view["tool_calls"] == [{"name": "get_weather", "arguments": {"city": "Paris"}}]
    assert view["text"] == "ok" and view["reasoning"] == "hm"


def test_differences_name_what_the_client_dropped() -> None:
    want = {
        "text": "ok",
        "reasoning": "hm",
        "tool_calls": [],
        "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
    }
    same = dict(want, reasoning=None)  # a client that does not expose reasoning is not judged on it
    assert differences(("text", "reasoning", "usage"), want, same) == []
    dropped = dict(want, text="", usage={"prompt_tokens": 3, "completion_tokens": None, "total_tokens": 5})
    diffs = differences(("text", "usage"), want, dropped)
    assert (
        diffs[0].startswith('text: "ok" on the wire, "" handed') and "completion_tokens 2 on the wire, None" in diffs[1]
    )
