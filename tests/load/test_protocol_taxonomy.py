"""Protocol errors judged on every load response: unit cases of the taxonomy, and real `maascheck load`
runs against the simulator whose load faults break a known share of streams (rate 1 / SHARE)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from maascheck.core import schema_registry as schemas
from maascheck.load.measure.events import parse_stream
from maascheck.load.measure.protocol import protocol_block, protocol_errors
from maascheck.sim.config import SimConfig
from maascheck.sim.faults.load import SHARE
from maascheck.sim.server import SimServer

KEY = "maascheck-sim-key"  # the simulator's loopback-only test key


def _chunk(content: str | None, finish: str | None = None, **top: Any) -> bytes:
    obj = {"id": "c1", "created": 1, "model": "m", "choices": [{"index": 0, "delta": {"content": content},
           "finish_reason": finish}], **top}  # fmt: skip
    return b"data: " + json.dumps(obj).encode()


USAGE = (
    b'data: {"id":"c1","created":1,"model":"m","choices":[],'
    b'"usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7}}'
)
DONE = b"data: [DONE]"


def _kinds(events: list[bytes], outcome: str = "ok") -> list[str]:
    chunks = parse_stream(events, list(range(len(events))))
    return [kind for kind, _ in protocol_errors(outcome, chunks)]


@pytest.mark.parametrize(
    ("events", "outcome", "expected"),
    [
        ([_chunk("a"), _chunk("b", "stop"), USAGE, DONE], "ok", []),
        ([_chunk("a"), _chunk("b"), USAGE, DONE], "ok", ["finish_reason"]),
        ([_chunk("a", "stop"), _chunk("b", "stop"), USAGE, DONE], "ok", ["finish_reason"]),
        ([_chunk("a"), _chunk("b", "stop", id="c2"), USAGE, DONE], "ok", ["id_changed"]),
        ([_chunk("a"), _chunk("b", "stop", created=2), USAGE, DONE], "ok", ["created_changed"]),
        ([_chunk("a"), _chunk("b", "stop", model="n"), USAGE, DONE], "ok", ["model_changed"]),
        ([_chunk("a"), _chunk("b", "stop"), USAGE.replace(b'"total_tokens":7', b'"total_tokens":8'), DONE], "ok",
         ["usage_arithmetic"]),
        ([_chunk("a"), _chunk("b"), _chunk("c", "stop"),
          USAGE.replace(b'"completion_tokens":2,"total_tokens":7', b'"completion_tokens":1,"total_tokens":6'), DONE],
         "ok", ["usage_below_received"]),
        ([_chunk("a"), _chunk("b", "stop"), DONE, _chunk("c")], "ok", ["data_after_done"]),
        ([_chunk("a"), _chunk("b", "stop"), USAGE], "no_done", ["no_done"]),
        ([_chunk("a")], "truncated", ["truncated"]),
        ([_chunk("a")], "idle_timeout", ["stalled"]),
        ([_chunk("a")], "cancelled", []),
        ([], "connect_error", []),
    ],
)  # fmt: skip
def test_protocol_kinds_of_one_response(events: list[bytes], outcome: str, expected: list[str]) -> None:
    assert _kinds(events, outcome) == expected


def test_block_counts_rates_and_examples() -> None:
    records = [{"rid": i, "outcome": "ok", "protocol_errors": ["truncated"] if i % 4 == 0 else [],
                "protocol_detail": "truncated" if i % 4 == 0 else None} for i in range(40)]  # fmt: skip
    records.append({"rid": 99, "outcome": "cancelled", "protocol_errors": []})
    block = protocol_block(records)
    assert block["judged"] == 40 and block["broken"] == 10 and block["protocol_error_rate"] == 0.25
    assert block["by_kind"]["truncated"]["count"] == 10 and block["by_kind"]["truncated"]["rate"] == 0.25
    assert [e["rid"] for e in block["by_kind"]["truncated"]["examples"]] == [0, 4, 8]


def _run(tmp_path: Path, faults: list[str], users: int, *extra: str) -> tuple[int, dict[str, Any]]:
    server = SimServer(SimConfig(api_key=KEY, decode_step_ms=1.0, seed=2, faults=faults))
    base_url = server.start_in_thread()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "maascheck", "load", "--base-url", base_url, "--model", "sim-chat",
             "--users", str(users), "--run-time", "4s", "--warmup", "0s", "--max-requests", "120",
             "--output-tokens", "fixed:8", "--report-dir", str(tmp_path), *extra],
            env={**os.environ, "OPENAI_API_KEY": KEY}, capture_output=True, text=True, timeout=100,
        )  # fmt: skip
    finally:
        server.stop()
    doc = json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))
    assert not schemas.errors("load-results.json", doc)
    return proc.returncode, doc


@pytest.mark.slow
@pytest.mark.timeout(150)
def test_clean_simulator_has_no_protocol_error(tmp_path: Path) -> None:
    code, doc = _run(tmp_path, [], 4)
    assert doc["protocol"]["broken"] == 0 and doc["protocol"]["protocol_error_rate"] == 0, doc["protocol"]
    assert doc["protocol"]["judged"] > 20 and code == 0 and doc["verdict"]["passed"]


@pytest.mark.slow
@pytest.mark.timeout(150)
@pytest.mark.parametrize(("fault", "kind"), [("load-truncate-share", "truncated"), ("load-no-done-share", "no_done")])
def test_share_faults_are_counted_at_their_rate(tmp_path: Path, fault: str, kind: str) -> None:
    code, doc = _run(tmp_path, [fault], 1)
    protocol, judged = doc["protocol"], doc["protocol"]["judged"]
    assert judged > 20, doc["requests"]
    count = protocol["by_kind"][kind]["count"]
    assert abs(count - judged / SHARE) <= 1, (count, judged)  # every SHARE-th stream, phase unknown
    assert set(protocol["by_kind"]) == {kind} and protocol["broken"] == count
    assert protocol["by_kind"][kind]["examples"][0]["rid"] is not None
    assert code == 1 and any("protocol errors" in r for r in doc["verdict"]["reasons"])
    assert doc["throughput"]["good_fraction"] <= 1 - protocol["protocol_error_rate"] + 1e-3  # broken is not good
    md = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert md.index("## Protocol errors") < md.index("## Target and load settings") and f"| {kind} | {count} |" in md


@pytest.mark.slow
@pytest.mark.timeout(150)
def test_usage_corrupted_only_under_concurrency(tmp_path: Path) -> None:
    _, alone = _run(tmp_path / "one", ["load-usage-busy"], 1)
    _, busy = _run(tmp_path / "four", ["load-usage-busy"], 4, "--slo", "protocol_error_rate<=1")
    assert alone["protocol"]["broken"] == 0, alone["protocol"]
    assert busy["protocol"]["by_kind"]["usage_arithmetic"]["count"] > busy["protocol"]["judged"] / 2
    assert busy["verdict"]["passed"], busy["verdict"]  # an SLO on protocol_error_rate replaces the default gate


def test_extra_body_merges_into_every_body_and_refuses_the_workloads_fields() -> None:
    from maascheck.load.workload.payloads import BodyOptions, build_body, parse_extra_body
    from maascheck.load.workload.workloads import Prompt

    body = json.loads(build_body("chat", Prompt("hi", 4, 1), BodyOptions("m", extra={"ignore_eos": True, "top_k": 5})))
    assert body["ignore_eos"] is True and body["top_k"] == 5 and body["max_tokens"] == 4 and body["stream"] is True
    for bad in ("[1]", "not json", '{"stream": false}', '{"model": "x"}'):
        with pytest.raises(ValueError):
            parse_extra_body(bad)


def test_bad_extra_body_exits_2_before_any_request(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "maascheck", "load", "--base-url", "http://127.0.0.1:9", "--model", "m",
         "--extra-body", '{"stream": false}', "--report-dir", str(tmp_path)],
        env={**os.environ, "OPENAI_API_KEY": KEY}, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 2 and "--extra-body" in proc.stderr and "ignore_eos" in proc.stderr, proc.stderr


@pytest.mark.slow
@pytest.mark.timeout(150)
def test_extra_body_and_prompt_cache_reads_are_in_results(tmp_path: Path) -> None:
    # the openai persona answers unknown fields (ignore_eos) with 400: a spec field shows the merge
    _, doc = _run(tmp_path, [], 2, "--extra-body", '{"temperature": 0.5}', "--workload", "shared-prefix")
    assert doc["workload"]["extra_body"] == {"temperature": 0.5}, doc["requests"]
    tokens = doc["tokens"]
    assert tokens["cache_reporting_requests"] == doc["requests"]["ok"] > 0, (doc["requests"], doc["verdict"])
    assert tokens["cached_prompt_tokens"] > 0 and 0 < tokens["prompt_cache_hit_rate"] < 1, tokens
