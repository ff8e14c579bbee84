"""Synthetic load-run documents (results.json + requests.jsonl) that follow the load-results contract.

The records are generated from a seeded RNG; the summary figures are computed from those records
with linear-interpolation percentiles, so the documents are self-consistent like a real run's.
"""

from __future__ import annotations

import json
import math
import random
from pathlib import Path
from typing import Any

STAT_KEYS = ("count", "mean", "min", "p50", "p90", "p95", "p99", "max")


def _pct(xs: list[float], p: float) -> float:
    rank = (len(xs) - 1) * p / 100
    lo = math.floor(rank)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (rank - lo)


def summarize(values: list[float]) -> dict[str, float] | None:
    """count/mean/min/p50/p90/p95/p99/max (linear interpolation), None for no values."""
    xs = sorted(values)
    if not xs:
        return None
    out = {"count": len(xs), "mean": sum(xs) / len(xs), "min": xs[0], "max": xs[-1]}
    out.update({f"p{p}": _pct(xs, p) for p in (50, 90, 95, 99)})
    return out


def make_records(
    n: int = 120,
    *,
    seed: int = 7,
    ttft_ms: float = 120.0,
    itl_ms: float = 20.0,
    users: int = 4,
    warmup: int = 8,
    error_every: int = 0,
    error_text: str = "HTTP 429: rate limited",
) -> list[dict[str, Any]]:
    """`n` request records: the first `warmup` flagged warm-up, every `error_every`-th an HTTP 429."""
    rng = random.Random(seed)
    records: list[dict[str, Any]] = []
    clock = [0.0] * users
    for i in range(n):
        u = i % users
        start = clock[u]
        out_tokens = rng.randint(16, 64)
        ttft = ttft_ms * rng.uniform(0.7, 1.6)
        gaps = [itl_ms * rng.uniform(0.6, 1.8) for _ in range(out_tokens - 1)]
        e2e = ttft + sum(gaps)
        failed = error_every and i % error_every == error_every - 1
        rec: dict[str, Any] = {
            "rid": f"w0-{i:06d}",
            "worker": "w0",
            "scenario": "chat",
            "warmup": i < warmup,
            "intended_s": None,
            "start_s": round(start, 6),
            "dispatch_lag_ms": None,
            "status": 429 if failed else 200,
            "outcome": "http_error" if failed else "ok",
            "error": error_text if failed else None,
            "ttft_ms": None if failed else ttft,
            "ttfo_ms": None if failed else ttft,
            "e2e_ms": 3.0 if failed else e2e,
            "e2e_from_intended_ms": None,
            "tpot_ms": None if failed else (e2e - ttft) / (out_tokens - 1),
            "itl_ms": [] if failed else gaps,
            "icl_ms": [] if failed else gaps,
            "chunks": 0 if failed else out_tokens,
            "output_tokens": None if failed else out_tokens,
            "input_tokens": None if failed else 30,
            "token_source": "usage",
            "token_mismatch": 0,
            "good": None,
        }
        records.append(rec)
        clock[u] = start + rec["e2e_ms"] / 1000
    return records


def make_results(
    records: list[dict[str, Any]],
    *,
    users: int = 4,
    slos: list[dict[str, Any]] | None = None,
    model: str = "sim-chat",
    reproduce: str | None = None,
) -> dict[str, Any]:
    """A results.json document computed from `records` (warm-up excluded)."""
    measured = [r for r in records if not r["warmup"]]
    ok = [r for r in measured if r["outcome"] == "ok"]
    warmup_s = max((r["start_s"] for r in records if r["warmup"]), default=0.0)
    end = max(r["start_s"] + r["e2e_ms"] / 1000 for r in records)
    window = end - warmup_s
    out_tok = sum(r["output_tokens"] or 0 for r in ok)
    in_tok = sum(r["input_tokens"] or 0 for r in ok)
    metrics: dict[str, Any] = {}
    for key in ("ttft_ms", "ttfo_ms", "tpot_ms", "e2e_ms", "output_tokens", "input_tokens"):
        metrics[key] = summarize([r[key] for r in ok if r[key] is not None])
    metrics["itl_ms"] = summarize([v for r in ok for v in r["itl_ms"]])
    metrics["icl_ms"] = summarize([v for r in ok for v in r["icl_ms"]])
    metrics["e2e_from_intended_ms"] = metrics["dispatch_lag_ms"] = None
    by_outcome: dict[str, int] = {}
    for r in measured:
        by_outcome[r["outcome"]] = by_outcome.get(r["outcome"], 0) + 1
    errors = {f"http_{r['status']}": 0 for r in measured if r["outcome"] != "ok"}
    for r in measured:
        if r["outcome"] != "ok":
            errors[f"http_{r['status']}"] += 1
    slo_rows = []
    for s in slos or []:
        measured_value = metrics[s["metric"]][s["stat"]]
        slo_rows.append(
            {
                **s,
                "expr": f"{s['metric']}.{s['stat']}{s['op']}{s['threshold']:g}",
                "measured": measured_value,
                "passed": measured_value <= s["threshold"],
            }
        )
    reasons = [f"SLO {s['expr']} failed: measured {s['measured']:.1f}" for s in slo_rows if not s["passed"]]
    return {
        "schema": "maascheck/load-results/1",
        "tool": {"name": "maascheck", "version": "0.1.0"},
        "run": {
            "id": "load-20250101T000000Z",
            "started_utc": "2025-01-01T00:00:00Z",
            "finished_utc": "2025-01-01T00:00:30Z",
            "duration_s": end,
            "measured_s": window,
            "warmup_s": warmup_s,
            "interrupted": False,
            "reproduce": reproduce
            or f"maascheck load --base-url http://127.0.0.1:9/v1 --model {model} "
            f"--users {users} --run-time 30",
        },
        "target": {
            "base_url": "http://127.0.0.1:9/v1",
            "model": model,
            "profile": "openai",
            "scenario": "chat",
        },
        "load": {
            "mode": "closed",
            "users": users,
            "rate_rps": None,
            "arrival": None,
            "shape": "constant",
            "processes": 1,
            "run_time_s": 30.0,
            "max_requests": None,
            "offered_rps": None,
            "achieved_rps": len(measured) / window,
        },
        "workload": {
            "kind": "synthetic",
            "input_tokens": {"dist": "fixed", "value": 30},
            "output_tokens": {"dist": "uniform", "min": 16, "max": 64},
            "include_usage": True,
        },
        "requests": {
            "total": len(measured),
            "ok": len(ok),
            "failed": len(measured) - len(ok),
            "warmup_excluded": len(records) - len(measured),
            "by_outcome": by_outcome,
            "errors_by_kind": errors,
        },
        "metrics": metrics,
        "throughput": {
            "output_tokens_per_s": out_tok / window,
            "total_tokens_per_s": (out_tok + in_tok) / window,
            "requests_per_s": len(ok) / window,
            "goodput_rps": len(ok) / window,
            "good_fraction": len(ok) / len(measured),
        },
        "tokens": {"by_source": {"usage": len(measured)}, "mismatched_requests": 0},
        "slos": slo_rows,
        "verdict": {"passed": not reasons, "exit_code": 1 if reasons else 0, "reasons": reasons},
        "client": {
            "cpu_s": 1.0,
            "cpu_percent": 12.0,
            "cpu_ms_per_1000_chunks": 4.0,
            "saturated": False,
            "warnings": [],
        },
        "workers": [{"id": "w0", "requests": len(records), "lost": False}],
        "timeseries": [],
        "baseline": None,
        "files": {
            "records": "requests.jsonl",
            "html": "report.html",
            "csv": "summary.csv",
            "md": "report.md",
        },
    }


def write_run(report_dir: Path, records: list[dict[str, Any]], results: dict[str, Any]) -> Path:
    """Write results.json and requests.jsonl into `report_dir` (created); returns the directory."""
    report_dir.mkdir(parents=True, exist_ok=True)
    (report_dir / "results.json").write_text(json.dumps(results, indent=1), encoding="utf-8")
    with (report_dir / "requests.jsonl").open("w", encoding="utf-8") as fh:
        for r in records:
            fh.write(json.dumps(r) + "\n")
    return report_dir
