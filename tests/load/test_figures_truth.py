"""Every load figure within 1% of the truth of the exact-schedule simulator (real `maascheck load` runs).

The simulator writes stream k's token at received + TTFT + k * ITL (`maascheck.sim.exact`). With
TTFT 1.2 s, ITL 20 ms and 31 tokens a request takes E2E = 1200 + 30 * 20 = 1800 ms; 4 closed-loop users
each finish one every 1.8 s, so the truth is 2.22 requests/s and 68.9 output tokens/s; each user keeps
one connection. (On a loaded 2-core machine single tokens arrive a few ms late whatever the schedule:
the long TTFT and the 600 ms of decoding keep that well within 1% of TTFT and TPOT.) The run stops
mid-request, so 4 requests are cancelled: the rates count each for the share of a request it ran.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from maascheck.core import schema_registry as schemas
from maascheck.load.run.recorder import read_jsonl
from tests.simulator import running_simulator

from .closing_server import ClosingServer

KEY = "maascheck-sim-key"  # the simulator's loopback-only test key
TTFT_MS, ITL_MS, TOKENS, USERS = 1200.0, 20.0, 31, 4
E2E_MS = TTFT_MS + (TOKENS - 1) * ITL_MS
TRUTH = {
    "ttft_ms": TTFT_MS,
    "itl_ms": ITL_MS,
    "tpot_ms": ITL_MS,
    "e2e_ms": E2E_MS,
    "requests_per_s": USERS / (E2E_MS / 1000),
    "output_tokens_per_s": USERS * TOKENS / (E2E_MS / 1000),
}


def _load(url: str, out: Path, *extra: str, model: str = "sim-chat") -> dict[str, Any]:
    argv = [sys.executable, "-m", "maascheck", "load", "--base-url", url, "--model", model,
            "--report-dir", str(out), *extra]  # fmt: skip
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=150, env={**os.environ, "OPENAI_API_KEY": KEY})
    assert (out / "results.json").is_file(), proc.stderr[-3000:]
    doc: dict[str, Any] = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert schemas.errors("load-results", doc) == []
    return doc


@pytest.fixture(scope="module")
def exact_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """One 6 s run of 4 users against the exact-schedule simulator: results.json and requests.jsonl."""
    out = tmp_path_factory.mktemp("exact")
    with running_simulator(api_key=KEY, exact_schedule=True, ttft_ms=TTFT_MS, itl_ms=ITL_MS) as url:
        doc = _load(url, out, "--users", str(USERS), "--run-time", "6s", "--output-tokens", f"fixed:{TOKENS}")
    return doc, read_jsonl(out / "requests.jsonl")


def _near(measured: float | None, truth: float, tolerance: float = 0.01) -> bool:
    return measured is not None and abs(measured - truth) <= tolerance * truth


@pytest.mark.slow
@pytest.mark.timeout(200)
def test_the_run_has_cancelled_requests_and_no_failure(exact_run: tuple[dict[str, Any], list[dict[str, Any]]]) -> None:
    doc, records = exact_run
    req = doc["requests"]
    assert req["cancelled"] == USERS and req["failed"] == 0 and req["ok"] >= 2 * USERS, req
    assert {r["output_tokens"] for r in records if r["outcome"] == "ok"} == {TOKENS}


@pytest.mark.slow
@pytest.mark.timeout(200)
@pytest.mark.parametrize("metric", ["ttft_ms", "itl_ms", "tpot_ms", "e2e_ms"])
def test_latency_p50_is_the_schedule(exact_run: tuple[dict[str, Any], list[dict[str, Any]]], metric: str) -> None:
    stats = exact_run[0]["metrics"][metric]
    assert _near(stats["p50"], TRUTH[metric]), (metric, stats, TRUTH[metric])


@pytest.mark.slow
@pytest.mark.timeout(200)
@pytest.mark.parametrize("figure", ["requests_per_s", "output_tokens_per_s"])
def test_rates_are_the_schedule(exact_run: tuple[dict[str, Any], list[dict[str, Any]]], figure: str) -> None:
    measured = exact_run[0]["throughput"][figure]
    assert _near(measured, TRUTH[figure]), (figure, measured, TRUTH[figure])


@pytest.mark.slow
@pytest.mark.timeout(200)
def test_throughput_counts_the_requests_cut_by_the_stop_for_their_share(
    exact_run: tuple[dict[str, Any], list[dict[str, Any]]],
) -> None:
    """By hand from requests.jsonl: the window runs from the first send to the stop; each request cut off
    by the stop counts for the share of a request's duration it ran, at the ok requests' mean tokens."""
    doc, records = exact_run
    ok = [r for r in records if r["outcome"] == "ok"]
    cut = [r for r in records if r["outcome"] == "cancelled"]
    first, stop = min(r["start_s"] for r in records), max(r["end_s"] for r in records)
    mean_s = sum(r["end_s"] - r["start_s"] for r in ok) / len(ok)
    shares = [min((r["end_s"] - r["start_s"]) / mean_s, 1.0) for r in cut]
    assert cut and all(0.05 < s < 0.95 for s in shares), "the run must end mid-request for this test to mean anything"
    tokens = sum(r["output_tokens"] for r in ok) + sum(shares) * TOKENS
    assert _near(doc["run"]["measured_s"], stop - first)
    assert _near(doc["throughput"]["output_tokens_per_s"], tokens / (stop - first))
    assert _near(doc["throughput"]["requests_per_s"], (len(ok) + sum(shares)) / (stop - first))


@pytest.mark.slow
@pytest.mark.timeout(200)
def test_each_user_opens_one_connection_and_reuses_it(exact_run: tuple[dict[str, Any], list[dict[str, Any]]]) -> None:
    doc, records = exact_run
    conns = doc["connections"]
    assert conns["opened"] == USERS and conns["reconnects"] == 0 and conns["retries"] == 0, conns
    assert conns["reused"] == len(records) - USERS and conns["connect_ms"]["count"] == USERS


@pytest.mark.slow
@pytest.mark.timeout(200)
def test_connections_closed_by_the_server_are_counted_as_opened_and_replaced(tmp_path: Path) -> None:
    """The server closes every connection after its response: one connection per request, all counted."""
    server = ClosingServer("close")
    with server as url:
        doc = _load(url, tmp_path, "--users", "2", "--run-time", "3s", "--no-preflight", model="m")
    conns, total = doc["connections"], doc["requests"]["total"]
    assert doc["requests"]["ok"] >= 4, doc["requests"]
    # A user stopped mid-connect may leave one connection the server accepted and the client never finished.
    assert server.accepted - 2 <= conns["opened"] <= server.accepted and conns["reused"] == 0, (conns, server.accepted)
    assert abs(conns["opened"] - server.accepted) <= 0.01 * server.accepted
    assert conns["reconnects"] == total - 2, (conns, total)  # each user's first connection is no reconnect
