"""Connections are measured and counted: connect time, reuse, reconnects (closed keep-alive connections) and retries."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from maascheck.load.client.http11 import Endpoint
from maascheck.load.client.lean import StreamClient
from maascheck.load.client.reactor import ReactorClient
from maascheck.load.measure.metrics import request_record
from maascheck.load.measure.results import connections_block
from maascheck.load.workload.payloads import BodyOptions, build_body
from maascheck.load.workload.workloads import Prompt

from .closing_server import ClosingServer, self_signed

Client = type[ReactorClient] | type[StreamClient]


@pytest.fixture(params=[ReactorClient, StreamClient], ids=["reactor", "greenlet"])
def client_cls(request: pytest.FixtureRequest) -> Client:
    cls: Client = request.param
    return cls


def _records(url: str, cls: Client, n: int, pause_s: float = 0.0) -> list[dict[str, Any]]:
    client = cls(Endpoint.parse(url), {}, timeout=10)
    body = build_body("chat", Prompt("hello", 3, 1), BodyOptions("m"))
    out = []
    try:
        for _ in range(n):
            out.append(request_record(client.post_stream("/chat/completions", body)))
            time.sleep(pause_s)
    finally:
        client.close()
    return out


@pytest.mark.timeout(30)
def test_a_kept_alive_connection_is_reused_and_has_no_connect_time(client_cls: Client) -> None:
    with ClosingServer("keep") as url:
        recs = _records(url, client_cls, 3)
    assert [r["outcome"] for r in recs] == ["ok"] * 3
    assert [r["reused_connection"] for r in recs] == [False, True, True]
    assert recs[0]["connect_ms"] is not None and 0 <= recs[0]["connect_ms"] < 1000
    assert recs[1]["connect_ms"] is None and recs[2]["connect_ms"] is None
    block = connections_block(recs)
    assert (block["opened"], block["reused"], block["reconnects"], block["retries"]) == (1, 2, 0, 0)


@pytest.mark.timeout(30)
def test_a_connection_the_server_closed_is_replaced_before_the_send(client_cls: Client) -> None:
    """The server closes after each response; the client finds it closed before the next send."""
    with ClosingServer("close") as url:
        recs = _records(url, client_cls, 3, pause_s=0.1)
    assert [r["outcome"] for r in recs] == ["ok"] * 3
    assert [r["reconnected"] for r in recs] == [False, True, True]
    assert [r["retries"] for r in recs] == [0, 0, 0]
    assert all(r["connect_ms"] is not None and not r["reused_connection"] for r in recs)
    block = connections_block(recs)
    assert (block["opened"], block["reconnects"], block["retries"], block["reused"]) == (3, 2, 0, 0)
    assert block["connect_ms"]["count"] == 3


@pytest.mark.timeout(30)
def test_a_retry_is_counted_and_its_ttft_runs_from_the_first_send(client_cls: Client) -> None:
    """The server reads a reused connection's request, waits 0.3 s and closes it: the request is re-sent."""
    server = ClosingServer("drop-reused", drop_delay_s=0.3)
    with server as url:
        recs = _records(url, client_cls, 3)
    assert [r["outcome"] for r in recs] == ["ok"] * 3
    assert [r["retries"] for r in recs] == [0, 1, 1]
    assert [r["reconnected"] for r in recs] == [False, True, True]
    assert recs[0]["ttft_ms"] < 250, recs[0]
    assert all(r["ttft_ms"] >= 300 and r["e2e_ms"] >= 300 for r in recs[1:]), recs  # the lost 0.3 s is in TTFT
    block = connections_block(recs)
    assert block["retries"] == server.dropped == 2 and block["opened"] == server.accepted == 3
    assert block["reconnects"] == 2


@pytest.mark.timeout(60)
@pytest.mark.parametrize("mode", ["keep", "close"])
def test_https_connect_time_holds_the_handshake_and_an_idle_tls_connection_is_not_taken_for_closed(
    tmp_path: Path, mode: str
) -> None:
    """TLS 1.3 session tickets arrive after the handshake: an idle kept-alive TLS connection stays reused."""
    contexts = self_signed(tmp_path)
    if contexts is None:
        pytest.skip("openssl is not installed: no certificate for the TLS server")
    server_ctx, client_ctx = contexts
    with ClosingServer(mode, tls=server_ctx) as url:
        client = StreamClient(Endpoint.parse(url), {}, timeout=10, ssl_context=client_ctx)
        body = build_body("chat", Prompt("hello", 3, 1), BodyOptions("m"))
        try:
            recs = []
            for _ in range(3):
                recs.append(request_record(client.post_stream("/chat/completions", body)))
                time.sleep(0.1)
        finally:
            client.close()
    assert [r["outcome"] for r in recs] == ["ok"] * 3, recs
    if mode == "keep":
        assert [r["reused_connection"] for r in recs] == [False, True, True]
        assert [r["reconnected"] for r in recs] == [False, False, False]
    else:
        assert [r["reconnected"] for r in recs] == [False, True, True] and not any(r["retries"] for r in recs)
    fresh = [r["connect_ms"] for r in recs if not r["reused_connection"]]
    assert fresh and all(c is not None and c > 0 for c in fresh)
