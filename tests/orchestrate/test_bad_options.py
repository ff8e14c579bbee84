"""Every bad option value exits 2 with what is wrong, what is valid and an example, before any request,
in `maascheck` and the native entry points (`pytest conformance`, `locust -f loadtests/locustfile.py`)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LOCUSTFILE = ROOT / "loadtests" / "locustfile.py"
ME = [sys.executable, "-m", "maascheck"]
LOCUST = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless"]
PYTEST = [sys.executable, "-m", "pytest", "conformance", "-p", "no:cacheprovider", "-q"]

# (face, argv after the target, words the message carries)
CASES = [
    ("load", ["--users", "0"], ["--users '0'", ">= 1", "e.g. --users"]),
    ("load", ["--users", "-3"], ["--users '-3'"]),
    ("load", ["--rate", "0"], ["--rate '0'", "> 0"]),
    ("load", ["--profile", "opnai"], ["unknown profile 'opnai'"]),
    ("load", ["--slo", "error_rate<=2"], ["[0, 1]", "e.g. error_rate<=0.01"]),
    ("load", ["--report-dir", "/proc/version/x"], ["--report-dir", "not a folder"]),
    ("sweep", ["--concurrency", "1,2", "--profile", "opnai"], ["unknown profile 'opnai'"]),
    ("sweep", ["--concurrency", "1,2", "--step-time", "soon"], ["--step-time 'soon'"]),
    ("sweep", ["--concurrency", "1,2", "--slo", "error_rate<=2"], ["[0, 1]"]),
    ("conformance", ["--max-requests", "0"], ["--max-requests '0'"]),
    ("conformance", ["--profile", "opnai"], ["unknown profile 'opnai'"]),
    ("conformance", ["--report-dir", "/proc/version/x"], ["not a folder"]),
    ("locust", ["--slo", "error_rate<=2"], ["[0, 1]", "e.g. error_rate<=0.01"]),
    ("locust", ["--slo", "nonsense"], ["cannot parse SLO 'nonsense'"]),
    ("locust", ["--profile", "opnai"], ["unknown profile 'opnai'"]),
    ("locust", ["--request-timeout", "0"], ["--request-timeout '0'"]),
    ("load", ["--brake-error-rate", "2"], ["--brake-error-rate '2'", "<= 1", "e.g. --brake-error-rate 0.8"]),
    ("locust", ["--brake-first-n", "-1"], ["--brake-first-n '-1'", ">= 0"]),
    ("pytest", ["--max-requests", "0"], ["--max-requests '0'"]),
    ("pytest", ["--profile", "opnai"], ["unknown profile 'opnai'"]),
]


@pytest.fixture
def target() -> Iterator[tuple[str, socket.socket]]:
    """A listening loopback socket nobody should connect to: the base URL of every case."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    sock.setblocking(False)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}/v1", sock
    sock.close()


def _argv(face: str, url: str, extra: list[str]) -> list[str]:
    if face == "locust":
        return [*LOCUST, "--host", url, "--model", "sim-chat", "-u", "1", "-t", "2s", *extra, "ChatUser"]
    if face == "pytest":
        return [*PYTEST, "--base-url", url, "--model", "sim-chat", *extra]
    return [*ME, face, "--base-url", url, "--model", "sim-chat", *extra]


@pytest.mark.slow
@pytest.mark.timeout(120)
@pytest.mark.parametrize(("face", "extra", "words"), CASES, ids=[f"{c[0]}-{'-'.join(c[1])}" for c in CASES])
def test_bad_option_exits_2_before_any_request(
    face: str, extra: list[str], words: list[str], target: tuple[str, socket.socket], tmp_path: Path
) -> None:
    url, sock = target
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAASCHECK_")}
    proc = subprocess.run(
        _argv(face, url, extra), capture_output=True, text=True, timeout=100, cwd=ROOT, env=env
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 2, out[-3000:]
    for word in words:
        assert word in out, out[-3000:]
    assert "Traceback" not in out
    with pytest.raises(BlockingIOError):
        sock.accept()  # no connection was made
