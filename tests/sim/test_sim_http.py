"""HTTP layer: routes, auth, error envelopes and statuses, keep-alive, robustness against bad clients."""

from __future__ import annotations

import socket
import time
from urllib.parse import urlsplit

import httpx
import pytest

from tests.sim.conftest import AUTH, StartSim, chat

pytestmark = pytest.mark.timeout(60)


def _addr(base: str) -> tuple[str, int]:
    parts = urlsplit(base)
    return parts.hostname or "127.0.0.1", parts.port or 80


def _raw(base: str, data: bytes, read_until_close: bool = True, timeout: float = 5.0) -> bytes:
    with socket.create_connection(_addr(base), timeout=timeout) as sock:
        sock.sendall(data)
        out = b""
        while True:
            try:
                piece = sock.recv(65536)
            except TimeoutError:
                break
            if not piece:
                break
            out += piece
            if not read_until_close and b"\r\n\r\n" in out:
                break
        return out


def _assert_envelope(resp: httpx.Response, status: int, param: str | None = None) -> dict[str, object]:
    assert resp.status_code == status, resp.text
    err = resp.json()["error"]
    assert set(err) == {"message", "type", "param", "code"}
    assert isinstance(err["message"], str) and err["message"]
    if param is not None:
        assert err["param"] == param, err
    return dict(err)


def test_models_list_and_get(client: httpx.Client) -> None:
    body = client.get("/models").json()
    assert body["object"] == "list"
    ids = [m["id"] for m in body["data"]]
    assert ids[:3] == ["sim-chat", "sim-vision", "sim-reasoner"]
    for model in body["data"]:
        assert model["object"] == "model" and isinstance(model["created"], int) and model["owned_by"]
    assert client.get("/models/sim-chat").json()["id"] == "sim-chat"
    _assert_envelope(client.get("/models/nope"), 404)


def test_auth_missing_and_wrong_key_are_401(base: str) -> None:
    with httpx.Client(base_url=base) as c:
        err = _assert_envelope(c.post("/chat/completions", json=chat()), 401)
        assert err["code"] == "missing_api_key"
        err = _assert_envelope(c.get("/models", headers={"Authorization": "Bearer wrong"}), 401)
        assert err["code"] == "invalid_api_key"
        assert "wrong" not in str(err["message"])


def test_env_key_and_config_key(start_sim: StartSim, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAASCHECK_SIM_KEY", "from-env")
    base = start_sim()
    assert httpx.get(base + "/models", headers=AUTH).status_code == 401
    assert httpx.get(base + "/models", headers={"Authorization": "Bearer from-env"}).status_code == 200
    base2 = start_sim(api_key="explicit")
    assert httpx.get(base2 + "/models", headers={"Authorization": "Bearer explicit"}).status_code == 200


def test_unknown_path_404_and_wrong_method_405(client: httpx.Client, base: str) -> None:
    _assert_envelope(client.get("/nope"), 404)
    _assert_envelope(httpx.get(base.replace("/v1", "/v2") + "/models", headers=AUTH), 404)
    resp = client.get("/chat/completions")
    _assert_envelope(resp, 405)
    assert resp.headers["allow"] == "POST"
    _assert_envelope(client.post("/models"), 405)


def test_malformed_json_and_non_object_body(client: httpx.Client) -> None:
    _assert_envelope(client.post("/chat/completions", content=b'{"model": "sim-chat",}'), 400)
    _assert_envelope(client.post("/chat/completions", content=b"[1, 2]"), 400)
    _assert_envelope(client.post("/chat/completions", content=b""), 400)


def test_body_too_large_413(start_sim: StartSim) -> None:
    base = start_sim(max_body_bytes=4096)
    resp = httpx.post(base + "/chat/completions", headers=AUTH, content=b"x" * 10_000)
    _assert_envelope(resp, 413)


def test_garbage_request_line_400_and_server_survives(base: str) -> None:
    out = _raw(base, b"\x16\x03\x01garbage\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 400")
    out = _raw(base, b"GET /v1/models HTTP/2.0\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 505")
    assert httpx.get(base + "/models", headers=AUTH).status_code == 200


def test_slowloris_partial_headers_time_out(start_sim: StartSim) -> None:
    base = start_sim(header_timeout_s=0.3)
    t0 = time.monotonic()
    out = _raw(base, b"GET /v1/models HTTP/1.1\r\nHost: x\r\n", timeout=5)
    assert out.startswith(b"HTTP/1.1 408")
    assert time.monotonic() - t0 < 3


def test_keep_alive_and_pipelining(base: str) -> None:
    req = b"GET /v1/models HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer maascheck-sim-key\r\n\r\n"
    last = req.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n")
    out = _raw(base, req + req + last)
    assert out.count(b"HTTP/1.1 200 OK") == 3


def test_expect_continue_and_chunked_request_body(base: str) -> None:
    body = b'{"model":"sim-chat","messages":[{"role":"user","content":"hi"}],"max_tokens":2}'
    head = (
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer maascheck-sim-key\r\n"
        b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n"
        b"Expect: 100-continue\r\n\r\n"
    )
    framed = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
    with socket.create_connection(_addr(base), timeout=5) as sock:
        sock.sendall(head)
        assert sock.recv(1024) == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(framed[:7])
        sock.sendall(framed[7:])
        out = b""
        while piece := sock.recv(65536):
            out += piece
    assert out.startswith(b"HTTP/1.1 200 OK") and b'"chat.completion"' in out


def test_client_disconnect_mid_stream_is_survived(start_sim: StartSim) -> None:
    base = start_sim(decode_step_ms=5.0)
    body = b'{"model":"sim-chat","messages":[{"role":"user","content":"hi"}],"stream":true,"max_tokens":50}'
    head = (
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer maascheck-sim-key\r\n"
        b"Content-Length: %d\r\n\r\n" % len(body)
    )
    for _ in range(5):
        with socket.create_connection(_addr(base)) as sock:
            sock.sendall(head + body)
            assert b"data:" in sock.recv(65536) or True
    time.sleep(0.4)
    stats = httpx.get(base.replace("/v1", "") + "/sim/stats").json()
    assert stats["active_streams"] == 0
    assert httpx.post(base + "/chat/completions", headers=AUTH, json=chat(max_tokens=2)).status_code == 200


def test_thousand_concurrent_connections(base: str) -> None:
    socks = [socket.create_connection(_addr(base), timeout=10) for _ in range(1000)]
    try:
        req = b"GET /v1/models HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer maascheck-sim-key\r\n\r\n"
        for s in socks:
            s.sendall(req)
        ok = 0
        for s in socks:
            data = b""
            while b"}]}" not in data:
                piece = s.recv(65536)
                if not piece:
                    break
                data += piece
            ok += data.startswith(b"HTTP/1.1 200")
        assert ok == 1000
    finally:
        for s in socks:
            s.close()


def test_stats_endpoint(client: httpx.Client, base: str) -> None:
    client.post("/chat/completions", json=chat(stream=True, max_tokens=3))
    root = base.replace("/v1", "")
    stats = httpx.get(root + "/sim/stats").json()
    assert stats["events_sent"] >= 5
    assert stats["lateness_us"]["count"] >= 3
    assert httpx.post(root + "/sim/stats/reset").status_code == 200
    assert httpx.get(root + "/sim/stats").json()["events_sent"] == 0
