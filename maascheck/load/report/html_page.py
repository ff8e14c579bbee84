"""report.html: one self-contained page (inline CSS, inline PNG plots, no scripts, no external assets)."""

from __future__ import annotations

from typing import Any

from maascheck.core.html import Html, figure, page, tag, ulist
from maascheck.core.html import section as html_section
from maascheck.core.html import table as html_table
from maascheck.load.measure.reader import RunDocs, measured_records, num, section
from maascheck.load.report import plots
from maascheck.load.report.session_tables import SESSION_DEFINITION, sessions_table
from maascheck.load.report.tables import (
    INPUT_TOKENS_NOTE,
    Table,
    baseline_table,
    connections_table,
    error_kind_table,
    error_message_table,
    input_tokens_table,
    invalid_note,
    load_table,
    metric_table,
    outcome_table,
    protocol_table,
    reproduce_line,
    requested_input_tokens,
    slo_table,
    target_table,
    throughput_table,
    tokens_table,
    trace_table,
    validity_table,
    verdict,
    warnings,
)

DEFINITIONS = (  # as in docs/METRICS.md (the load-core definitions)
    "TTFT: send to the first chunk with content, reasoning or tool calls (role-only and usage-only "
    "chunks never count). TTFO: send to the first content or tool-call chunk. ITL: each chunk gap "
    "divided by the tokens in that chunk, one value per token. ICL: gaps between token chunks. "
    "TPOT: (E2E − TTFT)/(N − 1) per request, N = output tokens. E2E: send to the last token chunk "
    '(usage chunk and [DONE] excluded). Percentiles: linear interpolation (numpy "linear", '
    "Hyndman-Fan type 7) over the raw per-request values pooled across workers. Throughput: tokens and "
    "requests of completed requests over the window from the first measured send to the end of the last "
    "completed request (requests cancelled at the stop are in neither). Connect time (TCP + TLS of a fresh "
    "connection) is its own figure, never part of TTFT; a retried request's TTFT runs from its first send. "
    "Warm-up requests are "
    "excluded from every figure except the over-time plots, where the warm-up is shaded."
)


def _table(t: Table) -> Html:
    if not t.rows:
        return tag("p", "none", cls="muted")
    return html_table(t.headers, t.rows, row_classes=t.status)


def _verdict_block(docs: RunDocs) -> Html:
    passed, reasons = verdict(docs)
    if passed is None:
        return tag("div", "No verdict recorded.", cls="verdict")
    head = "PASS: every SLO met" if passed else "FAIL"
    note = invalid_note(docs)
    if note and not section(docs.results, "validity").get("allowed"):
        head = "INVALID: the load generator fell behind, so the figures measure the client, not the target"
    if section(docs.results, "verdict").get("interrupted"):
        head = "INTERRUPTED: the run was cut short; no verdict on the target"
    items = [tag("div", head), ulist(reasons)] if reasons else [tag("div", head)]
    return tag("div", items, cls="verdict " + ("pass" if passed else "fail"))


def _plots(docs: RunDocs) -> list[Html]:
    measured = measured_records(docs.records)
    ok = [r for r in measured if r.get("outcome") == "ok"]
    warmup = num(section(docs.results, "run").get("warmup_s"))
    itl = [v for r in ok for v in r.get("itl_ms") or []]
    made: list[tuple[str, str | None]] = [
        (
            "TTFT distribution (successful measured requests)",
            plots.distribution([r.get("ttft_ms") for r in ok], "TTFT", "ms"),
        ),
        (
            "ITL distribution (per token, pooled over successful measured requests)",
            plots.distribution(itl, "ITL", "ms", samples="token gaps"),
        ),
        (
            "Latency over time (every request, warm-up shaded; requests cancelled at the stop are their own series)",
            plots.latency_over_time(docs.records, warmup),
        ),
        ("Throughput and concurrency over time", plots.throughput_over_time(docs.records, warmup)),
        (
            f"Tokens per request (n={len(ok):,} completed requests; failed and cancelled requests excluded)",
            plots.tokens_per_request(ok, requested_input_tokens(docs)),
        ),
    ]
    figures = [figure(b64, caption) for caption, b64 in made if b64]
    return figures or [tag("p", "No per-request records to plot.", cls="muted")]


def render_html(docs: RunDocs) -> str:
    """The whole report page."""
    target = section(docs.results, "target")
    run = section(docs.results, "run")
    title = f"maascheck load report: {target.get('model', '?')} @ {target.get('base_url', '?')}"
    body: list[Html] = [
        tag(
            "p",
            f"run {run.get('id', '?')} · started {run.get('started_utc', '?')} UTC · "
            f"scenario {target.get('scenario', '?')}",
            cls="muted",
        ),
        _verdict_block(docs),
    ]
    warns = warnings(docs)
    if warns:
        body.append(
            tag("div", [tag("strong", "Client self-calibration and data warnings"), ulist(warns)], cls="warn")
        )
    if section(docs.results, "validity"):
        note = invalid_note(docs)
        text = "Invalid: the load generator fell behind" if note else "Valid: the generator kept up"
        if note and section(docs.results, "validity").get("allowed"):
            text += " (allowed by --allow-invalid)"
        head = tag("p", text, cls="verdict " + ("fail" if note else "pass"))
        body.append(html_section("Run validity", head, _table(validity_table(docs)), anchor="validity"))
    body.append(html_section("SLOs", _table(slo_table(docs)), anchor="slos"))
    body.append(html_section("Protocol errors", _table(protocol_table(docs)), anchor="protocol"))
    body.append(html_section("Plots", *_plots(docs), anchor="plots"))
    repro = reproduce_line(docs)
    body.append(
        html_section(
            "Target and load settings",
            _table(target_table(docs)),
            _table(load_table(docs)),
            tag("p", "Reproduce:"),
            tag("pre", repro or "not recorded"),
            anchor="settings",
        )
    )
    body.append(
        html_section(
            "Metrics", _table(metric_table(docs)), tag("p", DEFINITIONS, cls="muted"), anchor="metrics"
        )
    )
    body.append(html_section("Throughput", _table(throughput_table(docs)), anchor="throughput"))
    body.append(
        html_section(
            "Requests and errors",
            _table(outcome_table(docs)),
            tag("h3", "Errors by kind"),
            _table(error_kind_table(docs)),
            tag("h3", "Most frequent error messages"),
            _table(error_message_table(docs)),
            tag("h3", "Connections"),
            _table(connections_table(docs)),
            anchor="requests",
        )
    )
    body.append(
        html_section(
            "Token accounting",
            _table(tokens_table(docs)),
            tag("h3", "Input tokens: requested and server-counted"),
            _table(input_tokens_table(docs)),
            tag("p", INPUT_TOKENS_NOTE, cls="muted"),
            anchor="tokens",
        )
    )
    replay = trace_table(docs)
    if replay is not None:
        body.append(html_section("Trace replay", _table(replay), anchor="trace"))
    sessions = sessions_table(docs)
    if sessions is not None:
        body.append(
            html_section("Sessions", _table(sessions), tag("p", SESSION_DEFINITION, cls="muted"), anchor="sessions")
        )
    base = baseline_table(docs)
    if base is not None:
        body.append(
            html_section(
                "Baseline comparison", *_baseline_head(docs.results), _table(base), anchor="baseline"
            )
        )
    body.append(tag("p", "Generated by maascheck from results.json and requests.jsonl.", cls="muted"))
    return page(title, body)


def _baseline_head(results: dict[str, Any]) -> list[Html]:
    base = section(results, "baseline")
    regressed = base.get("regressed")
    if regressed is None:
        regressed = any(isinstance(r, dict) and r.get("regressed") for r in base.get("regressions") or [])
    threshold = num(base.get("threshold_pct"))
    text = (
        f"Compared with {base.get('path', '?')}"
        + (f" (threshold {threshold:g} % worse)" if threshold is not None else "")
        + (": REGRESSED" if regressed else ": no regression")
    )
    out = [tag("p", text, cls="verdict " + ("fail" if regressed else "pass"))]
    notes = [str(w) for w in base.get("warnings") or []]
    if notes:
        out.append(tag("div", ulist(notes), cls="warn"))
    return out
