"""The sweep.json document: one entry per step (from its results.json) and the analysed result.

The full shape is documented in `maascheck.load.sweep.cli`; capacity and knee definitions in
`maascheck.load.sweep.analysis`.
"""

from __future__ import annotations

from typing import Any

from maascheck.core.errors import EXIT_INTERRUPTED
from maascheck.load.measure.reader import num, section
from maascheck.load.sweep.analysis import Step, efficiencies, find_capacity, find_knee
from maascheck.load.sweep.ladder import label
from maascheck.load.sweep.runner import StepRun

STEP_METRICS = ("ttft_ms", "itl_ms", "tpot_ms", "e2e_ms")
STEP_STATS = ("count", "mean", "p50", "p90", "p95", "p99", "max")


def as_json(level: float, mode: str) -> int | float:
    """Concurrency levels are whole users: written as integers."""
    return int(level) if mode == "concurrency" else level


def step_entry(level: float, mode: str, run: StepRun, has_slos: bool) -> dict[str, Any]:
    """The sweep.json record of one step."""
    doc = run.results
    entry: dict[str, Any] = {
        "load": as_json(level, mode),
        "label": label(level, mode),
        "dir": label(level, mode),
        "exit_code": run.exit_code,
        "error": run.error,
        "wall_s": round(run.wall_s, 3),
        "passed": None,
        "requests": {},
        "protocol_error_rate": None,
        "protocol_errors": {},
        "throughput": {},
        "achieved_rps": None,
        "measured_s": None,
        "metrics": {},
        "slos": [],
        "efficiency": None,
        "client_saturated": False,
        "client_warnings": [],
        "valid": None,
    }
    if doc is None:
        entry["status"] = "error"
        return entry
    req, client = section(doc, "requests"), section(doc, "client")
    passed = section(doc, "verdict").get("passed")
    entry.update(
        {
            "passed": passed if has_slos and isinstance(passed, bool) else None,
            "requests": {k: req.get(k) for k in ("total", "ok", "failed", "error_rate")},
            "throughput": {
                k: section(doc, "throughput").get(k)
                for k in ("output_tokens_per_s", "total_tokens_per_s", "requests_per_s", "goodput_rps")
            },
            "protocol_error_rate": section(doc, "protocol").get("protocol_error_rate"),
            "protocol_errors": {
                k: v.get("count")
                for k, v in section(section(doc, "protocol"), "by_kind").items()
                if isinstance(v, dict)
            },
            "achieved_rps": section(doc, "load").get("achieved_rps"),
            "measured_s": section(doc, "run").get("measured_s"),
            "metrics": {
                m: {k: section(section(doc, "metrics"), m).get(k) for k in STEP_STATS}
                for m in STEP_METRICS
                if isinstance(section(doc, "metrics").get(m), dict)
            },
            "slos": [s for s in doc.get("slos") or [] if isinstance(s, dict)],
            "client_saturated": bool(client.get("saturated")),
            "client_warnings": [str(w) for w in client.get("warnings") or []],
            "valid": valid if isinstance(valid := section(doc, "validity").get("valid"), bool) else None,
        }
    )
    if entry["requests"].get("error_rate") is None and num(req.get("total")):
        entry["requests"]["error_rate"] = round(
            (num(req.get("failed")) or 0) / (num(req.get("total")) or 1), 4
        )
    entry["status"] = ("passed" if entry["passed"] else "failed") if entry["passed"] is not None else "ran"
    return entry


def analyse(doc: dict[str, Any]) -> None:
    """Fill each step's efficiency and the `result` block of a sweep document in place."""
    sweep, has_slos = doc["sweep"], bool(doc["sweep"]["slos"])
    metric = sweep["knee_metric"]
    steps = [
        Step(
            load=float(s["load"]),
            ran=s["status"] != "error",
            passed=s["passed"],
            throughput=num(s["throughput"].get(metric)),
            error_rate=num(s["requests"].get("error_rate")),
            slos=s["slos"],
            protocol_error_rate=num(s.get("protocol_error_rate")),
            valid=s.get("valid") if isinstance(s.get("valid"), bool) else None,
        )
        for s in doc["steps"]
    ]
    for entry, eff in zip(doc["steps"], efficiencies(steps), strict=True):
        entry["efficiency"] = None if eff is None else round(eff, 4)
    knee = find_knee(steps, sweep["knee_min_efficiency"])
    cap = find_capacity(steps) if has_slos else None
    any_ran = any(s.ran for s in steps)
    found = cap is not None and cap.load is not None if has_slos else any_ran
    code = 0 if found else 1
    if doc["run"].get("interrupted"):  # Ctrl-C or SIGTERM: what ran is reported, never as a pass
        code = EXIT_INTERRUPTED
    doc["result"] = {
        "capacity": cap.load if cap else None,
        "highest_passing": cap.highest_passing if cap else None,
        "capacity_reason": cap.reason if cap else "no SLO given",
        "knee": knee.load,
        "knee_reason": knee.reason,
        "stopped_early": doc.get("result", {}).get("stopped_early"),
        "exit_code": code,
    }
