"""`maascheck sweep`: step the load upward and find the capacity under SLOs and the throughput knee.

Each step is a full `maascheck load ... --users C` (or `--rate R` with `--rate-steps`) run into
`REPORT_DIR/step-C/`, lasting `--warmup` + `--step-time` seconds (warm-up excluded from its figures)
and bounded by `--max-requests-per-step` and a timeout. Target options are passed to every step;
argv after a bare `--` is appended to every `maascheck load` command. Capacity and knee are defined
in `maascheck.load.sweep.analysis`. Exit code: 0 when a load level meets the SLOs (or no SLO was given and
a step ran), 1 when none does, 2 on bad options.

sweep.json (`"schema": "maascheck/sweep-results/1"`):
  tool {name, version}; run {id, started_utc, finished_utc, duration_s, interrupted, reproduce};
  target {base_url, model, profile, scenario, api_key_env (the variable's name, never its value)};
  sweep {mode: "concurrency"|"rate", load_label, load_unit, levels [planned], step_time_s, warmup_s,
         max_requests_per_step, slos [expr], knee_metric, knee_min_efficiency, stop_factor,
         max_error_rate, early_stop};
  steps [{load, label, dir, status: "passed"|"failed"|"ran"|"error", exit_code, error, wall_s,
          passed, requests {total, ok, failed, error_rate}, throughput {output_tokens_per_s,
          total_tokens_per_s, requests_per_s, goodput_rps}, achieved_rps, measured_s,
          metrics {ttft_ms|itl_ms|tpot_ms|e2e_ms: {count, mean, p50, p90, p95, p99, max}},
          slos [as in results.json], efficiency, client_saturated, client_warnings}];
  result {capacity, highest_passing, capacity_reason, knee, knee_reason, stopped_early, exit_code};
  files {json, csv, md, html}.
"""

from __future__ import annotations

import argparse
import json
import shlex
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from maascheck import __version__
from maascheck.core.errors import ConfigError
from maascheck.load.measure.reader import num, section
from maascheck.load.sweep.analysis import (
    DEFAULT_KNEE_METRIC,
    DEFAULT_MIN_EFFICIENCY,
    Step,
    bad_failure,
)
from maascheck.load.sweep.document import analyse, as_json, step_entry
from maascheck.load.sweep.ladder import TARGET_OPTIONS, geometric_levels, parse_levels, step_command
from maascheck.load.sweep.report import render_files
from maascheck.load.sweep.runner import StepRunner, run_step

SCHEMA_ID = "maascheck/sweep-results/1"
FILES = {"json": "sweep.json", "csv": "sweep.csv", "md": "sweep.md", "html": "sweep.html"}
KNEE_METRICS = ("output_tokens_per_s", "total_tokens_per_s", "requests_per_s")


def configure(parser: argparse.ArgumentParser) -> None:
    """Register `maascheck sweep` options."""
    parser.epilog = (
        "example: maascheck sweep --base-url http://127.0.0.1:8000/v1 --model sim-chat "
        "--concurrency 1,2,4,8,16,32 --step-time 20 --warmup 5 --slo ttft_ms.p95<=500. "
        "Argv after a bare -- is appended to every `maascheck load` step."
    )
    t = parser.add_argument_group("target (passed to every step)")
    t.add_argument("--base-url", metavar="URL", help="endpoint base URL, e.g. http://127.0.0.1:8000/v1")
    t.add_argument("--model", metavar="NAME", help="model name, e.g. sim-chat")
    t.add_argument("--profile", metavar="NAME", help="provider profile name (default: the load command's)")
    t.add_argument(
        "--api-key-env",
        metavar="VAR",
        help="environment variable holding the API key (default OPENAI_API_KEY)",
    )
    t.add_argument("--scenario", metavar="KIND", help="request kind: chat, completions, vision, reasoning")
    t.add_argument("--input-tokens", metavar="DIST", help="input length distribution, e.g. fixed:128")
    t.add_argument("--output-tokens", metavar="DIST", help="output length distribution, e.g. fixed:64")
    t.add_argument("--workload", metavar="KIND", help="workload kind, e.g. synthetic")
    t.add_argument("--seed", metavar="N", help="workload random seed")
    t.add_argument("--processes", metavar="N", help="load worker processes per step")
    t.add_argument("--timeout", metavar="S", help="per-request stall and total bound, seconds")
    lv = parser.add_argument_group("load levels (one of)")
    lv.add_argument("--concurrency", metavar="LIST", help="comma-separated user counts, e.g. 1,2,4,8,16,32")
    lv.add_argument(
        "--rate-steps",
        metavar="LIST",
        help="comma-separated open-loop arrival rates (requests/s), e.g. 1,2,4,8",
    )
    lv.add_argument(
        "--start", metavar="L", type=float, help="geometric ladder: first level (with --stop, --factor)"
    )
    lv.add_argument("--stop", metavar="L", type=float, help="geometric ladder: last level")
    lv.add_argument(
        "--factor",
        metavar="F",
        type=float,
        default=2.0,
        help="geometric ladder: ratio between levels (default 2)",
    )
    lv.add_argument(
        "--by",
        choices=["concurrency", "rate"],
        default="concurrency",
        help="what --start/--stop/--factor step (default concurrency)",
    )
    st = parser.add_argument_group("steps and analysis")
    st.add_argument(
        "--step-time", metavar="S", type=float, default=20.0, help="measured seconds per step (default 20)"
    )
    st.add_argument(
        "--warmup",
        metavar="S",
        type=float,
        default=5.0,
        help="warm-up seconds per step, excluded (default 5)",
    )
    st.add_argument(
        "--max-requests-per-step",
        metavar="N",
        type=int,
        default=10000,
        help="request bound per step, warm-up included (default 10000; 0 = time only)",
    )
    st.add_argument(
        "--step-grace",
        metavar="S",
        type=float,
        default=60.0,
        help="seconds a step may overrun warm-up + step time before it is stopped (default 60)",
    )
    st.add_argument(
        "--slo",
        metavar="EXPR",
        action="append",
        default=[],
        help="SLO gate, e.g. ttft_ms.p95<=500 (repeatable)",
    )
    st.add_argument(
        "--knee-metric",
        choices=KNEE_METRICS,
        default=DEFAULT_KNEE_METRIC,
        help=f"throughput figure the knee is found on (default {DEFAULT_KNEE_METRIC})",
    )
    st.add_argument(
        "--knee-efficiency",
        metavar="F",
        type=float,
        default=DEFAULT_MIN_EFFICIENCY,
        help="knee: first step gaining less than this fraction of the ideal linear gain "
        f"(default {DEFAULT_MIN_EFFICIENCY})",
    )
    st.add_argument(
        "--stop-factor",
        metavar="F",
        type=float,
        default=2.0,
        help="stop after a step missing an SLO by more than this factor (default 2; 0 = never)",
    )
    st.add_argument(
        "--max-error-rate",
        metavar="F",
        type=float,
        default=0.5,
        help="stop after a step whose error rate exceeds this fraction (default 0.5)",
    )
    st.add_argument("--no-early-stop", action="store_true", help="run every step whatever happens")
    parser.add_argument(
        "--report-dir", metavar="DIR", type=Path, help="output folder (default reports/sweep-<UTC timestamp>)"
    )


def _levels(args: argparse.Namespace) -> tuple[str, list[float]]:
    given = [name for name in ("concurrency", "rate_steps", "start") if getattr(args, name) is not None]
    if len(given) != 1:
        raise ConfigError(
            "give exactly one ladder: --concurrency LIST, --rate-steps LIST, or "
            "--start A --stop B [--factor F]; e.g. --concurrency 1,2,4,8,16,32"
        )
    if args.concurrency is not None:
        return "concurrency", parse_levels(args.concurrency, integer=True, flag="--concurrency")
    if args.rate_steps is not None:
        return "rate", parse_levels(args.rate_steps, integer=False, flag="--rate-steps")
    if args.stop is None:
        raise ConfigError(
            "--start needs --stop (and optionally --factor), e.g. --start 1 --stop 32 --factor 2"
        )
    integer = args.by == "concurrency"
    return args.by, geometric_levels(args.start, args.stop, args.factor, integer=integer)


def _validate(args: argparse.Namespace) -> None:
    if not args.base_url:
        raise ConfigError("no target: pass --base-url, e.g. --base-url http://127.0.0.1:8000/v1")
    if not args.model:
        raise ConfigError("no model: pass --model NAME, e.g. --model sim-chat")
    if args.step_time <= 0 or args.warmup < 0 or args.step_grace <= 0:
        raise ConfigError(
            "--step-time and --step-grace must be > 0 and --warmup >= 0, e.g. --step-time 20 --warmup 5"
        )
    if args.max_requests_per_step < 0:
        raise ConfigError("--max-requests-per-step must be >= 0 (0 = bounded by time only), e.g. 5000")
    if not 0 < args.knee_efficiency < 1:
        raise ConfigError(
            f"--knee-efficiency must be between 0 and 1, got {args.knee_efficiency:g}; e.g. 0.5"
        )
    if not 0 <= args.max_error_rate <= 1 or args.stop_factor < 0:
        raise ConfigError("--max-error-rate must be in [0, 1] and --stop-factor >= 0, e.g. --stop-factor 2")
    if args.slo:
        from maascheck.load.measure.slo import parse_slo  # the load command's own parser: same grammar, same errors

        for expr in args.slo:
            parse_slo(expr)


def _reproduce(args: argparse.Namespace, mode: str, levels: list[float]) -> str:
    parts = ["maascheck", "sweep"]
    for key, flag in TARGET_OPTIONS.items():
        if getattr(args, key, None) is not None:
            parts += [flag, str(getattr(args, key))]
    parts += [
        "--concurrency" if mode == "concurrency" else "--rate-steps",
        ",".join(f"{v:g}" for v in levels),
    ]
    parts += [
        "--step-time",
        f"{args.step_time:g}",
        "--warmup",
        f"{args.warmup:g}",
        "--max-requests-per-step",
        str(args.max_requests_per_step),
    ]
    for slo in args.slo:
        parts += ["--slo", slo]
    parts += ["--knee-metric", args.knee_metric, "--knee-efficiency", f"{args.knee_efficiency:g}"]
    if args.no_early_stop:
        parts.append("--no-early-stop")
    else:
        parts += ["--stop-factor", f"{args.stop_factor:g}", "--max-error-rate", f"{args.max_error_rate:g}"]
    if args.passthrough:
        parts += ["--", *args.passthrough]
    return shlex.join(parts)


def run_sweep(args: argparse.Namespace, sweep_dir: Path, runner: StepRunner = run_step) -> dict[str, Any]:
    """Run the steps (until an early stop), analyse, write sweep.json/csv/md/html; returns the document."""
    mode, levels = _levels(args)
    started = datetime.now(UTC)
    t0 = time.monotonic()
    target = {k: str(getattr(args, k)) for k in TARGET_OPTIONS if getattr(args, k, None) is not None}
    doc: dict[str, Any] = {
        "schema": SCHEMA_ID,
        "tool": {"name": "maascheck", "version": __version__},
        "run": {
            "id": sweep_dir.name,
            "started_utc": started.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "finished_utc": None,
            "duration_s": None,
            "interrupted": False,
            "reproduce": _reproduce(args, mode, levels),
        },
        "target": {k: target.get(k) for k in ("base_url", "model", "profile", "scenario", "api_key_env")},
        "sweep": {
            "mode": mode,
            "load_label": "concurrency (users)" if mode == "concurrency" else "arrival rate (requests/s)",
            "load_unit": "users" if mode == "concurrency" else "requests/s",
            "levels": [as_json(v, mode) for v in levels],
            "step_time_s": args.step_time,
            "warmup_s": args.warmup,
            "max_requests_per_step": args.max_requests_per_step,
            "slos": list(args.slo),
            "knee_metric": args.knee_metric,
            "knee_min_efficiency": args.knee_efficiency,
            "stop_factor": args.stop_factor,
            "max_error_rate": args.max_error_rate,
            "early_stop": not args.no_early_stop,
        },
        "steps": [],
        "result": {},
        "files": dict(FILES),
    }
    sweep_dir.mkdir(parents=True, exist_ok=True)
    try:
        for level in levels:
            cmd = step_command(
                level=level,
                mode=mode,
                sweep_dir=sweep_dir,
                step_time_s=args.step_time,
                warmup_s=args.warmup,
                max_requests=args.max_requests_per_step,
                slos=args.slo,
                target=target,
                extra=list(args.passthrough),
                grace_s=args.step_grace,
            )
            entry = step_entry(level, mode, runner(cmd), bool(args.slo))
            doc["steps"].append(entry)
            _progress(entry)
            if not args.no_early_stop:
                step = Step(
                    load=level,
                    ran=entry["status"] != "error",
                    passed=entry["passed"],
                    throughput=None,
                    error_rate=num(entry["requests"].get("error_rate")),
                    slos=entry["slos"],
                )
                why = bad_failure(step, args.stop_factor, args.max_error_rate)
                if why and level != levels[-1]:
                    doc["result"] = {"stopped_early": why}
                    break
    except KeyboardInterrupt:
        doc["run"]["interrupted"] = True
        _finish(doc, sweep_dir, t0)
        raise
    _finish(doc, sweep_dir, t0)
    return doc


def _progress(entry: dict[str, Any]) -> None:
    tp = num(entry["throughput"].get("output_tokens_per_s"))
    ttft = num(section(entry["metrics"], "ttft_ms").get("p95"))
    print(
        f"maascheck sweep: {entry['label']}: {entry['status']}"
        + (f", {tp:.1f} output tokens/s" if tp is not None else "")
        + (f", TTFT p95 {ttft:.1f} ms" if ttft is not None else "")
        + (f" ({entry['error']})" if entry["error"] else ""),
        flush=True,
    )


def _finish(doc: dict[str, Any], sweep_dir: Path, t0: float) -> None:
    doc["run"]["finished_utc"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    doc["run"]["duration_s"] = round(time.monotonic() - t0, 3)
    analyse(doc)
    texts = render_files(doc, sweep_dir)
    (sweep_dir / FILES["json"]).write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    for key in ("csv", "md", "html"):
        (sweep_dir / FILES[key]).write_text(texts[key], encoding="utf-8")


def run(args: argparse.Namespace) -> int:
    """`maascheck sweep`: returns 0 when a level meets the SLOs (or none given), 1 when none does."""
    _validate(args)
    _levels(args)
    if not hasattr(args, "passthrough"):
        args.passthrough = []
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    sweep_dir = args.report_dir or Path("reports") / f"sweep-{stamp}"
    doc = run_sweep(args, Path(sweep_dir))
    res = doc["result"]
    print(
        f"maascheck sweep: capacity {res['capacity']!r} ({res['capacity_reason']}); "
        f"knee {res['knee']!r} ({res['knee_reason']})"
    )
    print(f"maascheck sweep: report {Path(sweep_dir) / FILES['html']}")
    return int(res["exit_code"])
