"""The load report: section order, cancelled requests apart, histograms count what their captions say, input tokens."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from matplotlib.figure import Figure

from maascheck.load.measure.results import connections_block, metrics_block, requests_block
from maascheck.load.report import plots
from maascheck.load.report.render import render_all
from tests.load.reports.synthetic import make_records, make_results, write_run

CANCELLED = 3


def _cancel(records: list[dict[str, Any]]) -> None:
    """The last 3 requests cancelled at the stop; connection fields set on every record."""
    stop = max(r["start_s"] + r["e2e_ms"] / 1000 for r in records)
    for i, r in enumerate(records):
        r["end_s"] = round(r["start_s"] + r["e2e_ms"] / 1000, 6)
        fresh = i < 4 or 8 <= i < 12  # the first measured request of each user reconnected (its retry)
        r.update(connect_ms=1.5 if fresh else None, reused_connection=not fresh, reconnected=8 <= i < 12,
                 retries=int(8 <= i < 12))  # fmt: skip
    for r in records[-CANCELLED:]:
        r.update(outcome="cancelled", status=200, error="the run stopped", ttft_ms=None, e2e_ms=None,
                 tpot_ms=None, itl_ms=[], icl_ms=[], output_tokens=None, input_tokens=None, end_s=stop)  # fmt: skip


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, Any]]]:
    records = make_records(60, error_every=10)  # 8 warm-up, every 10th an HTTP 429
    results = make_results(records)
    _cancel(records)
    measured = [r for r in records if not r["warmup"]]
    results["requests"] = requests_block(measured, len(records) - len(measured))
    results["metrics"] = metrics_block(measured)
    results["connections"] = connections_block(measured)
    results["workload"]["input_tokens"] = {"kind": "fixed", "spec": "fixed:24", "value": 24}
    out = write_run(tmp_path_factory.mktemp("figures"), records, results)
    render_all(out)
    return out, records


def _positions(text: str, marks: list[str]) -> list[int]:
    found = [text.find(m) for m in marks]
    assert -1 not in found, dict(zip(marks, found, strict=True))
    return found


def test_html_order_is_verdict_slos_protocol_plots_then_settings_and_tables(
    run: tuple[Path, list[dict[str, Any]]],
) -> None:
    html = (run[0] / "report.html").read_text(encoding="utf-8")
    marks = ['class="verdict', 'id="slos"', 'id="protocol"', 'id="plots"', 'id="settings"', 'id="metrics"',
             'id="throughput"', 'id="requests"', 'id="tokens"']  # fmt: skip
    found = _positions(html, marks)
    assert found == sorted(found), dict(zip(marks, found, strict=True))


def test_markdown_order_is_verdict_slos_protocol_plots_then_settings_and_tables(
    run: tuple[Path, list[dict[str, Any]]],
) -> None:
    md = (run[0] / "report.md").read_text(encoding="utf-8")
    marks = ["**Verdict", "## SLOs", "## Protocol errors", "## Plots", "## Target and load settings", "## Metrics",
             "## Throughput", "## Requests and errors", "### Connections", "## Token accounting"]  # fmt: skip
    found = _positions(md, marks)
    assert found == sorted(found), dict(zip(marks, found, strict=True))


def _legend(fig: Figure) -> list[str]:
    legend = fig.axes[0].get_legend()
    assert legend is not None
    return [t.get_text() for t in legend.get_texts()]


def test_cancelled_requests_are_their_own_series_never_failed(run: tuple[Path, list[dict[str, Any]]]) -> None:
    records = run[1]
    failed = sum(1 for r in records if r["outcome"] not in ("ok", "cancelled"))
    fig = plots.latency_over_time_figure(records, 0.5)
    assert fig is not None
    labels = _legend(fig)
    assert f"cancelled at stop ({CANCELLED})" in labels and f"failed request ({failed})" in labels, labels
    points = {c.get_label(): len(c.get_offsets()) for c in fig.axes[0].collections}
    assert points[f"cancelled at stop ({CANCELLED})"] == CANCELLED and points[f"failed request ({failed})"] == failed


def test_token_histogram_counts_completed_requests_as_its_caption_says(
    run: tuple[Path, list[dict[str, Any]]],
) -> None:
    out, records = run
    ok = [r for r in records if not r["warmup"] and r["outcome"] == "ok"]
    html = (out / "report.html").read_text(encoding="utf-8")
    assert f"Tokens per request (n={len(ok)} completed requests; failed and cancelled requests excluded)" in html
    fig = plots.tokens_per_request_figure(ok, 24)
    assert fig is not None
    output, inp = fig.axes
    assert output.get_title() == f"Output tokens per completed request (n={len(ok)})"
    assert sum(p.get_height() for p in output.patches) == len(ok)  # the bars count exactly the captioned requests
    assert inp.get_xlabel() == "prompt_tokens (server-counted) (tokens)" and _legend_of(inp) == ["requested 24"]


def _legend_of(ax: Any) -> list[str]:
    return [t.get_text() for t in ax.get_legend().get_texts()]


def test_input_tokens_show_requested_against_server_counted_with_the_template_note(
    run: tuple[Path, list[dict[str, Any]]],
) -> None:
    out = run[0]
    md = (out / "report.md").read_text(encoding="utf-8")
    html = (out / "report.html").read_text(encoding="utf-8")
    row = next(line for line in md.splitlines() if line.startswith("| per request ("))
    assert "fixed:24" in row and "30" in row and "+6.0 tokens (mean)" in row, row  # the synthetic server counts 30
    for text in (md, html):
        assert "Server-counted:" in text and "chat template" in text


def test_connections_are_reported(run: tuple[Path, list[dict[str, Any]]]) -> None:
    md = (run[0] / "report.md").read_text(encoding="utf-8")
    assert "| opened (fresh connections requests were sent on) | 4 |" in md
    assert "| reconnects (kept-alive connection found closed, replaced) | 4 |" in md
    assert "| retries (re-sent: the connection died before a response head) | 4 |" in md
    assert "| connect time p50 / p95 / p99 (ms) | 1.50 / 1.50 / 1.50 |" in md
