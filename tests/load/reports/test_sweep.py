"""`maascheck sweep` orchestration, reports and exit codes, with each step faked by a synthetic
saturating server (no subprocess): throughput scales up to CAPACITY users, then ITL stretches and
requests queue for a slot, so TTFT climbs."""

from __future__ import annotations

import argparse
import base64
import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest

from maascheck.cli import main
from maascheck.core.errors import ConfigError
from maascheck.load.report.render import render_all
from maascheck.load.sweep import cli as sweep
from maascheck.load.sweep.ladder import StepCommand, geometric_levels, parse_levels, step_command
from maascheck.load.sweep.runner import StepRun, run_step
from tests.load.reports.conftest import HOSTILE, SECRET
from tests.load.reports.synthetic import make_records, make_results, write_run

CAPACITY = 8
SLO = "ttft_ms.p95<=300"


def fake_step(cmd: StepCommand, *, render: bool = False) -> StepRun:
    """A step against a server with CAPACITY slots: ITL x load/CAPACITY and a queueing wait past it."""
    users = int(cmd.argv[cmd.argv.index("--users") + 1])
    over = max(1.0, users / CAPACITY)
    records = make_records(
        users * 12, users=users, ttft_ms=80 + (over - 1) * 900, itl_ms=20 * over, warmup=users
    )
    slos = []
    for expr in (cmd.argv[i + 1] for i, a in enumerate(cmd.argv) if a == "--slo"):
        m = re.fullmatch(r"(\w+)\.(\w+)(<=)([\d.]+)", expr)
        assert m, expr
        slos.append({"metric": m[1], "stat": m[2], "op": m[3], "threshold": float(m[4])})
    results = make_results(records, users=users, slos=slos)
    write_run(cmd.report_dir, records, results)
    if render:
        render_all(cmd.report_dir)
    return StepRun(results["verdict"]["exit_code"], results, None, 0.1, cmd.report_dir / "load.log")


def _args(tmp_path: Path, *extra: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    sweep.configure(parser)
    args = parser.parse_args(
        ["--base-url", "http://127.0.0.1:9/v1", "--model", "sim-chat", "--report-dir", str(tmp_path), *extra]
    )
    args.passthrough = []
    return args


@pytest.fixture(scope="module")
def swept(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("sweep")
    args = _args(out, "--concurrency", "2,4,8,16,32", "--slo", SLO, "--no-early-stop")
    return out, sweep.run_sweep(args, out, runner=lambda cmd: fake_step(cmd, render=cmd.level == CAPACITY))


def test_capacity_and_knee_found_at_the_server_capacity(swept: tuple[Path, dict[str, Any]]) -> None:
    _, doc = swept
    assert doc["result"]["capacity"] == CAPACITY and doc["result"]["knee"] == CAPACITY
    assert doc["result"]["exit_code"] == 0
    assert [s["status"] for s in doc["steps"]] == ["passed", "passed", "passed", "failed", "failed"]
    effs = [s["efficiency"] for s in doc["steps"]]
    assert effs[0] is None and min(effs[1:3]) > 0.6 and max(effs[3:]) < 0.2


def test_sweep_files_and_plots(swept: tuple[Path, dict[str, Any]]) -> None:
    out, doc = swept
    for name in ("sweep.json", "sweep.csv", "sweep.md", "sweep.html"):
        assert (out / name).is_file(), name
    assert json.loads((out / "sweep.json").read_text()) == doc
    assert doc["schema"] == "maascheck/sweep-results/1"
    html = (out / "sweep.html").read_text()
    images = re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    assert len(images) == 4  # throughput vs load, goodput vs load, latency vs throughput, distributions per step
    assert all(base64.b64decode(b)[:4] == b"\x89PNG" for b in images)
    assert not re.search(r"""(?i)(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert not re.search(r"(?i)<(script|link)\b", html)
    assert '<a href="step-8/report.html">' in html and (out / "step-8" / "report.html").is_file()
    rows = (out / "sweep.csv").read_text().splitlines()
    assert rows[0].startswith("load,label,status") and len(rows) == 6
    md = (out / "sweep.md").read_text()
    assert "Capacity under SLOs (ttft_ms.p95&lt;=300): 8 users" in md
    assert "Knee (throughput saturation): 8 users" in md
    assert "| 16 | failed |" in md


def test_early_stop_after_a_bad_failure(tmp_path: Path) -> None:
    doc = sweep.run_sweep(
        _args(tmp_path, "--concurrency", "2,4,8,16,32", "--slo", SLO), tmp_path, runner=fake_step
    )
    assert [s["load"] for s in doc["steps"]] == [2, 4, 8, 16]
    assert "missed by more than 2x" in doc["result"]["stopped_early"]
    assert doc["result"]["capacity"] == CAPACITY


def test_no_slo_reports_the_knee_and_passes(tmp_path: Path) -> None:
    doc = sweep.run_sweep(_args(tmp_path, "--start", "4", "--stop", "16"), tmp_path, runner=fake_step)
    assert [s["load"] for s in doc["steps"]] == [4, 8, 16]
    assert doc["result"]["capacity"] is None and doc["result"]["knee"] == CAPACITY
    assert doc["result"]["exit_code"] == 0 and {s["status"] for s in doc["steps"]} == {"ran"}


def test_exit_1_when_no_level_passes(tmp_path: Path) -> None:
    doc = sweep.run_sweep(_args(tmp_path, "--concurrency", "16,32", "--slo", SLO), tmp_path, runner=fake_step)
    assert doc["result"]["capacity"] is None and doc["result"]["exit_code"] == 1


def test_failed_steps_are_recorded_and_stop_the_sweep(tmp_path: Path) -> None:
    def broken(cmd: StepCommand) -> StepRun:
        return StepRun(1, None, "exit code 1; no results.json was written", 0.1, cmd.report_dir / "load.log")

    doc = sweep.run_sweep(_args(tmp_path, "--concurrency", "1,2", "--slo", SLO), tmp_path, runner=broken)
    assert [s["status"] for s in doc["steps"]] == ["error"]
    assert doc["result"]["exit_code"] == 1 and "no results" in doc["result"]["stopped_early"]
    assert "no results.json was written" in (tmp_path / "sweep.html").read_text()


def test_step_command_passes_target_and_bounds(tmp_path: Path) -> None:
    cmd = step_command(
        level=8,
        mode="concurrency",
        sweep_dir=tmp_path,
        step_time_s=10,
        warmup_s=2,
        max_requests=500,
        slos=[SLO],
        target={"base_url": "http://127.0.0.1:9/v1", "api_key_env": "MY_KEY"},
        extra=["--input-tokens", "fixed:16"],
        grace_s=30,
    )
    argv = cmd.argv
    assert argv[:4] == [sys.executable, "-m", "maascheck.cli", "load"]
    pairs = {argv[i]: argv[i + 1] for i in range(4, len(argv) - 1) if argv[i].startswith("--")}
    assert pairs["--users"] == "8" and pairs["--run-time"] == "12" and pairs["--warmup"] == "2"
    assert pairs["--max-requests"] == "500" and pairs["--slo"] == SLO and pairs["--api-key-env"] == "MY_KEY"
    assert pairs["--report-dir"] == str(tmp_path / "step-8") and argv[-2:] == ["--input-tokens", "fixed:16"]
    assert cmd.timeout_s == 42
    rate = step_command(
        level=2.5,
        mode="rate",
        sweep_dir=tmp_path,
        step_time_s=10,
        warmup_s=0,
        max_requests=0,
        slos=[],
        target={},
        extra=[],
        grace_s=30,
    )
    assert "--rate" in rate.argv and "2.5" in rate.argv and rate.report_dir.name == "step-r2.5"
    assert "--max-requests" not in rate.argv


@pytest.mark.parametrize(
    ("text", "integer", "expected"),
    [("1,2,4,8", True, [1, 2, 4, 8]), ("0.5, 1.5,3", False, [0.5, 1.5, 3])],
)
def test_parse_levels(text: str, integer: bool, expected: list[float]) -> None:
    assert parse_levels(text, integer=integer, flag="--x") == expected


@pytest.mark.parametrize("text", ["", "a,b", "4,2", "1,1", "0,1", "1.5,3"])
def test_bad_levels_are_config_errors(text: str) -> None:
    with pytest.raises(ConfigError, match=r"e\.g\. --concurrency"):
        parse_levels(text, integer=True, flag="--concurrency")


def test_geometric_ladder() -> None:
    assert geometric_levels(1, 32, 2, integer=True) == [1, 2, 4, 8, 16, 32]
    assert geometric_levels(1, 20, 3, integer=True) == [1, 3, 9, 20]
    with pytest.raises(ConfigError):
        geometric_levels(4, 2, 2, integer=True)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--model", "m", "--concurrency", "1,2"], "--base-url"),
        (["--base-url", "http://127.0.0.1:9/v1", "--model", "m"], "exactly one ladder"),
        (
            [
                "--base-url",
                "http://127.0.0.1:9/v1",
                "--model",
                "m",
                "--concurrency",
                "1",
                "--rate-steps",
                "1",
            ],
            "exactly one ladder",
        ),
        (
            ["--base-url", "http://127.0.0.1:9/v1", "--model", "m", "--concurrency", "1", "--slo", "ttft<<5"],
            "SLO",
        ),
        (
            [
                "--base-url",
                "http://127.0.0.1:9/v1",
                "--model",
                "m",
                "--concurrency",
                "1",
                "--knee-efficiency",
                "2",
            ],
            "knee-efficiency",
        ),
    ],
)
def test_cli_config_errors_exit_2(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sweep", *argv]) == 2
    assert message in capsys.readouterr().err


def test_step_runner_bounds_a_hung_step(tmp_path: Path) -> None:
    cmd = StepCommand(1, tmp_path / "step-1", [sys.executable, "-c", "import time; time.sleep(60)"], 1.0)
    run = run_step(cmd)
    assert run.exit_code is None and run.results is None and "timed out after 1 s" in (run.error or "")
    assert run.wall_s < 30


def test_step_runner_reports_usage_errors(tmp_path: Path) -> None:
    code = "import sys; print('maascheck load: error: unknown option --bogus'); sys.exit(2)"
    with pytest.raises(ConfigError, match="unknown option --bogus"):
        run_step(StepCommand(1, tmp_path / "step-1", [sys.executable, "-c", code], 30.0))


def test_sweep_reports_escape_and_redact_step_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)

    def hostile(cmd: StepCommand) -> StepRun:
        return StepRun(
            None, None, f"timed out; log tail: {HOSTILE} key={SECRET}", 0.1, cmd.report_dir / "load.log"
        )

    args = _args(tmp_path, "--concurrency", "1", "--model", HOSTILE)
    doc = sweep.run_sweep(args, tmp_path, runner=hostile)
    assert doc["result"]["exit_code"] == 1
    html, md, csv_text = ((tmp_path / f"sweep.{ext}").read_text() for ext in ("html", "md", "csv"))
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<script>" not in md.split("```")[0]
    for text in (html, md, csv_text):
        assert SECRET not in text and "[REDACTED]" in text
