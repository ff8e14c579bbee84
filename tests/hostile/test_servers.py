"""Smoke test of the hostile-server catalogue: each behaviour answers as it says, on a real loopback socket."""

from __future__ import annotations

import contextlib
import json
import socket
import time
import zlib
from collections.abc import Iterator

import httpx
import pytest

from tests.hostile.servers import BEHAVIOURS, DEFAULT_KEY, DEFAULT_MODEL, HostileServer

AUTH = {"Authorization": f"Bearer {DEFAULT_KEY}"}
CHAT = {"model": DEFAULT_MODEL, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}
STREAM = {**CHAT, "stream": True, "stream_options": {"include_usage": True}}


@pytest.fixture(scope="module")
def server() -> Iterator[HostileServer]:
    with HostileServer(max_answer_s=30) as srv:
        yield srv


def _client() -> httpx.Client:
    # A new connection per request: the catalogue closes a connection after a misbehaving answer without
    # `Connection: close`, and a pooled connection reused before its FIN arrived is reset (seen in CI).
    limits = httpx.Limits(max_keepalive_connections=0)
    return httpx.Client(timeout=httpx.Timeout(5.0), trust_env=False, limits=limits)


def _events(body: bytes, sep: bytes = b"\n\n") -> list[bytes]:
    return [e.removeprefix(b"data: ") for e in body.split(sep) if e.strip()]


def test_valid_serves_models_chat_stream_and_completions(server: HostileServer) -> None:
    base = server.base_url("valid")
    with _client() as c:
        models = c.get(f"{base}/models", headers=AUTH).json()
        assert models["data"][0]["id"] == DEFAULT_MODEL
        chat = c.post(f"{base}/chat/completions", json=CHAT, headers=AUTH).json()
        assert chat["choices"][0]["message"]["content"] == "w0 w1 w2 w3 "
        assert chat["usage"]["completion_tokens"] == 4
        events = _events(c.post(f"{base}/chat/completions", json=STREAM, headers=AUTH).content)
        assert events[-1] == b"[DONE]"
        assert json.loads(events[-2])["usage"]["completion_tokens"] == 4
        text = c.post(f"{base}/completions", json={"model": DEFAULT_MODEL, "prompt": "x"}, headers=AUTH).json()
        assert text["object"] == "text_completion"
        assert c.get(f"{base}/models", headers={"Authorization": "Bearer nope"}).status_code == 401


def test_every_behaviour_has_a_description_and_a_url(server: HostileServer) -> None:
    for name, behaviour in BEHAVIOURS.items():
        assert behaviour.description.strip(), name
        assert server.base_url(name).endswith(f"/{name}/v1")
    with pytest.raises(ValueError, match="unknown behaviour"):
        server.base_url("no-such")


@pytest.mark.parametrize("name", ["silent", "drip-head", "continue-forever"])
def test_endless_heads_never_give_a_final_response(server: HostileServer, name: str) -> None:
    host, port = "127.0.0.1", server.port
    with socket.create_connection((host, port), timeout=5) as sock:
        sock.sendall(f"GET /{name}/v1/models HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        sock.settimeout(0.3)
        got = b""
        until = time.monotonic() + 1.5
        while time.monotonic() < until:
            with contextlib.suppress(TimeoutError):
                got += sock.recv(4096)
    if name == "silent":
        assert got == b""
    elif name == "drip-head":
        assert got.startswith(b"HTTP/1.1 200") and b"\r\n\r\n" not in got and len(got) < 60
    else:
        assert got.startswith(b"HTTP/1.1 100 Continue\r\n\r\n") and b" 200 " not in got


@pytest.mark.parametrize(("name", "marker"), [("endless-content", b'"content":"tok "'), ("ping-forever", b": ping")])
def test_endless_streams_keep_sending(server: HostileServer, name: str, marker: bytes) -> None:
    with _client() as c, c.stream("POST", f"{server.base_url(name)}/chat/completions", json=STREAM, headers=AUTH) as r:
        got = b""
        for piece in r.iter_raw():
            got += piece
            if len(got) > (20_000 if name == "endless-content" else 200):
                break
    assert marker in got and b"[DONE]" not in got


def test_gzip_bomb_inflates_far_beyond_its_wire_size(server: HostileServer) -> None:
    inflate = zlib.decompressobj(31)
    wire = inflated = 0
    with _client() as c, c.stream("GET", f"{server.base_url('gzip-bomb')}/models", headers=AUTH) as r:
        assert r.headers["content-encoding"] == "gzip"
        for piece in r.iter_raw():
            wire += len(piece)
            inflated += len(inflate.decompress(piece, 1 << 20))
            while inflate.unconsumed_tail and inflated < 200 << 20:
                inflated += len(inflate.decompress(inflate.unconsumed_tail, 1 << 20))
            if inflated >= 200 << 20:
                break
    assert inflated >= 200 << 20 and wire < 2 << 20


@pytest.mark.parametrize(
    ("name", "check"),
    [
        ("choices-string", lambda doc: isinstance(doc["choices"], str)),
        ("usage-list", lambda doc: isinstance(doc["usage"], list)),
        ("delta-number", lambda doc: doc["choices"][0]["message"] == 42),
        ("finish-reason-object", lambda doc: isinstance(doc["choices"][0]["finish_reason"], dict)),
        ("created-1e400", lambda doc: doc["created"] == float("inf")),
        ("lone-surrogate", lambda doc: "\ud800" in doc["choices"][0]["message"]["content"]),
    ],
)
def test_wrong_documents(server: HostileServer, name: str, check: object) -> None:
    with _client() as c:
        doc = c.post(f"{server.base_url(name)}/chat/completions", json=CHAT, headers=AUTH).json()
    assert callable(check) and check(doc)


def test_deep_json_nests_100000_levels(server: HostileServer) -> None:
    with _client() as c:
        body = c.post(f"{server.base_url('deep-json')}/chat/completions", json=CHAT, headers=AUTH).content
    assert b"[" * 100_000 in body
    with pytest.raises(RecursionError):
        json.loads(body)


def test_bare_cr_stream_is_valid_with_cr_line_ends(server: HostileServer) -> None:
    with _client() as c:
        body = c.post(f"{server.base_url('bare-cr')}/chat/completions", json=STREAM, headers=AUTH).content
    assert b"\n" not in body and _events(body, b"\r\r")[-1] == b"[DONE]"


@pytest.mark.parametrize("name", ["big-valid-stream", "tiny-chunks"])
def test_big_streams_are_valid_and_complete(server: HostileServer, name: str) -> None:
    with _client() as c:
        body = c.post(f"{server.base_url(name)}/chat/completions", json=STREAM, headers=AUTH).content
    events = _events(body)
    assert events[-1] == b"[DONE]"
    usage = json.loads(events[-2])["usage"]
    if name == "tiny-chunks":
        assert usage["completion_tokens"] == 100_000
    else:
        assert len(body) > 13_000_000


def test_status_behaviours(server: HostileServer) -> None:
    with _client() as c:
        r = c.get(f"{server.base_url('redirect-307')}/models", headers=AUTH)
        assert r.status_code == 307 and r.headers["location"].endswith("/elsewhere/v1/models")
        r = c.get(f"{server.base_url('rate-limited')}/models", headers=AUTH)
        assert r.status_code == 429 and r.headers["retry-after"] == "1"
        transient = f"{server.base_url('transient-503')}/chat/completions"
        assert c.post(transient, json=CHAT, headers=AUTH).status_code == 503
        assert c.post(transient, json=CHAT, headers=AUTH).status_code == 200
        r = c.get(f"{server.base_url('control-chars')}/models", headers=AUTH)
        assert r.status_code == 400 and "\x1b[2J" in r.json()["error"]["message"]
        r = c.get(f"{server.base_url('echo-key')}/models", headers=AUTH)
        assert DEFAULT_KEY in r.json()["error"]["message"]
        r = c.get(f"{server.base_url('echo-key-masked')}/models", headers=AUTH)
        assert DEFAULT_KEY[4:-4] in r.json()["error"]["message"] and DEFAULT_KEY not in r.text
        codes = [c.get(f"{server.base_url('half-503')}/models", headers=AUTH).status_code for _ in range(4)]
        assert sorted(codes) == [200, 200, 503, 503]
    assert any(s.behaviour == "echo-key" and s.bearer == DEFAULT_KEY for s in server.seen)


def test_cut_stream_ends_without_last_chunk(server: HostileServer) -> None:
    with _client() as c, pytest.raises(httpx.RemoteProtocolError):
        c.post(f"{server.base_url('cut')}/chat/completions", json=STREAM, headers=AUTH)


def test_long_line_is_one_line_of_200_mib(server: HostileServer) -> None:
    with (
        _client() as c,
        c.stream("POST", f"{server.base_url('long-line')}/chat/completions", json=STREAM, headers=AUTH) as r,
    ):
        got = 0
        for piece in r.iter_bytes():
            assert b"\n" not in piece
            got += len(piece)
            if got > 8 << 20:
                break
    assert got > 8 << 20
