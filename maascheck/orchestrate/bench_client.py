"""`maascheck bench-client`: load-client timing error and CPU cost against an exact schedule, side by side.

Starts `maascheck sim --exact-schedule --ttft-ms 100 --itl-ms 10` pinned to core 0 and, for every level
(1, 16, 64, 256 concurrent streams of 64 tokens, plus one run with several tokens per chunk) and every
client kind, one load-generator process (`maascheck.load.bench.driver`) pinned to core 1
(`os.sched_setaffinity`; `--realtime` also makes both SCHED_FIFO so other processes on a busy machine
do not preempt them). Kinds: ours (the Locust user's full per-request path on `maascheck.load.client.reactor`),
reader (the reactor client alone), greenlet (the previous per-greenlet socket client), httpx (sync,
under gevent), fasthttp (geventhttpclient `readline`, as Locust's FastHttpUser), asyncio (minimal
raw-socket uvloop client, the reference). Per row it prints TTFT and chunk-gap error vs the schedule
(p50/p99 over requests sent and finished inside the steady-state window), chunks/s and client CPU ms
per 1000 chunks over that window (start-up excluded), and the simulator's own lateness over the same
run (`/sim/stats`), which separates server lateness from client error. Figures only, no assertions.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import urllib.request
from typing import Any

from maascheck.core.errors import ConfigError
from maascheck.load.measure.stats import summarize
from maascheck.sim.bench import pin
from maascheck.sim.config import DEFAULT_API_KEY

KINDS = ("ours", "reader", "greenlet", "httpx", "fasthttp", "asyncio")


def configure(parser: argparse.ArgumentParser) -> None:
    """Register `maascheck bench-client` options."""
    parser.add_argument("--levels", default="1,16,64,256", help="concurrent streams per run, comma-separated")
    parser.add_argument(
        "--clients", default="ours,reader,httpx,fasthttp,asyncio",
        help=f"client kinds, comma-separated, from {','.join(KINDS)} (default %(default)s)",
    )  # fmt: skip
    parser.add_argument("--seconds", type=float, default=4.0, help="steady-state window per run")
    parser.add_argument("--tokens", type=int, default=64, help="output tokens per request")
    parser.add_argument("--ttft-ms", type=float, default=100.0)
    parser.add_argument("--itl-ms", type=float, default=10.0)
    parser.add_argument(
        "--multi-chunk", type=int, default=4, help="tokens per chunk of the extra run (0: skip)"
    )
    parser.add_argument("--sim-core", type=int, default=0)
    parser.add_argument("--client-core", type=int, default=1)
    parser.add_argument(
        "--realtime", action="store_true", help="SCHED_FIFO for the simulator and the client (root)"
    )
    parser.add_argument("--json", action="store_true", help="also print one JSON line per row")


def _start_sim(args: argparse.Namespace, tokens_per_chunk: int) -> tuple[subprocess.Popen[str], str]:
    argv = [
        sys.executable, "-m", "maascheck.cli", "sim", "--host", "127.0.0.1", "--port", "0",
        "--exact-schedule", "--ttft-ms", str(args.ttft_ms), "--itl-ms", str(args.itl_ms),
        "--tokens-per-chunk", str(tokens_per_chunk),
    ]  # fmt: skip
    core, rt = args.sim_core, args.realtime
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, preexec_fn=lambda: pin(core, rt))
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if "listening on" not in line:
        proc.kill()
        raise ConfigError(f"the simulator did not start (got {line!r}); try `maascheck sim --port 0`")
    return proc, line.rsplit(" ", 1)[1].strip()


def _sim(url: str, path: str, method: str = "GET") -> dict[str, Any]:
    root = url.split("/v1", 1)[0]
    with urllib.request.urlopen(urllib.request.Request(root + path, method=method), timeout=10) as resp:
        data: dict[str, Any] = json.loads(resp.read())
        return data


def _row(url: str, kind: str, streams: int, per_chunk: int, args: argparse.Namespace) -> dict[str, Any]:
    request_s = (args.ttft_ms + -(-args.tokens // per_chunk) * args.itl_ms) / 1000  # one chunk per itl_ms
    stagger = request_s if streams > 1 else 0.0  # uniform arrivals: starts spread over one request
    warmup = stagger + 0.5
    argv = [
        sys.executable, "-m", "maascheck.load.bench.driver", kind, url, "sim-chat", str(streams), str(warmup),
        str(args.seconds), str(args.tokens), str(stagger),
        os.environ.get("MAASCHECK_SIM_KEY", DEFAULT_API_KEY), "",
    ]  # fmt: skip
    core, rt = args.client_core, args.realtime
    _sim(url, "/sim/stats/reset", "POST")
    limit = warmup + args.seconds + 120
    with tempfile.NamedTemporaryFile("r", suffix=".json") as result:
        argv[-1] = result.name
        out = subprocess.run(
            argv, capture_output=True, text=True, preexec_fn=lambda: pin(core, rt), timeout=limit
        )
        if out.returncode != 0:
            raise RuntimeError(f"benchdriver {kind} failed: {out.stderr[-2000:]}")
        data = json.load(result)
    late = _sim(url, "/sim/stats")["lateness_us"]
    ttft = summarize(t - args.ttft_ms for t in data["ttft_ms"])
    gaps = summarize(g - args.itl_ms for g in data["gaps_ms"])  # the simulator sends a chunk per itl_ms
    chunks = data["chunks"]
    return {
        "client": kind, "streams": streams, "tokens_per_chunk": per_chunk, "requests": data["requests"],
        "failed": data["failed"],
        "ttft_err_p50": ttft and round(ttft["p50"], 3), "ttft_err_p99": ttft and round(ttft["p99"], 3),
        "gap_err_p50": gaps and round(gaps["p50"], 3), "gap_err_p99": gaps and round(gaps["p99"], 3),
        "chunks_per_s": round(chunks / data["window_s"]),
        "cpu_ms_per_1000_chunks": round(data["cpu_s"] * 1e6 / chunks, 2) if chunks else None,
        "cpu_percent": round(100 * data["cpu_s"] / data["window_s"]),
        "sim_late_us_p50": late["p50"], "sim_late_us_p99": late["p99"],
    }  # fmt: skip


def _head() -> None:
    head = (
        "client", "streams", "tok/chunk", "requests", "TTFT err p50/p99 ms", "gap err p50/p99 ms", "chunks/s",
        "CPU ms/1k chunks", "CPU %", "sim late p50/p99 us",
    )  # fmt: skip
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head), flush=True)


def _print(r: dict[str, Any]) -> None:
    cells = (
        r["client"], r["streams"], r["tokens_per_chunk"], f"{r['requests']} ({r['failed']} failed)",
        f"{r['ttft_err_p50']} / {r['ttft_err_p99']}", f"{r['gap_err_p50']} / {r['gap_err_p99']}",
        r["chunks_per_s"], r["cpu_ms_per_1000_chunks"], r["cpu_percent"],
        f"{r['sim_late_us_p50']} / {r['sim_late_us_p99']}",
    )  # fmt: skip
    print("| " + " | ".join(str(c) for c in cells) + " |", flush=True)


def run(args: argparse.Namespace) -> int:
    """Run every level with every client kind and print the table."""
    kinds = [k.strip() for k in args.clients.split(",") if k.strip()]
    bad = [k for k in kinds if k not in KINDS]
    levels = [int(x) for x in args.levels.split(",") if x.strip()]
    if bad or not kinds or not levels or min(levels) < 1 or args.seconds <= 0:
        raise ConfigError(
            f"--clients takes {','.join(KINDS)} (got {args.clients!r}); --levels positive integers; "
            "--seconds > 0; e.g. maascheck bench-client --levels 1,16,64,256 --clients ours,asyncio"
        )
    runs = [(n, 1) for n in levels]
    if args.multi_chunk > 1:
        runs.append((max(levels), args.multi_chunk))
    with open("/proc/loadavg") as f:
        print(f"load average at start: {' '.join(f.read().split()[:3])}", flush=True)
    _head()
    for per_chunk in sorted({p for _, p in runs}):
        sim, url = _start_sim(args, per_chunk)
        try:
            for n in [n for n, p in runs if p == per_chunk]:
                for kind in kinds:
                    row = _row(url, kind, n, per_chunk, args)
                    _print(row)
                    if args.json:
                        print(json.dumps(row), flush=True)
        finally:
            sim.terminate()
            sim.wait(10)
    with open("/proc/loadavg") as f:
        print(f"load average at end: {' '.join(f.read().split()[:3])}")
    print("errors: measured minus scheduled (TTFT ttft_ms; chunk gap itl_ms, whatever the tokens per chunk);")
    print("sim late: write time minus due time inside the simulator over the same run (its share of the")
    print("client's error).")
    return 0
