"""Baseline comparison (`maascheck.load.measure.baseline.compare`); cases as data in cases/baseline.json."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from maascheck.core import schema_registry as schemas
from maascheck.core.errors import ConfigError
from maascheck.load.measure.baseline import compare
from maascheck.load.report.render import render_all
from tests.load.reports.synthetic import make_records, make_results, write_run

CASES: list[dict[str, Any]] = json.loads((Path(__file__).parent / "cases" / "baseline.json").read_text())[
    "cases"
]
BASE = make_results(make_records(200))


def _with(overrides: dict[str, Any]) -> dict[str, Any]:
    doc = copy.deepcopy(BASE)
    for key, value in overrides.items():
        if "." in key:
            metric, stat = key.split(".")
            doc["metrics"][metric][stat] = value
        else:
            doc["throughput"][key] = value
    return doc


@pytest.mark.parametrize("case", CASES, ids=[c["description"] for c in CASES])
def test_baseline_cases(case: dict[str, Any], tmp_path: Path) -> None:
    old = tmp_path / "results.json"
    old.write_text(json.dumps(_with(case["old"])))
    out = compare(_with(case["new"]), old, case.get("threshold_pct", 10.0))
    flagged = sorted(f"{r['metric']}.{r['stat']}" for r in out["regressions"] if r["regressed"])
    assert flagged == sorted(case["regressed"])
    assert out["regressed"] is bool(case["regressed"])
    assert out["path"] == str(old)
    for key in (*case["old"], *case["new"]):
        metric, _, stat = key.partition(".")
        row = next(r for r in out["regressions"] if r["metric"] == metric and r["stat"] == (stat or "value"))
        old_v, new_v = row["old"], row["new"]
        expected = None if old_v is None or new_v is None else round((new_v - old_v) / old_v * 100, 2)
        assert row["change_pct"] == expected


def test_baseline_dir_is_accepted_and_differences_are_warned(tmp_path: Path) -> None:
    old_doc = copy.deepcopy(BASE)
    old_doc["load"]["users"] = 16
    (tmp_path / "results.json").write_text(json.dumps(old_doc))
    out = compare(BASE, tmp_path)
    assert any("load.users: 16 -> 4" in w for w in out["warnings"])


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no load results"),
        ("[1, 2", "not valid JSON"),
        ('{"schema": "x"}', "not a maascheck load results"),
    ],
    ids=["missing", "invalid-json", "wrong-schema"],
)
def test_unusable_baseline_is_a_config_error(tmp_path: Path, content: str | None, message: str) -> None:
    path = tmp_path / "old.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ConfigError, match=message):
        compare(BASE, path)


def test_threshold_must_be_positive(tmp_path: Path) -> None:
    (tmp_path / "results.json").write_text(json.dumps(BASE))
    with pytest.raises(ConfigError, match="positive percentage"):
        compare(BASE, tmp_path / "results.json", -5)


def test_schema_invalid_baseline_is_a_config_error(tmp_path: Path) -> None:
    broken = copy.deepcopy(BASE)
    del broken["requests"]
    (tmp_path / "results.json").write_text(json.dumps(broken))
    with pytest.raises(ConfigError, match=r"does not match schemas/load-results\.json"):
        compare(BASE, tmp_path / "results.json")


def test_synthetic_documents_follow_the_results_schema() -> None:
    assert schemas.errors("load-results", BASE) == []


def test_render_all_attaches_the_comparison_to_results(tmp_path: Path) -> None:
    old_doc = _with({"ttft_ms.p95": 50.0})
    (tmp_path / "old.json").write_text(json.dumps(old_doc))
    run = write_run(tmp_path / "new", [], copy.deepcopy(BASE))
    render_all(run, baseline=tmp_path / "old.json")
    doc = json.loads((run / "results.json").read_text())
    assert doc["baseline"]["regressed"] is True
    assert schemas.errors("load-results", doc) == []
    assert '<section id="baseline">' in (run / "report.html").read_text()
