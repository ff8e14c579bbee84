"""Build the `results.json` document (schema `schemas/load-results.json`) from raw request records.

Everything is recomputed from the per-request records, so a merged multi-worker run and a
recomputation from its `requests.jsonl` give identical figures. The measured window runs from the first
measured send to the end of the last completed (not cancelled) request; requests that *started* during
warm-up are excluded from every metric and count.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from typing import Any

from maascheck.core.errors import EXIT_INTERRUPTED
from maascheck.load.measure.protocol import DEFAULT_MAX_PROTOCOL_ERROR_RATE, protocol_block
from maascheck.load.measure.sessions import sessions_block
from maascheck.load.measure.slo import DISTRIBUTIONS, Slo, is_good
from maascheck.load.measure.stats import summarize

SCHEMA_ID = "maascheck/load-results/1"


NOT_FAILED = ("ok", "cancelled")
"""Outcomes that are not failures: a cancelled request was cut off by the end of the run."""


def error_kind(record: dict[str, Any]) -> str | None:
    """`http_<status>` for HTTP errors, else the outcome name; None for ok and cancelled requests."""
    outcome = record.get("outcome")
    if outcome in NOT_FAILED:
        return None
    if outcome == "http_error":
        return f"http_{record.get('status')}"
    return str(outcome)


def mark_good(records: Iterable[dict[str, Any]], slos: list[Slo]) -> None:
    """Set each record's `good` field in place."""
    for r in records:
        good = is_good(r, slos)
        r["good"] = False if good and r.get("protocol_errors") else good


def measured_window(records: list[dict[str, Any]], warmup_s: float) -> float:
    """Seconds from the first measured send to the end of the last completed request (>= 1 ms).

    Completed = ok or failed: cancelled requests (cut off by the stop) are left out of the window as
    they are left out of every token and request count, so tokens/window is not biased low by the
    tail of streams whose tokens are dropped.
    """
    done = [r for r in records if r.get("outcome") != "cancelled" and r.get("end_s") is not None]
    if not done:
        return 0.0
    start = max(warmup_s, min(r["start_s"] for r in done))
    return max(float(max(r["end_s"] for r in done)) - float(start), 1e-3)


def metrics_block(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Exact distribution summaries; ITL/ICL pool every gap of every successful request."""
    ok = [r for r in records if r["outcome"] == "ok"]
    out: dict[str, Any] = {}
    for name in DISTRIBUTIONS:
        if name in ("itl_ms", "icl_ms"):
            out[name] = summarize(v for r in ok for v in r.get(name) or ())
        elif name == "dispatch_lag_ms":
            out[name] = summarize(r.get(name) for r in records)
        else:
            out[name] = summarize(r.get(name) for r in ok)
    out["e2e_done_ms"] = summarize(r.get("e2e_done_ms") for r in ok)
    return out


def throughput_block(records: list[dict[str, Any]], window_s: float) -> dict[str, Any]:
    """Token and request rates over the measured window.

    `total_tokens_per_s` is null unless every ok request reported its input tokens (usage): a sum that
    silently left out the prompts would read as a (wrong) total. Cancelled requests count in neither
    the goodput nor its denominator. A protocol-broken response is never good.
    """
    ok = [r for r in records if r["outcome"] == "ok"]
    out_tokens = sum(r.get("output_tokens") or 0 for r in ok)
    inputs = [r.get("input_tokens") for r in ok]
    in_known = bool(ok) and all(isinstance(n, int) for n in inputs)
    in_tokens = sum(n for n in inputs if isinstance(n, int))
    decided = [r for r in records if r["outcome"] != "cancelled"]
    goods = [r.get("good") for r in decided]
    has_slo = any(g is not None for g in goods)
    n_good = sum(1 for g in goods if g) if has_slo else sum(1 for r in ok if not r.get("protocol_errors"))
    w = window_s or math.inf
    return {
        "output_tokens_per_s": round(out_tokens / w, 3),
        "total_tokens_per_s": round((out_tokens + in_tokens) / w, 3) if in_known else None,
        "requests_per_s": round(len(ok) / w, 3),
        "goodput_rps": round(n_good / w, 3),
        "good_fraction": round(n_good / len(decided), 4) if decided else None,
    }


def requests_block(records: list[dict[str, Any]], warmup_excluded: int) -> dict[str, Any]:
    """Counts by outcome and by error kind; cancelled requests are neither ok nor failed.

    `gaps_capped` counts the requests whose `itl_ms`/`icl_ms` lists were cut to their quantiles
    (`maascheck.load.measure.metrics.MAX_GAPS`): pooled ITL/ICL percentiles are then approximate.
    """
    outcomes = Counter(r["outcome"] for r in records)
    kinds = Counter(k for k in map(error_kind, records) if k)
    ok, cancelled = outcomes.get("ok", 0), outcomes.get("cancelled", 0)
    decided = len(records) - cancelled
    return {
        "total": len(records),
        "ok": ok,
        "failed": decided - ok,
        "cancelled": cancelled,
        "warmup_excluded": warmup_excluded,
        "error_rate": round((decided - ok) / decided, 4) if decided else None,
        "by_outcome": dict(sorted(outcomes.items())),
        "errors_by_kind": dict(sorted(kinds.items())),
        "gaps_capped": sum(1 for r in records if r.get("gaps_capped")),
    }


def connections_block(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Connections of the measured requests: opened, reused, reconnects, retries, connect time.

    `opened` counts the fresh connections requests were sent on (a connect that failed opened none);
    `reconnects` the kept-alive connections found closed and replaced (before the send, or by a
    retry); `retries` the requests re-sent because the kept-alive connection died before a response
    head (`maascheck.load.client.reuse`). Records of runs before these fields count as unknown (None).
    """
    known = [r for r in records if "reused_connection" in r]
    if not known:
        return {"opened": None, "reused": None, "reconnects": None, "retries": None, "connect_ms": None}
    return {
        "opened": sum(1 for r in known if r.get("connect_ms") is not None),
        "reused": sum(1 for r in known if r.get("reused_connection")),
        "reconnects": sum(1 for r in known if r.get("reconnected")),
        "retries": sum(int(r.get("retries") or 0) for r in known),
        "connect_ms": summarize(r.get("connect_ms") for r in known),
    }


def tokens_block(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Where token counts came from, how many requests disagreed between sources, and prompt-cache reads.

    `prompt_cache_hit_rate` = the ok requests' reported `cached_tokens` / their `prompt_tokens`, over the
    ok requests that report both; None when none does (the server reports no cache figure).
    """
    ok = [r for r in records if r.get("outcome") == "ok"]
    both = [r for r in ok if isinstance(r.get("cached_tokens"), int) and isinstance(r.get("input_tokens"), int)]
    cached, prompts = sum(r["cached_tokens"] for r in both), sum(r["input_tokens"] for r in both)
    return {
        "by_source": dict(sorted(Counter(r.get("token_source") or "chunks" for r in records).items())),
        "mismatched_requests": sum(1 for r in records if r.get("token_mismatch")),
        "cached_prompt_tokens": cached if both else None,
        "prompt_cache_hit_rate": round(cached / prompts, 4) if both and prompts else None,
        "cache_reporting_requests": len(both),
    }


def timeseries(records: list[dict[str, Any]], bucket_s: float = 1.0) -> list[dict[str, Any]]:
    """Per-second rows: requests in flight at the bucket start, completions, tokens and errors.

    Requests cancelled at the stop count as in flight, never as completions or tokens.
    """
    if not records:
        return []
    end = max(r["end_s"] for r in records)
    n = int(end / bucket_s) + 1
    rows = [
        {"t_s": round(i * bucket_s, 3), "active": 0, "completed": 0, "output_tokens": 0, "errors": 0}
        for i in range(n)
    ]
    for r in records:
        for i in range(max(int(r["start_s"] / bucket_s), 0), min(int(r["end_s"] / bucket_s), n - 1) + 1):
            if r["start_s"] <= i * bucket_s < r["end_s"]:
                rows[i]["active"] += 1
        row = rows[min(int(r["end_s"] / bucket_s), n - 1)]
        if r["outcome"] == "cancelled":  # cut off by the stop: not a completion, its tokens not counted
            continue
        row["completed"] += 1
        row["output_tokens"] += r.get("output_tokens") or 0
        row["errors"] += r["outcome"] not in NOT_FAILED
    return rows


def scalar_values(doc: dict[str, Any]) -> dict[str, float | None]:
    """The scalar metrics SLOs can name."""
    t, rq, ld = doc["throughput"], doc["requests"], doc["load"]
    return {
        "error_rate": rq["error_rate"],
        "protocol_error_rate": (doc.get("protocol") or {}).get("protocol_error_rate"),
        "goodput_rps": t["goodput_rps"],
        "good_fraction": t["good_fraction"],
        "requests_per_s": t["requests_per_s"],
        "achieved_rps": ld["achieved_rps"],
        "output_tokens_per_s": t["output_tokens_per_s"],
        "total_tokens_per_s": t["total_tokens_per_s"],
    }


def evaluate_slos(doc: dict[str, Any], slos: list[Slo]) -> list[dict[str, Any]]:
    """Each SLO with its measured value and whether it passed."""
    scalars = scalar_values(doc)
    out = []
    for s in slos:
        if s.stat is None:
            measured = scalars.get(s.metric)
        else:
            block = doc["metrics"].get(s.metric)
            measured = None if block is None else block.get(s.stat)
        out.append(
            {
                "expr": s.expr,
                "metric": s.metric,
                "stat": s.stat,
                "op": s.op,
                "threshold": s.threshold,
                "measured": measured,
                "passed": s.holds(measured),
            }
        )
    return out


def build_results(
    all_records: list[dict[str, Any]],
    *,
    slos: list[Slo],
    run: dict[str, Any],
    target: dict[str, Any],
    load: dict[str, Any],
    workload: dict[str, Any],
    client: dict[str, Any],
    workers: list[dict[str, Any]],
    tool: dict[str, Any],
) -> dict[str, Any]:
    """Assemble results.json; `load`/`run` get their computed fields filled in here."""
    measured = [r for r in all_records if not r.get("warmup")]
    mark_good(measured, slos)
    window = measured_window(measured, run.get("warmup_s") or 0.0)
    run = {**run, "measured_s": round(window, 3)}
    load = {**load, "achieved_rps": round(len(measured) / window, 3) if window else 0.0}
    doc: dict[str, Any] = {
        "schema": SCHEMA_ID,
        "tool": tool,
        "run": run,
        "target": target,
        "load": load,
        "workload": workload,
        "requests": requests_block(measured, len(all_records) - len(measured)),
        "metrics": metrics_block(measured),
        "throughput": throughput_block(measured, window),
        "tokens": tokens_block(measured),
        "protocol": protocol_block(measured),
        "connections": connections_block(measured),
        "sessions": sessions_block(measured),
        "slos": [],
        "verdict": {},
        "client": client,
        "workers": workers,
        "timeseries": timeseries(all_records),
        "baseline": None,
        "files": {
            "records": "requests.jsonl",
            "html": "report.html",
            "csv": "summary.csv",
            "md": "report.md",
        },
    }
    doc["slos"] = evaluate_slos(doc, slos)
    reasons = [f"SLO {s['expr']} failed: measured {s['measured']}" for s in doc["slos"] if not s["passed"]]
    reasons += protocol_gate(doc["protocol"], slos)
    if not measured:
        reasons.append("no request finished in the measured window")
    elif not any(r["outcome"] == "ok" for r in measured):
        reasons.append(f"every one of the {len(measured)} measured requests failed")
    doc["verdict"] = {"passed": not reasons, "exit_code": 0 if not reasons else 1, "reasons": reasons}
    if run.get("interrupted"):
        doc["verdict"] = interrupted_verdict(reasons)
    return doc


def protocol_gate(protocol: dict[str, Any], slos: list[Slo]) -> list[str]:
    """The default gate: any protocol-broken response fails the run, unless an SLO names the bound."""
    rate = protocol.get("protocol_error_rate")
    if any(s.metric == "protocol_error_rate" for s in slos) or rate is None:
        return []
    if rate <= DEFAULT_MAX_PROTOCOL_ERROR_RATE:
        return []
    kinds = ", ".join(f"{k} {v['count']}" for k, v in protocol["by_kind"].items())
    return [
        f"protocol errors in {protocol['broken']} of {protocol['judged']} responses "
        f"(protocol_error_rate {rate:g}: {kinds}); set --slo 'protocol_error_rate<=X' to allow some"
    ]


def interrupted_verdict(reasons: list[str]) -> dict[str, Any]:
    """The verdict of a run cut short by Ctrl-C or SIGTERM: never a pass, exit 130, whatever was measured."""
    why = "interrupted: the run was stopped before its end (Ctrl-C or SIGTERM); figures cover what was kept"
    return {"passed": False, "interrupted": True, "exit_code": EXIT_INTERRUPTED, "reasons": [why, *reasons]}
