"""--baseline: run against run (issue 10.6), on simulator faults; --fail-on-regression gates on new failures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from maascheck.conformance.engine.options import RunOptions
from maascheck.conformance.engine.runner import run_suite
from maascheck.conformance.report import baseline
from maascheck.conformance.report.results import from_suite, write
from maascheck.core import schema_registry as schemas
from maascheck.core.errors import ConfigError
from maascheck.core.profiles import load_profile
from tests.conformance.conftest import simulator
from tests.conformance.proofs import SIM_KEY
from tests.conformance.test_cli import _run

pytestmark = [pytest.mark.timeout(600), pytest.mark.slow]
FAULTS = ("chat-no-logprobs-key", "sdk-models-500")  # break CHAT-006 and SDK-004, nothing else


def _doc(folder: Path, *faults: str, **options: Any) -> dict[str, Any]:
    with simulator(*faults) as url:
        opts = RunOptions(model="sim-chat", base_url=url, api_key=SIM_KEY, stall_timeout=1.0, seed=1, **options)
        result = run_suite(url, load_profile("openai"), opts)
    doc = from_suite(result, opts, load_profile("openai"))
    write(doc, folder / "results.json")
    assert schemas.errors("conformance-results", doc) == []
    return doc


def test_same_target_lists_no_change_and_a_deviating_one_exactly_the_differing_rules(tmp_path: Path) -> None:
    clean = _doc(tmp_path / "clean")
    again = _doc(tmp_path / "again", baseline=str(tmp_path / "clean" / "results.json"))
    assert again["baseline"]["new"] == again["baseline"]["fixed"] == again["baseline"]["unjudged"] == []
    broken = _doc(tmp_path / "broken", *FAULTS, baseline=str(tmp_path / "clean"))
    assert broken["baseline"]["new"] == ["CHAT-006", "SDK-004"] and broken["baseline"]["fixed"] == []
    assert broken["baseline"]["regressions"] == ["SDK-004"]  # CHAT-006 is of spec impact: compat does not count it
    back = baseline.compare(clean["rules"], broken)
    assert back == {"new": [], "fixed": ["CHAT-006", "SDK-004"], "unchanged": [], "unjudged": []}
    md = (tmp_path / "broken" / "results.json").read_text(encoding="utf-8")
    assert '"regressions": [\n      "SDK-004"\n    ]' in md


def test_fail_on_regression_fails_only_on_new_failures(tmp_path: Path) -> None:
    only = ("--", "-k", "MODELS or SDK-004")
    with simulator("sdk-models-500") as url:
        first = _run(url, tmp_path / "first", *only)
        known = _run(url, tmp_path / "known", "--baseline", str(tmp_path / "first"), "--fail-on-regression", *only)
    with simulator() as url:
        fixed = _run(url, tmp_path / "fixed", "--baseline", str(tmp_path / "first"), "--fail-on-regression", *only)
    assert first.returncode == 1, first.stdout[-2000:]  # SDK-004 (client impact) fails compat
    assert known.returncode == 0, known.stdout[-2000:] + known.stderr[-2000:]
    doc = json.loads((tmp_path / "known" / "results.json").read_text(encoding="utf-8"))
    assert doc["baseline"]["unchanged"] == ["SDK-004"] and doc["baseline"]["new"] == []
    assert doc["summary"]["views"]["compat"]["failing"] == ["SDK-004"]  # both views still shown
    summary = (tmp_path / "known" / "summary.md").read_text(encoding="utf-8")
    assert "## Against the baseline" in summary and "| unchanged failures | SDK-004 |" in summary
    assert fixed.returncode == 0
    assert json.loads((tmp_path / "fixed" / "results.json").read_text(encoding="utf-8"))["baseline"]["fixed"] == [
        "SDK-004"
    ]


def test_a_bad_baseline_is_a_usage_error_before_any_request(tmp_path: Path) -> None:
    (tmp_path / "other.json").write_text('{"schema": "maascheck/load-results/1"}', encoding="utf-8")
    for given, says in (
        (tmp_path / "missing", "no results.json there"),
        (tmp_path / "other.json", "is not the results.json of a conformance run"),
    ):
        with pytest.raises(ConfigError, match=says):
            baseline.parse_baseline(str(given))
    proc = _run("http://127.0.0.1:9/v1", tmp_path / "r", "--baseline", str(tmp_path / "missing"))
    assert proc.returncode == 2 and "--baseline" in proc.stderr and "e.g." in proc.stderr
    proc = _run("http://127.0.0.1:9/v1", tmp_path / "r", "--fail-on-regression")
    assert proc.returncode == 2 and "give --baseline too" in proc.stderr
