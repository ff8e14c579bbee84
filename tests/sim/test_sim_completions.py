"""Legacy completions (spec a.5): text_completion for stream and non-stream, integer logprobs, echo."""

from __future__ import annotations

import json

import httpx
import openai
import pytest

from tests.sim.conftest import KEY, sse_events

pytestmark = pytest.mark.timeout(60)


def test_non_stream_and_default_max_tokens(client: httpx.Client) -> None:
    body = client.post("/completions", json={"model": "sim-chat", "prompt": "Once upon"}).json()
    assert body["object"] == "text_completion" and body["id"].startswith("cmpl-")
    choice = body["choices"][0]
    assert set(choice) == {"index", "text", "logprobs", "finish_reason"}
    assert choice["finish_reason"] == "length" and body["usage"]["completion_tokens"] == 16  # spec default 16


def test_stream_objects_are_text_completion(client: httpx.Client) -> None:
    resp = client.post(
        "/completions",
        json={
            "model": "sim-chat",
            "prompt": "x",
            "max_tokens": 3,
            "stream": True,
            "stream_options": {"include_usage": True},
        },
    )
    events = sse_events(resp.text)
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert {c["object"] for c in chunks} == {"text_completion"}
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] == 3
    assert chunks[-2]["choices"][0]["finish_reason"] == "length"


def test_integer_logprobs_and_echo(client: httpx.Client) -> None:
    body = client.post(
        "/completions",
        json={"model": "sim-chat", "prompt": "Hi there", "max_tokens": 4, "logprobs": 2, "echo": True},
    ).json()
    choice = body["choices"][0]
    assert choice["text"].startswith("Hi there")
    lp = choice["logprobs"]
    assert (
        len(lp["tokens"])
        == len(lp["token_logprobs"])
        == len(lp["top_logprobs"])
        == len(lp["text_offset"])
        == 4
    )
    assert lp["text_offset"][0] == len("Hi there")
    assert all(len(top) <= 3 for top in lp["top_logprobs"])
    bad = client.post("/completions", json={"model": "sim-chat", "prompt": "x", "logprobs": 9})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "logprobs"


def test_prompt_list_gives_choices_per_prompt(client: httpx.Client) -> None:
    body = client.post(
        "/completions", json={"model": "sim-chat", "prompt": ["a", "b"], "n": 2, "max_tokens": 1}
    ).json()
    assert [c["index"] for c in body["choices"]] == [0, 1, 2, 3]
    missing = client.post("/completions", json={"model": "sim-chat"})
    assert missing.status_code == 400 and missing.json()["error"]["param"] == "prompt"


def test_openai_sdk_completions(base: str) -> None:
    sdk = openai.OpenAI(base_url=base, api_key=KEY, max_retries=0)
    out = sdk.completions.create(model="sim-chat", prompt="hello", max_tokens=3)
    assert out.choices[0].finish_reason == "length" and out.usage is not None
    chunks = list(sdk.completions.create(model="sim-chat", prompt="hello", max_tokens=3, stream=True))
    assert "".join(c.choices[0].text for c in chunks if c.choices)
