"""`maascheck bench-sim`: how many SSE events/s the simulator sends on one core, and how late.

The simulator runs in a subprocess pinned to one core (os.sched_setaffinity); a lean raw-socket
asyncio client pinned to the other core keeps `--streams` streams open back to back (closed loop,
keep-alive; exact mode spreads the starts over one request's duration). Engine mode uses a
near-zero step cost so the simulator is CPU-bound: events/s is its capacity. Exact mode runs
`--exact-schedule` (target rate streams * 1000 / itl_ms events/s) and reports the lateness of each
step (write time minus due time, measured inside the simulator; the scheduler may send an event
slightly early, so |lateness| is reported along with the early and late sides).
Also reported: the simulator's CPU share over the window and events per simulator CPU-second, which
stay meaningful when other processes compete for the cores (events/s then understates capacity).
Figures only, no pass/fail: this is a benchmark, not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import psutil

from maascheck.core.errors import ConfigError
from maascheck.sim.config import DEFAULT_API_KEY


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the benchmark's flags."""
    parser.add_argument(
        "--mode",
        choices=["engine", "exact", "both"],
        default="both",
        help="engine: capacity (events/s); exact: schedule lateness (default %(default)s)",
    )
    parser.add_argument("--streams", type=int, default=256, help="concurrent streams (default %(default)s)")
    parser.add_argument(
        "--duration", type=float, default=8.0, help="measured seconds per mode (default %(default)s)"
    )
    parser.add_argument(
        "--warmup", type=float, default=2.0, help="unmeasured seconds first (default %(default)s)"
    )
    parser.add_argument(
        "--max-tokens", type=int, default=200, help="tokens per request (default %(default)s)"
    )
    parser.add_argument("--ttft-ms", type=float, default=20.0, help="exact mode TTFT (default %(default)s)")
    parser.add_argument(
        "--itl-ms", type=float, default=10.0, help="exact mode inter-event gap (default %(default)s)"
    )
    parser.add_argument(
        "--sim-core", type=int, default=0, help="CPU core of the simulator (default %(default)s)"
    )
    parser.add_argument(
        "--client-core", type=int, default=1, help="CPU core of the client (default %(default)s)"
    )
    parser.add_argument(
        "--realtime",
        action="store_true",
        help="run the simulator and the client under SCHED_FIFO (root; shields the figures from other "
        "processes on a busy machine; the kernel's RT throttling still leaves them 5%% of each core)",
    )
    parser.add_argument("--json", action="store_true", help="also print one JSON line per mode")


@dataclass
class Counter:
    """Events and completed requests seen by the client."""

    events: int = 0
    requests: int = 0


class _StreamProtocol(asyncio.Protocol):
    """Sends one streaming request after another on a keep-alive connection, counting data events."""

    def __init__(self, request: bytes, counter: Counter, deadline: float, done: asyncio.Future[None]) -> None:
        self.request = request
        self.counter = counter
        self.deadline = deadline
        self.done = done
        self.tail = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def start(self) -> None:
        assert self.transport is not None
        self.transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        window = self.tail + data
        self.counter.events += window.count(b"data: {")
        self.tail = window[-7:]
        if window.endswith(b"\r\n0\r\n\r\n"):
            self.counter.requests += 1
            self.tail = b""
            if time.perf_counter() < self.deadline:
                self.start()
            elif not self.done.done():
                self.done.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_result(None)


async def _drive(
    url: str, streams: int, max_tokens: int, seconds: float, stagger_s: float, counter: Counter
) -> None:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    body = json.dumps(
        {
            "model": "sim-chat",
            "messages": [{"role": "user", "content": "benchmark"}],
            "max_tokens": max_tokens,
            "stream": True,
        }
    ).encode()
    request = (
        f"POST {parts.path}/chat/completions HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        f"Authorization: Bearer {DEFAULT_API_KEY}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    loop = asyncio.get_running_loop()
    deadline = time.perf_counter() + seconds
    protos: list[_StreamProtocol] = []
    for _ in range(streams):
        done: asyncio.Future[None] = loop.create_future()
        proto = _StreamProtocol(request, counter, deadline, done)
        await loop.create_connection(lambda p=proto: p, host, port)  # type: ignore[misc]
        protos.append(proto)
    for i, proto in enumerate(protos):
        loop.call_later(i * stagger_s / max(1, streams), proto.start)
    await asyncio.wait([p.done for p in protos], timeout=seconds + 30)
    for p in protos:
        if p.transport is not None:
            p.transport.close()


def _http(url: str, method: str = "GET") -> dict[str, Any]:
    req = urllib.request.Request(url, method=method)
    with urllib.request.urlopen(req, timeout=10) as resp:  # loopback only
        data: dict[str, Any] = json.loads(resp.read())
        return data


RT_PRIORITY = 10
"""SCHED_FIFO priority of `--realtime` runs: above every normal process, below kernel RT threads."""


def pin(core: int, realtime: bool) -> None:
    """Pin the calling process to `core`; with `realtime`, also make it SCHED_FIFO (needs root)."""
    os.sched_setaffinity(0, {core})
    if realtime:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(RT_PRIORITY))


def _start_sim(args: argparse.Namespace, flags: list[str]) -> tuple[subprocess.Popen[str], str]:
    core = args.sim_core
    proc = subprocess.Popen(
        [sys.executable, "-m", "maascheck.cli", "sim", "--port", "0", "--seed", "1", *flags],
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: pin(core, args.realtime),
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    if not line.startswith("maascheck-sim listening on "):
        proc.kill()
        raise ConfigError(
            f"the simulator did not start (got {line!r}); try `maascheck sim --port 0` directly"
        )
    return proc, line.rsplit(" ", 1)[1]


def _run_mode(args: argparse.Namespace, mode: str) -> dict[str, Any]:
    if mode == "engine":
        flags = [
            "--max-batch",
            str(args.streams),
            "--decode-step-ms",
            "0.01",
            "--decode-ms-per-seq",
            "0",
            "--prefill-ms-per-token",
            "0",
            "--jitter",
            "0",
        ]
        stagger = 0.0
    else:
        flags = [
            "--exact-schedule",
            "--ttft-ms",
            str(args.ttft_ms),
            "--itl-ms",
            str(args.itl_ms),
            "--record-lateness",
        ]
        # Spread the stream starts over one request's duration: arrivals stay uniform instead of all
        # streams re-requesting in the same few ms (a synthetic burst that measures request set-up).
        stagger = (args.ttft_ms + args.max_tokens * args.itl_ms) / 1000.0
    proc, url = _start_sim(args, flags)
    root = url[: -len(urlsplit(url).path)] if urlsplit(url).path else url
    try:
        counter = Counter()
        total = args.warmup + args.duration

        sim = psutil.Process(proc.pid)

        async def main() -> tuple[int, float, float, float, float]:
            task = asyncio.ensure_future(_drive(url, args.streams, args.max_tokens, total, stagger, counter))
            await asyncio.sleep(args.warmup)
            _http(root + "/sim/stats/reset", "POST")
            start_events, t0 = counter.events, time.perf_counter()
            cpu0, sim0 = resource.getrusage(resource.RUSAGE_SELF), sim.cpu_times()
            await asyncio.sleep(args.duration)
            got, window = counter.events - start_events, time.perf_counter() - t0
            cpu1, sim1 = resource.getrusage(resource.RUSAGE_SELF), sim.cpu_times()
            await task
            cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
            sim_sys = sim1.system - sim0.system
            return got, window, cpu, (sim1.user - sim0.user) + sim_sys, sim_sys

        from maascheck.sim.server import new_event_loop

        loop = new_event_loop()
        try:
            got, window, cpu, sim_cpu, sim_sys = loop.run_until_complete(main())
        finally:
            loop.close()
        stats = _http(root + "/sim/stats" + ("?samples=1" if mode == "exact" else ""))
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    result: dict[str, Any] = {
        "mode": mode,
        "streams": args.streams,
        "window_s": round(window, 3),
        "events_per_s": round(got / window),
        "client_cpu_share": round(cpu / window, 3),
        "sim_cpu_share": round(sim_cpu / window, 3),
        "sim_kernel_share": round(sim_sys / window, 3),
        "events_per_sim_cpu_s": round(got / sim_cpu) if sim_cpu > 0 else None,
        "server_events_sent": stats["events_sent"],
    }
    if mode == "exact":
        result["target_events_per_s"] = round(args.streams * 1000 / args.itl_ms)
        result["lateness_us"] = lateness_summary(stats.get("lateness_samples_us", []))
    return result


def _pct(values: list[float], q: float) -> float | None:
    return values[min(len(values) - 1, int(q * len(values)))] if values else None


def lateness_summary(samples_us: list[float]) -> dict[str, Any]:
    """Lateness figures from signed samples (write time minus due time, us; negative = early).

    `abs_*` are percentiles of |lateness| (the schedule error either way); `late_*` and `early_max`
    describe each side; `within_200us` is the share of events whose |lateness| is under 200 us.
    """
    absolute = sorted(abs(v) for v in samples_us)
    late = sorted(v for v in samples_us if v > 0)
    early = [v for v in samples_us if v < 0]
    n = len(samples_us)
    return {
        "count": n,
        "abs_p50": _pct(absolute, 0.50),
        "abs_p99": _pct(absolute, 0.99),
        "abs_max": absolute[-1] if absolute else None,
        "late_share": round(len(late) / n, 4) if n else None,
        "late_p99": _pct(late, 0.99),
        "late_max": late[-1] if late else None,
        "early_max": -min(early) if early else None,
        "within_200us": round(sum(1 for v in absolute if v < 200) / n, 5) if n else None,
    }


def run(args: argparse.Namespace) -> int:
    """Run the chosen modes and print their figures."""
    if args.streams < 1 or args.duration <= 0 or args.warmup < 0 or args.max_tokens < 1 or args.itl_ms <= 0:
        raise ConfigError(
            "--streams and --max-tokens must be >= 1, --duration and --itl-ms > 0, --warmup >= 0; "
            "e.g. maascheck bench-sim --streams 256 --duration 8"
        )
    cores = os.sched_getaffinity(0)
    if {args.sim_core, args.client_core} - cores:
        raise ConfigError(f"--sim-core/--client-core must be among the available cores {sorted(cores)}")
    policy = os.sched_getscheduler(0)
    pin(args.client_core, args.realtime)
    try:
        for mode in ["engine", "exact"] if args.mode == "both" else [args.mode]:
            r = _run_mode(args, mode)
            line = (
                f"{mode:6s} streams={r['streams']} window={r['window_s']}s events/s={r['events_per_s']} "
                f"sim_cpu={r['sim_cpu_share']:.0%} (kernel {r['sim_kernel_share']:.0%}) "
                f"events/sim-cpu-s={r['events_per_sim_cpu_s']} "
                f"client_cpu={r['client_cpu_share']:.0%}"
            )
            if mode == "exact":
                lat = r["lateness_us"]
                line += (
                    f" target/s={r['target_events_per_s']} |lateness|_us p50={lat['abs_p50']} "
                    f"p99={lat['abs_p99']} max={lat['abs_max']} late={lat['late_share']:.0%} "
                    f"late_max={lat['late_max']} early_max={lat['early_max']} "
                    f"within_200us={lat['within_200us']:.3%} (n={lat['count']})"
                )
            print(line, flush=True)
            if args.json:
                print(json.dumps(r), flush=True)
    finally:
        os.sched_setaffinity(0, cores)
        if args.realtime:
            os.sched_setscheduler(0, policy, os.sched_param(0))
    return 0
