"""PARAM rules against the simulator: the faithful one passes, each params fault fails exactly its rule.

Runs are restricted to the PARAM rules; the proof that each fault fails no rule of other areas is
tests/conformance/test_fault_proofs.py (every fault against the whole suite).
"""

from __future__ import annotations

import pytest

from maascheck.conformance.engine.runner import BUDGET_EXHAUSTED, SuiteResult
from maascheck.sim.faults import all_faults
from tests.conformance.params.conftest import run_against

PARAM_FAULTS = sorted(name for name in all_faults() if name.startswith("params-"))
OPENAI_JUDGED = [
    f for f in PARAM_FAULTS if f != "params-repetition-penalty-closed"
]  # openai has no such param
REQUEST_CEILING = 80  # the PARAM share of a full run (budgeted at 150)

pytestmark = pytest.mark.timeout(120)


def outcomes(result: SuiteResult) -> dict[str, str]:
    return {r.rule.id: r.outcome for r in result.results}


def test_faithful_simulator_passes_under_openai_within_the_request_budget() -> None:
    result = run_against()
    got = outcomes(result)
    assert {rid for rid, o in got.items() if o != "passed"} == {"PARAM-013"}, got  # no repetition_penalty
    assert len(got) == 19
    assert result.requests_made <= REQUEST_CEILING


@pytest.mark.parametrize("fault", OPENAI_JUDGED)
def test_each_fault_fails_exactly_its_rule(fault: str) -> None:
    result = run_against(fault)
    assert result.ids("failed", "error") == set(all_faults()[fault].breaks)
    failed = next(r for r in result.results if r.rule.id in all_faults()[fault].breaks)
    assert failed.outcome == "failed" and failed.message
    assert failed.evidence is not None and failed.evidence["exchanges"], "a failure carries its exchanges"


def test_repetition_penalty_fault_fails_its_rule_under_taichu() -> None:
    fault = "params-repetition-penalty-closed"
    result = run_against(fault, sim_profile="taichu", profile="taichu")
    assert result.ids("failed", "error") == set(all_faults()[fault].breaks)
    message = next(r.message for r in result.results if r.rule.id == "PARAM-013")
    assert message is not None and "at the open minimum 1 (excluded)" in message


def test_taichu_passes_its_own_profile() -> None:
    got = outcomes(run_against(sim_profile="taichu", profile="taichu"))
    assert {rid for rid, o in got.items() if o == "passed"} == {
        "PARAM-001",
        "PARAM-002",
        "PARAM-006",
        "PARAM-013",
        "PARAM-020",
        "PARAM-023",
        "PARAM-025",
    }
    assert set(got.values()) == {"passed", "skipped"}


def test_taichu_fails_temperature_and_top_p_under_the_strict_openai_profile() -> None:
    """seeds/001 temperature [0.01, 1.00] and top_p (0.0, 1.0) refuse the spec's bounds 0, 2 and 0, 1."""
    by_id = {r.rule.id: r for r in run_against(sim_profile="taichu", profile="openai").results}
    assert by_id["PARAM-001"].outcome == "failed" and by_id["PARAM-002"].outcome == "failed"
    temperature, top_p = by_id["PARAM-001"].message or "", by_id["PARAM-002"].message or ""
    assert "at the closed minimum 0" in temperature and "at the closed maximum 2" in temperature
    assert "at the closed minimum 0" in top_p and "at the closed maximum 1" in top_p


def test_top_p_5xx_is_reported_with_the_wrong_values_only() -> None:
    failed = next(r for r in run_against("params-top-p-5xx").results if r.rule.id == "PARAM-002")
    assert failed.message is not None and "rejected wrongly: HTTP 500" in failed.message
    assert failed.evidence is not None
    assert {ex["response"]["status"] for ex in failed.evidence["exchanges"]} == {500}
    assert {row["value"] for row in failed.evidence["received"]} >= {"1.01", "-0.01", '"invalid"'}
    assert "1.0" not in {row["value"] for row in failed.evidence["received"]}  # in range: still accepted


def test_an_exhausted_budget_skips_instead_of_failing() -> None:
    result = run_against(max_requests=12)
    got = outcomes(result)
    assert "failed" not in got.values() and "error" not in got.values()
    reasons = [r.reason or "" for r in result.results if r.outcome == "skipped"]
    assert any(BUDGET_EXHAUSTED in reason for reason in reasons)
    assert result.requests_made <= 12
