"""Render a sweep's sweep.csv, sweep.md and sweep.html from sweep.json and the step directories.

Per-step TTFT/ITL distributions are read from each step's requests.jsonl; everything else comes
from sweep.json. Text is redacted (as in `maascheck.load.report.render`) and escaped; the HTML is
self-contained (inline CSS and PNG, no scripts, links only to the step reports by relative path).
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from maascheck.core.html import Html, esc, figure, page, tag, ulist
from maascheck.core.html import section as html_section
from maascheck.core.html import table as html_table
from maascheck.core.secrets import Redactor
from maascheck.load.measure.reader import RECORDS_FILE, default_redactor, fmt, load_records, num, redact_tree, section
from maascheck.load.report import plots
from maascheck.load.report.markdown import md_escape
from maascheck.load.sweep.plan_plot import plan_plot_b64

CSV_COLUMNS = (
    "load",
    "label",
    "status",
    "passed",
    "requests_total",
    "requests_ok",
    "requests_failed",
    "error_rate",
    "protocol_error_rate",
    "output_tokens_per_s",
    "total_tokens_per_s",
    "requests_per_s",
    "goodput_rps",
    "scaling_efficiency",
    "ttft_ms_p50",
    "ttft_ms_p90",
    "ttft_ms_p99",
    "itl_ms_p50",
    "itl_ms_p99",
    "tpot_ms_p50",
    "tpot_ms_p99",
    "e2e_ms_p50",
    "e2e_ms_p99",
    "client_saturated",
    "error",
)
TABLE_HEADERS = (
    "load",
    "status",
    "ok / failed",
    "protocol errors",
    "output tokens/s",
    "requests/s",
    "scaling efficiency",
    "TTFT p50 (ms)",
    "TTFT p99 (ms)",
    "ITL p50 (ms)",
    "ITL p99 (ms)",
    "E2E p99 (ms)",
)
DEFINITIONS = (
    "Scaling efficiency: throughput gain over the previous step divided by the ideal linear gain "
    "(1.0 = linear). Knee: the last step before efficiency first drops below the threshold. Capacity: "
    "the highest load of the unbroken run of SLO-passing steps from the lowest step, each within the "
    "protocol-error bound (none by default). Each step is a full "
    "`maascheck load` run whose warm-up is excluded from its figures."
)


def _load(value: Any) -> str:
    """A load level as written on the command line: 8, 2.5."""
    v = num(value)
    return "—" if v is None else f"{v:g}"


def _stat(step: dict[str, Any], metric: str, stat: str) -> Any:
    return section(section(step, "metrics"), metric).get(stat)


def csv_rows(doc: dict[str, Any]) -> list[list[Any]]:
    """One row per step, in CSV_COLUMNS order."""
    rows = []
    for s in doc.get("steps") or []:
        req, tp = section(s, "requests"), section(s, "throughput")
        values = {
            "load": s.get("load"),
            "label": s.get("label"),
            "status": s.get("status"),
            "passed": s.get("passed"),
            "requests_total": req.get("total"),
            "requests_ok": req.get("ok"),
            "requests_failed": req.get("failed"),
            "error_rate": req.get("error_rate"),
            "protocol_error_rate": s.get("protocol_error_rate"),
            "scaling_efficiency": s.get("efficiency"),
            "client_saturated": s.get("client_saturated"),
            "error": s.get("error"),
            **{
                k: tp.get(k)
                for k in ("output_tokens_per_s", "total_tokens_per_s", "requests_per_s", "goodput_rps")
            },
        }
        for col in CSV_COLUMNS:
            if col.startswith(("ttft_ms_", "itl_ms_", "tpot_ms_", "e2e_ms_")):
                metric, stat = col.rsplit("_", 1)
                values[col] = _stat(s, metric, stat)
        rows.append([values.get(c) for c in CSV_COLUMNS])
    return rows


def render_csv(doc: dict[str, Any]) -> str:
    """sweep.csv text."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in csv_rows(doc):
        cells = []
        for v in row:
            text = "" if v is None else ("true" if v is True else "false" if v is False else v)
            if isinstance(text, str) and text.startswith(("=", "+", "-", "@")):
                text = "'" + text
            cells.append(text)
        writer.writerow(cells)
    return buf.getvalue()


def _protocol_cell(step: dict[str, Any]) -> str:
    """The step's protocol_error_rate and its kinds, e.g. `2.50 % (truncated 3)`; — when not judged."""
    rate = num(step.get("protocol_error_rate"))
    if rate is None:
        return "—"
    kinds = ", ".join(f"{k} {fmt(n)}" for k, n in section(step, "protocol_errors").items())
    return f"{rate * 100:.2f} %" + (f" ({kinds})" if kinds else "")


def _table_rows(doc: dict[str, Any]) -> tuple[list[list[str]], list[str | None]]:
    rows, status = [], []
    for s in doc.get("steps") or []:
        req, tp = section(s, "requests"), section(s, "throughput")
        eff = num(s.get("efficiency"))
        rows.append(
            [
                _load(s.get("load")),
                str(s.get("status")),
                f"{fmt(req.get('ok'))} / {fmt(req.get('failed'))}",
                _protocol_cell(s),
                fmt(tp.get("output_tokens_per_s")),
                fmt(tp.get("requests_per_s"), 2),
                "—" if eff is None else f"{eff * 100:.0f} %",
                fmt(_stat(s, "ttft_ms", "p50")),
                fmt(_stat(s, "ttft_ms", "p99")),
                fmt(_stat(s, "itl_ms", "p50")),
                fmt(_stat(s, "itl_ms", "p99")),
                fmt(_stat(s, "e2e_ms", "p99")),
            ]
        )
        status.append(
            "pass" if s.get("passed") is True else "fail" if s.get("status") in ("failed", "error") else None
        )
    return rows, status


def _summary_lines(doc: dict[str, Any]) -> list[str]:
    res, sweep = section(doc, "result"), section(doc, "sweep")
    unit = sweep.get("load_unit", "")
    cap = res.get("capacity")
    lines = []
    if sweep.get("slos"):
        lines.append(
            f"Capacity under SLOs ({', '.join(map(str, sweep['slos']))}): "
            + (f"{_load(cap)} {unit}" if cap is not None else "none")
            + f". {res.get('capacity_reason', '')}"
        )
    else:
        lines.append("No SLO given: capacity not evaluated.")
    knee = res.get("knee")
    lines.append(
        "Knee (throughput saturation): "
        + (f"{_load(knee)} {unit}" if knee is not None else "not reached")
        + f". {res.get('knee_reason', '')}"
    )
    if res.get("stopped_early"):
        lines.append(f"Stopped early: {res['stopped_early']}.")
    return lines


def _warnings(doc: dict[str, Any]) -> list[str]:
    out = []
    for s in doc.get("steps") or []:
        if s.get("error"):
            out.append(f"{s.get('label')}: {s['error']}")
        if s.get("valid") is False:
            out.append(f"{s.get('label')}: invalid run (the load generator fell behind); not counted as capacity")
        if s.get("client_saturated"):
            out.append(
                f"{s.get('label')}: the load generator was saturated; its latencies include client delay"
            )
    if section(doc, "run").get("interrupted"):
        out.append("The sweep was interrupted: later steps did not run.")
    return out


def _plots(doc: dict[str, Any], sweep_dir: Path, redactor: Redactor) -> list[Html]:
    steps = [s for s in doc.get("steps") or [] if s.get("status") != "error" or s.get("throughput")]
    sweep, res = section(doc, "sweep"), section(doc, "result")
    load_label = str(sweep.get("load_label", "load"))
    load_unit = str(sweep.get("load_unit", ""))
    loads = [float(s["load"]) for s in steps]
    made: list[tuple[str, str | None]] = [
        (
            f"Throughput vs {load_label}",
            plots.sweep_throughput(
                loads,
                [num(section(s, "throughput").get("output_tokens_per_s")) for s in steps],
                load_label=load_label,
                knee=num(res.get("knee")),
                capacity=num(res.get("capacity")),
                passed=[s.get("passed") for s in steps],
            ),
        ),
        (
            "Latency percentiles vs throughput",
            plots.sweep_latency_vs_throughput(
                [
                    {
                        "load": float(s["load"]),
                        "output_tokens_per_s": section(s, "throughput").get("output_tokens_per_s"),
                        "ttft_ms": section(section(s, "metrics"), "ttft_ms"),
                        "itl_ms": section(section(s, "metrics"), "itl_ms"),
                    }
                    for s in steps
                ],
                load_unit=load_unit,
            ),
        ),
    ]
    per_step = []
    for s in steps:
        records, _, _ = load_records(sweep_dir / str(s.get("dir")) / RECORDS_FILE)
        ok = [r for r in redact_tree(records, redactor) if not r.get("warmup") and r.get("outcome") == "ok"]
        per_step.append(
            (
                f"{_load(s.get('load'))} {load_unit}",
                [r.get("ttft_ms") for r in ok],
                [v for r in ok for v in r.get("itl_ms") or []],
            )
        )
    made.append(("TTFT and ITL distributions per step", plots.sweep_distributions(per_step)))
    made.insert(1, (f"Goodput vs {load_label} (capacity marked, and the target once maascheck plan ran)",
                    plan_plot_b64(doc, _plan(sweep_dir))))  # fmt: skip
    figures = [figure(b64, caption) for caption, b64 in made if b64]
    return figures or [tag("p", "No step produced results to plot.", cls="muted")]


def _plan(sweep_dir: Path) -> dict[str, Any] | None:
    """The plan.json `maascheck plan` wrote next to the sweep, or None (absent or unreadable)."""
    try:
        doc = json.loads((sweep_dir / "plan.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def _settings_rows(doc: dict[str, Any]) -> list[list[str]]:
    rows = [[f"target.{k}", fmt(v)] for k, v in section(doc, "target").items()]
    rows += [
        [
            f"sweep.{k}",
            ", ".join(_load(x) if k == "levels" else fmt(x) for x in v) if isinstance(v, list) else fmt(v),
        ]
        for k, v in section(doc, "sweep").items()
    ]
    run = section(doc, "run")
    rows += [[f"run.{k}", fmt(run.get(k))] for k in ("id", "started_utc", "finished_utc", "duration_s")]
    return rows


def render_html(doc: dict[str, Any], sweep_dir: Path, redactor: Redactor) -> str:
    """sweep.html text."""
    target, res = section(doc, "target"), section(doc, "result")
    ok = res.get("exit_code") == 0
    rows, status = _table_rows(doc)
    body: list[Html] = [
        tag("div", ulist(_summary_lines(doc)), cls="verdict " + ("pass" if ok else "fail")),
    ]
    warns = _warnings(doc)
    if warns:
        body.append(tag("div", [tag("strong", "Warnings"), ulist(warns)], cls="warn"))
    body += [
        html_section(
            "Steps",
            html_table(TABLE_HEADERS, rows, row_classes=status),
            tag("p", DEFINITIONS, cls="muted"),
            anchor="steps",
        ),
        html_section("Plots", *_plots(doc, sweep_dir, redactor), anchor="plots"),
        html_section(
            "Settings",
            html_table(("setting", "value"), _settings_rows(doc)),
            tag("p", "Reproduce:"),
            tag("pre", str(section(doc, "run").get("reproduce") or "not recorded")),
            anchor="settings",
        ),
        html_section(
            "Step reports",
            ulist(
                [
                    Html(f'<a href="{_href(s)}">{tag("span", str(s.get("label"))).markup}</a>')
                    for s in doc.get("steps") or []
                    if s.get("status") != "error"
                ]
            ),
            anchor="step-reports",
        ),
    ]
    title = f"maascheck sweep: {target.get('model', '?')} @ {target.get('base_url', '?')}"
    return page(title, body)


def _href(step: dict[str, Any]) -> str:
    return esc(f"{step.get('dir')}/report.html")


def render_md(doc: dict[str, Any]) -> str:
    """sweep.md text."""
    target = section(doc, "target")
    rows, _ = _table_rows(doc)
    out = [
        f"# maascheck sweep: {md_escape(str(target.get('model', '?')))} @ "
        f"{md_escape(str(target.get('base_url', '?')))}\n"
    ]
    out += [f"- {md_escape(line)}" for line in _summary_lines(doc)]
    warns = _warnings(doc)
    if warns:
        out.append("\n> **Warnings**\n>")
        out += [f"> - {md_escape(w)}" for w in warns]
    out += ["\n## Steps\n", "| " + " | ".join(TABLE_HEADERS) + " |", "|" + "---|" * len(TABLE_HEADERS)]
    out += ["| " + " | ".join(md_escape(c) for c in row) + " |" for row in rows]
    out += [
        "",
        md_escape(DEFINITIONS),
        "\nReproduce:\n",
        "```\n" + str(section(doc, "run").get("reproduce") or "").replace("```", "'''") + "\n```",
        "\nPlots: see sweep.html.\n",
    ]
    return "\n".join(out)


def render_files(doc: dict[str, Any], sweep_dir: Path, redactor: Redactor | None = None) -> dict[str, str]:
    """{"csv": sweep.csv text, "md": sweep.md text, "html": sweep.html text} from a redacted copy of `doc`."""
    red = redactor or default_redactor(section(doc, "target").get("api_key_env"))
    clean = redact_tree(doc, red)
    return {"csv": render_csv(clean), "md": render_md(clean), "html": render_html(clean, sweep_dir, red)}
