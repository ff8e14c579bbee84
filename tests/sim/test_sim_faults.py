"""Fault hooks fire at their documented points; legal variations stay parseable by the openai SDK."""

from __future__ import annotations

import json
import socket
from typing import Any
from urllib.parse import urlsplit

import httpx
import openai
import pytest

from maascheck.core.errors import ConfigError
from maascheck.sim.config import SimConfig
from maascheck.sim.faults import ChunkContext, Fault, RequestView, Response, all_faults, register
from maascheck.sim.server import SimServer
from tests.sim.conftest import AUTH, KEY, StartSim, chat, sse_events

pytestmark = pytest.mark.timeout(60)
SEEN: list[str] = []


def _tag_chunk(chunk: dict[str, Any], ctx: ChunkContext) -> list[dict[str, Any]]:
    chunk["x_index"] = ctx.index
    chunk["x_flags"] = [ctx.is_usage, ctx.is_final]
    return [chunk]


def _answer(view: RequestView) -> Response | None:
    return Response(418, b'{"teapot": true}') if view.headers.get("x-teapot") else None


TEST_FAULTS = {
    f.name: f
    for f in (
        Fault("test-on-request", "answers x-teapot requests itself", ("T-1",), on_request=_answer),
        Fault("test-status", "every status + 1", ("T-2",), on_status=lambda s, v: s + 1),
        Fault("test-headers", "adds a header", ("T-3",), on_headers=lambda h, v: [*h, ("X-Fault", "yes")]),
        Fault("test-body", "adds a body field", ("T-4",), on_body=lambda b, v: {**b, "x_fault": v.endpoint}),
        Fault("test-body-bytes", "prefixes the body", ("T-5",), on_body_bytes=lambda b, v: b" " + b),
        Fault("test-chunk", "tags chunks with their context", ("T-6",), on_chunk=_tag_chunk),
        Fault(
            "test-event",
            "uppercases the DONE marker",
            ("T-7",),
            on_event=lambda raw, ctx: raw.replace(b"[DONE]", b"[done]") if ctx is None else raw,
        ),
        Fault("test-stall", "stalls after 2 events", ("T-8",), stall_after_events=2),
        Fault("test-close", "closes after 2 events", ("T-9",), close_after_events=2),
        Fault("test-trailer", "junk after DONE", ("T-10",), trailer=b"data: junk\n\n"),
        Fault(
            "test-skip",
            "skips range and auth checks",
            ("T-11",),
            skip_validation=frozenset({"temperature", "auth"}),
        ),
        Fault("test-broken-chunk", "a buggy chunk hook", ("T-13",), on_chunk=lambda c, ctx: [c["nope"]]),
        Fault("test-broken-request", "a buggy request hook", ("T-14",), on_request=lambda v: [][0]),
        Fault(
            "test-frames",
            "one frame per byte",
            ("T-12",),
            on_frames=lambda raw, ctx: [raw[i : i + 1] for i in range(len(raw))],
        ),
    )
}
for _f in TEST_FAULTS.values():
    if _f.name not in all_faults():
        register(_f)


def _stream(base: str, **extra: Any) -> httpx.Response:
    return httpx.post(base + "/chat/completions", headers=AUTH, json=chat(stream=True, max_tokens=3, **extra))


def test_on_request_answers_outright(start_sim: StartSim) -> None:
    base = start_sim(faults=["test-on-request"])
    resp = httpx.post(base + "/chat/completions", headers={**AUTH, "x-teapot": "1"}, json=chat())
    assert resp.status_code == 418 and resp.json() == {"teapot": True}
    assert httpx.post(base + "/chat/completions", headers=AUTH, json=chat(max_tokens=1)).status_code == 200


def test_status_headers_body_hooks(start_sim: StartSim) -> None:
    base = start_sim(faults=["test-status", "test-headers", "test-body", "test-body-bytes"])
    resp = httpx.post(base + "/chat/completions", headers=AUTH, json=chat(max_tokens=1))
    assert resp.status_code == 201 and resp.headers["x-fault"] == "yes"
    assert resp.content.startswith(b" {") and resp.json()["x_fault"] == "chat"
    err = httpx.post(base + "/chat/completions", headers=AUTH, json=chat(temperature=5))
    assert err.status_code == 401 and "error" in err.json()  # error bodies pass through the hooks too
    assert _stream(base).status_code == 201


def test_chunk_hook_sees_contexts(start_sim: StartSim) -> None:
    base = start_sim(faults=["test-chunk"])
    events = sse_events(_stream(base, stream_options={"include_usage": True}).text)
    chunks = [json.loads(e) for e in events[:-1]]
    assert [c["x_index"] for c in chunks] == list(range(len(chunks)))
    assert chunks[-1]["x_flags"] == [True, False] and chunks[-2]["x_flags"] == [False, True]


def test_event_hook_and_trailer(start_sim: StartSim) -> None:
    base = start_sim(faults=["test-event", "test-trailer"])
    events = sse_events(_stream(base).text)
    assert events[-2:] == ["[done]", "junk"]


def _raw_stream(base: str, timeout: float) -> tuple[bytes, bool]:
    parts = urlsplit(base)
    body = json.dumps(chat(stream=True, max_tokens=6)).encode()
    head = (
        f"POST {parts.path}/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    with socket.create_connection((parts.hostname, parts.port), timeout=timeout) as sock:
        sock.sendall(head + body)
        out = b""
        try:
            while piece := sock.recv(65536):
                out += piece
        except TimeoutError:
            return out, False
        return out, True


def test_stall_and_close_after_events(start_sim: StartSim) -> None:
    out, closed = _raw_stream(start_sim(faults=["test-stall"]), timeout=0.5)
    assert not closed and out.count(b"data:") == 2
    out, closed = _raw_stream(start_sim(faults=["test-close"]), timeout=5)
    assert closed and out.count(b"data:") == 2 and not out.endswith(b"0\r\n\r\n")


def test_skip_validation(start_sim: StartSim) -> None:
    base = start_sim(faults=["test-skip"])
    resp = httpx.post(base + "/chat/completions", json=chat(temperature=7, max_tokens=1))
    assert resp.status_code == 200
    assert httpx.post(base + "/chat/completions", json=chat(top_p=7)).status_code == 400


def test_frames_hook_splits_writes(start_sim: StartSim) -> None:
    base = start_sim(faults=["test-frames"])
    out, _ = _raw_stream(base, timeout=5)
    assert out.count(b"\r\n1\r\n") > 100
    assert sse_events(_stream(base).text)[-1] == "[DONE]"


def test_unknown_fault_is_config_error() -> None:
    with pytest.raises(ConfigError, match="legal-crlf"):
        SimServer(SimConfig(faults=["no-such-fault"]))


LEGAL = sorted(name for name, f in all_faults().items() if f.legal and name.startswith("legal-"))


def test_legal_catalog_is_complete() -> None:
    assert len(LEGAL) >= 11 and all(not all_faults()[n].breaks for n in LEGAL)


@pytest.mark.parametrize("name", LEGAL)
def test_legal_variation_parses_with_openai_sdk(start_sim: StartSim, name: str) -> None:
    base = start_sim(faults=[name])
    # The SDK's own defaults: its retries are how it copes with a transient 429/503 (legal-transient-*).
    sdk = openai.OpenAI(base_url=base, api_key=KEY, max_retries=2)
    messages: Any = [{"role": "user", "content": "hi"}]
    stream = sdk.chat.completions.create(
        model="sim-chat", messages=messages, max_tokens=5, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text and chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 5
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == [
        "length"
    ]
    body = sdk.chat.completions.create(model="sim-chat", messages=messages, max_tokens=5)
    assert body.choices[0].message.content and body.usage is not None


def test_buggy_hooks_fail_alone(start_sim: StartSim) -> None:
    base = start_sim(faults=["test-broken-chunk"])
    with pytest.raises(httpx.HTTPError):
        _stream(base).read()
    assert httpx.post(base + "/chat/completions", headers=AUTH, json=chat(max_tokens=1)).status_code == 200
    broken = start_sim(faults=["test-broken-request"])
    resp = httpx.post(broken + "/chat/completions", headers=AUTH, json=chat(max_tokens=1))
    assert resp.status_code == 500 and "test-broken-request" in resp.json()["error"]["message"]
