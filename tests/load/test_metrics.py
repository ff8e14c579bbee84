"""Metric definitions on synthetic streams (cases as data)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from maascheck.load.client.result import StreamResult
from maascheck.load.measure.metrics import request_record
from maascheck.load.measure.results import build_results, error_kind
from maascheck.load.measure.slo import parse_slo
from maascheck.load.measure.stats import percentile, summarize

MS = 1_000_000


def ev(obj: Any) -> bytes:
    return b"data: " + (obj if isinstance(obj, bytes) else json.dumps(obj).encode())


def delta(**d: Any) -> bytes:
    return ev({"choices": [{"index": 0, "delta": d}]})


def usage(n: int, with_choices: bool = False) -> bytes:
    u = {"prompt_tokens": 7, "completion_tokens": n, "total_tokens": 7 + n}
    return ev({"choices": [{"index": 0, "delta": {"content": "x"}}] if with_choices else [], "usage": u})


DONE = ev(b"[DONE]")

# (id, [(ms, event bytes)], transport, expected fields)
CASES: list[tuple[str, list[tuple[int, bytes]], str, dict[str, Any]]] = [
    ("role-only and usage-only chunks never count",
     [(5, delta(role="assistant", content="")), (100, delta(content="a")), (110, delta(content="b")),
      (120, delta(content="c")), (121, usage(3)), (122, DONE)], "complete",
     {"outcome": "ok", "ttft_ms": 100.0, "ttfo_ms": 100.0, "e2e_ms": 120.0, "e2e_done_ms": 122.0,
      "itl_ms": [10.0, 10.0], "icl_ms": [10.0, 10.0], "tpot_ms": 10.0, "output_tokens": 3,
      "token_source": "usage", "token_mismatch": 0, "input_tokens": 7, "chunks": 3}),
    ("reasoning sets TTFT, content sets TTFO",
     [(50, delta(reasoning_content="think")), (60, delta(reasoning_content="more")),
      (90, delta(content="ok")),
      (91, DONE)], "complete",
     {"outcome": "ok", "ttft_ms": 50.0, "ttfo_ms": 90.0, "icl_ms": [10.0, 30.0], "output_tokens": 3,
      "token_source": "chunks", "tpot_ms": 20.0}),
    ("a tool_calls delta counts as a token",
     [(40, delta(tool_calls=[{"index": 0, "function": {"name": "f"}}])), (41, DONE)], "complete",
     {"ttft_ms": 40.0, "ttfo_ms": 40.0, "output_tokens": 1, "tpot_ms": None}),
    ("multi-token chunks with per-chunk usage divide the gap per token",
     [(100, usage(4, True)), (140, usage(8, True)), (141, DONE)], "complete",
     {"ttft_ms": 100.0, "icl_ms": [40.0], "itl_ms": [10.0, 10.0, 10.0, 10.0], "output_tokens": 8,
      "token_source": "usage", "token_mismatch": 0, "tpot_ms": round(40 / 7, 4)}),
    ("usage disagreeing with chunk counts is a mismatch",
     [(10, delta(content="a")), (20, delta(content="b")), (21, usage(5)), (22, DONE)], "complete",
     {"output_tokens": 5, "token_mismatch": 3, "tpot_ms": 2.5}),
    ("in-stream error event",
     [(10, delta(content="a")), (20, ev({"error": {"message": "boom"}}))], "complete",
     {"outcome": "stream_error", "error": "boom"}),
    ("missing [DONE]", [(10, delta(content="a"))], "complete", {"outcome": "no_done"}),
    ("truncated stream", [(10, delta(content="a"))], "truncated", {"outcome": "truncated"}),
    ("comments and keep-alives are ignored",
     [(1, b": keep-alive"), (30, delta(content="a")), (31, DONE)], "complete",
     {"outcome": "ok", "ttft_ms": 30.0, "chunks": 1, "events": 3}),
    ("legacy completions text", [(25, ev({"choices": [{"index": 0, "text": "hi"}]})), (26, DONE)], "complete",
     {"ttft_ms": 25.0, "ttfo_ms": 25.0}),
]  # fmt: skip


@pytest.mark.parametrize(
    ("events", "transport", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_request_record(events: list[tuple[int, bytes]], transport: str, expected: dict[str, Any]) -> None:
    result = StreamResult(
        transport=transport,
        t_send_ns=0,
        status=200,
        t_end_ns=events[-1][0] * MS,
        events=[e for _, e in events],
        event_times_ns=[t * MS for t, _ in events],
    )
    record = request_record(result)
    for key, value in expected.items():
        assert record[key] == value, key


def test_http_error_is_classified_by_status() -> None:
    result = StreamResult(transport="http_error", t_send_ns=0, status=429, error="HTTP 429: slow down")
    record = request_record(result)
    assert (record["outcome"], error_kind(record), record["ttft_ms"]) == ("http_error", "http_429", None)


def test_percentile_linear_interpolation() -> None:
    xs = [1.0, 2.0, 3.0, 4.0]
    assert (percentile(xs, 50), percentile(xs, 90), percentile(xs, 100)) == (2.5, 3.7, 4.0)
    assert summarize([None, 5]) == {
        "count": 1,
        "mean": 5.0,
        "min": 5.0,
        "p50": 5.0,
        "p90": 5.0,
        "p95": 5.0,
        "p99": 5.0,
        "max": 5.0,
    }


def test_goodput_counts_failures_against_it() -> None:
    base = {"worker": "w0", "warmup": False, "start_s": 0.0, "end_s": 1.0, "itl_ms": [], "icl_ms": []}
    records = [
        {**base, "rid": "a", "outcome": "ok", "ttft_ms": 100.0, "output_tokens": 10},
        {**base, "rid": "b", "outcome": "ok", "ttft_ms": 900.0, "output_tokens": 10},
        {**base, "rid": "c", "outcome": "timeout", "ttft_ms": None, "output_tokens": None},
    ]
    doc = build_results(
        records,
        slos=[parse_slo("ttft_ms.p50<=500"), parse_slo("error_rate<=0.5")],
        run={"warmup_s": 0.0},
        target={},
        load={},
        workload={},
        client={},
        workers=[],
        tool={},
    )
    assert [r["good"] for r in records] == [True, False, False]
    assert doc["throughput"]["good_fraction"] == round(1 / 3, 4)
    assert doc["requests"]["errors_by_kind"] == {"timeout": 1}
    assert [(s["measured"], s["passed"]) for s in doc["slos"]] == [(500.0, True), (0.3333, True)]
