"""`maascheck load`: run Locust headless against an endpoint, then report the verdict.

It validates the options, runs ``python -m locust -f loadtests/locustfile.py --headless ...`` as a
subprocess (so gevent patching never touches this process), bounded by --run-time and --max-requests,
then renders the reports (`maascheck.load.report.render.render_all`, when that module exists) and prints the verdict.
Locust's console is kept quiet: warnings only, and its own (bucketed, approximate) statistics table
goes to `locust-stats.json` in the report dir instead of the console; maascheck's summary is exact.
Exit code: 0 every SLO met, 1 an SLO failed (or no request finished), 2 bad usage, 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from maascheck.core.errors import ConfigError
from maascheck.core.secrets import DEFAULT_KEY_ENV, read_api_key
from maascheck.load.client.lean import Endpoint
from maascheck.load.entry import LOCUSTFILE
from maascheck.load.measure.slo import parse_all
from maascheck.load.workload.payloads import SCENARIOS
from maascheck.load.workload.workloads import build_workload

CLASS_OF = {
    "chat": "ChatUser",
    "completions": "CompletionsUser",
    "vision": "VisionUser",
    "reasoning": "ReasoningUser",
}
STOP_GRACE_S = 30.0


def parse_duration(text: str) -> float:
    """Seconds from ``30``, ``30s``, ``2m``, ``1h``, ``1m30s``."""
    total, num = 0.0, ""
    units = {"s": 1, "m": 60, "h": 3600}
    for ch in text.strip():
        if ch.isdigit() or ch == ".":
            num += ch
        elif ch in units and num:
            total, num = total + float(num) * units[ch], ""
        else:
            raise ConfigError(f"bad duration {text!r}; valid: 30, 30s, 2m, 1m30s, 1h")
    return total + (float(num) if num else 0.0)


def configure(parser: argparse.ArgumentParser) -> None:
    """Register `maascheck load` options."""
    p = parser
    p.add_argument("--base-url", required=True, help="target base URL, e.g. http://127.0.0.1:8000/v1")
    p.add_argument("--model", required=True, help="model name, e.g. sim-chat")
    p.add_argument("--profile", default="openai", help="provider profile name (recorded in the results)")
    p.add_argument("--scenario", default="chat", choices=list(SCENARIOS))
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--users", type=int, help="closed loop: concurrent streams (default 4)")
    mode.add_argument("--rate", type=float, help="open loop: arrivals per second")
    p.add_argument("--arrival", default="poisson", choices=["constant", "poisson"])
    p.add_argument(
        "--pool", type=int, help="open loop: user pool size (default: enough for 10 s of arrivals)"
    )
    p.add_argument("--shape", default="constant", choices=["constant", "step", "ramp"])
    p.add_argument("--steps", type=int, default=4, help="step shape: number of equal steps")
    p.add_argument("--ramp-from", type=float, default=0.0, help="ramp shape: starting users or rate")
    p.add_argument("--run-time", default="30s", help="wall time of the load, warm-up included (default 30s)")
    p.add_argument("--max-requests", type=int, default=0, help="stop after N requests in all")
    p.add_argument("--warmup", default="0", help="leading time whose requests are excluded, e.g. 5s")
    p.add_argument(
        "--processes", type=int, default=1, help="load-generator worker processes (Locust --processes)"
    )
    p.add_argument("--workload", default="synthetic", help="synthetic | shared-prefix | corpus:PATH.jsonl")
    p.add_argument(
        "--input-tokens", default="fixed:128", help="fixed:N | uniform:A:B | normal:M:S | file:PATH"
    )
    p.add_argument("--output-tokens", default=None, help="as --input-tokens (default fixed:64)")
    p.add_argument("--prefix-tokens", type=int, default=0, help="shared-prefix workload: prefix length")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-usage", action="store_true", help="do not send stream_options.include_usage")
    p.add_argument(
        "--chunk-usage", action="store_true", help="send stream_options.continuous_usage_stats (vLLM)"
    )
    p.add_argument("--tokenizer", default="", help="HF tokenizer name for per-chunk token counts")
    p.add_argument(
        "--slo", action="append", default=[], metavar="EXPR", help="e.g. ttft_ms.p95<=500 (repeatable)"
    )
    p.add_argument("--slo-file", default="", help="SLO gates: one per line, JSON or TOML")
    p.add_argument("--baseline", default="", help="an older results.json (or its folder) to compare against")
    p.add_argument(
        "--baseline-threshold", type=float, default=10.0, metavar="PCT",
        help="a metric regresses when it is worse than the baseline by more than PCT percent (default 10)",
    )  # fmt: skip
    p.add_argument(
        "--fail-on-regression", action="store_true", help="exit 1 when the baseline comparison flags one"
    )
    p.add_argument("--report-dir", default="", help="output folder (default reports/load-<UTC time>)")
    p.add_argument("--api-key-env", default=DEFAULT_KEY_ENV, help="environment variable holding the API key")
    p.add_argument("--timeout", type=float, default=120.0, help="per-request stall and total bound, seconds")


def locust_argv(args: argparse.Namespace, report_dir: Path) -> list[str]:
    """The Locust command line for these options (validated)."""
    run_time = parse_duration(args.run_time)
    warmup = parse_duration(args.warmup)
    if run_time <= 0:
        raise ConfigError("--run-time must be positive, e.g. --run-time 30s")
    if warmup >= run_time:
        raise ConfigError(f"--warmup {args.warmup} must be shorter than --run-time {args.run_time}")
    if args.processes < 1:
        raise ConfigError("--processes must be >= 1, e.g. --processes 2")
    parse_all(args.slo, [args.slo_file] if args.slo_file else [])
    build_workload(args.workload, args.input_tokens, args.output_tokens, prefix_tokens=args.prefix_tokens)
    read_api_key(args.api_key_env)
    Endpoint.parse(args.base_url)  # a bad URL is a usage error before Locust starts
    if args.rate is not None and args.rate <= 0:
        raise ConfigError("--rate must be > 0 arrivals per second, e.g. --rate 5")
    users = args.users or 4
    if args.rate:
        users = args.pool or max(16, math.ceil(args.rate * 10))
    argv = [
        sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "--only-summary",
        "--loglevel", "WARNING", "--json-file", str(report_dir / "locust-stats"),
        "--host", args.base_url, "-u", str(users), "-r", "1000",
        "--run-time", f"{math.ceil(run_time + STOP_GRACE_S)}s",
        "--model", args.model, "--scenario", args.scenario, "--provider-profile", args.profile,
        "--arrival", args.arrival, "--shape", args.shape, "--steps", str(args.steps),
        "--ramp-from", str(args.ramp_from), "--stop-after", str(run_time), "--warmup", str(warmup),
        "--workload", args.workload, "--input-tokens", args.input_tokens,
        "--prefix-tokens", str(args.prefix_tokens), "--seed", str(args.seed),
        "--report-dir", str(report_dir), "--api-key-env", args.api_key_env,
        "--request-timeout", str(args.timeout), "--reproduce", reproduce_line(args),
    ]  # fmt: skip
    if args.rate:
        argv += ["--rate", str(args.rate)]
    if args.max_requests:
        argv += ["--max-requests", str(args.max_requests)]
    if args.output_tokens:
        argv += ["--output-tokens", args.output_tokens]
    if args.no_usage:
        argv.append("--no-usage")
    if args.chunk_usage:
        argv.append("--chunk-usage")
    if args.tokenizer:
        argv += ["--tokenizer", args.tokenizer]
    for s in args.slo:
        argv += ["--slo", s]
    if args.slo_file:
        argv += ["--slo-file", args.slo_file]
    if args.processes > 1:
        argv += ["--processes", str(args.processes)]
    argv += [*getattr(args, "passthrough", []), CLASS_OF[args.scenario]]
    return argv


def reproduce_line(args: argparse.Namespace) -> str:
    """The `maascheck load` command that repeats this run (no secrets: keys live in the environment)."""
    parts = [
        "maascheck",
        "load",
        "--base-url",
        args.base_url,
        "--model",
        args.model,
        "--scenario",
        args.scenario,
    ]
    parts += (
        ["--rate", str(args.rate), "--arrival", args.arrival]
        if args.rate
        else ["--users", str(args.users or 4)]
    )
    parts += ["--run-time", args.run_time, "--warmup", args.warmup, "--processes", str(args.processes)]
    if args.shape != "constant":
        parts += ["--shape", args.shape]
    if args.max_requests:
        parts += ["--max-requests", str(args.max_requests)]
    parts += ["--workload", args.workload, "--input-tokens", args.input_tokens]
    if args.output_tokens:
        parts += ["--output-tokens", args.output_tokens]
    for s in args.slo:
        parts += ["--slo", s]
    if args.api_key_env != DEFAULT_KEY_ENV:
        parts += ["--api-key-env", args.api_key_env]
    return shlex.join(parts)


def default_report_dir() -> Path:
    """reports/load-<UTC timestamp> under the current directory."""
    from datetime import UTC, datetime

    return Path("reports") / ("load-" + datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ"))


def render_reports(report_dir: Path, baseline: str, threshold_pct: float) -> str | None:
    """Render CSV, Markdown and HTML (and the baseline comparison); returns a note when rendering failed."""
    from maascheck.load.report import render as report

    try:
        report.render_all(report_dir, baseline=baseline or None, baseline_threshold_pct=threshold_pct)
    except ConfigError:
        raise
    except Exception as exc:  # the reports are secondary to results.json; say so and go on
        return f"report rendering failed: {type(exc).__name__}: {exc}"
    return None


def run_load(args: argparse.Namespace) -> dict[str, Any]:
    """Run one load test and return its results.json document (also used by the sweep)."""
    report_dir = Path(args.report_dir) if args.report_dir else default_report_dir()
    argv = locust_argv(args, report_dir)
    if getattr(args, "baseline", ""):
        from maascheck.load.measure.baseline import load_baseline

        load_baseline(Path(args.baseline))  # a bad baseline is a usage error before any load is sent
    report_dir.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(argv, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        proc.wait()
    except KeyboardInterrupt:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            proc.kill()
        raise
    results = report_dir / "results.json"
    if not results.exists():
        raise ConfigError(
            f"Locust exited with code {proc.returncode} without writing {results}; "
            "see its output above (a bad option or an unreachable locustfile)"
        )
    doc: dict[str, Any] = json.loads(results.read_text(encoding="utf-8"))
    doc["_report_dir"] = str(report_dir)
    return doc


def run(args: argparse.Namespace) -> int:
    """Entry point of `maascheck load`."""
    doc = run_load(args)
    report_dir = Path(doc.pop("_report_dir"))
    note = render_reports(report_dir, args.baseline, args.baseline_threshold)
    if args.baseline:
        doc = json.loads((report_dir / "results.json").read_text(encoding="utf-8"))
    print(summary_text(doc, report_dir))
    if note:
        print(f"warning: {note}", file=sys.stderr)
    code = int(doc["verdict"]["exit_code"])
    regressions = [r for r in (doc.get("baseline") or {}).get("regressions", []) if r.get("regressed")]
    if regressions:
        print(f"  baseline: {len(regressions)} regression(s) against {args.baseline}", file=sys.stderr)
        if args.fail_on_regression:
            code = max(code, 1)
    return code


def summary_text(doc: dict[str, Any], report_dir: Path) -> str:
    """The console verdict: key figures, SLOs, warnings, where the files are."""
    m, rq, tp = doc["metrics"], doc["requests"], doc["throughput"]

    def fig(name: str) -> str:
        b = m.get(name)
        return f"{name} p50 {b['p50']:.2f} p99 {b['p99']:.2f}" if b else f"{name} n/a"

    lines = [
        f"maascheck load: {rq['total']} requests ({rq['ok']} ok, {rq['failed']} failed, "
        f"{rq.get('cancelled', 0)} cancelled at the stop, {rq['warmup_excluded']} warm-up excluded) "
        f"in {doc['run']['measured_s']} s",
        "  " + " | ".join(fig(n) for n in ("ttft_ms", "itl_ms", "tpot_ms", "e2e_ms")),
        f"  {tp['output_tokens_per_s']} output tok/s, {tp['requests_per_s']} req/s, "
        f"goodput {tp['goodput_rps']} req/s",
    ]
    if rq["errors_by_kind"]:
        lines.append("  errors: " + ", ".join(f"{k} {v}" for k, v in rq["errors_by_kind"].items()))
    for s in doc["slos"]:
        lines.append(f"  SLO {s['expr']}: measured {s['measured']} -> {'pass' if s['passed'] else 'FAIL'}")
    for w in doc["client"].get("warnings", []):
        lines.append(f"  warning: {w}")
    lines.append(f"  verdict: {'PASS' if doc['verdict']['passed'] else 'FAIL'}; reports in {report_dir}")
    return "\n".join(lines)
