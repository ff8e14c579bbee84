"""The exchange recorder against scripted misbehaving servers: every failure is classified, none hangs."""

from __future__ import annotations

from typing import Any

import pytest

from maascheck.conformance.model.exchange import Exchange
from maascheck.conformance.report.evidence import curl_line, render_exchange
from maascheck.conformance.transport.recorder import Recorder, Timeouts
from maascheck.core.secrets import Redactor
from tests.conformance.rawserver import END, chunk, response, serving, sse_head

pytestmark = pytest.mark.timeout(30)
KEY = "sk-maascheck-TEST-distinctive-key-7f3a9c"
FAST = Timeouts(connect=2, headers=2, stall=0.5, total=5)
STREAM_BODY = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": True}


def record(
    scripts: dict[str, list[bytes | float | None]],
    path: str = "/chat/completions",
    body: dict[str, Any] | None = STREAM_BODY,
) -> Exchange:
    with serving(scripts) as server:
        rec = Recorder(server.base_url, KEY, FAST)
        try:
            return rec.record("p", "POST", path, body)
        finally:
            rec.close()


def test_stream_events_have_increasing_arrival_times() -> None:
    ex = record(
        {
            "/chat/completions": [
                sse_head(),
                chunk(b'data: {"a":1}\n\n'),
                0.05,
                chunk(b'data: {"a":2}\n\n'),
                chunk(b"data: [DONE]\n\n"),
                END,
            ]
        }
    )
    assert ex.error is None and ex.status == 200 and ex.is_sse
    events = ex.events
    assert [e.data for e in events] == ['{"a":1}', '{"a":2}', "[DONE]"]
    assert events[1].t_ns - events[0].t_ns >= 40_000_000


def test_stall_is_classified() -> None:
    ex = record({"/chat/completions": [sse_head(), chunk(b'data: {"a":1}\n\n'), 3.0, END]})
    assert ex.error_kind == "stall"
    assert len(ex.events) == 1


def test_no_headers_is_a_timeout() -> None:
    ex = record({"/chat/completions": [3.0]})
    assert ex.error_kind == "timeout" and ex.status is None


def test_incomplete_chunked_body_is_truncated() -> None:
    ex = record({"/chat/completions": [sse_head(), chunk(b'data: {"a":1}\n\n'), b"40\r\ndata: {", None]})
    assert ex.error_kind == "truncated"


def test_partial_final_event_is_truncated() -> None:
    ex = record({"/chat/completions": [sse_head(), chunk(b'data: {"a":1}\n\ndata: {"a"'), END]})
    assert ex.error_kind == "truncated"
    assert ex.sse_tail == b'data: {"a"'


def test_oversized_body_is_capped() -> None:
    big = b"x" * (17 * 1024 * 1024)  # over the default 16 MiB response cap
    ex = record({"/models": [response(200, big)]}, path="/models", body=None)
    assert ex.error_kind == "too_large" and ex.body_truncated
    assert len(ex.body) == 16 * 1024 * 1024
    assert "--max-response-bytes 16777216" in (ex.error or "")


def test_connection_refused_is_connect() -> None:
    rec = Recorder("http://127.0.0.1:9/v1", KEY, FAST)
    ex = rec.record("p", "GET", "/models")
    rec.close()
    assert ex.error_kind == "connect" and ex.status is None


def test_evidence_never_contains_the_key() -> None:
    echo = ('{"error": {"message": "bad key ' + KEY + '", "type": "x"}}').encode()
    ex = record(
        {"/chat/completions": [response(401, echo, extra=f"X-Echo: Bearer {KEY}\r\n")]},
        body={"model": "m", "messages": [], "user": KEY},
    )
    rendered = repr(render_exchange(ex, Redactor([KEY]), "MY_KEY"))
    assert KEY not in rendered
    assert "$MY_KEY" in rendered


def test_curl_line_reproduces_a_stream_request() -> None:
    ex = record({"/chat/completions": [sse_head(), chunk(b"data: [DONE]\n\n"), END]})
    line = curl_line(ex)
    assert line.startswith("curl -sS -N -X POST")
    assert '"Authorization: Bearer $OPENAI_API_KEY"' in line and KEY not in line
    assert "--data-binary" in line and '"stream": true' in line
