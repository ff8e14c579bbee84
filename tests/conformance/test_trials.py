"""--trials N: behaviour rates with Wilson intervals (issue 10.3), on simulator faults; thresholds from the profile."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from maascheck.conformance.engine.options import RunOptions
from maascheck.conformance.engine.runner import run_suite
from maascheck.conformance.engine.trials import wilson
from maascheck.conformance.report.results import from_suite
from maascheck.conformance.report.summary import render_all
from maascheck.core import schema_registry as schemas
from maascheck.core.profiles import load_profile
from tests.conformance.conftest import simulator
from tests.conformance.proofs import SIM_KEY
from tests.conformance.test_cli import _run

ONLY = ("TOOL-001", "SO-001")
THRESHOLDS = {"tool_call_schema_valid": 0.5, "forced_tool_honoured": 0.5, "json_valid": 0.5}


def test_wilson_interval_matches_the_published_values() -> None:
    # Newcombe (1998), Statistics in Medicine 17:857, Table I: 0/20 -> 0 to 0.1611, 10/20 -> 0.2993 to 0.7007.
    assert wilson(0, 20) == pytest.approx((0.0, 0.1611), abs=1e-4)
    assert wilson(10, 20) == pytest.approx((0.2993, 0.7007), abs=1e-4)
    assert wilson(20, 20) == pytest.approx((0.8389, 1.0), abs=1e-4)
    assert wilson(0, 0) == (0.0, 1.0)


def _rates(*faults: str, trials: int = 4) -> dict[str, object]:
    profile = load_profile("openai")
    profile = dataclasses.replace(profile, raw={**profile.raw, "trial_thresholds": THRESHOLDS})
    with simulator(*faults) as url:
        options = RunOptions(model="sim-chat", base_url=url, api_key=SIM_KEY, seed=1, trials=trials)
        result = run_suite(url, profile, options, only=lambda r: r.id in ONLY)
    doc = from_suite(result, options, profile)
    assert schemas.errors("conformance-results", doc) == []
    return doc


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_faithful_target_meets_every_rate_and_a_deviating_one_is_below(tmp_path: Path) -> None:
    good = _rates()
    assert good["trials"]["requests"] == 8 and good["run"]["requests_made"] >= 8 + 2
    rates = {r["name"]: r for r in good["trials"]["rates"]}
    assert {n: (r["successes"], r["trials"], r["verdict"]) for n, r in rates.items()} == {
        "tool_call_schema_valid": (4, 4, "met"),  # 4/4: the interval 0.51..1 lies over the threshold 0.5
        "forced_tool_honoured": (4, 4, "met"),
        "json_valid": (4, 4, "met"),
    }
    assert good["summary"]["exit_code"] == 0
    ignored = _rates("tool-choice-ignored", "json-mode-prose")
    rates = {r["name"]: r for r in ignored["trials"]["rates"]}
    assert rates["forced_tool_honoured"]["successes"] == 0 and rates["forced_tool_honoured"]["verdict"] == "below"
    assert rates["json_valid"]["successes"] == 0 and rates["json_valid"]["verdict"] == "below"
    assert ignored["summary"]["exit_code"] == 1  # a rate below the profile's threshold fails the run
    render_all(ignored, tmp_path)
    md = (tmp_path / "summary.md").read_text(encoding="utf-8")
    assert "## Behaviour rates over 4 trials (8 requests)" in md
    assert "| json_valid | 0/4 | 0.0% | 0.0% - 49.0% | 50% | below |" in md


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_trials_state_their_request_count_before_they_start(tmp_path: Path) -> None:
    with simulator() as url:
        proc = _run(url, tmp_path, "--trials", "20", "--", "-k", "TOOL-001")
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    stated = "trials: 20 x 2 probes (tools, so-json-object) = 40 requests"
    assert stated in proc.stdout.split("collected", 1)[0]  # in the header, before any rule runs
    doc = (tmp_path / "results.json").read_text(encoding="utf-8")
    assert '"requests": 40' in doc
