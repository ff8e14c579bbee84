"""Ctrl-C or SIGTERM of a load run (real subprocesses, the simulator on 127.0.0.1): every report rendered from
what was kept, the verdict `interrupted` (never a pass), one clean console line, exit 130."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from maascheck.core import schema_registry as schemas
from maascheck.load.run.recorder import read_jsonl
from tests.simulator import running_simulator

ROOT = Path(__file__).resolve().parents[2]
KEY = "maascheck-sim-key"  # the simulator's loopback-only test key
REPORTS = ("results.json", "requests.jsonl", "report.html", "report.md", "summary.csv", "requests.csv")


def _argv(face: str, url: str, out: Path) -> list[str]:
    if face == "maascheck load":
        return [sys.executable, "-m", "maascheck", "load", "--base-url", url, "--model", "sim-chat", "--users", "2",
                "--run-time", "60s", "--output-tokens", "fixed:16", "--report-dir", str(out)]  # fmt: skip
    return [sys.executable, "-m", "locust", "-f", str(ROOT / "loadtests" / "locustfile.py"), "--headless",
            "--host", url, "--model", "sim-chat", "-u", "2", "-t", "60s", "--output-tokens", "fixed:16",
            "--report-dir", str(out), "ChatUser"]  # fmt: skip


@pytest.mark.slow
@pytest.mark.timeout(150)
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
@pytest.mark.parametrize("face", ["maascheck load", "native locust"])
def test_interrupted_load_run_is_reported_honestly(face: str, sig: signal.Signals, tmp_path: Path) -> None:
    env = {**os.environ, "OPENAI_API_KEY": KEY}
    with running_simulator(api_key=KEY, decode_step_ms=5.0) as url:
        proc = subprocess.Popen(
            _argv(face, url, tmp_path), env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(read_jsonl(tmp_path / "requests.jsonl")) < 4:
            time.sleep(0.2)
        os.killpg(proc.pid, sig)  # Ctrl-C reaches the terminal's foreground process group
        stdout, stderr = proc.communicate(timeout=90)
    console = stdout + stderr
    assert proc.returncode == 130, console[-3000:]
    assert "Traceback" not in console and "KeyboardInterrupt" not in console, console[-3000:]
    assert sum("interrupted;" in line for line in console.splitlines()) == 1, console[-3000:]  # one clean line
    for name in REPORTS:
        assert (tmp_path / name).is_file(), name
    doc = json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))
    assert schemas.errors("load-results", doc) == []
    assert doc["run"]["interrupted"] is True and doc["run"]["duration_s"] < 50
    assert doc["verdict"]["passed"] is False and doc["verdict"]["interrupted"] is True
    assert doc["verdict"]["exit_code"] == 130 and doc["requests"]["total"] >= 1
    assert "**Verdict: INTERRUPTED**" in (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "INTERRUPTED" in (tmp_path / "report.html").read_text(encoding="utf-8")
