"""The simulator's clean behaviour for the conformance v2 probes: images only to vision models, structured
outputs, parallel tool calls and the second turn."""

from __future__ import annotations

import json
from typing import Any

import httpx
import jsonschema
import pytest

from tests.sim.conftest import chat, sse_events

pytestmark = pytest.mark.timeout(60)

SCHEMA = {
    "type": "object",
    "properties": {
        "city": {"type": "string"},
        "population": {"type": "integer"},
        "tags": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["city", "population", "tags"],
    "additionalProperties": False,
}
CITY = {"type": "object", "properties": {"city": {"type": "string"}}}
TOOLS = [{"type": "function", "function": {"name": name, "parameters": CITY}} for name in ("get_weather", "get_time")]


def _schema_format(schema: Any) -> dict[str, Any]:
    return {"type": "json_schema", "json_schema": {"name": "facts", "schema": schema, "strict": True}}


def test_an_image_to_a_model_that_is_not_a_vision_model_is_refused_with_400(client: httpx.Client) -> None:
    parts = [{"type": "text", "text": "what is this"}, {"type": "image_url", "image_url": {"url": "https://x.test/a.png"}}]
    body = {"model": "sim-chat", "messages": [{"role": "user", "content": parts}], "max_tokens": 2}
    resp = client.post("/chat/completions", json=body)
    assert resp.status_code == 400 and resp.json()["error"]["code"] == "image_input_not_supported"
    assert client.post("/chat/completions", json={**body, "model": "sim-vision"}).status_code == 200


@pytest.mark.parametrize("stream", [False, True])
def test_a_json_schema_answer_is_an_instance_of_the_schema(client: httpx.Client, stream: bool) -> None:
    body = chat(max_tokens=200, response_format=_schema_format(SCHEMA), stream=stream)
    resp = client.post("/chat/completions", json=body)
    assert resp.status_code == 200, resp.text
    if stream:
        chunks = [json.loads(e) for e in sse_events(resp.text) if e != "[DONE]"]
        text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    else:
        text = resp.json()["choices"][0]["message"]["content"]
    jsonschema.validate(json.loads(text), SCHEMA)


def test_an_invalid_json_schema_is_refused_with_400(client: httpx.Client) -> None:
    invalid = _schema_format({"type": "object", "properties": 3})
    resp = client.post("/chat/completions", json=chat(response_format=invalid))
    assert resp.status_code == 400 and resp.json()["error"]["param"] == "response_format.json_schema.schema"


def test_the_tools_a_question_names_are_called_in_parallel_unless_turned_off(client: httpx.Client) -> None:
    body = chat(text="Use get_weather and get_time for Paris", tools=TOOLS, tool_choice="auto", max_tokens=64)
    calls = client.post("/chat/completions", json=body).json()["choices"][0]["message"]["tool_calls"]
    assert [c["function"]["name"] for c in calls] == ["get_weather", "get_time"]
    assert len({c["id"] for c in calls}) == 2
    serial = client.post("/chat/completions", json={**body, "parallel_tool_calls": False}).json()
    assert len(serial["choices"][0]["message"]["tool_calls"]) == 1
    streamed = client.post("/chat/completions", json={**body, "stream": True}).text
    chunks = [json.loads(e) for e in sse_events(streamed)[:-1]]
    heads = [f for c in chunks for ch in c["choices"] for f in ch["delta"].get("tool_calls") or [] if f.get("id")]
    assert [(f["index"], f["function"]["name"]) for f in heads] == [(0, "get_weather"), (1, "get_time")]


def test_a_tool_result_is_answered_in_text(client: httpx.Client) -> None:
    call = {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}
    messages = [
        {"role": "user", "content": "Use get_weather for Paris"},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "call_1", "content": '{"celsius": 18}'},
    ]
    body = {"model": "sim-chat", "messages": messages, "tools": TOOLS, "max_tokens": 16}
    message = client.post("/chat/completions", json=body).json()["choices"][0]["message"]
    assert isinstance(message["content"], str) and message["content"] and not message.get("tool_calls")
