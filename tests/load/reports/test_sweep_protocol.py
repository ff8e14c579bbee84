"""A sweep judges every response of every level: per-level protocol taxonomy, and capacity within its bound.

The simulator's load faults break streams at a known rate: `load-usage-busy` corrupts the usage arithmetic
of every stream served while another one is in flight (never alone), `load-truncate-share` cuts every
SHARE-th stream. Real `maascheck sweep` runs (Locust subprocesses) against them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from maascheck.cli import main
from maascheck.sim.config import SimConfig
from maascheck.sim.faults.load import SHARE
from maascheck.sim.server import SimServer

KEY = "maascheck-sim-key"  # the simulator's loopback-only test key


@pytest.fixture
def sim(request: pytest.FixtureRequest) -> Iterator[str]:
    server = SimServer(SimConfig(api_key=KEY, decode_step_ms=1.0, seed=3, faults=list(request.param)))
    url = server.start_in_thread()
    yield url
    server.stop()


def sweep(url: str, out: Path, levels: str, monkeypatch: pytest.MonkeyPatch, *extra: str) -> tuple[int, Any]:
    monkeypatch.setenv("SWEEP_SIM_KEY", KEY)
    code = main([
        "sweep", "--base-url", url, "--model", "sim-chat", "--api-key-env", "SWEEP_SIM_KEY",
        "--concurrency", levels, "--step-time", "3", "--warmup", "0", "--max-requests-per-step", "120",
        "--output-tokens", "fixed:8", "--slo", "ttft_ms.p95<=5000", "--no-early-stop",
        "--report-dir", str(out), *extra,
    ])  # fmt: skip
    return code, json.loads((out / "sweep.json").read_text(encoding="utf-8"))


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.parametrize("sim", [["load-usage-busy"]], indirect=True)
def test_capacity_stops_below_the_level_that_breaks_the_protocol(
    sim: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Alone the streams are whole; at 4 users most are broken: within its SLO, 4 is still not capacity."""
    _, doc = sweep(sim, tmp_path, "1,4", monkeypatch)
    one, four = doc["steps"]
    assert one["protocol_error_rate"] == 0 and one["protocol_errors"] == {}, one
    assert four["protocol_errors"].get("usage_arithmetic", 0) > four["requests"]["total"] / 2, four
    assert four["protocol_error_rate"] > 0.5, four
    assert doc["result"]["capacity"] == 1, doc["result"]
    assert "protocol" in (doc["result"].get("capacity_reason") or ""), doc["result"]
    html = (tmp_path / "sweep.html").read_text(encoding="utf-8") if (tmp_path / "sweep.html").is_file() else ""
    md = next(tmp_path.glob("*.md")).read_text(encoding="utf-8")
    assert "protocol_error_rate" in md or "protocol" in html, "the sweep report shows the per-level rate"


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.parametrize("sim", [["load-truncate-share"]], indirect=True)
def test_each_level_counts_the_truncated_share(sim: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every SHARE-th stream is cut at each level: the level's taxonomy counts 1/SHARE of its responses."""
    _, doc = sweep(sim, tmp_path, "1,2", monkeypatch, "--slo", "protocol_error_rate<=0.5", "--slo", "error_rate<=0.5")
    for step in doc["steps"]:
        total, cut = step["requests"]["total"], step["protocol_errors"].get("truncated", 0)
        assert total > 20, step
        # Server-wide every SHARE-th stream, the level's first phase unknown; in-flight cancels not judged.
        assert abs(cut - total / SHARE) <= 2 + step["load"], (cut, total, step["load"])
        assert set(step["protocol_errors"]) == {"truncated"}, step
    assert doc["result"]["capacity"] == 2, doc["result"]  # within the bounds the SLOs name (cut streams are errors too)
