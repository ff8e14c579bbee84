"""`maascheck demo`: the main job on the embedded target, end to end, with reports and a verdict.

Starts the simulator on a free loopback port, runs the conformance suite and a short streaming
load test against it (each as its own `maascheck` subprocess, exactly as a user would), and
prints where the reports are and the verdict. Nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

from maascheck.core.paths import reports_dir
from maascheck.load.measure.validity import invalid_reason

SIM_KEY_ENV = "MAASCHECK_DEMO_KEY"  # the child processes read the simulator's test key from here
SIM_TEST_KEY = "maascheck-sim-key"  # loopback-only key of the embedded simulator (not a secret)


def configure(parser: argparse.ArgumentParser) -> None:
    """Options of `maascheck demo`."""
    parser.add_argument("--report-dir", type=Path, default=None, help="where to write (default reports/demo-<UTC>)")
    parser.add_argument("--profile", default="openai", help="provider persona for simulator and suite")
    parser.add_argument("--users", type=int, default=16, help="concurrent streams in the load test (default 16)")
    parser.add_argument("--run-time", default="15s", help="load test duration (default 15s)")
    parser.add_argument("--max-batch", type=int, default=8, help="simulated KV capacity in sequences (default 8)")


def _stamp() -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())


def _step(title: str, cmd: list[str], env: dict[str, str]) -> int:
    print(f"\n== {title}\n$ {shlex.join(cmd)}", flush=True)
    return subprocess.run(cmd, env=env, check=False).returncode


def _verdict_line(name: str, results: Path, code: int) -> str:
    detail = ""
    if results.is_file():
        doc = json.loads(results.read_text(encoding="utf-8"))
        if "summary" in doc:
            counts = doc["summary"].get("counts", {})
            detail = ", ".join(f"{k} {v}" for k, v in counts.items() if v)
            detail += f"; {doc.get('run', {}).get('requests_made', '?')} requests"
        elif "metrics" in doc:
            m = doc["metrics"]
            tp = doc.get("throughput", {})
            rq = doc.get("requests", {})

            def p(metric: str, stat: str) -> str:
                value = (m.get(metric) or {}).get(stat)
                return "n/a" if value is None else f"{value:.1f}"

            detail = (
                f"TTFT p50 {p('ttft_ms', 'p50')} ms, p99 {p('ttft_ms', 'p99')} ms; "
                f"ITL p50 {p('itl_ms', 'p50')} ms; "
                f"{tp.get('output_tokens_per_s', 0):.0f} output tok/s; "
                f"{rq.get('ok', 0)} ok, {rq.get('failed', 0)} failed, {rq.get('cancelled', 0)} cancelled at the stop"
            )
            reason = invalid_reason(doc.get("validity") or {})
            if reason:
                detail += f"; run INVALID, allowed in the demo: {reason}"
    verdict = {0: "PASS", 1: "FAIL"}.get(code, f"ERROR (exit {code})")
    return f"{name:<12} {verdict:<6} {detail}\n{'':<12} {results.parent}"


def run(args: argparse.Namespace) -> int:
    """Run the demo; exit 0 when both conformance and load pass."""
    from maascheck.sim.config import SimConfig
    from maascheck.sim.server import SimServer

    out = (args.report_dir or reports_dir() / f"demo-{_stamp()}").resolve()
    out.mkdir(parents=True, exist_ok=True)
    config = SimConfig(profile=args.profile, max_batch=args.max_batch, api_key=SIM_TEST_KEY, seed=1)
    server = SimServer(config)
    base_url = server.start_in_thread()
    print(f"maascheck demo: simulator ({args.profile} persona, KV capacity {args.max_batch}) at {base_url}")
    env = {**os.environ, SIM_KEY_ENV: SIM_TEST_KEY}
    me = [sys.executable, "-m", "maascheck"]
    from maascheck.core.profiles import load_profile

    models = load_profile(args.profile).models
    try:
        conf_cmd = [*me, "conformance", "--base-url", base_url, "--model", str(models.get("chat")),
                    "--profile", args.profile, "--api-key-env", SIM_KEY_ENV, "--report-dir", str(out / "conformance")]
        if models.get("vision"):
            conf_cmd += ["--vision-model", str(models["vision"])]
        if models.get("reasoning"):
            conf_cmd += ["--reasoning-model", str(models["reasoning"])]
        conf_code = _step("conformance", conf_cmd, env)
        load_cmd = [*me, "load", "--base-url", base_url, "--model", str(models.get("chat")), "--profile", args.profile,
                    "--api-key-env", SIM_KEY_ENV, "--users", str(args.users), "--run-time", args.run_time,
                    "--warmup", "2s", "--slo", "ttft_ms.p95<=2000", "--slo", "error_rate<=0.01",
                    "--allow-invalid", "--report-dir", str(out / "load")]
        # --allow-invalid: the simulator runs in this process, beside the generator, by design; a machine
        # too busy for both makes the run invalid (reported in the verdict line), not the endpoint failed.
        load_code = _step("load", load_cmd, env)
    finally:
        server.stop()
    print("\n== maascheck demo: verdict")
    print(_verdict_line("conformance", out / "conformance" / "results.json", conf_code))
    print(_verdict_line("load", out / "load" / "results.json", load_code))
    overall = 0 if conf_code == 0 and load_code == 0 else 1
    print(f"\noverall: {'PASS' if overall == 0 else 'FAIL'}  reports: {out}")
    return overall
