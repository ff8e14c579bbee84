"""`maascheck load`: run Locust headless against an endpoint, then report the verdict.

It validates the options, runs ``python -m locust -f loadtests/locustfile.py --headless ...`` as a
subprocess (so gevent patching never touches this process), bounded by --run-time and --max-requests,
then renders the reports (`maascheck.load.report.render.render_all`, when that module exists) and prints the verdict.
Locust's console is kept quiet: warnings only, and its own (bucketed, approximate) statistics table
goes to `locust-stats.json` in the report dir instead of the console; maascheck's summary is exact.
Exit code: 0 every SLO met, 1 an SLO failed (or no request finished, or the run is invalid: the generator
fell behind, unless --allow-invalid), 2 bad usage, 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import socket
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from maascheck.core.errors import EXIT_INTERRUPTED, ConfigError
from maascheck.core.options import Values
from maascheck.core.paths import refuse_shared_report_dir
from maascheck.core.preflight import write_findings
from maascheck.load.client.http11 import Endpoint
from maascheck.load.entry import LOCUSTFILE
from maascheck.load.measure.slo import parse_all
from maascheck.load.measure.validity import invalid_reason
from maascheck.load.run.options import LOAD_OPTIONS, trace_run_time, workload_of
from maascheck.load.run.preflight_hook import run_for_load

CLASS_OF = {
    "chat": "ChatUser",
    "completions": "CompletionsUser",
    "vision": "VisionUser",
    "reasoning": "ReasoningUser",
}
STOP_GRACE_S = 30.0


def _closed_or_open(v: Values) -> str | None:
    if v.rate is not None and "users" in v.given:
        return "give --users (closed loop) or --rate (open loop), not both; e.g. --rate 5 --pool 64"
    if str(v.workload).startswith("trace:") and "users" in v.given:
        return "a trace replays open loop: give its user pool as --pool, not --users; e.g. --pool 64"
    return None


def _one_host_or_many(v: Values) -> str | None:
    if v.expect_workers and v.processes > 1:
        return (
            "give --processes N (workers on this host) or --expect-workers N (workers on other hosts), not both; "
            "e.g. --expect-workers 2 --master-bind-host 10.0.0.5"
        )
    return None


CLI_OPTIONS = LOAD_OPTIONS.extended(checks=[_closed_or_open, _one_host_or_many])
WORKER_OPTIONS = ("worker", "master-host", "master-port", "api-key-env")
DISTRIBUTION = ("expect-workers", "master-bind-host", "master-bind-port", "workers-wait", *WORKER_OPTIONS)


def configure(parser: argparse.ArgumentParser) -> None:
    """Register `maascheck load` options (from `LOAD_OPTIONS`, the native Locust entry's too)."""
    CLI_OPTIONS.add_to_argparse(parser)


def resolve(args: argparse.Namespace) -> Values:
    """The validated options of `args`, every input checked before any request (ConfigError: exit 2)."""
    v = CLI_OPTIONS.resolve(CLI_OPTIONS.raw_from(args))
    workload = workload_of(v)
    run_time = trace_run_time(workload, v)
    if run_time is not None:  # a trace without --run-time: its replay length plus a tail
        v = v.replace(run_time=float(run_time))
    if workload.trace is not None and v.pool is None:
        v = v.replace(pool=max(16, math.ceil(workload.trace.mean_rps * 10)))
    if v.slo_file:
        parse_all([], [v.slo_file])
    Endpoint.parse(v.base_url)  # a bad URL is a usage error before Locust starts
    if v.baseline:
        from maascheck.load.measure.baseline import load_baseline

        load_baseline(Path(v.baseline))  # a bad baseline is a usage error before any load is sent
    return v


def pool_size(v: Values) -> int:
    """Locust users: the closed-loop streams, or the open-loop pool (enough for 10 s of arrivals)."""
    if v.rate:
        return int(v.pool or max(16, math.ceil(v.rate * 10)))
    if str(v.workload).startswith("trace:"):  # `resolve` sized it from the trace's mean rate
        return int(v.pool or 16)
    return int(v.users)


def locust_argv(v: Values, report_dir: Path, passthrough: list[str] | None = None) -> list[str]:
    """The Locust command line for validated values: Locust's own options, then the table's."""
    ours = LOAD_OPTIONS.without(
        "base-url", "users", "run-time", "processes", "profile", "report-dir", "baseline",
        "baseline-threshold", "fail-on-regression", "pool", *DISTRIBUTION[:-1],
    )  # fmt: skip
    argv = [
        sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "--only-summary",
        "--loglevel", "WARNING", "--json-file", str(report_dir / "locust-stats"),
        "--host", v.base_url, "-u", str(pool_size(v)), "-r", "1000",
        "--run-time", f"{math.ceil(v.run_time + STOP_GRACE_S)}s", "--profile", v.profile,
        "--report-dir", str(report_dir), "--stop-after", f"{v.run_time:g}", "--reproduce", reproduce_line(v),
        "--no-reports",
    ]  # fmt: skip
    argv += ours.without("stop-after", "reproduce").argv(v, only_given=False)
    if v.processes > 1:
        argv += ["--processes", str(v.processes)]
        if not any(a.startswith(("--master-bind-port", "--master-port")) for a in passthrough or []):
            argv += local_master_argv()
    if v.expect_workers:
        argv += [
            "--master", "--expect-workers", str(v.expect_workers), "--expect-workers-max-wait", f"{v.workers_wait:g}",
            "--master-bind-host", v.master_bind_host, "--master-bind-port", str(v.master_bind_port),
        ]  # fmt: skip
    return [*argv, *(passthrough or []), CLASS_OF[v.scenario]]


def local_master_argv() -> list[str]:
    """`--processes`: the master on loopback, on a port free now (Locust's default binds 5557 on every
    interface, so two runs on one host joined each other's workers, and other hosts could join)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port = str(s.getsockname()[1])
    return ["--master-bind-host", "127.0.0.1", "--master-bind-port", port, "--master-host", "127.0.0.1",
            "--master-port", port]  # fmt: skip


def resolve_worker(args: argparse.Namespace) -> Values:
    """The validated options of `maascheck load --worker`: only where the master is (it sends the rest)."""
    raw = CLI_OPTIONS.raw_from(args)
    extra = [
        o.flag_name for o in CLI_OPTIONS.options if o.name not in WORKER_OPTIONS and raw.get(o.dest) not in (None, [])
    ]
    if extra:
        raise ConfigError(
            f"a worker takes its run options from the master; give only --master-host and --master-port, "
            f"not {', '.join(extra)}; e.g. maascheck load --worker --master-host 10.0.0.5"
        )
    table = CLI_OPTIONS.without(*(o.name for o in CLI_OPTIONS.options if o.name not in WORKER_OPTIONS))
    return replace(table, checks=()).resolve(raw)


def worker_argv(v: Values) -> list[str]:
    """The Locust command line of a worker process."""
    return [
        sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--worker", "--loglevel", "WARNING",
        "--master-host", v.master_host, "--master-port", str(v.master_port),
    ]  # fmt: skip


def run_worker(v: Values) -> int:
    """Run one worker until its master quits; Locust's exit code (130 when interrupted)."""
    proc = subprocess.Popen(worker_argv(v), env={**os.environ, "PYTHONUNBUFFERED": "1"}, start_new_session=True)
    try:
        return proc.wait()
    except KeyboardInterrupt:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        return EXIT_INTERRUPTED


def reproduce_line(v: Values) -> str:
    """The `maascheck load` command that repeats this run (no secrets: keys live in the environment)."""
    return LOAD_OPTIONS.reproduce(v.replace(report_dir=None))


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


def run_load(v: Values, passthrough: list[str] | None = None) -> dict[str, Any]:
    """Run one load test and return its results.json document."""
    report_dir = Path(v.report_dir) if v.report_dir else default_report_dir()
    refuse_shared_report_dir(report_dir, bool(v.overwrite))  # ConfigError (exit 2) before any request
    found = run_for_load(
        v.base_url, v.model, api_key_env=v.api_key_env, profile=v.profile, scenario=v.scenario,
        enabled=not v.no_preflight,
    )  # fmt: skip  # PreflightFailed (exit 2, what to fix) before Locust starts
    v = v.replace(preflight_result=str(write_findings(found, report_dir)))
    argv = locust_argv(v, report_dir, passthrough)
    report_dir.mkdir(parents=True, exist_ok=True)
    # Its own session: a terminal's Ctrl-C reaches this process only, which forwards exactly one signal
    # (a second one would cut Locust's shutdown short, before results.json is written).
    proc = subprocess.Popen(argv, env={**os.environ, "PYTHONUNBUFFERED": "1"}, start_new_session=True)
    interrupted = False
    try:
        proc.wait()
    except KeyboardInterrupt:  # Ctrl-C, or SIGTERM (maascheck.cli turns it into one): Locust keeps what it has
        interrupted = True
        proc.send_signal(signal.SIGTERM)  # Locust's orderly shutdown: quitting listeners write results.json
        try:
            proc.wait(timeout=STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    results = report_dir / "results.json"
    if interrupted and not results.exists():
        raise KeyboardInterrupt
    if not results.exists():
        waited = (
            f", or fewer than --expect-workers {v.expect_workers} workers connected within --workers-wait "
            f"{v.workers_wait:g}s (start `maascheck load --worker --master-host ADDR` on each worker host)"
            if v.expect_workers
            else ""
        )
        raise ConfigError(
            f"Locust exited with code {proc.returncode} without writing {results}; "
            f"see its output above (a bad option or an unreachable locustfile{waited})"
        )
    doc: dict[str, Any] = json.loads(results.read_text(encoding="utf-8"))
    doc["_report_dir"] = str(report_dir)
    return doc


def run(args: argparse.Namespace) -> int:
    """Entry point of `maascheck load`."""
    if getattr(args, "worker", None):
        return run_worker(resolve_worker(args))
    v = resolve(args)
    doc = run_load(v, list(getattr(args, "passthrough", [])))
    report_dir = Path(doc.pop("_report_dir"))
    note = render_reports(report_dir, v.baseline, v.baseline_threshold)
    if v.baseline:
        doc = json.loads((report_dir / "results.json").read_text(encoding="utf-8"))
    print(summary_text(doc, report_dir))
    if note:
        print(f"warning: {note}", file=sys.stderr)
    if doc["verdict"].get("interrupted"):
        print(f"maascheck load: interrupted; reports rendered from what was kept in {report_dir}", file=sys.stderr)
        return EXIT_INTERRUPTED
    code = int(doc["verdict"]["exit_code"])
    regressions = [r for r in (doc.get("baseline") or {}).get("regressions", []) if r.get("regressed")]
    if regressions:
        print(f"  baseline: {len(regressions)} regression(s) against {v.baseline}", file=sys.stderr)
        if v.fail_on_regression:
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
    tr = doc.get("trace")
    if isinstance(tr, dict):
        lag = tr["dispatch_lag_ms"]
        lines.append(
            f"  trace: {tr['requests_sent']} of {tr['window_records']} records sent at speed {tr['speed']:g}, "
            f"dispatch lag p50 {lag['p50']} ms p99 {lag['p99']} ms max {lag['max']} ms"
        )
    if rq["errors_by_kind"]:
        lines.append("  errors: " + ", ".join(f"{k} {v}" for k, v in rq["errors_by_kind"].items()))
    for s in doc["slos"]:
        lines.append(f"  SLO {s['expr']}: measured {s['measured']} -> {'pass' if s['passed'] else 'FAIL'}")
    for w in doc["client"].get("warnings", []):
        lines.append(f"  warning: {w}")
    brakes = doc.get("brakes") or {}
    if brakes.get("tripped"):
        lines.append(f"  stopped by the {brakes.get('reason')}")
    shown = "INTERRUPTED" if doc["verdict"].get("interrupted") else "PASS" if doc["verdict"]["passed"] else "FAIL"
    reason = invalid_reason(doc.get("validity") or {})
    if reason and not doc["verdict"].get("interrupted") and not (doc.get("validity") or {}).get("allowed"):
        shown = f"INVALID (reason: {reason})"
    elif reason:
        shown += f", INVALID allowed by --allow-invalid (reason: {reason})"
    lines.append(f"  verdict: {shown}; reports in {report_dir}")
    return "\n".join(lines)
