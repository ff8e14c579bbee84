"""End to end: `maascheck sweep` against the simulator (real `maascheck load` subprocesses, Locust).

The simulator runs at most MAX_BATCH sequences at once (continuous batching): up to MAX_BATCH users
throughput grows linearly, past it requests queue for a slot, so TTFT jumps by about one request's
duration and throughput stops growing. The sweep must place both the knee and the capacity under a
TTFT SLO at MAX_BATCH, within one step.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from maascheck.cli import main
from maascheck.load.sweep.plan import plan
from maascheck.sim.config import SimConfig
from maascheck.sim.server import SimServer

MAX_BATCH = 8
KEY = "e2e-sweep-key-5f1c9a77"
# Steps 4, 8, 16: one below, at and above the batch limit (each step ~8 s, mostly Locust start-up).
LEVELS = "4,8,16"


@pytest.fixture(scope="module")
def sim_url() -> Iterator[str]:
    server = SimServer(
        SimConfig(max_batch=MAX_BATCH, decode_step_ms=20.0, decode_ms_per_seq=0.1, jitter=0.0, api_key=KEY)
    )
    url = server.start_in_thread()
    yield url
    server.stop()


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_sweep_finds_the_simulator_capacity(
    sim_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("E2E_SIM_KEY", KEY)
    code = main([
        "sweep", "--base-url", sim_url, "--model", "sim-chat", "--api-key-env", "E2E_SIM_KEY",
        "--concurrency", LEVELS, "--step-time", "3", "--warmup", "1", "--max-requests-per-step", "2000",
        "--input-tokens", "fixed:16", "--output-tokens", "fixed:32", "--slo", "ttft_ms.p95<=300",
        "--report-dir", str(tmp_path), "--no-early-stop",
    ])  # fmt: skip
    assert code == 0
    doc = json.loads((tmp_path / "sweep.json").read_text())
    assert [s["status"] for s in doc["steps"]] != [] and all(s["error"] is None for s in doc["steps"])
    knee, capacity = doc["result"]["knee"], doc["result"]["capacity"]
    assert knee is not None and abs(math.log2(knee / MAX_BATCH)) <= 1, doc["result"]["knee_reason"]
    assert capacity is not None and abs(math.log2(capacity / MAX_BATCH)) <= 1, doc["result"][
        "capacity_reason"
    ]
    # maascheck plan from this sweep: users scale by the capacity; a replica's goodput at the capacity
    # cannot exceed what the configuration implies (capacity users / one request's duration, 32 decode
    # steps of 20 ms + 0.1 ms per running sequence); it leaves out prefill and the client's turnaround, and
    # a busy machine slows the simulator's steps: 93 % of it at 8 users on a quiet machine, 75 % on a busy one
    users = plan(doc, target_rate=None, target_users=40, headroom=0.0)
    assert users.replicas == math.ceil(40 / capacity), users.reason
    implied_rps = capacity / (32 * (20.0 + 0.1 * min(capacity, MAX_BATCH)) / 1000)
    rate = plan(doc, target_rate=100, target_users=None, headroom=0.3)
    assert rate.per_replica is not None and 0.5 <= rate.per_replica / implied_rps <= 1.02, (rate.reason, implied_rps)
    assert rate.replicas == math.ceil(100 / (rate.per_replica * 0.7) - 1e-9)
    html = (tmp_path / "sweep.html").read_text()
    assert len(re.findall(r'<img src="data:image/png;base64,[A-Za-z0-9+/=]{1000,}"', html)) == 4  # with goodput vs load
    for step in doc["steps"]:
        assert (tmp_path / step["dir"] / "report.html").is_file()
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert KEY not in path.read_text(encoding="utf-8", errors="replace"), path
