"""Reading a load run's documents (results.json, requests.jsonl) for rendering, with secrets redacted.

Shapes: `/work/notes/RESULTS-load.md` (the load-core / load-reports contract) and
`schemas/load-results.json`. Renderers use the summary figures of results.json as computed by the
load run (its percentile definition) and never recompute percentiles; the raw records feed only
plots, the per-request CSV and the error listing.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from maascheck.core.errors import ConfigError
from maascheck.core.secrets import DEFAULT_KEY_ENV, Redactor

RESULTS_FILE = "results.json"
RECORDS_FILE = "requests.jsonl"
RESULTS_SCHEMA_ID = "maascheck/load-results/1"
SIM_KEY_ENV = "MAASCHECK_SIM_KEY"

# Metric key -> (label, unit). Keys carry their unit; the order is the report order.
METRICS: dict[str, tuple[str, str]] = {
    "ttft_ms": ("Time to first token", "ms"),
    "ttfo_ms": ("Time to first output (content) token", "ms"),
    "itl_ms": ("Inter-token latency (per token)", "ms"),
    "icl_ms": ("Inter-chunk latency (per chunk)", "ms"),
    "tpot_ms": ("Time per output token, (E2E-TTFT)/(N-1)", "ms"),
    "e2e_ms": ("End-to-end latency", "ms"),
    "e2e_done_ms": ("Send to [DONE] (or the last event)", "ms"),
    "e2e_from_intended_ms": ("End-to-end from intended send time", "ms"),
    "dispatch_lag_ms": ("Dispatch lag (actual - intended send)", "ms"),
    "output_tokens": ("Output tokens per request", "tokens"),
    "input_tokens": ("Input tokens per request", "tokens"),
}
SCALAR_UNITS = {"error_rate": "fraction", "achieved_rps": "requests/s"}
STATS = ("count", "mean", "min", "p50", "p90", "p95", "p99", "max")
THROUGHPUT: dict[str, tuple[str, str]] = {
    "output_tokens_per_s": ("Output token throughput", "tokens/s"),
    "total_tokens_per_s": ("Total token throughput (input + output)", "tokens/s"),
    "requests_per_s": ("Request throughput (completed)", "requests/s"),
    "goodput_rps": ("Goodput (requests meeting every SLO)", "requests/s"),
    "good_fraction": ("Fraction of requests meeting every SLO", "fraction"),
}


@dataclass
class RunDocs:
    """One run's documents after redaction."""

    results: dict[str, Any]
    records: list[dict[str, Any]]
    skipped_lines: int  # requests.jsonl lines that were not JSON objects (e.g. torn by an interrupt)
    records_present: bool


def default_redactor(extra_env: str | None = None) -> Redactor:
    """A Redactor for the keys a run can have used: OPENAI_API_KEY, MAASCHECK_SIM_KEY and `extra_env`."""
    names = {DEFAULT_KEY_ENV, SIM_KEY_ENV} | ({extra_env} if extra_env else set())
    return Redactor(os.environ.get(n) for n in sorted(names))


def redact_tree(value: Any, redactor: Redactor) -> Any:
    """Return `value` with every string (keys included) passed through the redactor."""
    if isinstance(value, str):
        return redactor.text(value)
    if isinstance(value, dict):
        return {redactor.text(str(k)): redact_tree(v, redactor) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_tree(v, redactor) for v in value]
    return value


def load_results(path: Path) -> dict[str, Any]:
    """Parse a results.json document; ConfigError when it is missing or not a load results document."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"no load results at {path}; expected the results.json written by `maascheck load "
            f"--report-dir DIR`, e.g. reports/load-20250101T000000Z/results.json"
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot read load results {path}: {exc.strerror}") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"{path} is not valid JSON ({exc.msg} at line {exc.lineno}); "
            "expected a results.json written by `maascheck load`"
        ) from None
    if not isinstance(doc, dict) or doc.get("schema") != RESULTS_SCHEMA_ID:
        found = doc.get("schema") if isinstance(doc, dict) else type(doc).__name__
        raise ConfigError(
            f'{path} is not a maascheck load results document: expected "schema": '
            f'"{RESULTS_SCHEMA_ID}", found {found!r}'
        )
    return doc


def load_records(path: Path) -> tuple[list[dict[str, Any]], int, bool]:
    """Parse requests.jsonl: (records, unreadable lines, file present). A missing file yields no records."""
    if not path.exists():
        return [], 0, False
    records: list[dict[str, Any]] = []
    skipped = 0
    with path.open(encoding="utf-8", errors="replace") as fh:
        for line in fh:
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError:
                skipped += 1
                continue
            if isinstance(obj, dict):
                records.append(obj)
            else:
                skipped += 1
    return records, skipped, True


def read_run(report_dir: Path, redactor: Redactor | None = None) -> RunDocs:
    """Read and redact a run's results.json and requests.jsonl from `report_dir`."""
    results = load_results(report_dir / RESULTS_FILE)
    target = results.get("target") or {}
    key_env = target.get("api_key_env") if isinstance(target, dict) else None
    red = redactor or default_redactor(key_env if isinstance(key_env, str) else None)
    records, skipped, present = load_records(report_dir / RECORDS_FILE)
    return RunDocs(redact_tree(results, red), redact_tree(records, red), skipped, present)


def metric_meta(key: str) -> tuple[str, str]:
    """(label, unit) of a metric or scalar name; unknown names get their unit from a `_ms`/`_s` suffix."""
    if key in METRICS:
        return METRICS[key]
    if key in THROUGHPUT:
        return THROUGHPUT[key]
    if key in SCALAR_UNITS:
        return key.replace("_", " "), SCALAR_UNITS[key]
    unit = "ms" if key.endswith("_ms") else "s" if key.endswith("_s") else ""
    return key.replace("_", " "), unit


def num(value: Any) -> float | None:
    """`value` as a finite float, or None (JSON null, missing, non-numeric, NaN, infinite)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    f = float(value)
    return f if math.isfinite(f) else None


def fmt(value: Any, digits: int = 1) -> str:
    """Human formatting: integers as they are, floats with `digits` decimals (3 significant if small)."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    f = num(value)
    if f is None:
        return str(value)
    if f != 0 and abs(f) < 1:
        return f"{f:.3g}"
    return f"{f:,.{digits}f}"


def measured_records(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Records that count toward results (warm-up excluded)."""
    return [r for r in records if not r.get("warmup")]


def section(doc: dict[str, Any], key: str) -> dict[str, Any]:
    """`doc[key]` when it is an object, else an empty dict (tolerates null / missing sections)."""
    value = doc.get(key)
    return value if isinstance(value, dict) else {}
