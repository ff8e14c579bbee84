"""The native entry point `locust -f loadtests/locustfile.py ... -t S` runs, stops on time and reports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from maascheck.sim.config import SimConfig
from maascheck.sim.server import SimServer

LOCUSTFILE = Path(__file__).resolve().parents[2] / "loadtests" / "locustfile.py"
KEY = "maascheck-sim-key"  # the simulator's loopback-only test key


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_native_locust_run_stops_at_its_run_time_and_writes_results(tmp_path: Path) -> None:
    server = SimServer(SimConfig(api_key=KEY, decode_step_ms=1.0, seed=2))
    base_url = server.start_in_thread()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "--host", base_url,
             "-u", "3", "-r", "3", "-t", "3s", "--model", "sim-chat", "--report-dir", str(tmp_path), "ChatUser"],
            env={**os.environ, "OPENAI_API_KEY": KEY}, capture_output=True, text=True, timeout=90,
        )  # fmt: skip
    finally:
        server.stop()
    assert proc.returncode == 0, proc.stderr[-3000:]
    doc = json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))
    assert doc["requests"]["ok"] > 0
    assert doc["run"]["duration_s"] < 30, "the run did not stop at -t 3s"
    assert (tmp_path / "requests.jsonl").stat().st_size > 0
