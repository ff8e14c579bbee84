"""The default error-rate gate: a load run whose requests mostly fail never passes without an SLO (issue 9.4)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from maascheck.load.measure.slo import parse_slo
from maascheck.load.run.options import DEFAULT_MAX_ERROR_RATE, with_default_error_gate
from tests.hostile.servers import DEFAULT_KEY, DEFAULT_MODEL, HostileServer

CASES = [  # (given SLOs, --max-error-rate, expected gate expressions)
    ([], DEFAULT_MAX_ERROR_RATE, [f"error_rate<={DEFAULT_MAX_ERROR_RATE:g}"]),
    (["ttft_ms.p95<=500"], 0.01, ["ttft_ms.p95<=500", "error_rate<=0.01"]),
    (["error_rate<=0.2"], 0.01, ["error_rate<=0.2"]),  # an explicit error_rate SLO replaces the default
    (["ttft_ms.p95<=500"], 1.0, ["ttft_ms.p95<=500"]),  # 1 turns the default off
]


@pytest.mark.parametrize(("given", "rate", "expected"), CASES)
def test_the_default_gate_is_added_unless_error_rate_is_gated(
    given: list[str], rate: float, expected: list[str]
) -> None:
    gates = with_default_error_gate([parse_slo(e) for e in given], rate)
    assert [g.expr for g in gates] == expected


@pytest.fixture(scope="module")
def half_503() -> Iterator[str]:
    with HostileServer("half-503", max_answer_s=30) as srv:
        yield srv.base_url()


def _load(url: str, out: Path, *extra: str) -> tuple[int, dict[str, object]]:
    argv = [sys.executable, "-m", "maascheck", "load", "--base-url", url, "--model", DEFAULT_MODEL, "--users", "2",
            "--run-time", "3s", "--no-brakes", "--report-dir", str(out), *extra]  # fmt: skip
    proc = subprocess.run(argv, env={**os.environ, "OPENAI_API_KEY": DEFAULT_KEY}, capture_output=True, text=True,
                          timeout=120)  # fmt: skip
    return proc.returncode, json.loads((out / "results.json").read_text(encoding="utf-8"))


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_half_503_answers_fail_the_run_by_default_and_pass_only_when_the_gate_is_lifted(
    half_503: str, tmp_path: Path
) -> None:
    code, doc = _load(half_503, tmp_path / "default")
    verdict = doc["verdict"]
    assert code == 1 and isinstance(verdict, dict) and not verdict["passed"], verdict
    assert any("error_rate<=" in r for r in verdict["reasons"]), verdict
    code, doc = _load(half_503, tmp_path / "lifted", "--slo", "error_rate<=0.9")
    assert code == 0, doc["verdict"]
