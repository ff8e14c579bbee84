"""Markdown and HTML summaries come from results.json alone, escape what they show, fetch nothing."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from maascheck.conformance.engine.options import RunOptions
from maascheck.conformance.engine.runner import run_suite
from maascheck.conformance.engine.verdict import View
from maascheck.conformance.report import summary as report
from maascheck.conformance.report.results import from_suite, write
from maascheck.core.profiles import load_profile
from tests.conformance.conftest import simulator
from tests.conformance.proofs import SIM_KEY

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A report folder holding only the results.json of a run where MODELS-002 fails."""
    folder = tmp_path_factory.mktemp("report")
    with simulator("models-wrong-object") as url:
        # MODELS-002 is of spec impact: the strict view fails the run
        options = RunOptions(model="sim-chat<script>", base_url=url, api_key=SIM_KEY, verdict=View.STRICT)
        result = run_suite(url, load_profile("openai"), options, only=lambda r: r.area in ("models", "auth"))
    write(from_suite(result, options, load_profile("openai")), folder / "results.json")
    return folder


def test_summaries_come_from_results_json_alone(report_dir: Path) -> None:
    assert report.main([str(report_dir)]) == 0
    md = (report_dir / "summary.md").read_text(encoding="utf-8")
    html = (report_dir / "summary.html").read_text(encoding="utf-8")
    doc = json.loads((report_dir / "results.json").read_text(encoding="utf-8"))
    for text in (md, html):
        assert "Conformance: FAIL" in text
        assert doc["run"]["reproduce"].split(" --model")[0] in text
        assert "MODELS-002" in text and "AUTH-003" in text
        assert f"requests made: {doc['run']['requests_made']}" in text
        assert SIM_KEY not in text


def test_html_is_self_contained_and_escaped(report_dir: Path) -> None:
    report.main([str(report_dir)])
    html = (report_dir / "summary.html").read_text(encoding="utf-8")
    assert "<script" not in html and "sim-chat&lt;script&gt;" in html
    assert " src=" not in html and "<link" not in html
    assert "<details><summary>evidence</summary>" in html and "curl -sS" in html


def test_markdown_shows_evidence_of_failures(report_dir: Path) -> None:
    report.main([str(report_dir)])
    md = (report_dir / "summary.md").read_text(encoding="utf-8")
    failures = md.split("## Failures", 1)[1].split("## Areas", 1)[0]
    assert "#### MODELS-002:" in failures and "GET /models" in failures
    assert "- received:" in failures and "- expected:" in failures and "curl -sS" in failures


def _pipes(line: str) -> int:
    return len(re.findall(r"(?<!\\)\|", line))


def test_failures_come_first_then_the_index_and_tables_keep_their_layout(report_dir: Path) -> None:
    report.main([str(report_dir)])
    md = (report_dir / "summary.md").read_text(encoding="utf-8")
    assert md.index("| **strict** (sets the exit code) | FAIL |") < md.index("| compat | PASS |")
    assert md.index("## Failures") < md.index("## Areas") < md.index("### Area models")
    table: list[str] = []
    for line in [*md.splitlines(), ""]:
        if line.startswith("|"):
            table.append(line)
            continue
        if table:
            assert {_pipes(row) for row in table} == {_pipes(table[0])}, table
            table = []
    html = (report_dir / "summary.html").read_text(encoding="utf-8")
    assert html.index("<h2>Failures") < html.index("<h2>Areas") and 'id="rule-MODELS-002"' in html
    assert '<td class="id">' in html and ".id,.nowrap{white-space:nowrap" in html
    assert '<th class="id" style="width:calc(10ch + 1.2em)">' in html  # fits MODELS-002: no ID overflows


def test_a_cell_never_splits_an_escape_or_a_line() -> None:
    from maascheck.conformance.report.markdown import _cell

    for text in ("a|" * 200, "x" * 159 + "|" + "y", "two\nlines | and `code` \\|"):
        cell = _cell(text)
        assert "\n" not in cell and _pipes(cell) == 0 and not re.search(r"(?<!\\)`", cell)
