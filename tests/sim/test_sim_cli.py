"""`maascheck sim` CLI: ready line, clean SIGTERM/SIGINT shutdown, config errors exit 2."""

from __future__ import annotations

import signal
import subprocess
import sys

import httpx
import pytest

from maascheck.cli import main
from tests.sim.conftest import AUTH

pytestmark = pytest.mark.timeout(60)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_serves_and_shuts_down_cleanly(sig: signal.Signals) -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "maascheck.cli",
            "sim",
            "--port",
            "0",
            "--profile",
            "taichu",
            "--fault",
            "legal-crlf",
            "--seed",
            "1",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert line.startswith("maascheck-sim listening on http://127.0.0.1:") and line.endswith("/maas/v1")
        url = line.rsplit(" ", 1)[1]
        body = {"model": "taichu_vl", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}
        assert "\r\n" in httpx.post(url + "/chat/completions", headers=AUTH, json=body).text
        proc.send_signal(sig)
        assert proc.wait(timeout=10) == 0
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--profile", "nope"], "valid: "),
        (["--fault", "nope"], "legal-crlf"),
        (["--decode-step-ms", "-1"], "--decode-step-ms"),
        (["--max-batch", "0"], "--max-batch"),
        (["--exact-schedule", "--ttft-ms", "5"], "--itl-ms"),
        (["--itl-ms", "5"], "--exact-schedule"),
    ],
)
def test_bad_config_exits_2(argv: list[str], needle: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sim", "--port", "0", *argv]) == 2
    assert needle in capsys.readouterr().err


def test_list_faults(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sim", "--list-faults"]) == 0
    out = capsys.readouterr().out
    assert "legal-keepalive-comments" in out and "breaks:" in out
