"""Build the `results.json` document (schema `schemas/load-results.json`) from raw request records.

Everything is recomputed from the per-request records, so a merged multi-worker run and a
recomputation from its `requests.jsonl` give identical figures. The measured window runs from the end
of the warm-up to the last end of any request (`measured_window`); requests that *started* during
warm-up are excluded from every latency and count, and count in the rates for their share inside the
window (`throughput_block`).
"""

from __future__ import annotations

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


def measured_window(records: list[dict[str, Any]], warmup_s: float) -> tuple[float, float]:
    """The measured window [a, b] on the run clock: from the end of the warm-up (or the first send, when
    later) to the last end of any request (the stop, for requests it cancelled); (0, 0) with no record."""
    starts = [float(r["start_s"]) for r in records if r.get("start_s") is not None]
    ends = [float(r["end_s"]) for r in records if r.get("end_s") is not None]
    if not starts or not ends:
        return 0.0, 0.0
    a = max(warmup_s, min(starts))
    return a, max(a, max(ends))


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


def window_share(record: dict[str, Any], a: float, b: float, typical_s: float) -> float:
    """The share of a request's duration inside [a, b]: 1 inside, a fraction across an edge, 0 outside.

    A cancelled request has no full duration: it counts as lasting at least `typical_s` (the mean
    duration of the ok requests), so one cut off early by the stop is a fraction of a request.
    """
    start, end = record.get("start_s"), record.get("end_s")
    if start is None or end is None:
        return 0.0
    start, end = float(start), float(end)
    duration = end - start
    if record.get("outcome") == "cancelled":
        duration = max(duration, typical_s)
    if duration <= 0:
        return 1.0 if a <= end <= b else 0.0
    return max(0.0, min(end, b) - max(start, a)) / duration


def throughput_block(
    records: list[dict[str, Any]], window: tuple[float, float], slos: list[Slo] | None = None
) -> dict[str, Any]:
    """Token and request rates over the measured window [a, b], every request counted for its share in it.

    `records` are all of them, warm-up ones included. A request counts for the share of its duration
    that falls inside the window (`window_share`), and so do its tokens: a stream that started in the
    warm-up and ended inside counts for its part inside, and one cut off by the stop (cancelled) for
    its part, weighted by the run's ok (good) fraction and the ok requests' mean output tokens, since its
    outcome is unknown. Counting only requests sent and finished inside the window left out about one
    request per user (half at each edge) and read 23 % low for 8 unsynchronised users over a 3 s window
    (tests/load/test_throughput_window.py); users in lockstep hid it. `total_tokens_per_s` is null unless
    every ok request reported its input tokens (usage). A protocol-broken response is never good.
    """
    a, b = window
    w = b - a
    decided = [r for r in records if r.get("outcome") != "cancelled"]
    ok = [r for r in decided if r.get("outcome") == "ok"]
    cancelled = [r for r in records if r.get("outcome") == "cancelled"]

    def good(r: dict[str, Any]) -> bool:
        if r.get("outcome") != "ok" or r.get("protocol_errors"):
            return False
        verdict = r.get("good") if "good" in r else (is_good(r, slos) if slos else None)
        return verdict is not False

    typical = sum(float(r["end_s"]) - float(r["start_s"]) for r in ok) / len(ok) if ok else 0.0
    shares = {id(r): window_share(r, a, b, typical) for r in records}
    p_ok = len(ok) / len(decided) if decided else 0.0
    p_good = sum(1 for r in decided if good(r)) / len(decided) if decided else 0.0
    mean_out = sum(r.get("output_tokens") or 0 for r in ok) / len(ok) if ok else 0.0
    inputs = [r.get("input_tokens") for r in ok]
    in_known = bool(ok) and all(isinstance(n, int) for n in inputs)
    mean_in = sum(n for n in inputs if isinstance(n, int)) / len(ok) if in_known else 0.0
    cut = sum(shares[id(r)] for r in cancelled)  # requests the stop cut off, in the window
    n_ok = sum(shares[id(r)] for r in ok) + cut * p_ok
    n_good = sum(shares[id(r)] for r in ok if good(r)) + cut * p_good
    out_tokens = sum(shares[id(r)] * (r.get("output_tokens") or 0) for r in ok) + cut * p_ok * mean_out
    in_tokens = sum(shares[id(r)] * (r.get("input_tokens") or 0) for r in ok) + cut * p_ok * mean_in
    measured = [r for r in decided if not r.get("warmup")]
    measured_good = sum(1 for r in measured if good(r))

    def rate(x: float) -> float:
        return round(x / w, 3) if w > 0 else 0.0

    return {
        "output_tokens_per_s": rate(out_tokens),
        "total_tokens_per_s": rate(out_tokens + in_tokens) if in_known else None,
        "requests_per_s": rate(n_ok),
        "goodput_rps": rate(n_good),
        "good_fraction": round(measured_good / len(measured), 4) if measured else None,
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
    a, b = measured_window(all_records, run.get("warmup_s") or 0.0)
    window = b - a
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
        "throughput": throughput_block(all_records, (a, b), slos),
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
