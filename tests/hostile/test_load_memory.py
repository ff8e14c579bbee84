"""Real `maascheck load` runs (Locust subprocess) against misbehaving loopback servers: every run ends on time
with a results.json naming the problem, bounded request records, no traceback, and a load worker under 500 MB."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.hostile.servers import DEFAULT_KEY, DEFAULT_MODEL, HostileServer

MAX_RSS = 500 * 1024 * 1024
MAX_LINE = 64 * 1024  # bytes of one requests.jsonl line (two capped gap lists of 1000 values fit)


@pytest.fixture(scope="module")
def server() -> Iterator[HostileServer]:
    with HostileServer(max_answer_s=60) as srv:
        yield srv


def run_load(url: str, out: Path, *extra: str) -> tuple[int, str, int, float]:
    """Run `maascheck load`; returns exit code, stderr, the peak RSS of any one of its processes, and seconds."""
    # --no-preflight: these cases test the load client; the preflight would stop a silent or redirecting
    # server with exit 2 before any load (tests/orchestrate/test_preflight_commands.py covers that).
    argv = [sys.executable, "-m", "maascheck.cli", "load", "--base-url", url, "--model", DEFAULT_MODEL,
            "--report-dir", str(out), "--no-preflight", *extra]  # fmt: skip
    env = {**os.environ, "OPENAI_API_KEY": DEFAULT_KEY}
    started = time.monotonic()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    peak = 0
    root = psutil.Process(proc.pid)
    while proc.poll() is None and time.monotonic() - started < 90:
        try:
            for p in [root, *root.children(recursive=True)]:
                peak = max(peak, p.memory_info().rss)
        except psutil.Error:
            pass
        time.sleep(0.05)
    if proc.poll() is None:
        proc.kill()
    _, err = proc.communicate(timeout=30)
    return proc.returncode, err.decode("utf-8", "replace"), peak, time.monotonic() - started


# (behaviour, options, the outcomes requests may have besides cancelled, the one that must appear)
CASES = [
    ("tiny-chunks", ("--users", "2", "--run-time", "5s"), {"ok"}, "ok"),
    ("long-line", ("--users", "2", "--run-time", "6s"), {"line_too_long"}, "line_too_long"),
    ("endless-content", ("--users", "2", "--run-time", "6s", "--timeout", "3"),
     {"deadline"}, "deadline"),
    ("big-valid-stream", ("--users", "2", "--run-time", "6s"), {"ok"}, "ok"),
    ("choices-string", ("--users", "2", "--run-time", "3s"), {"bad_chunk"}, "bad_chunk"),
    ("created-1e400", ("--users", "2", "--run-time", "3s"), {"bad_json"}, "bad_json"),
    ("bare-cr", ("--users", "2", "--run-time", "3s"), {"ok"}, "ok"),
    ("redirect-307", ("--users", "1", "--run-time", "2s"), {"http_error"}, "http_error"),
    ("silent", ("--users", "1", "--run-time", "4s", "--head-timeout", "1"), {"head_timeout"}, "head_timeout"),
    ("ping-forever", ("--users", "1", "--run-time", "4s", "--request-timeout", "2"), {"deadline"}, "deadline"),
    ("endless-content", ("--users", "1", "--run-time", "5s", "--max-response-mb", "1"), {"too_large"}, "too_large"),
]  # fmt: skip


@pytest.mark.slow
@pytest.mark.timeout(150)
@pytest.mark.parametrize(("behaviour", "extra", "allowed", "required"), CASES, ids=[c[0] for c in CASES])
def test_load_run_survives_the_server_with_bounded_memory(
    server: HostileServer, tmp_path: Path, behaviour: str, extra: tuple[str, ...], allowed: set[str], required: str
) -> None:
    code, err, peak, took = run_load(server.base_url(behaviour), tmp_path, *extra)
    assert "Traceback" not in err, err[-3000:]
    doc = json.loads((tmp_path / "results.json").read_text())
    outcomes = doc["requests"]["by_outcome"]
    assert required in outcomes and set(outcomes) <= allowed | {"cancelled"}, outcomes  # cancelled: in flight
    assert code == (0 if required == "ok" else 1), (code, doc["verdict"])
    assert peak < MAX_RSS, f"peak RSS {peak / 2**20:.0f} MiB"
    run_s = float(extra[extra.index("--run-time") + 1].rstrip("s"))
    assert took < run_s + 90, took  # Locust start, stop and the reports (matplotlib) on a shared 2-core machine
    lines = (tmp_path / "requests.jsonl").read_bytes().splitlines()
    assert lines and max(map(len, lines)) < MAX_LINE
    if behaviour == "redirect-307":
        assert set(doc["requests"]["errors_by_kind"]) == {"http_307"}
    if behaviour == "tiny-chunks":  # the parse backlog's waits reach the validity block (judged, with a figure)
        check = next(c for c in doc["validity"]["checks"] if c["name"] == "parse_wait_share")
        assert isinstance(check["value"], float) and check["ok"] is (check["value"] <= check["bound"]), check
