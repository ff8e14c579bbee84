"""Open-loop arrivals, load shapes and cancelled requests: real `maascheck load` runs against the simulator.

The simulator (`maascheck.sim.server.SimServer`, in a thread of the test process) runs on 127.0.0.1;
Locust runs as `maascheck load`'s subprocess. Tolerances are generous: these check behaviour, not
figures (the figures belong to `maascheck bench-client`).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from maascheck.core import schema_registry as schemas
from maascheck.load.run.recorder import read_jsonl
from maascheck.sim.config import DEFAULT_API_KEY, SimConfig
from maascheck.sim.server import SimServer

KEY_ENV = "MAASCHECK_TEST_SIM_KEY"


def sim(**overrides: Any) -> Iterator[str]:
    """A simulator with fast, jitter-free steps (plus `overrides`); yields its base URL."""
    config = SimConfig(decode_step_ms=5.0, decode_ms_per_seq=0.0, prefill_ms_per_token=0.0, jitter=0.0)
    for name, value in overrides.items():
        setattr(config, name, value)
    server = SimServer(config)
    url = server.start_in_thread()
    yield url
    server.stop()


@pytest.fixture(scope="module")
def sim_url() -> Iterator[str]:
    """An unsaturated simulator (max_batch 64)."""
    yield from sim(max_batch=64)


@pytest.fixture(scope="module")
def saturated_url() -> Iterator[str]:
    """A simulator that serves one sequence at a time (max_batch 1): about 20 requests/s of 8 tokens."""
    yield from sim(max_batch=1)


def load(url: str, out: Path, *extra: str) -> tuple[dict[str, Any], list[dict[str, Any]], str]:
    """Run `maascheck load`; the validated results.json, its records and the console output."""
    argv = [
        sys.executable, "-m", "maascheck.cli", "load", "--base-url", url, "--model", "sim-chat",
        "--report-dir", str(out), "--api-key-env", KEY_ENV, "--output-tokens", "fixed:8", *extra,
    ]  # fmt: skip
    env = {**os.environ, KEY_ENV: DEFAULT_API_KEY}
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=90, env=env)
    path = out / "results.json"
    assert path.exists(), proc.stderr[-2000:]
    doc = json.loads(path.read_text())
    assert schemas.errors("load-results", doc) == []  # through the registry: it refs preflight.json
    records = [r for r in read_jsonl(out / "requests.jsonl") if not r["warmup"]]
    return doc, records, proc.stdout + proc.stderr


def ok(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in records if r["outcome"] == "ok"]


@pytest.mark.slow
@pytest.mark.timeout(120)
@pytest.mark.parametrize("arrival", ["constant", "poisson"])
def test_open_loop_records_intended_times(sim_url: str, tmp_path: Path, arrival: str) -> None:
    """Each request carries its intended send time; lag = actual - intended; E2E from intended >= E2E."""
    doc, records, _ = load(sim_url, tmp_path, "--rate", "20", "--arrival", arrival, "--run-time", "2s")
    assert doc["load"]["mode"] == "open" and doc["load"]["arrival"] == arrival
    assert doc["load"]["offered_rps"] == pytest.approx(20, rel=0.01)
    assert 20 <= len(records) <= 60  # 20/s over about 2 s
    intended = [r["intended_s"] for r in records]
    assert all(isinstance(t, float) for t in intended)
    for r in records:
        assert r["dispatch_lag_ms"] == pytest.approx((r["start_s"] - r["intended_s"]) * 1e3, abs=0.01)
        assert r["dispatch_lag_ms"] > -1.0  # never sent before its slot (clock rounding aside)
    for r in ok(records):
        assert r["e2e_from_intended_ms"] == pytest.approx(r["e2e_ms"] + r["dispatch_lag_ms"], abs=0.01)
    gaps = [b - a for a, b in zip(sorted(intended), sorted(intended)[1:], strict=False)]
    if arrival == "constant":  # evenly spaced at 1/20 s
        assert statistics.pstdev(gaps) < 0.002 and statistics.mean(gaps) == pytest.approx(0.05, rel=0.05)
    else:  # exponential gaps: spread about their mean
        assert statistics.pstdev(gaps) > 0.02 and statistics.mean(gaps) == pytest.approx(0.05, rel=0.5)
    assert doc["metrics"]["dispatch_lag_ms"]["p50"] < 50  # an over-provisioned pool sends on time


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_open_loop_shows_no_coordinated_omission(saturated_url: str, tmp_path: Path) -> None:
    """A saturated server and a small pool: requests leave late and the latency from the schedule shows it."""
    doc, records, _ = load(
        saturated_url, tmp_path, "--rate", "40", "--arrival", "constant", "--pool", "2", "--run-time", "3s"
    )
    m = doc["metrics"]
    assert m["dispatch_lag_ms"]["p50"] > 100  # the schedule ran ahead of the two busy users
    assert m["e2e_from_intended_ms"]["p50"] > 2 * m["e2e_ms"]["p50"]
    assert m["e2e_from_intended_ms"]["max"] > m["e2e_ms"]["max"] + 500
    lags = [r["dispatch_lag_ms"] for r in sorted(records, key=lambda r: r["intended_s"])]
    assert lags[-1] > lags[0] + 300  # the backlog grows over the run instead of being omitted
    assert any("dispatch lag" in w or "below the offered" in w for w in doc["client"]["warnings"])


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_step_shape_raises_concurrency(sim_url: str, tmp_path: Path) -> None:
    """Closed loop, 2 steps up to 8 users over 3 s: the second half runs more streams at once."""
    doc, records, _ = load(
        sim_url, tmp_path, "--users", "8", "--shape", "step", "--steps", "2", "--run-time", "3s",
        "--output-tokens", "fixed:20",
    )  # fmt: skip
    assert doc["load"]["shape"] == "step"

    def in_flight(t: float) -> int:
        return sum(1 for r in records if r["start_s"] <= t < r["end_s"])

    early = max(in_flight(0.3 + i / 20) for i in range(20))  # step 1 (to 1.5 s): 4 users
    late = max(in_flight(2.0 + i / 20) for i in range(20))  # step 2: 8 users
    assert early <= 4 < late <= 8


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_ramp_shape_raises_the_arrival_rate(sim_url: str, tmp_path: Path) -> None:
    """Open loop ramp from 5/s to 40/s over 3 s: the second half has clearly more arrivals."""
    _, records, _ = load(
        sim_url, tmp_path, "--rate", "40", "--shape", "ramp", "--ramp-from", "5", "--arrival", "constant",
        "--run-time", "3s",
    )  # fmt: skip
    first = sum(1 for r in records if r["intended_s"] < 1.5)
    second = sum(1 for r in records if 1.5 <= r["intended_s"] < 3.0)
    assert first == pytest.approx(1.5 * (5 + 22.5) / 2, rel=0.35)  # mean rate 13.75/s over [0, 1.5)
    assert second > 1.8 * first


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_requests_in_flight_at_the_stop_are_cancelled(tmp_path: Path) -> None:
    """Streams longer than the run end as `cancelled`: recorded, neither ok nor failed, no error rate."""
    long_streams = sim(max_batch=8, output_tokens=1000)  # 5 s per stream
    url = next(long_streams)
    try:
        doc, records, out = load(url, tmp_path, "--users", "3", "--run-time", "1.5s", "--output-tokens", "fixed:1000")
    finally:
        next(long_streams, None)
    assert [r["outcome"] for r in records] == ["cancelled"] * 3
    assert all(r["chunks"] > 10 and r["ttft_ms"] is not None for r in records)  # what was measured is kept
    rq = doc["requests"]
    assert rq["by_outcome"] == {"cancelled": 3} and rq["cancelled"] == 3
    assert rq["failed"] == 0 and rq["error_rate"] is None and rq["errors_by_kind"] == {}
    assert doc["metrics"]["ttft_ms"] is None  # excluded from latency metrics
    assert "Spawning is complete" not in out and "spawn rate" not in out.lower()  # a quiet console
