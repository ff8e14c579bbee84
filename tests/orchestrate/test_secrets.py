"""The API key never appears in console output, reports or logs of any maascheck command."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from maascheck.sim.config import SimConfig
from maascheck.sim.server import SimServer

# A distinctive, key-shaped value that exists only for this loopback test.
KEY = "sk-maascheck-loopback-" + "7" * 24


def _files_containing(root: Path, needle: str) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and needle.encode() in p.read_bytes()]


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_the_key_stays_out_of_load_and_conformance_outputs(tmp_path: Path) -> None:
    server = SimServer(SimConfig(api_key=KEY, decode_step_ms=1.0, seed=5))
    base_url = server.start_in_thread()
    env = {**os.environ, "LOOPBACK_KEY": KEY}
    me = [sys.executable, "-m", "maascheck"]
    try:
        runs = [
            [*me, "load", "--base-url", base_url, "--model", "sim-chat", "--api-key-env", "LOOPBACK_KEY",
             "--users", "2", "--run-time", "3s", "--warmup", "0s", "--report-dir", str(tmp_path / "load")],
            [*me, "conformance", "--base-url", base_url, "--model", "sim-chat", "--api-key-env", "LOOPBACK_KEY",
             "--max-requests", "40", "--report-dir", str(tmp_path / "conformance")],
        ]  # fmt: skip
        outputs = [subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=200) for cmd in runs]
    finally:
        server.stop()
    for proc in outputs:
        assert KEY not in proc.stdout and KEY not in proc.stderr, f"key printed by {proc.args[3]}"
        assert proc.returncode in (0, 1), proc.stderr[-2000:]
    assert (tmp_path / "load" / "results.json").is_file()
    assert (tmp_path / "conformance" / "results.json").is_file()
    assert _files_containing(tmp_path, KEY) == []
