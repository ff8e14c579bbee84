"""summary.csv (one row per metric × stat) and requests.csv (one row per request record).

Numbers are written unformatted (full precision). Text cells that a spreadsheet would evaluate as a
formula (leading `=`, `+`, `-`, `@`, tab or CR; OWASP "CSV Injection") are prefixed with `'`; control
characters in text are shown as escapes (`maascheck.core.inert.one_line`), line breaks as `\\n`.

summary.csv columns: `section` (metrics | throughput | requests | slo), `metric` (name carrying its
unit, e.g. `ttft_ms`, `output_tokens_per_s`), `stat` (count, mean, min, p50, p90, p95, p99, max,
value), `value`, `unit`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any

from maascheck.core.inert import one_line
from maascheck.load.measure.reader import METRICS, STATS, THROUGHPUT, RunDocs, metric_meta, num, section
from maascheck.load.report.tables import slo_unit

SUMMARY_HEADERS = ("section", "metric", "stat", "value", "unit")
REQUEST_COLUMNS = (
    "rid",
    "worker",
    "scenario",
    "warmup",
    "intended_s",
    "start_s",
    "dispatch_lag_ms",
    "status",
    "outcome",
    "error",
    "ttft_ms",
    "ttfo_ms",
    "e2e_ms",
    "e2e_from_intended_ms",
    "tpot_ms",
    "itl_count",
    "itl_mean_ms",
    "itl_max_ms",
    "icl_count",
    "icl_mean_ms",
    "icl_max_ms",
    "chunks",
    "output_tokens",
    "input_tokens",
    "token_source",
    "token_mismatch",
    "connect_ms",
    "reused_connection",
    "reconnected",
    "retries",
    "good",
)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return value
    text = one_line(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def _write(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(headers)
    for row in rows:
        writer.writerow([_cell(c) for c in row])
    return buf.getvalue()


def summary_rows(docs: RunDocs) -> list[tuple[str, str, str, Any, str]]:
    """The rows of summary.csv."""
    rows: list[tuple[str, str, str, Any, str]] = []
    metrics = section(docs.results, "metrics")
    for key in [*METRICS, *sorted(set(metrics) - set(METRICS))]:
        stats = metrics.get(key)
        unit = metric_meta(key)[1]
        if isinstance(stats, dict):
            rows += [
                ("metrics", key, s, stats.get(s), "samples" if s == "count" else unit)
                for s in STATS
                if s in stats
            ]
    tp = section(docs.results, "throughput")
    rows += [("throughput", k, "value", tp.get(k), unit) for k, (_, unit) in THROUGHPUT.items() if k in tp]
    req = section(docs.results, "requests")
    rows += [
        ("requests", f"requests_{k}", "count", req.get(k), "requests")
        for k in ("total", "ok", "failed", "warmup_excluded")
        if k in req
    ]
    for slo in docs.results.get("slos") or []:
        if isinstance(slo, dict):
            rows.append(
                (
                    "slo",
                    str(slo.get("expr")),
                    "measured",
                    slo.get("measured"),
                    slo_unit(str(slo.get("metric", ""))),
                )
            )
    return rows


def render_summary_csv(docs: RunDocs) -> str:
    """summary.csv text."""
    return _write(SUMMARY_HEADERS, summary_rows(docs))


def _gaps(values: Any) -> tuple[int, float | None, float | None]:
    nums = [v for v in (num(x) for x in values or []) if v is not None]
    if not nums:
        return 0, None, None
    return len(nums), sum(nums) / len(nums), max(nums)


def request_row(r: dict[str, Any]) -> list[Any]:
    """One requests.csv row; ITL/ICL lists are summarised as count, mean and max."""
    itl_n, itl_mean, itl_max = _gaps(r.get("itl_ms"))
    icl_n, icl_mean, icl_max = _gaps(r.get("icl_ms"))
    derived = {
        "itl_count": itl_n,
        "itl_mean_ms": itl_mean,
        "itl_max_ms": itl_max,
        "icl_count": icl_n,
        "icl_mean_ms": icl_mean,
        "icl_max_ms": icl_max,
    }
    return [derived[c] if c in derived else r.get(c) for c in REQUEST_COLUMNS]


def render_requests_csv(docs: RunDocs) -> str:
    """requests.csv text (every record, warm-up ones flagged in the `warmup` column)."""
    return _write(REQUEST_COLUMNS, (request_row(r) for r in docs.records))
