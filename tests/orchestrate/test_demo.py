"""`maascheck demo` runs the main job end to end on the embedded simulator and prints a verdict."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_demo_prints_a_verdict_and_writes_both_reports(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "maascheck", "demo", "--run-time", "5s", "--report-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=280,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "overall: PASS" in proc.stdout
    assert str(tmp_path) in proc.stdout
    conformance = json.loads((tmp_path / "conformance" / "results.json").read_text(encoding="utf-8"))
    load = json.loads((tmp_path / "load" / "results.json").read_text(encoding="utf-8"))
    assert conformance["summary"]["verdict"] == "pass"
    assert conformance["run"]["requests_made"] <= 150
    assert load["verdict"]["passed"] and load["requests"]["ok"] > 0
    for name in ("summary.html", "summary.md", "junit.xml"):
        assert (tmp_path / "conformance" / name).is_file()
    for name in ("report.html", "requests.jsonl", "summary.csv"):
        assert (tmp_path / "load" / name).is_file()
