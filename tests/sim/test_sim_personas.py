"""Each seed persona presents its provider as documented (profiles in maascheck/profiles/)."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest

from maascheck.core.profiles import available_profiles, load_profile
from tests.sim.conftest import AUTH, StartSim, sse_events

pytestmark = pytest.mark.timeout(60)
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def _need(name: str) -> None:
    if name not in available_profiles():
        pytest.skip(f"profile {name!r} not written yet (maascheck/profiles/{name}.json)")


def _chat(base: str, model: str, **extra: Any) -> httpx.Response:
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 3, **extra}
    return httpx.post(base + "/chat/completions", headers=AUTH, json=body, timeout=10)


def _chunks(resp: httpx.Response) -> list[dict[str, Any]]:
    events = sse_events(resp.text)
    assert events[-1] == "[DONE]"
    return [json.loads(e) for e in events[:-1]]


@pytest.mark.parametrize("name", available_profiles())
def test_every_profile_serves_its_chat_model(start_sim: StartSim, name: str) -> None:
    profile = load_profile(name)
    base = start_sim(profile=name)
    assert base.endswith(profile.base_path)
    model = profile.models.get("chat") or profile.model_ids[0]
    resp = _chat(base, model, stream=False)
    assert resp.status_code == 200, resp.text
    assert resp.json()["model"] == model
    streamed = _chunks(_chat(base, model, stream=True))
    assert streamed[-1]["choices"][0]["finish_reason"] == "length"


def test_taichu_defaults_to_stream_with_uuid_ids(start_sim: StartSim) -> None:
    _need("taichu")
    base = start_sim(profile="taichu")
    assert base.endswith("/maas/v1")
    resp = _chat(base, "taichu_vl")
    assert resp.headers["content-type"].startswith("text/event-stream")
    chunks = _chunks(resp)
    assert UUID.match(chunks[0]["id"])
    body = _chat(base, "taichu_vl", stream=False).json()
    assert UUID.match(body["id"]) and "logprobs" not in body["choices"][0]
    bad = _chat(base, "taichu_vl", stream=False, top_p=1.0)
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "top_p"
    low = _chat(base, "taichu_vl", stream=False, temperature=0.001)
    assert low.status_code == 400 and low.json()["error"]["param"] == "temperature"
    assert _chat(base, "taichu_vl", stream=False, temperature=0.01).status_code == 200


def test_bailian_chunks_carry_explicit_nulls(start_sim: StartSim) -> None:
    _need("bailian")
    base = start_sim(profile="bailian")
    chunks = _chunks(_chat(base, "qwen-plus", stream=True, stream_options={"include_usage": True}))
    first = chunks[0]
    assert first["id"].startswith("chatcmpl-") and UUID.match(first["id"][len("chatcmpl-") :])
    assert first["choices"][0]["delta"] == {
        "content": "",
        "function_call": None,
        "refusal": None,
        "role": "assistant",
        "tool_calls": None,
    }
    for c in chunks[1:-1]:
        assert c["choices"][0]["delta"]["role"] is None and c["choices"][0]["logprobs"] is None
        assert c["service_tier"] is None and c["system_fingerprint"] is None and c["usage"] is None
    assert chunks[-2]["choices"][0]["delta"]["content"] == "" and chunks[-2]["choices"][0]["finish_reason"]
    usage = chunks[-1]["usage"]
    assert chunks[-1]["choices"] == [] and usage["completion_tokens_details"] is None
    assert usage["prompt_tokens_details"] == {"cached_tokens": 0, "audio_tokens": None}


def test_hhaice_reasoning_and_models(start_sim: StartSim) -> None:
    _need("hhaice")
    base = start_sim(profile="hhaice")
    models = httpx.get(base + "/models", headers=AUTH).json()
    assert [m["id"] for m in models["data"]] == ["deepseek-r1"]
    body = _chat(base, "deepseek-r1", stream=False, max_tokens=40).json()
    assert body["system_fingerprint"] == "fp_44709d6fcb"
    assert body["choices"][0]["message"]["reasoning_content"]


def test_maas_openmodels_vendor_stop_token_ids_and_completions(start_sim: StartSim) -> None:
    _need("maas-openmodels")
    base = start_sim(profile="maas-openmodels")
    assert _chat(base, "ChatGLM4-9B", stop_token_ids=[151329, 151336, 151338]).status_code == 200
    bad = _chat(base, "ChatGLM4-9B", stop_token_ids=["x"])
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "stop_token_ids"
    resp = httpx.post(
        base + "/completions", headers=AUTH, json={"model": "Qwen2-72B", "prompt": "x", "logprobs": 1}
    )
    assert resp.status_code == 200 and resp.json()["choices"][0]["logprobs"]["tokens"]
