"""Both streaming clients (hub-callback reactor, per-greenlet sockets) against a local exact-schedule server:
timing, framing, keep-alive and every failure kind."""

from __future__ import annotations

import socket

import pytest

from maascheck.load.client.http11 import Endpoint
from maascheck.load.client.lean import StreamClient
from maascheck.load.client.reactor import ReactorClient, open_client
from maascheck.load.measure.metrics import request_record
from maascheck.load.workload.payloads import BodyOptions, build_body
from maascheck.load.workload.workloads import Prompt

CLIENTS = [ReactorClient, StreamClient]
Client = type[ReactorClient] | type[StreamClient]


@pytest.fixture(params=CLIENTS, ids=["reactor", "greenlet"])
def client_cls(request: pytest.FixtureRequest) -> Client:
    cls: Client = request.param
    return cls


def one(
    url: str,
    model: str,
    tokens: int = 8,
    timeout: float = 10.0,
    path: str = "/chat/completions",
    cls: Client = ReactorClient,
) -> dict[str, object]:
    client = cls(Endpoint.parse(url), {}, timeout=timeout)
    body = build_body("chat", Prompt("hello", tokens, 1), BodyOptions(model))
    try:
        return request_record(client.post_stream(path, body))
    finally:
        client.close()


@pytest.mark.timeout(30)
def test_exact_schedule_timing(exact_url: str, client_cls: Client) -> None:
    r = one(exact_url, "exact", tokens=8, cls=client_cls)
    assert r["outcome"] == "ok" and r["output_tokens"] == 8 and r["token_source"] == "usage"
    itl = sorted(r["itl_ms"])  # type: ignore[type-var]
    assert 95 <= r["ttft_ms"] <= 150, r  # type: ignore[operator]
    assert len(itl) == 7 and 8 <= itl[3] <= 14, itl
    assert 9 <= r["tpot_ms"] <= 14, r  # type: ignore[operator]


@pytest.mark.timeout(30)
def test_keep_alive_reuses_the_connection(exact_url: str, client_cls: Client) -> None:
    client = client_cls(Endpoint.parse(exact_url), {}, timeout=10)
    body = build_body("chat", Prompt("hi", 2, 1), BodyOptions("exact"))
    first = client.post_stream("/chat/completions", body)
    sock = client._sock
    second = client.post_stream("/chat/completions", body)
    client.close()
    assert (first.transport, second.transport, sock is not None) == ("complete", "complete", True)


@pytest.mark.timeout(30)
@pytest.mark.parametrize(("model", "outcome"), [
    ("http-429", "http_error"), ("stream-error", "stream_error"), ("no-done", "no_done"),
    ("truncate", "truncated"), ("close-headers", "truncated"), ("multi", "ok"), ("reasoning", "ok"),
])  # fmt: skip
def test_outcomes(exact_url: str, model: str, outcome: str, client_cls: Client) -> None:
    r = one(exact_url, model, cls=client_cls)
    assert r["outcome"] == outcome, r["error"]
    if model == "http-429":
        assert r["status"] == 429 and "rate limited" in str(r["error"])
    if model == "multi":
        assert r["chunks"] == 2 and r["token_source"] == "usage" and len(r["itl_ms"]) == 4  # type: ignore[arg-type]
    if model == "reasoning":
        assert r["ttfo_ms"] > r["ttft_ms"]  # type: ignore[operator]


@pytest.mark.timeout(30)
def test_stall_is_a_bounded_timeout(exact_url: str, client_cls: Client) -> None:
    r = one(exact_url, "stall", timeout=0.5, cls=client_cls)
    assert r["outcome"] in ("idle_timeout", "deadline"), r
    assert r["e2e_done_ms"] is not None and r["e2e_done_ms"] < 2500  # type: ignore[operator]


@pytest.mark.timeout(30)
def test_connect_error(client_cls: Client) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    r = one(f"http://127.0.0.1:{port}/v1", "exact", cls=client_cls)
    assert r["outcome"] == "connect_error" and "Refused" in str(r["error"])


@pytest.mark.timeout(30)
def test_reactor_serves_many_users_at_once(exact_url: str) -> None:
    """Greenlets share the hub: 16 concurrent streams all complete with exact token counts."""
    import gevent

    from tests.load.greenlets import join_all

    body = build_body("chat", Prompt("hi", 6, 1), BodyOptions("exact"))
    clients = [ReactorClient(Endpoint.parse(exact_url), {}, timeout=10) for _ in range(16)]
    jobs = [gevent.spawn(c.post_stream, "/chat/completions", body) for c in clients]
    join_all(jobs, timeout_s=20)
    records = [request_record(j.value) for j in jobs]
    for c in clients:
        c.close()
    assert [(r["outcome"], r["output_tokens"]) for r in records] == [("ok", 6)] * 16


def test_open_client_picks_by_scheme() -> None:
    assert isinstance(open_client(Endpoint.parse("http://127.0.0.1:1/v1"), {}), ReactorClient)
    assert isinstance(open_client(Endpoint.parse("https://127.0.0.1:1/v1"), {}), StreamClient)
    with pytest.raises(ValueError, match="plain HTTP"):
        ReactorClient(Endpoint.parse("https://127.0.0.1:1/v1"), {})


@pytest.mark.timeout(30)
def test_a_silence_mid_stream_is_an_idle_timeout_with_its_bound(exact_url: str, client_cls: Client) -> None:
    from maascheck.load.client.limits import Limits

    client = client_cls(Endpoint.parse(exact_url), {}, limits=Limits(idle_s=0.5, deadline_s=20))
    body = build_body("chat", Prompt("hello", 8, 1), BodyOptions("stall"))
    try:
        r = request_record(client.post_stream("/chat/completions", body))
    finally:
        client.close()
    assert r["outcome"] == "idle_timeout" and "idle_s=0.5" in str(r["error"]), r
    assert r["e2e_done_ms"] is not None and r["e2e_done_ms"] < 2500  # type: ignore[operator]
