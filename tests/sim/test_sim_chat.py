"""Chat completions under the strict openai profile: bodies, streams, parameters, validation."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import openai
import pytest

from tests.sim.conftest import KEY, StartSim, chat, sse_events

pytestmark = pytest.mark.timeout(60)

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
            "required": ["city"],
        },
    },
}


def _stream(
    client: httpx.Client, body: dict[str, Any], path: str = "/chat/completions"
) -> list[dict[str, Any]]:
    resp = client.post(path, json={**body, "stream": True})
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("text/event-stream")
    events = sse_events(resp.text)
    assert events[-1] == "[DONE]"
    return [json.loads(e) for e in events[:-1]]


def _err(resp: httpx.Response, status: int, param: str | None) -> None:
    assert resp.status_code == status, resp.text
    assert resp.json()["error"]["param"] == param, resp.text


def test_non_stream_body_is_strict_openai(client: httpx.Client) -> None:
    body = client.post("/chat/completions", json=chat(max_tokens=5)).json()
    assert body["object"] == "chat.completion" and body["id"].startswith("chatcmpl-")
    assert isinstance(body["created"], int) and body["model"] == "sim-chat"
    choice = body["choices"][0]
    assert choice["logprobs"] is None and choice["finish_reason"] == "length"
    assert choice["message"]["role"] == "assistant" and choice["message"]["refusal"] is None
    usage = body["usage"]
    assert usage["completion_tokens"] == 5
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


def test_stream_shape_is_strict_openai(client: httpx.Client) -> None:
    chunks = _stream(client, chat(max_tokens=4))
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert {c["id"] for c in chunks} == {chunks[0]["id"]}
    assert {c["created"] for c in chunks} == {chunks[0]["created"]}
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"}
    for c in chunks[:-1]:
        assert c["choices"][0]["finish_reason"] is None and "usage" not in c
        assert "role" not in c["choices"][0]["delta"] or c is chunks[0]
    assert chunks[-1]["choices"][0] == {"index": 0, "delta": {}, "logprobs": None, "finish_reason": "length"}
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
    assert len(chunks) == 6 and text


def test_include_usage_final_chunk(client: httpx.Client) -> None:
    chunks = _stream(client, chat(max_tokens=3, stream_options={"include_usage": True}))
    assert all(c["usage"] is None for c in chunks[:-1])
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] == 3
    u = chunks[-1]["usage"]
    assert u["total_tokens"] == u["prompt_tokens"] + u["completion_tokens"]


def test_stream_options_without_stream_400(client: httpx.Client) -> None:
    _err(
        client.post("/chat/completions", json=chat(stream_options={"include_usage": True})),
        400,
        "stream_options",
    )


def test_n_choices_stream_and_non_stream(client: httpx.Client) -> None:
    body = client.post("/chat/completions", json=chat(n=3, max_tokens=2)).json()
    assert [c["index"] for c in body["choices"]] == [0, 1, 2]
    assert body["usage"]["completion_tokens"] == 6
    chunks = _stream(client, chat(n=2, max_tokens=2))
    finals = [c["choices"][0] for c in chunks if c["choices"][0]["finish_reason"]]
    assert sorted(f["index"] for f in finals) == [0, 1]


def test_seed_and_temperature_zero_are_deterministic(client: httpx.Client) -> None:
    def text(**kw: Any) -> str:
        return str(
            client.post("/chat/completions", json=chat(**kw)).json()["choices"][0]["message"]["content"]
        )

    assert text(seed=5) == text(seed=5) != text(seed=6)
    assert text(temperature=0) == text(temperature=0)
    assert text() != text()
    streamed = "".join(c["choices"][0]["delta"].get("content") or "" for c in _stream(client, chat(seed=5)))
    assert streamed == text(seed=5)


def test_stop_sequence_is_excluded(client: httpx.Client) -> None:
    full = str(client.post("/chat/completions", json=chat(seed=1)).json()["choices"][0]["message"]["content"])
    word = full.split()[5]
    cut = client.post("/chat/completions", json=chat(seed=1, stop=[" " + word, "zzz"])).json()["choices"][0]
    assert cut["finish_reason"] == "stop"
    assert cut["message"]["content"] == full[: full.index(" " + word)]
    streamed = _stream(client, chat(seed=1, stop=" " + word))
    assert (
        "".join(c["choices"][0]["delta"].get("content") or "" for c in streamed) == cut["message"]["content"]
    )


def test_max_tokens_cut_and_natural_stop(client: httpx.Client) -> None:
    cut = client.post("/chat/completions", json=chat(max_completion_tokens=7)).json()
    assert cut["choices"][0]["finish_reason"] == "length" and cut["usage"]["completion_tokens"] == 7
    full = client.post("/chat/completions", json=chat(max_tokens=1000)).json()
    assert full["choices"][0]["finish_reason"] == "stop" and full["usage"]["completion_tokens"] == 64


@pytest.mark.parametrize(
    ("field", "value", "param"),
    [
        ("temperature", 2.5, "temperature"),
        ("temperature", "hot", "temperature"),
        ("top_p", -0.1, "top_p"),
        ("n", 0, "n"),
        ("n", 1.5, "n"),
        ("max_tokens", 0, "max_tokens"),
        ("presence_penalty", 3, "presence_penalty"),
        ("stop", ["a", "b", "c", "d", "e"], "stop"),
        ("stop", 5, "stop"),
        ("top_logprobs", 3, "top_logprobs"),
        ("stream", "yes", "stream"),
        ("repetition_penalty", 1.1, "repetition_penalty"),
        ("tool_choice", "sometimes", "tool_choice"),
    ],
)
def test_bad_parameters_400_name_the_field(client: httpx.Client, field: str, value: Any, param: str) -> None:
    _err(client.post("/chat/completions", json=chat(**{field: value})), 400, param)


def test_missing_fields_bad_roles_and_parts(client: httpx.Client) -> None:
    _err(
        client.post("/chat/completions", json={"messages": [{"role": "user", "content": "x"}]}), 400, "model"
    )
    _err(client.post("/chat/completions", json={"model": "sim-chat"}), 400, "messages")
    _err(client.post("/chat/completions", json={"model": "sim-chat", "messages": []}), 400, "messages")
    _err(client.post("/chat/completions", json={"model": 3, "messages": []}), 400, "model")
    bad_role = {"model": "sim-chat", "messages": [{"role": "wizard", "content": "x"}]}
    _err(client.post("/chat/completions", json=bad_role), 400, "messages[0].role")
    bad_part = {"model": "sim-chat", "messages": [{"role": "user", "content": [{"type": "video", "x": 1}]}]}
    _err(client.post("/chat/completions", json=bad_part), 400, "messages[0].content[0].type")
    resp = client.post("/chat/completions", json=chat(model="nope"))
    assert resp.status_code == 404 and resp.json()["error"]["code"] == "model_not_found"


def _image(url: str) -> dict[str, Any]:
    parts = [{"type": "text", "text": "what is this"}, {"type": "image_url", "image_url": {"url": url}}]
    return {"model": "sim-vision", "messages": [{"role": "user", "content": parts}], "max_tokens": 2}


def test_image_parts(client: httpx.Client) -> None:
    good = "data:image/png;base64," + base64.b64encode(PNG).decode()
    assert client.post("/chat/completions", json=_image(good)).status_code == 200
    assert client.post("/chat/completions", json=_image("https://example.com/cat.jpeg")).status_code == 200
    param = "messages[0].content[1].image_url.url"
    corrupt = "data:image/png;base64," + base64.b64encode(b"not an image at all").decode()
    _err(client.post("/chat/completions", json=_image(corrupt)), 400, param)
    _err(client.post("/chat/completions", json=_image("data:image/png;base64,@@@")), 400, param)
    _err(client.post("/chat/completions", json=_image("ftp://example.com/x.png")), 400, param)


def test_logprobs(client: httpx.Client) -> None:
    body = client.post("/chat/completions", json=chat(max_tokens=3, logprobs=True, top_logprobs=2)).json()
    content = body["choices"][0]["logprobs"]["content"]
    assert len(content) == 3
    for item in content:
        assert (
            item["logprob"] <= 0
            and len(item["top_logprobs"]) == 2
            and item["bytes"] == list(item["token"].encode())
        )
    chunks = _stream(client, chat(max_tokens=3, logprobs=True, top_logprobs=1))
    lps = [c["choices"][0]["logprobs"] for c in chunks if c["choices"][0]["delta"].get("content")]
    assert len(lps) == 3 and all(len(lp["content"]) == 1 for lp in lps)


def test_tool_calls_non_stream_and_stream(client: httpx.Client) -> None:
    req = chat(text="what is the weather in Paris?", tools=[WEATHER_TOOL], tool_choice="required")
    body = client.post("/chat/completions", json=req).json()
    choice = body["choices"][0]
    assert choice["finish_reason"] == "tool_calls" and choice["message"]["content"] is None
    call = choice["message"]["tool_calls"][0]
    assert call["type"] == "function" and call["function"]["name"] == "get_weather"
    assert isinstance(json.loads(call["function"]["arguments"])["city"], str)
    chunks = _stream(client, req)
    deltas = [
        c["choices"][0]["delta"]["tool_calls"][0]
        for c in chunks
        if c["choices"][0]["delta"].get("tool_calls")
    ]
    assert deltas[0]["id"].startswith("call_") and deltas[0]["function"]["name"] == "get_weather"
    assert all(d["index"] == 0 and "id" not in d for d in deltas[1:])
    json.loads("".join(d["function"]["arguments"] for d in deltas))
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"


def test_tool_choice_auto_and_named(client: httpx.Client) -> None:
    plain = client.post("/chat/completions", json=chat(text="tell a story", tools=[WEATHER_TOOL])).json()
    assert plain["choices"][0]["finish_reason"] != "tool_calls"
    asked = client.post(
        "/chat/completions", json=chat(text="call get_weather for Oslo", tools=[WEATHER_TOOL])
    )
    assert asked.json()["choices"][0]["finish_reason"] == "tool_calls"
    named = {"type": "function", "function": {"name": "get_weather"}}
    forced = client.post("/chat/completions", json=chat(text="hi", tools=[WEATHER_TOOL], tool_choice=named))
    assert forced.json()["choices"][0]["message"]["tool_calls"][0]["function"]["name"] == "get_weather"


def test_reasoning_model(client: httpx.Client) -> None:
    body = client.post("/chat/completions", json=chat(model="sim-reasoner")).json()
    msg = body["choices"][0]["message"]
    assert msg["reasoning_content"] and msg["content"]
    details = body["usage"]["completion_tokens_details"]
    assert 0 < details["reasoning_tokens"] < body["usage"]["completion_tokens"]
    chunks = _stream(client, chat(model="sim-reasoner"))
    kinds = [
        "r" if c["choices"][0]["delta"].get("reasoning_content") else "c"
        for c in chunks
        if c["choices"]
        and (c["choices"][0]["delta"].get("reasoning_content") or c["choices"][0]["delta"].get("content"))
    ]
    assert kinds == sorted(kinds, reverse=True) and "r" in kinds and "c" in kinds


def test_prefix_cache_reports_cached_tokens(client: httpx.Client) -> None:
    system = " ".join(f"word{i}" for i in range(200))
    messages = [{"role": "system", "content": system}, {"role": "user", "content": "first"}]
    first = client.post(
        "/chat/completions", json={"model": "sim-chat", "messages": messages, "max_tokens": 1}
    )
    messages[1]["content"] = "second question"
    second = client.post(
        "/chat/completions", json={"model": "sim-chat", "messages": messages, "max_tokens": 1}
    )
    assert first.json()["usage"]["prompt_tokens_details"]["cached_tokens"] == 0
    usage = second.json()["usage"]
    assert 0 < usage["prompt_tokens_details"]["cached_tokens"] < usage["prompt_tokens"]


def test_vendor_params_accepted_only_when_profile_lists_them(start_sim: StartSim) -> None:
    base = start_sim(profile="taichu")
    ok = httpx.post(
        base + "/chat/completions",
        headers={"Authorization": f"Bearer {KEY}"},
        json=chat(model="taichu_vl", stream=False, repetition_penalty=1.5),
    )
    assert ok.status_code == 200, ok.text
    bad = httpx.post(
        base + "/chat/completions",
        headers={"Authorization": f"Bearer {KEY}"},
        json=chat(model="taichu_vl", stream=False, repetition_penalty=1.0),
    )
    _err(bad, 400, "repetition_penalty")


def test_openai_sdk_stream_and_non_stream(base: str) -> None:
    sdk = openai.OpenAI(base_url=base, api_key=KEY, max_retries=0)
    resp = sdk.chat.completions.create(
        model="sim-chat", messages=[{"role": "user", "content": "hi"}], max_tokens=4
    )
    assert resp.choices[0].finish_reason == "length" and resp.usage is not None
    stream = sdk.chat.completions.create(
        model="sim-chat",
        messages=[{"role": "user", "content": "hi"}],
        max_tokens=4,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 4
    with pytest.raises(openai.BadRequestError):
        sdk.chat.completions.create(
            model="sim-chat", messages=[{"role": "user", "content": "hi"}], temperature=9
        )
    with pytest.raises(openai.NotFoundError):
        sdk.chat.completions.create(model="nope", messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=base, api_key="bad", max_retries=0).models.list()
    assert [m.id for m in sdk.models.list()][:1] == ["sim-chat"]
    with sdk.chat.completions.stream(
        model="sim-chat", messages=[{"role": "user", "content": "hi"}]
    ) as helper:
        final = helper.get_final_completion()
    assert final.choices[0].finish_reason == "stop" and final.choices[0].message.content
