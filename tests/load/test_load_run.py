"""Real `maascheck load` runs (Locust subprocess) against the local exact-schedule server."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from maascheck.core import schema_registry as schemas
from maascheck.load.measure.results import metrics_block
from maascheck.load.run.recorder import read_jsonl

MAASCHECK = [sys.executable, "-m", "maascheck.cli", "load"]


def load(url: str, out: Path, *extra: str, model: str = "exact") -> tuple[int, dict[str, Any]]:
    argv = [*MAASCHECK, "--base-url", url, "--model", model, "--report-dir", str(out), *extra]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    doc = json.loads((out / "results.json").read_text()) if (out / "results.json").exists() else {}
    assert doc, proc.stderr[-2000:]
    assert schemas.errors("load-results", doc) == []  # through the registry: it refs preflight.json
    return proc.returncode, doc


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_exact_schedule_metrics_and_slo_pass(exact_url: str, tmp_path: Path) -> None:
    code, doc = load(
        exact_url,
        tmp_path,
        "--users",
        "4",
        "--run-time",
        "4s",
        "--warmup",
        "1s",
        "--output-tokens",
        "fixed:32",
        "--slo",
        "ttft_ms.p50<=200",
        "--slo",
        "error_rate<=0",
    )
    m = doc["metrics"]
    assert code == 0 and doc["verdict"]["passed"]
    assert doc["requests"]["warmup_excluded"] > 0 and doc["requests"]["failed"] == 0
    assert abs(m["ttft_ms"]["p50"] - 100) / 100 < 0.05 + 0.03  # 5% + the Python test server's own lateness
    assert abs(m["itl_ms"]["p50"] - 10) / 10 < 0.05
    assert abs(m["tpot_ms"]["p50"] - 10) / 10 < 0.05
    records = read_jsonl(tmp_path / "requests.jsonl")
    assert len(records) == doc["requests"]["total"] + doc["requests"]["warmup_excluded"]


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_unmeetable_slo_exits_1(exact_url: str, tmp_path: Path) -> None:
    code, doc = load(
        exact_url,
        tmp_path,
        "--users",
        "2",
        "--max-requests",
        "4",
        "--run-time",
        "20s",
        "--output-tokens",
        "fixed:4",
        "--slo",
        "ttft_ms.p95<=10",
    )
    assert code == 1 and doc["slos"][0]["passed"] is False and doc["slos"][0]["measured"] > 10
    assert doc["requests"]["total"] == 4 and doc["run"]["stopped_by"] == "max_requests"


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_two_processes_merge_exactly(exact_url: str, tmp_path: Path) -> None:
    code, doc = load(
        exact_url,
        tmp_path,
        "--users",
        "4",
        "--run-time",
        "3s",
        "--processes",
        "2",
        "--output-tokens",
        "fixed:16",
    )
    records = read_jsonl(tmp_path / "requests.jsonl")
    assert code == 0 and {w["id"] for w in doc["workers"]} == {"w0", "w1"}
    assert not any(w["lost"] for w in doc["workers"])
    assert {r["worker"] for r in records} == {"w0", "w1"}
    assert metrics_block([r for r in records if not r["warmup"]]) == doc["metrics"]
    per_worker = sum(len(read_jsonl(tmp_path / f"requests-w{i}.jsonl")) for i in (0, 1))
    assert per_worker == len(records)


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_error_kinds_are_counted(exact_url: str, tmp_path: Path) -> None:
    code, doc = load(
        exact_url, tmp_path, "--users", "2", "--max-requests", "4", "--run-time", "20s", "--no-preflight",
        model="http-429",
    )  # --no-preflight: the preflight would stop a target that answers only 429 before any load
    assert doc["requests"]["errors_by_kind"] == {"http_429": 4} and code == 1  # no request succeeded


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_interrupted_run_keeps_records(exact_url: str, tmp_path: Path) -> None:
    argv = [
        *MAASCHECK,
        "--base-url",
        exact_url,
        "--model",
        "exact",
        "--report-dir",
        str(tmp_path),
        "--users",
        "2",
        "--run-time",
        "60s",
        "--output-tokens",
        "fixed:8",
    ]
    proc = subprocess.Popen(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    jsonl = tmp_path / "requests.jsonl"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len(read_jsonl(jsonl)) < 4:
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGINT)
    proc.wait(timeout=60)
    assert len(read_jsonl(jsonl)) >= 4
    doc = json.loads((tmp_path / "results.json").read_text())
    assert doc["run"]["interrupted"] is True
