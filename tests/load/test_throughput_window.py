"""Rates count each request for its share inside the measured window (`results.throughput_block`).

Closed-loop users whose requests last different times drift apart. Counting only the requests sent and
finished inside the window then leaves out about one request per user, half at each edge. For 8 users and
requests of 0.4-1.0 s over a 3 s window that is about 20 % too low, and a plan sized from it over-buys
replicas. Users in lockstep (identical requests) hide it, which is why the exact-schedule truth test
(`test_figures_truth.py`) alone did not show it.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from maascheck.load.measure.results import measured_window, throughput_block
from maascheck.load.run.recorder import read_jsonl
from maascheck.sim.config import SimConfig
from maascheck.sim.server import SimServer

USERS, WARMUP_S, STOP_S = 8, 1.0, 4.0
SHORTEST_S, LONGEST_S = 0.4, 1.0
TRUE_RPS = USERS / ((SHORTEST_S + LONGEST_S) / 2)  # renewal: each user completes one per mean duration


def closed_loop(seed: int) -> list[dict[str, Any]]:
    """USERS users sending back to back from 0 s, uniform durations, cut off (cancelled) at STOP_S."""
    rng, out = random.Random(seed), []
    for _ in range(USERS):
        t = 0.0
        while t < STOP_S:
            end = t + rng.uniform(SHORTEST_S, LONGEST_S)
            done = end <= STOP_S
            out.append({"start_s": t, "end_s": min(end, STOP_S), "outcome": "ok" if done else "cancelled",
                        "output_tokens": 32 if done else 7, "warmup": t < WARMUP_S})  # fmt: skip
            t = end
    return out


def sent_and_finished_inside(records: list[dict[str, Any]]) -> float:
    """The previous estimator: ok requests sent after the warm-up ÷ first such send to the last ok end."""
    inside = [r for r in records if not r["warmup"] and r["outcome"] == "ok"]
    return len(inside) / (max(r["end_s"] for r in inside) - max(WARMUP_S, min(r["start_s"] for r in inside)))


def test_unsynchronised_users_are_counted_at_their_true_rate() -> None:
    ours, previous = [], []
    for seed in range(200):
        records = closed_loop(seed)
        ours.append(throughput_block(records, measured_window(records, WARMUP_S))["requests_per_s"])
        previous.append(sent_and_finished_inside(records))
    mean = sum(ours) / len(ours)
    assert abs(mean - TRUE_RPS) <= 0.03 * TRUE_RPS, (mean, TRUE_RPS)
    assert sum(previous) / len(previous) < 0.85 * TRUE_RPS  # the case this test exists for


def test_lockstep_users_are_exact_with_the_stop_mid_request() -> None:
    """4 users, 1.8 s requests, stopped at 6 s: 12 done and 4 cut at 1/3 each: 2.222 requests/s, 31 tokens each."""
    records = [{"start_s": k * 1.8, "end_s": min((k + 1) * 1.8, 6.0), "outcome": "ok" if k < 3 else "cancelled",
                "output_tokens": 31 if k < 3 else 0, "warmup": False} for _ in range(4) for k in range(4)]  # fmt: skip
    tp = throughput_block(records, measured_window(records, 0.0))
    assert tp["requests_per_s"] == round(4 / 1.8, 3) and tp["output_tokens_per_s"] == round(4 * 31 / 1.8, 3)


def test_goodput_weights_the_cut_requests_by_the_good_fraction() -> None:
    records: list[dict[str, Any]] = [
        {"start_s": 0.0, "end_s": 1.0, "outcome": "ok", "output_tokens": 1, "good": i % 2 == 0} for i in range(4)
    ]
    records.append({"start_s": 0.5, "end_s": 1.0, "outcome": "cancelled", "output_tokens": 0})  # half of a 1 s request
    tp = throughput_block(records, (0.0, 1.0))
    assert tp["requests_per_s"] == 4.5 and tp["goodput_rps"] == 2.25 and tp["good_fraction"] == 0.5


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_a_real_run_of_drifting_users_meets_littles_law(tmp_path: Path) -> None:
    """8 users, 8-56 output tokens, against the simulator: requests/s within 10 % of users ÷ mean E2E.

    Users ÷ mean E2E is an upper bound (each user's gap between requests is left out of it); the previous
    estimator read 0.77-0.79 of it on this run.
    """
    server = SimServer(SimConfig(max_batch=64, decode_step_ms=20.0, decode_ms_per_seq=0.1, jitter=0.2, api_key="k"))
    url = server.start_in_thread()
    try:
        argv = [sys.executable, "-m", "maascheck", "load", "--base-url", url, "--model", "sim-chat", "--users", "8",
                "--run-time", "5s", "--warmup", "1", "--input-tokens", "fixed:16", "--output-tokens", "uniform:8:56",
                "--report-dir", str(tmp_path)]  # fmt: skip
        proc = subprocess.run(argv, env={**os.environ, "OPENAI_API_KEY": "k"}, capture_output=True, text=True,
                              timeout=150)  # fmt: skip
    finally:
        server.stop()
    assert proc.returncode == 0, proc.stderr[-3000:]
    doc = json.loads((tmp_path / "results.json").read_text())
    ok = [r for r in read_jsonl(tmp_path / "requests.jsonl") if r["outcome"] == "ok"]
    mean_e2e_s = sum(r["end_s"] - r["start_s"] for r in ok) / len(ok)
    ratio = doc["throughput"]["requests_per_s"] * mean_e2e_s / 8
    assert 0.9 <= ratio <= 1.02, (ratio, doc["throughput"], mean_e2e_s)
