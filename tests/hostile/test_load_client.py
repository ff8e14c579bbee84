"""Both load clients against every misbehaving server of the catalogue: each exchange ends within its bounds
with a named outcome (a bound with its value, a status, a bad chunk), never an exception."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from maascheck.load.client.http11 import Endpoint
from maascheck.load.client.lean import StreamClient
from maascheck.load.client.limits import KIB, MIB, Limits
from maascheck.load.client.reactor import ReactorClient
from maascheck.load.measure.metrics import request_record
from maascheck.load.workload.payloads import BodyOptions, build_body
from maascheck.load.workload.workloads import Prompt
from tests.hostile.servers import DEFAULT_KEY, DEFAULT_MODEL, HostileServer

TIGHT = Limits(
    head_s=1.0, idle_s=1.0, deadline_s=3.0, max_response_bytes=1 * MIB, max_line_bytes=256 * KIB,
    max_event_bytes=512 * KIB, max_events=20_000,
)  # fmt: skip

# (behaviour, outcome, status, words the error names), under TIGHT unless the case gives its limits
CASES: list[tuple[str, str, int | None, tuple[str, ...], Limits]] = [
    ("valid", "ok", 200, (), TIGHT),
    ("silent", "head_timeout", None, ("head_s=1",), TIGHT),
    ("drip-head", "head_timeout", None, ("head_s=1",), TIGHT),
    ("continue-forever", "head_timeout", None, ("head_s=1", "interim 1xx"), TIGHT),
    ("drip-body", "deadline", 200, ("deadline_s=3",), TIGHT),
    ("ping-forever", "deadline", 200, ("deadline_s=3",), TIGHT),
    ("endless-content", "too_large", 200, ("max_response_bytes=1048576",), TIGHT),
    ("gzip-bomb", "encoding_refused", 200, ("gzip",), TIGHT),
    ("long-line", "line_too_long", 200, ("max_line_bytes=262144",), TIGHT),
    ("tiny-chunks", "too_many_events", 200, ("max_events=20000",), Limits(max_events=20_000)),
    ("tiny-chunks", "ok", 200, (), Limits()),
    ("big-valid-stream", "ok", 200, (), Limits()),
    ("big-valid-stream", "too_large", 200, ("max_response_bytes=1048576",), TIGHT),
    ("deep-json", "bad_json", 200, ("depth",), TIGHT),
    ("lone-surrogate", "bad_json", 200, ("surrogate",), TIGHT),
    ("invalid-utf8", "bad_json", 200, (), TIGHT),
    ("created-1e400", "bad_json", 200, ("infinity",), TIGHT),
    ("choices-string", "bad_chunk", 200, ("choices is a string, expected an array",), TIGHT),
    ("usage-list", "bad_chunk", 200, ("usage is an array",), TIGHT),
    ("delta-number", "bad_chunk", 200, ("delta is an integer",), TIGHT),
    ("finish-reason-object", "bad_chunk", 200, ("finish_reason is an object",), TIGHT),
    ("bare-cr", "ok", 200, (), TIGHT),
    ("redirect-307", "http_error", 307, (), TIGHT),
    ("rate-limited", "http_error", 429, ("Rate limit",), TIGHT),
    ("echo-key", "http_error", 401, (), TIGHT),
    ("control-chars", "http_error", 400, (), TIGHT),
    ("cut", "truncated", 200, ("closed",), TIGHT),
]
BOUND_S = {"head_timeout": 1.0, "deadline": 3.0, "idle_timeout": 1.0}


@pytest.fixture(scope="module")
def server() -> Iterator[HostileServer]:
    with HostileServer(max_answer_s=30) as srv:
        yield srv


@pytest.mark.timeout(60)
@pytest.mark.parametrize("client_cls", [ReactorClient, StreamClient], ids=["reactor", "greenlet"])
@pytest.mark.parametrize(
    ("behaviour", "outcome", "status", "words", "limits"), CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES]
)
def test_each_misbehaviour_is_a_named_outcome_within_its_bound(
    server: HostileServer,
    client_cls: type[ReactorClient] | type[StreamClient],
    behaviour: str,
    outcome: str,
    status: int | None,
    words: tuple[str, ...],
    limits: Limits,
) -> None:
    client = client_cls(Endpoint.parse(server.base_url(behaviour)), {"Authorization": f"Bearer {DEFAULT_KEY}"},
                        limits=limits)  # fmt: skip
    body = build_body("chat", Prompt("hello there", 4, 2), BodyOptions(DEFAULT_MODEL))
    started = time.monotonic()
    try:
        record = request_record(client.post_stream("/chat/completions", body))
    finally:
        client.close()
    took = time.monotonic() - started
    assert (record["outcome"], record["status"]) == (outcome, status), record["error"]
    for word in words:
        assert word in str(record["error"]), record["error"]
    assert took < BOUND_S.get(outcome, 8.0) + 2.5, took
    if outcome == "ok":
        assert record["output_tokens"] and record["chunks"], record
