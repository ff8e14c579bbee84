"""The content of a load report as plain tables of text, shared by the HTML and Markdown renderers.

Everything here is derived from one `RunDocs` (results.json + requests.jsonl, redacted). Values are
formatted text; escaping is the renderers' job.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from maascheck.load.measure.reader import THROUGHPUT, RunDocs, fmt, measured_records, metric_meta, num, section

# Metrics always listed (— when undefined), then those listed only when the run measured them.
CORE_METRICS = ("ttft_ms", "ttfo_ms", "itl_ms", "tpot_ms", "e2e_ms")
OPTIONAL_METRICS = (
    "icl_ms",
    "e2e_done_ms",
    "e2e_from_intended_ms",
    "dispatch_lag_ms",
    "output_tokens",
    "input_tokens",
)
TABLE_STATS = ("count", "mean", "p50", "p90", "p95", "p99", "max")
MAX_ERROR_MESSAGES = 10
MAX_MESSAGE_CHARS = 300


@dataclass
class Table:
    """Headers, rows of text, and an optional per-row status ("pass" / "fail" / None) for colouring."""

    headers: list[str]
    rows: list[list[str]] = field(default_factory=list)
    status: list[str | None] = field(default_factory=list)

    def add(self, row: list[str], status: str | None = None) -> None:
        """Append one row."""
        self.rows.append(row)
        self.status.append(status)


def _compact(value: Any) -> str:
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, separators=(", ", ": "))
    return fmt(value)


def _kv_table(pairs: list[tuple[str, Any]], rest: dict[str, Any]) -> Table:
    """Labelled settings first, then the unlabelled ones sorted by key."""
    table = Table(["setting", "value"])
    for label, value in pairs:
        table.add([label, _compact(value)])
    for key in sorted(rest):
        table.add([key, _compact(rest[key])])
    return table


def target_table(docs: RunDocs) -> Table:
    """Target, run identity and timing."""
    target, run = section(docs.results, "target"), section(docs.results, "run")
    tool = section(docs.results, "tool")
    pairs = [
        ("base URL", target.get("base_url")),
        ("model", target.get("model")),
        ("profile", target.get("profile")),
        ("scenario", target.get("scenario")),
        ("run id", run.get("id")),
        ("started (UTC)", run.get("started_utc")),
        ("finished (UTC)", run.get("finished_utc")),
        ("duration (s)", run.get("duration_s")),
        ("measured window (s)", run.get("measured_s")),
        ("warm-up (s)", run.get("warmup_s")),
        ("interrupted", run.get("interrupted")),
        ("tool", f"{tool.get('name', 'maascheck')} {tool.get('version', '?')}"),
    ]
    known = {"base_url", "model", "profile", "scenario"}
    known_run = {
        "id",
        "started_utc",
        "finished_utc",
        "duration_s",
        "measured_s",
        "warmup_s",
        "interrupted",
        "reproduce",
    }
    rest = {f"target.{k}": v for k, v in target.items() if k not in known}
    rest.update({f"run.{k}": v for k, v in run.items() if k not in known_run})
    return _kv_table(pairs, rest)


def load_table(docs: RunDocs) -> Table:
    """Load and workload settings; keys the renderer does not know are listed as they are."""
    load, workload = section(docs.results, "load"), section(docs.results, "workload")
    labels = {
        "mode": "mode (closed = fixed users, open = arrival rate)",
        "users": "users (concurrency)",
        "rate_rps": "arrival rate (requests/s)",
        "arrival": "arrival process",
        "shape": "load shape",
        "processes": "worker processes",
        "run_time_s": "run time (s)",
        "max_requests": "max requests",
        "offered_rps": "offered rate (requests/s)",
        "achieved_rps": "achieved rate (requests/s)",
    }
    pairs = [(label, load.get(key)) for key, label in labels.items() if key in load]
    rest = {f"load.{k}": v for k, v in load.items() if k not in labels}
    rest.update({f"workload.{k}": v for k, v in workload.items()})
    return _kv_table(pairs, rest)


def verdict(docs: RunDocs) -> tuple[bool | None, list[str]]:
    """(passed, reasons) from results.verdict; passed is None when the document has no verdict."""
    v = section(docs.results, "verdict")
    passed = v.get("passed")
    reasons = [str(r) for r in v.get("reasons") or []]
    return (passed if isinstance(passed, bool) else None), reasons


def invalid_note(docs: RunDocs) -> str | None:
    """Why the run is invalid (its generator fell behind), None when valid or not judged."""
    v = section(docs.results, "validity")
    if v.get("valid") is not False:
        return None
    checks = [c for c in v.get("checks") or [] if isinstance(c, dict) and c.get("ok") is False]
    why = "; ".join(str(c.get("why")) for c in checks) or "a validity check failed"
    return why + (" (allowed by --allow-invalid)" if v.get("allowed") else "")


def validity_table(docs: RunDocs) -> Table:
    """Each validity check with its figure, bound and result."""
    table = Table(["check", "figure", "bound", "result", "why"])
    for c in section(docs.results, "validity").get("checks") or []:
        if not isinstance(c, dict):
            continue
        ok = c.get("ok")
        result = "ok" if ok is True else "INVALID" if ok is False else "not applicable"
        status = "pass" if ok is True else "fail" if ok is False else None
        table.add([str(c.get("name")), fmt(c.get("value")), fmt(c.get("bound")), result, str(c.get("why"))], status)
    return table


def slo_unit(metric: str) -> str:
    """The unit of an SLO's metric ("" when unknown)."""
    return metric_meta(metric)[1]


def slo_table(docs: RunDocs) -> Table:
    """Each SLO with its measured value and result."""
    table = Table(["SLO", "measured", "threshold", "result"])
    for slo in docs.results.get("slos") or []:
        if not isinstance(slo, dict):
            continue
        passed = slo.get("passed")
        result = "PASS" if passed is True else "FAIL" if passed is False else "not measured"
        unit = slo_unit(str(slo.get("metric", "")))
        measured, threshold = (
            fmt(slo.get(k)) + (f" {unit}" if unit and slo.get(k) is not None else "")
            for k in ("measured", "threshold")
        )
        table.add(
            [str(slo.get("expr", "")), measured, threshold, result], "pass" if passed is True else "fail"
        )
    return table


def metric_table(docs: RunDocs) -> Table:
    """mean/p50/p90/p95/p99/max of each latency and token metric (count = samples)."""
    metrics = section(docs.results, "metrics")
    table = Table(["metric", "unit", *TABLE_STATS])
    extra = sorted(k for k in metrics if k not in CORE_METRICS and k not in OPTIONAL_METRICS)
    for key in (*CORE_METRICS, *OPTIONAL_METRICS, *extra):
        stats = metrics.get(key)
        if key not in CORE_METRICS and not isinstance(stats, dict):
            continue
        label, unit = metric_meta(key)
        vals = stats if isinstance(stats, dict) else {}
        table.add([f"{key} — {label}", unit, *(fmt(vals.get(s)) for s in TABLE_STATS)])
    return table


def throughput_table(docs: RunDocs) -> Table:
    """Output tok/s, total tok/s, req/s, goodput."""
    tp = section(docs.results, "throughput")
    table = Table(["throughput", "value", "unit"])
    for key, (label, unit) in THROUGHPUT.items():
        if key in tp:
            value = tp.get(key)
            frac = num(value) if key == "good_fraction" else None
            text = f"{frac * 100:.1f} %" if frac is not None else fmt(value, 2)
            table.add([f"{key} — {label}", text, "%" if key == "good_fraction" else unit])
    return table


def outcome_table(docs: RunDocs) -> Table:
    """Request counts, then requests by outcome."""
    req = section(docs.results, "requests")
    table = Table(["requests", "count"])
    for key in ("total", "ok", "failed", "cancelled", "warmup_excluded"):
        if key in req:
            failed = key == "failed" and (num(req.get(key)) or 0) > 0
            table.add([key, fmt(req.get(key))], "fail" if failed else None)
    for outcome, n in sorted((req.get("by_outcome") or {}).items()):
        table.add([f"outcome: {outcome}", fmt(n)], None if outcome in ("ok", "cancelled") else "fail")
    return table


def error_kind_table(docs: RunDocs) -> Table:
    """Errors by kind (e.g. http_429, no_done)."""
    table = Table(["error kind", "count"])
    kinds = section(section(docs.results, "requests"), "errors_by_kind")
    for kind, n in sorted(kinds.items(), key=lambda kv: (-(num(kv[1]) or 0), kv[0])):
        table.add([kind, fmt(n)], "fail")
    return table


def protocol_table(docs: RunDocs) -> Table:
    """Protocol errors by kind (`maascheck.load.measure.protocol`): count, rate, first request ids."""
    protocol = section(docs.results, "protocol")
    table = Table(["protocol error", "responses", "rate", "first requests (rid: detail)"])
    if not protocol:
        table.add(["not judged (a run before the protocol taxonomy)", "", "", ""])
        return table
    table.add(["any (protocol_error_rate)", f"{fmt(protocol.get('broken'))} of {fmt(protocol.get('judged'))}",
               fmt(protocol.get("protocol_error_rate")), ""],
              "fail" if num(protocol.get("broken")) else "pass")  # fmt: skip
    for kind, entry in section(protocol, "by_kind").items():
        if not isinstance(entry, dict):
            continue
        examples = "; ".join(
            f"{e.get('rid')}: {e.get('detail')}" for e in entry.get("examples") or [] if isinstance(e, dict)
        )
        table.add([kind, fmt(entry.get("count")), fmt(entry.get("rate")), examples[:MAX_MESSAGE_CHARS]], "fail")
    return table


def error_message_table(docs: RunDocs) -> Table:
    """The most frequent error messages among measured records (truncated, redacted)."""
    counts: Counter[tuple[str, str]] = Counter()
    for r in measured_records(docs.records):
        if r.get("outcome") != "ok" and r.get("error"):
            msg = str(r["error"])
            msg = msg if len(msg) <= MAX_MESSAGE_CHARS else msg[:MAX_MESSAGE_CHARS] + "…"
            counts[(str(r.get("outcome")), msg)] += 1
    table = Table(["outcome", "message", "requests"])
    for (outcome, msg), n in counts.most_common(MAX_ERROR_MESSAGES):
        table.add([outcome, msg, fmt(n)], "fail")
    return table


def tokens_table(docs: RunDocs) -> Table:
    """Where output-token counts came from, and usage/chunk mismatches."""
    tokens = section(docs.results, "tokens")
    table = Table(["token accounting", "requests"])
    for source, n in sorted(section(tokens, "by_source").items()):
        table.add([f"counted from: {source}", fmt(n)])
    if "mismatched_requests" in tokens:
        mism = num(tokens.get("mismatched_requests")) or 0
        table.add(
            ["usage count ≠ chunk-derived count", fmt(tokens.get("mismatched_requests"))],
            "fail" if mism else None,
        )
    if tokens.get("cache_reporting_requests"):
        cached, rate = fmt(tokens.get("cached_prompt_tokens")), fmt(tokens.get("prompt_cache_hit_rate"))
        label = f"prompt-cache reads: cached_tokens {cached}, hit rate {rate}"
        table.add([label, fmt(tokens.get("cache_reporting_requests"))])
    return table


def trace_table(docs: RunDocs) -> Table | None:
    """The trace replay (results.json `trace`): what was replayed and how late requests left; None otherwise."""
    tr = docs.results.get("trace")
    if not isinstance(tr, dict):
        return None
    got = tr.get("dispatch_lag_ms")
    lag: dict[str, Any] = got if isinstance(got, dict) else {}
    table = Table(["setting", "value"])
    for label, value in (
        ("trace file", tr.get("path")),
        ("format (timestamp unit, tokens per hash id)", f"{tr.get('format')}, {fmt(tr.get('block_tokens'))}"),
        ("records in the file / in the window", f"{fmt(tr.get('records'))} / {fmt(tr.get('window_records'))}"),
        ("window (trace time)", tr.get("window")),
        ("speed", tr.get("speed")),
        ("replay length (s)", tr.get("replay_s")),
        ("requests sent", tr.get("requests_sent")),
        ("whole window sent", tr.get("complete")),
        ("dispatch lag p50 / p99 / max (ms)", " / ".join(fmt(lag.get(k)) for k in ("p50", "p99", "max"))),
    ):
        table.add([label, _compact(value)])
    return table


INPUT_TOKENS_NOTE = (
    "Requested: the prompt length the workload asked for (--input-tokens, in the workload's words). "
    "Server-counted: usage.prompt_tokens, which also counts what the server adds before the model reads "
    "the prompt: the chat template (role markers, special tokens, any default system prompt) and the "
    "request's own tag; so it is usually a few to a few tens of tokens more than requested, and its "
    "tokenizer's count of the words may differ from one per word."
)


def requested_input_tokens(docs: RunDocs) -> float | None:
    """The prompt length the workload asked for: a fixed value or the distribution's mean, else None."""
    spec = section(section(docs.results, "workload"), "input_tokens")
    if num(spec.get("value")) is not None:
        return num(spec.get("value"))
    if num(spec.get("mean")) is not None:
        return num(spec.get("mean"))
    lo, hi = num(spec.get("min")), num(spec.get("max"))
    return (lo + hi) / 2 if lo is not None and hi is not None else None


def input_tokens_table(docs: RunDocs) -> Table:
    """Requested prompt length against the server's `prompt_tokens` (mean, p50, min, max) and their difference."""
    spec = section(section(docs.results, "workload"), "input_tokens")
    counted = section(section(docs.results, "metrics"), "input_tokens")
    requested = requested_input_tokens(docs)
    table = Table(["input tokens", "requested", "server-counted prompt_tokens (mean / p50 / min / max)", "difference"])
    stats = " / ".join(fmt(counted.get(k)) for k in ("mean", "p50", "min", "max")) if counted else "not reported"
    mean = num(counted.get("mean"))
    diff = f"{mean - requested:+.1f} tokens (mean)" if mean is not None and requested is not None else "—"
    label = f"per request ({fmt(counted.get('count'))} completed)"
    table.add([label, str(spec.get("spec") or fmt(requested)), stats, diff])
    return table


def connections_table(docs: RunDocs) -> Table:
    """Connections opened, reused, reconnects, retries and connect time (`results.connections`)."""
    conns = section(docs.results, "connections")
    table = Table(["connections", "value"])
    if not conns:
        return table
    labels = {
        "opened": "opened (fresh connections requests were sent on)",
        "reused": "requests on a kept-alive connection",
        "reconnects": "reconnects (kept-alive connection found closed, replaced)",
        "retries": "retries (re-sent: the connection died before a response head)",
    }
    for key, label in labels.items():
        table.add([label, fmt(conns.get(key))])
    connect = section(conns, "connect_ms")
    if connect:
        times = " / ".join(fmt(connect.get(k), 2) for k in ("p50", "p95", "p99"))
        table.add(["connect time p50 / p95 / p99 (ms)", times])
    return table


def baseline_table(docs: RunDocs) -> Table | None:
    """The baseline comparison, or None when the run was not compared."""
    base = docs.results.get("baseline")
    if not isinstance(base, dict):
        return None
    table = Table(["metric", "stat", "baseline", "this run", "change", "result"])
    for reg in base.get("regressions") or []:
        if not isinstance(reg, dict):
            continue
        change = num(reg.get("change_pct"))
        bad = reg.get("regressed") is True
        table.add(
            [
                str(reg.get("metric")),
                str(reg.get("stat")),
                fmt(reg.get("old")),
                fmt(reg.get("new")),
                "—" if change is None else f"{change:+.1f} %",
                "REGRESSED" if bad else "ok",
            ],
            "fail" if bad else "pass",
        )
    return table


def warnings(docs: RunDocs) -> list[str]:
    """Everything that makes the figures less trustworthy, most important first."""
    out: list[str] = []
    client = section(docs.results, "client")
    if client.get("saturated"):
        cpu = num(client.get("cpu_percent"))
        out.append(
            "The load generator was saturated"
            + (f" (client CPU {cpu:.0f} %)" if cpu is not None else "")
            + ": latencies include client delay and the offered load may not have been delivered."
        )
    out.extend(str(w) for w in client.get("warnings") or [])
    if section(docs.results, "run").get("interrupted"):
        out.append("The run was interrupted: figures cover only the part that ran.")
    workers = docs.results.get("workers") or []
    lost = [str(w.get("id")) for w in workers if isinstance(w, dict) and w.get("lost")]
    if lost:
        out.append(f"Worker(s) lost during the run, their requests may be missing: {', '.join(lost)}.")
    mism = num(section(docs.results, "tokens").get("mismatched_requests")) or 0
    if mism:
        out.append(f"{int(mism)} request(s) had a usage token count different from the chunk-derived count.")
    req = section(docs.results, "requests")
    if (num(req.get("total")) or 0) > 0 and not num(req.get("ok")):
        out.append("No request succeeded: latency and throughput figures are undefined.")
    if not docs.records_present:
        out.append("requests.jsonl is missing: plots and the per-request CSV are empty.")
    if docs.skipped_lines:
        out.append(f"{docs.skipped_lines} unreadable line(s) in requests.jsonl were skipped.")
    return out


def reproduce_line(docs: RunDocs) -> str | None:
    """The command that reproduces the run (already redacted)."""
    line = section(docs.results, "run").get("reproduce")
    return str(line) if line else None
