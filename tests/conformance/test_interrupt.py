"""Ctrl-C or SIGTERM of a conformance run (real subprocesses, the simulator on 127.0.0.1): results.json,
JUnit, Markdown and HTML kept, the verdict `interrupted` (never a pass), exit 130, no traceback."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from maascheck.core import schema_registry as schemas
from tests.simulator import running_simulator

ROOT = Path(__file__).resolve().parents[2]
KEY = "maascheck-sim-key"  # the simulator's loopback-only test key
REPORTS = ("results.json", "junit.xml", "summary.md", "summary.html")


def _argv(face: str, url: str, out: Path) -> list[str]:
    target = ["--base-url", url, "--model", "sim-chat", "--report-dir", str(out)]
    if face == "maascheck conformance":
        return [sys.executable, "-m", "maascheck", "conformance", *target]
    return [sys.executable, "-m", "pytest", "conformance", "-p", "no:cacheprovider", *target]


@pytest.mark.slow
@pytest.mark.timeout(150)
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
@pytest.mark.parametrize("face", ["maascheck conformance", "native pytest"])
def test_interrupted_conformance_run_is_reported_honestly(face: str, sig: signal.Signals, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAASCHECK_")} | {"OPENAI_API_KEY": KEY}
    with running_simulator(api_key=KEY, decode_step_ms=30.0) as url:
        proc = subprocess.Popen(
            _argv(face, url, tmp_path), env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, start_new_session=True,
        )  # fmt: skip
        lines: list[str] = []
        probing = threading.Event()

        def read() -> None:
            assert proc.stdout is not None
            for line in proc.stdout:
                lines.append(line)
                if line.startswith("maascheck: ["):  # a probe was made: the run is under way
                    probing.set()

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        assert probing.wait(timeout=90), "".join(lines)[-3000:]
        os.killpg(proc.pid, sig)  # Ctrl-C reaches the terminal's foreground process group
        proc.wait(timeout=120)
        reader.join(timeout=10)
        assert proc.stderr is not None
        stderr = proc.stderr.read()
    console = "".join(lines) + stderr
    assert proc.returncode == 130, console[-3000:]
    assert "Traceback" not in console, console[-3000:]
    for name in REPORTS:
        assert (tmp_path / name).is_file(), name
    doc = json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))
    assert schemas.errors("conformance-results", doc) == []
    assert doc["summary"]["verdict"] == "interrupted" and doc["summary"]["exit_code"] == 130
    assert doc["run"]["interrupted"] is True
    assert "Conformance: INTERRUPTED" in (tmp_path / "summary.md").read_text(encoding="utf-8")
    assert "verdict INTERRUPTED" in console
