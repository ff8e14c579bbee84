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
          slos [as in results.json], efficiency, client_saturated, client_warnings,
          valid (results.json validity.valid; an invalid step is never the capacity)}];
  result {capacity, highest_passing, capacity_reason, knee, knee_reason, stopped_early, exit_code};
  files {json, csv, md, html}.
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from maascheck import __version__
from maascheck.core.errors import ConfigError
from maascheck.core.paths import refuse_shared_report_dir
from maascheck.load.measure.reader import num, section
from maascheck.load.run.preflight_hook import run_for_load
from maascheck.load.sweep.analysis import Step, bad_failure
from maascheck.load.sweep.document import analyse, as_json, step_entry
from maascheck.load.sweep.ladder import geometric_levels, parse_levels, step_command
from maascheck.load.sweep.options import SWEEP_OPTIONS, TARGET_NAMES
from maascheck.load.sweep.report import render_files
from maascheck.load.sweep.runner import StepRunner, run_step

SCHEMA_ID = "maascheck/sweep-results/1"
FILES = {"json": "sweep.json", "csv": "sweep.csv", "md": "sweep.md", "html": "sweep.html"}


def configure(parser: argparse.ArgumentParser) -> None:
    """Register `maascheck sweep` options (from `SWEEP_OPTIONS`)."""
    parser.epilog = (
        "example: maascheck sweep --base-url http://127.0.0.1:8000/v1 --model sim-chat "
        "--concurrency 1,2,4,8,16,32 --step-time 20s --warmup 5s --slo ttft_ms.p95<=500. "
        "Argv after a bare -- is appended to every `maascheck load` step."
    )
    SWEEP_OPTIONS.add_to_argparse(parser)


def resolve(args: argparse.Namespace) -> argparse.Namespace:
    """The validated values of raw parsed `args` (ConfigError, exit 2, before any step runs)."""
    values = SWEEP_OPTIONS.resolve(SWEEP_OPTIONS.raw_from(args))
    out = argparse.Namespace(**values, passthrough=list(getattr(args, "passthrough", []) or []))
    out.target = {
        name: SWEEP_OPTIONS[name].show(values[SWEEP_OPTIONS[name].dest])
        for name in TARGET_NAMES
        if SWEEP_OPTIONS[name].dest in values.given
    }
    return out


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


def _reproduce(args: argparse.Namespace, mode: str, levels: list[float]) -> str:
    ladder = {"concurrency": None, "rate_steps": None, "start": None, "stop": None, "factor": 2.0, "by": "concurrency"}
    ladder["concurrency" if mode == "concurrency" else "rate_steps"] = ",".join(f"{v:g}" for v in levels)
    values = {**vars(args), **ladder, "report_dir": None}
    if args.no_early_stop:
        values.update(stop_factor=SWEEP_OPTIONS.default("stop-factor"))
        values.update(max_error_rate=SWEEP_OPTIONS.default("max-error-rate"))
    return SWEEP_OPTIONS.reproduce(values, extra=args.passthrough)


def run_sweep(args: argparse.Namespace, sweep_dir: Path, runner: StepRunner = run_step) -> dict[str, Any]:
    """Run the steps (until an early stop), analyse, write sweep.json/csv/md/html; returns the document."""
    if not hasattr(args, "target"):
        args = resolve(args)
    mode, levels = _levels(args)
    started = datetime.now(UTC)
    t0 = time.monotonic()
    target = {name.replace("-", "_"): value for name, value in args.target.items()}
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
    doc["preflight"] = getattr(args, "preflight_doc", None)
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
                # The sweep's own preflight ran once; --overwrite reaches steps whose folders an older sweep left.
                extra=["--no-preflight", *(["--overwrite"] if args.overwrite else []), *args.passthrough],
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
    args = resolve(args)
    _levels(args)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    sweep_dir = args.report_dir or Path("reports") / f"sweep-{stamp}"
    refuse_shared_report_dir(sweep_dir, bool(args.overwrite))  # ConfigError (exit 2) before any request
    args.preflight_doc = run_for_load(
        args.base_url, args.model, api_key_env=args.api_key_env, profile=args.profile, scenario=args.scenario,
        enabled=not args.no_preflight,
    ).to_dict()  # PreflightFailed (exit 2, what to fix) before the first step
    doc = run_sweep(args, Path(sweep_dir))
    res = doc["result"]
    print(
        f"maascheck sweep: capacity {res['capacity']!r} ({res['capacity_reason']}); "
        f"knee {res['knee']!r} ({res['knee_reason']})"
    )
    print(f"maascheck sweep: report {Path(sweep_dir) / FILES['html']}")
    return int(res["exit_code"])
