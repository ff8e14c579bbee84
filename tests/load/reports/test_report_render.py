"""report.html / report.md / summary.csv / requests.csv rendered from synthetic results documents."""

from __future__ import annotations

import base64
import csv
import json
import re
from pathlib import Path

import pytest

from maascheck.core.errors import ConfigError
from maascheck.load.report.render import FILES, render_all
from tests.load.reports.conftest import SECRET, SHAPED_KEY
from tests.load.reports.synthetic import make_records, make_results, write_run

SECTIONS = ("slos", "settings", "metrics", "throughput", "requests", "tokens", "plots")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _read(run: Path, key: str) -> str:
    return (run / FILES[key]).read_text(encoding="utf-8")


def test_every_section_and_figure_is_rendered(plain_run: Path) -> None:
    html = _read(plain_run, "html")
    for anchor in SECTIONS:
        assert f'<section id="{anchor}">' in html
    assert '<div class="verdict fail">' in html and "ttft_ms.p95&lt;=150" in html
    images = re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    assert len(images) == 5  # TTFT, ITL, latency over time, throughput over time, tokens per request
    assert all(base64.b64decode(b).startswith(PNG_MAGIC) for b in images)
    for caption in (
        "TTFT distribution",
        "ITL distribution",
        "Latency over time",
        "Throughput and",
        "Tokens per",
    ):
        assert caption in html
    assert '<section id="baseline">' not in html  # no baseline in this run


def test_measured_figures_appear_in_html_and_markdown(plain_run: Path) -> None:
    doc = json.loads((plain_run / "results.json").read_text())
    html, md = _read(plain_run, "html"), _read(plain_run, "md")
    for metric in ("ttft_ms", "itl_ms", "tpot_ms", "e2e_ms", "ttfo_ms"):
        for stat in ("mean", "p50", "p90", "p95", "p99", "max"):
            shown = f"{doc['metrics'][metric][stat]:,.1f}"
            assert f"<td>{shown}</td>" in html, (metric, stat)
            assert f"| {shown} |" in md, (metric, stat)
    assert f"<td>{doc['throughput']['output_tokens_per_s']:,.2f}</td><td>tokens/s</td>" in html
    assert f"<td>{doc['requests']['failed']}</td>" in html and "<td>http_429</td>" in html
    assert f"{doc['slos'][0]['measured']:,.1f} ms" in html  # the SLO's measured value, with its unit
    assert "<pre>maascheck load --base-url" in html
    assert "<pre>\nmaascheck load --base-url" in md  # md_block: a <pre> the text cannot close


def test_summary_csv_has_one_row_per_metric_and_stat(plain_run: Path) -> None:
    doc = json.loads((plain_run / "results.json").read_text())
    rows = list(csv.DictReader((plain_run / "summary.csv").open()))
    assert list(rows[0]) == ["section", "metric", "stat", "value", "unit"]
    by_key = {(r["metric"], r["stat"]): r for r in rows}
    assert len(by_key) == len(rows)
    assert float(by_key[("ttft_ms", "p95")]["value"]) == pytest.approx(doc["metrics"]["ttft_ms"]["p95"])
    assert by_key[("ttft_ms", "p95")]["unit"] == "ms"
    assert by_key[("output_tokens_per_s", "value")]["unit"] == "tokens/s"
    assert {k[1] for k in by_key if k[0] == "itl_ms"} == {
        "count",
        "mean",
        "min",
        "p50",
        "p90",
        "p95",
        "p99",
        "max",
    }


def test_requests_csv_has_every_record(plain_run: Path) -> None:
    rows = list(csv.DictReader((plain_run / "requests.csv").open()))
    assert len(rows) == 160
    assert rows[0]["warmup"] == "true" and rows[-1]["warmup"] == "false"
    assert {"ttft_ms", "itl_mean_ms", "itl_count", "output_tokens"} <= set(rows[0])
    assert sum(r["outcome"] == "http_error" for r in rows) == 8


@pytest.mark.parametrize("fixture", ["plain_run", "hostile_run"])
def test_html_is_self_contained(fixture: str, request: pytest.FixtureRequest) -> None:
    html = _read(request.getfixturevalue(fixture), "html")
    assert not re.search(r"""(?i)(src|href)\s*=\s*["']?\s*(https?:)?//""", html)
    assert not re.search(r"(?i)<(script|link|iframe|object|embed)\b", html)
    assert not re.search(r"(?i)@import|url\(", html)
    assert "<style>" in html


def test_hostile_strings_are_escaped_everywhere(hostile_run: Path) -> None:
    html, md = _read(hostile_run, "html"), _read(hostile_run, "md")
    assert "<img src=x" not in html
    assert html.count("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;") >= 5  # title, error, warning, ...
    md_outside_code = re.sub(r"```.*?```", "", md, flags=re.S)
    assert "<script>" not in md_outside_code and "<img" not in md_outside_code
    assert "\\|" in md_outside_code  # a pipe cannot split a table cell
    for name in ("requests_csv", "csv"):
        for row in csv.reader((hostile_run / FILES[name]).open()):
            assert not any(cell.startswith(("=", "@")) for cell in row)


def test_no_secret_reaches_any_output(hostile_run: Path) -> None:
    for key in FILES:
        text = _read(hostile_run, key)
        assert SECRET not in text and SHAPED_KEY not in text, key
    assert "[REDACTED]" in _read(hostile_run, "html") and "[REDACTED]" in _read(hostile_run, "requests_csv")


def test_warnings_are_prominent(hostile_run: Path) -> None:
    html = _read(hostile_run, "html")
    warn = html.index('<div class="warn">')
    assert warn < html.index('<section id="slos">')
    assert "saturated (client CPU 97 %)" in html
    assert "1 unreadable line(s) in requests.jsonl were skipped" in html


def test_baseline_section_when_present(hostile_run: Path) -> None:
    html = _read(hostile_run, "html")
    assert '<section id="baseline">' in html and "<td>REGRESSED</td>" in html and "+30.0 %" in html
    assert "## Baseline comparison" in _read(hostile_run, "md")


def test_missing_records_still_render_the_summary(tmp_path: Path) -> None:
    records = make_records(40)
    run = write_run(tmp_path, records, make_results(records))
    (run / "requests.jsonl").unlink()
    html = render_all(run)["html"].read_text()
    assert "requests.jsonl is missing" in html and "No per-request records to plot." in html
    assert "<td>ttft_ms — Time to first token</td>" in html
    assert (run / "requests.csv").read_text().count("\n") == 1  # the header only


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no load results"),
        ("{not json", "not valid JSON"),
        ('{"schema": "other/1"}', "not a maascheck load"),
    ],
)
def test_unusable_results_raise_config_error(tmp_path: Path, content: str | None, message: str) -> None:
    if content is not None:
        tmp_path.joinpath("results.json").write_text(content)
    with pytest.raises(ConfigError, match=message):
        render_all(tmp_path)
