"""Real `maascheck conformance` and `maascheck load` runs against a server that echoes the key and sends
hostile text: no file a run writes, and neither stdout nor stderr, holds the key, any 8-character
fragment of it (raw or URL-encoded), a raw control character (JSON escapes its own), or raw server HTML."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.hostile.leaky import KEY, MODEL, LeakyServer
from tests.hostile.servers import DEFAULT_MODEL, HostileServer

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

KEY_ENV = "INERT_TEST_KEY"
FORMS = (KEY, quote(KEY, safe=""), KEY.replace("/", "\\/"))
FRAGMENTS = sorted({form[i : i + 8].encode() for form in FORMS for i in range(len(form) - 7)})
# C0 controls but TAB and LF, DEL, C1 controls and bidi overrides/isolates as UTF-8 encodes them.
RAW_CONTROL = re.compile(rb"[\x00-\x08\x0b-\x1f\x7f]|\xc2[\x80-\x9f]|\xe2\x80[\xaa-\xae]|\xe2\x81[\xa6-\xa9]")
RAW_HTML = re.compile(rb"(?i)<script|<img\s+src=x")


def _run(cmd: list[str]) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, KEY_ENV: KEY, "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "maascheck", *cmd], env=env, capture_output=True, timeout=240)


def _outputs(root: Path, proc: subprocess.CompletedProcess[bytes]) -> dict[str, bytes]:
    files = {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}
    return {**files, "stdout": proc.stdout, "stderr": proc.stderr}


def _leaks(outputs: dict[str, bytes]) -> list[str]:
    found = []
    for name, data in outputs.items():
        hits = [f.decode() for f in FRAGMENTS if f in data]
        if hits:
            found.append(f"{name}: {hits[:3]}")
    return found


def _raw_controls(outputs: dict[str, bytes]) -> list[str]:
    found = []
    for name, data in outputs.items():
        if name.endswith(".png"):
            continue
        m = RAW_CONTROL.search(data)
        if m:
            found.append(f"{name}: {data[max(m.start() - 40, 0) : m.end() + 20]!r}")
    return found


def _raw_html(outputs: dict[str, bytes]) -> list[str]:
    return [name for name, data in outputs.items() if name.endswith((".md", ".html", ".xml")) and RAW_HTML.search(data)]


def _assert_inert(outputs: dict[str, bytes]) -> None:
    assert _leaks(outputs) == []
    assert _raw_controls(outputs) == []
    assert _raw_html(outputs) == []


def test_conformance_outputs_hold_no_key_and_no_raw_server_text(tmp_path: Path) -> None:
    with LeakyServer() as server:
        proc = _run(
            ["conformance", "--base-url", server.base_url, "--model", MODEL, "--api-key-env", KEY_ENV,
             "--max-requests", "60", "--report-dir", str(tmp_path)]
        )  # fmt: skip
        assert any(req.bearer == KEY for req in server.seen)  # the key was sent, so it could be echoed
    assert proc.returncode in (0, 1), proc.stderr[-3000:]
    outputs = _outputs(tmp_path, proc)
    assert {"results.json", "junit.xml", "summary.md", "summary.html"} <= set(outputs)
    assert b"[REDACTED]" in outputs["results.json"]  # echoes were there, and were replaced
    assert b"\\u001b[2J" in outputs["results.json"] and b"\\u009b" in outputs["results.json"]
    _assert_inert(outputs)


def test_load_outputs_hold_no_key_and_no_raw_server_text(tmp_path: Path) -> None:
    with LeakyServer() as server:
        proc = _run(
            ["load", "--base-url", server.base_url, "--model", MODEL, "--api-key-env", KEY_ENV,
             "--users", "2", "--run-time", "3s", "--warmup", "0s", "--report-dir", str(tmp_path)]
        )  # fmt: skip
        assert any(req.bearer == KEY for req in server.seen)
    assert proc.returncode in (0, 1), proc.stderr[-3000:]
    outputs = _outputs(tmp_path, proc)
    assert {"results.json", "requests.jsonl", "report.html", "report.md", "requests.csv"} <= set(outputs)
    assert b"[REDACTED]" in outputs["requests.jsonl"]  # the error events echoed the key
    assert b"\\u009b" in outputs["requests.jsonl"]  # the C1 CSI arrived, and is written as an escape
    _assert_inert(outputs)


def test_sweep_outputs_and_step_logs_hold_no_key_and_no_raw_server_text(tmp_path: Path) -> None:
    with LeakyServer() as server:
        proc = _run(
            ["sweep", "--base-url", server.base_url, "--model", MODEL, "--api-key-env", KEY_ENV,
             "--concurrency", "1", "--step-time", "2s", "--warmup", "0s", "--report-dir", str(tmp_path)]
        )  # fmt: skip
        assert any(req.bearer == KEY for req in server.seen)
    assert proc.returncode in (0, 1), proc.stderr[-3000:]
    outputs = _outputs(tmp_path, proc)
    assert {"sweep.json", "sweep.md", "sweep.html"} <= set(outputs) and any(n.endswith(".log") for n in outputs)
    _assert_inert(outputs)


@pytest.mark.parametrize(
    ("command", "behaviour"),
    [
        pytest.param(["conformance", "--max-requests", "40"], "echo-key-masked", id="conformance-echo-key-masked"),
        pytest.param(["conformance", "--max-requests", "40"], "control-chars", id="conformance-control-chars"),
        pytest.param(["load", "--users", "2", "--run-time", "2s", "--warmup", "0s"], "echo-key", id="load-echo-key"),
        pytest.param(
            ["load", "--users", "2", "--run-time", "2s", "--warmup", "0s"], "control-chars", id="load-control-chars"
        ),
    ],
)
def test_the_catalogue_echo_and_control_servers_leave_no_trace(
    command: list[str], behaviour: str, tmp_path: Path
) -> None:
    """The cases of issue 9 as the misbehaving-server catalogue serves them (key echoed, masked middle, ANSI)."""
    with HostileServer(api_key=KEY) as server:
        proc = _run([*command, "--base-url", server.base_url(behaviour), "--model", DEFAULT_MODEL,
                     "--api-key-env", KEY_ENV, "--report-dir", str(tmp_path)])  # fmt: skip
        assert any(seen.bearer == KEY for seen in server.seen)
    assert proc.returncode in (0, 1, 2), proc.stderr[-3000:]
    outputs = _outputs(tmp_path, proc)
    assert "results.json" in outputs or proc.returncode == 2
    _assert_inert(outputs)


LOCUSTFILE = Path(__file__).resolve().parents[2] / "loadtests" / "locustfile.py"
CONFORMANCE = Path(__file__).resolve().parents[2] / "conformance"


@pytest.mark.parametrize("entry", ["locust", "pytest"])
def test_native_entry_points_print_and_write_no_key_and_no_raw_server_text(entry: str, tmp_path: Path) -> None:
    """`locust -f loadtests/locustfile.py` prints Locust's own failure table; `pytest conformance` its failures."""
    with LeakyServer() as server:
        if entry == "locust":
            cmd = [
                "locust",
                "-f",
                str(LOCUSTFILE),
                "--headless",
                "--host",
                server.base_url,
                "-u",
                "2",
                "-r",
                "2",
                "-t",
                "3s",
                "--model",
                MODEL,
                "--api-key-env",
                KEY_ENV,
                "--report-dir",
                str(tmp_path),
                "ChatUser",
            ]
        else:
            cmd = [
                "pytest",
                str(CONFORMANCE),
                "-p",
                "no:cacheprovider",
                "-rs",
                "--base-url",
                server.base_url,
                "--model",
                MODEL,
                "--api-key-env",
                KEY_ENV,
                "--max-requests",
                "40",
                "--report-dir",
                str(tmp_path),
            ]
        env = {**os.environ, KEY_ENV: KEY, "COLUMNS": "200"}
        proc = subprocess.run([sys.executable, "-m", *cmd], env=env, capture_output=True, timeout=240)  # fmt: skip
        assert any(req.bearer == KEY for req in server.seen)
    assert proc.returncode in (0, 1), proc.stderr[-3000:]
    outputs = _outputs(tmp_path, proc)
    assert "results.json" in outputs
    _assert_inert(outputs)
