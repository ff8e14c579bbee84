"""Knee and capacity detection on synthetic step results (cases: cases/sweep_analysis.json)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from maascheck.load.sweep.analysis import Step, bad_failure, efficiencies, find_capacity, find_knee

CASES: list[dict[str, Any]] = json.loads(
    (Path(__file__).parent / "cases" / "sweep_analysis.json").read_text()
)["cases"]


def _steps(rows: list[list[Any]]) -> list[Step]:
    return [
        Step(load=float(load), ran=tp is not None, passed=passed, throughput=tp) for load, tp, passed in rows
    ]


@pytest.mark.parametrize("case", CASES, ids=[c["description"] for c in CASES])
def test_knee_and_capacity(case: dict[str, Any]) -> None:
    steps = _steps(case["steps"])
    knee = find_knee(steps, case.get("knee_efficiency", 0.5))
    cap = find_capacity(steps)
    assert knee.load == case["knee"], knee.reason
    assert cap.load == case["capacity"], cap.reason
    assert cap.highest_passing == case["highest_passing"]
    assert knee.reason and cap.reason


def test_efficiency_is_gain_over_ideal_linear_gain() -> None:
    effs = efficiencies(_steps([[2, 100, None], [4, 150, None], [8, 150, None]]))
    assert effs == [None, pytest.approx(0.5), pytest.approx(0.0)]


@pytest.mark.parametrize(
    ("slo", "error_rate", "expected"),
    [
        (
            {"expr": "ttft_ms.p95<=100", "op": "<=", "threshold": 100, "measured": 150, "passed": False},
            0.0,
            None,
        ),
        (
            {"expr": "ttft_ms.p95<=100", "op": "<=", "threshold": 100, "measured": 250, "passed": False},
            0.0,
            "2x",
        ),
        ({"expr": "goodput_rps>=4", "op": ">=", "threshold": 4, "measured": 1.5, "passed": False}, 0.0, "2x"),
        (
            {"expr": "ttft_ms.p95<=100", "op": "<=", "threshold": 100, "measured": 90, "passed": True},
            0.6,
            "error rate",
        ),
    ],
    ids=["missed-mildly", "missed-badly", "scalar-missed-badly", "errors"],
)
def test_early_stop_rules(slo: dict[str, Any], error_rate: float, expected: str | None) -> None:
    step = Step(load=8, ran=True, passed=slo["passed"], throughput=100, error_rate=error_rate, slos=[slo])
    why = bad_failure(step, stop_factor=2.0, max_error_rate=0.5)
    assert (why is None) if expected is None else (expected in (why or ""))


def test_step_without_results_stops_the_sweep() -> None:
    assert "no results" in (
        bad_failure(Step(load=4, ran=False, passed=None, throughput=None), 2.0, 0.5) or ""
    )


def test_capacity_stops_at_the_first_step_that_breaks_the_protocol() -> None:
    """A step within its SLOs whose responses break the protocol is not capacity (the default bound: none)."""
    steps = [
        Step(load=1, ran=True, passed=True, throughput=10, protocol_error_rate=0.0),
        Step(load=2, ran=True, passed=True, throughput=20, protocol_error_rate=0.0),
        Step(load=4, ran=True, passed=True, throughput=38, protocol_error_rate=0.04),
    ]
    capacity = find_capacity(steps)
    assert capacity.load == 2 and "broke the protocol on 4.00 %" in capacity.reason
    gated = [*steps[:2], Step(load=4, ran=True, passed=True, throughput=38, protocol_error_rate=0.04,
                               slos=[{"metric": "protocol_error_rate", "passed": True}])]  # fmt: skip
    assert find_capacity(gated).load == 4  # an SLO on protocol_error_rate sets the bound instead


def test_step_entry_and_report_carry_the_protocol_errors_per_level(tmp_path: Path) -> None:
    from maascheck.load.sweep.document import step_entry
    from maascheck.load.sweep.report import _table_rows, csv_rows
    from maascheck.load.sweep.runner import StepRun

    results = {"verdict": {"passed": False}, "requests": {"total": 40, "ok": 30, "failed": 10, "error_rate": 0.25},
               "protocol": {"judged": 40, "broken": 10, "protocol_error_rate": 0.25,
                            "by_kind": {"truncated": {"count": 10, "rate": 0.25, "examples": []}}}}  # fmt: skip
    entry = step_entry(8, "concurrency", StepRun(1, results, None, 1.0, tmp_path / "log"), has_slos=True)
    assert entry["protocol_error_rate"] == 0.25 and entry["protocol_errors"] == {"truncated": 10}
    doc = {"steps": [entry]}
    assert "25.00 % (truncated 10)" in _table_rows(doc)[0][0]
    assert 0.25 in csv_rows(doc)[0]
