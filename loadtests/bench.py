"""`maascheck bench-client`: the load client's timing error and CPU cost against an exact schedule.

Starts `maascheck sim --exact-schedule --ttft-ms 100 --itl-ms 10` pinned to core 0 and one load
generator process (`loadtests.benchdriver`) pinned to core 1 (`os.sched_setaffinity`, Linux), at 1, 16,
64 and 256 concurrent streams of 64 tokens (and one run with several tokens per chunk), and prints per
level: TTFT and ITL error vs the schedule (p50/p99, steady state: requests that started after the first
second), chunks/s and client CPU ms per 1000 chunks. Figures are printed, nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from typing import Any

from loadtests.stats import summarize
from maascheck.sim.config import DEFAULT_API_KEY


def configure(parser: argparse.ArgumentParser) -> None:
    """Register `maascheck bench-client` options."""
    parser.add_argument("--levels", default="1,16,64,256", help="concurrent streams per run, comma-separated")
    parser.add_argument("--seconds", type=float, default=5.0, help="duration of each level")
    parser.add_argument("--tokens", type=int, default=64, help="output tokens per request")
    parser.add_argument("--ttft-ms", type=float, default=100.0)
    parser.add_argument("--itl-ms", type=float, default=10.0)
    parser.add_argument(
        "--multi-chunk", type=int, default=4, help="tokens per chunk of the extra run (0: skip)"
    )


def _pinned(core: int) -> Any:
    def pin() -> None:
        if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > core:
            os.sched_setaffinity(0, {core})

    return pin


def _start_sim(args: argparse.Namespace, tokens_per_chunk: int) -> tuple[subprocess.Popen[str], str]:
    argv = [
        sys.executable,
        "-m",
        "maascheck.cli",
        "sim",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--exact-schedule",
        "--ttft-ms",
        str(args.ttft_ms),
        "--itl-ms",
        str(args.itl_ms),
        "--tokens-per-chunk",
        str(tokens_per_chunk),
    ]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, preexec_fn=_pinned(0))
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if "listening on" not in line:
        proc.kill()
        raise RuntimeError(f"the simulator did not start: {line!r}")
    return proc, line.rsplit(" ", 1)[1].strip()


def _level(url: str, streams: int, args: argparse.Namespace, per_chunk: int) -> dict[str, Any]:
    argv = [
        sys.executable,
        "-m",
        "loadtests.benchdriver",
        url,
        "sim-chat",
        str(streams),
        str(args.seconds),
        str(args.tokens),
        os.environ.get("MAASCHECK_SIM_KEY", DEFAULT_API_KEY),
    ]
    out = subprocess.run(
        argv, capture_output=True, text=True, preexec_fn=_pinned(1), timeout=args.seconds + 120
    )
    data = json.loads(out.stdout.strip().splitlines()[-1])
    steady = [r for r in data["records"] if r["outcome"] == "ok" and r["start_s"] >= 1.0] or [
        r for r in data["records"] if r["outcome"] == "ok"
    ]
    itl_sched = args.itl_ms  # per token; the client divides chunk gaps by tokens only when counts are known
    ttft = summarize(r["ttft_ms"] - args.ttft_ms for r in steady)
    icl = summarize(g - itl_sched * per_chunk for r in steady for g in r["icl_ms"])
    chunks = sum(r["events"] for r in data["records"])
    return {
        "streams": streams, "tokens_per_chunk": per_chunk, "requests": len(data["records"]),
        "ttft_err_p50": ttft and ttft["p50"], "ttft_err_p99": ttft and ttft["p99"],
        "itl_err_p50": icl and icl["p50"], "itl_err_p99": icl and icl["p99"],
        "chunks_per_s": round(chunks / data["wall_s"]), "cpu_ms_per_1000_chunks":
        round(data["cpu_s"] * 1e6 / chunks, 2) if chunks else None,
        "cpu_percent": round(100 * data["cpu_s"] / data["wall_s"]),
    }  # fmt: skip


def run(args: argparse.Namespace) -> int:
    """Run every level and print the table."""
    rows = []
    runs = [(int(x), 1) for x in args.levels.split(",") if x.strip()]
    if args.multi_chunk:
        runs.append((max(n for n, _ in runs), args.multi_chunk))
    for per_chunk in sorted({p for _, p in runs}):
        sim, url = _start_sim(args, per_chunk)
        try:
            rows += [_level(url, n, args, per_chunk) for n, p in runs if p == per_chunk]
        finally:
            sim.terminate()
            sim.wait(10)
    head = (
        "streams",
        "tok/chunk",
        "requests",
        "TTFT err p50/p99 ms",
        "ITL err p50/p99 ms",
        "chunks/s",
        "CPU ms/1k chunks",
        "CPU %",
    )
    print(" | ".join(head))
    for r in rows:
        cells = (
            r["streams"],
            r["tokens_per_chunk"],
            r["requests"],
            f"{r['ttft_err_p50']} / {r['ttft_err_p99']}",
            f"{r['itl_err_p50']} / {r['itl_err_p99']}",
            r["chunks_per_s"],
            r["cpu_ms_per_1000_chunks"],
            r["cpu_percent"],
        )
        print(" | ".join(str(c) for c in cells))
    print("ITL error is per chunk gap minus the scheduled gap (itl_ms x tokens per chunk).")
    return 0
