"""One load-generator process of `maascheck bench-client`: N streams with one client kind, figures as JSON.

Run as ``python -m maascheck.load.bench.driver KIND URL MODEL STREAMS WARMUP SECONDS TOKENS STAGGER KEY OUT``
(the bench starts it pinned to one core). Kinds:

- ``ours``: the real Locust path: `maascheck.load.run.users.ChatUser`s spawned by a Locust `LocalRunner` with
  maascheck's listeners, as `maascheck load` runs them (GC policy, sliced parsing, metrics, one
  request event per request, buffered JSONL in a temporary report dir, the run controller). The
  figures are read back from that requests.jsonl (start_s, ttft_ms and icl_ms give each chunk's time).
- ``reader``: `ReactorClient` alone (token chunk times taken from its framed events, no record):
  the client's own cost, without the per-request metrics work that `ours` adds.
- ``greenlet``: `maascheck.load.client.lean.StreamClient` (each user's greenlet reads its own socket: the
  previous design) with per-request metrics and a JSON line, outside Locust.
- ``httpx``: sync `httpx.Client` under gevent, `iter_lines()`, a timestamp per token line.
- ``fasthttp``: geventhttpclient `HTTPClient` (what Locust's FastHttpUser wraps), `readline()` framing.
- ``asyncio``: a minimal raw-socket asyncio Protocol on uvloop, a timestamp per `data_received`
  (no gevent): the reference for what a Python client can achieve.

The gevent kinds patch the stdlib first, as Locust does. Stream starts are spread over STAGGER seconds.
The window is [WARMUP, WARMUP + SECONDS): CPU time (`time.process_time`) and token chunks are counted
inside it only, and only requests sent inside it and finished give TTFT and chunk gaps. Writes one JSON
document to the file OUT: ttft_ms, gaps_ms (per token chunk), chunks, cpu_s, window_s, requests, failed.
"""

from __future__ import annotations

import itertools
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

TOKEN_MARK = b'"delta":{"content":"'
"""How the minimal clients recognise a token event of the simulator (the role event has `"role"` first)."""


@dataclass
class Run:
    """The shared clock marks and what every stream recorded."""

    warmup_s: float
    seconds: float
    t0_ns: int = 0
    cpu: list[float] = field(default_factory=list)  # process_time at the window's start and end
    requests: list[tuple[int, list[int]]] = field(default_factory=list)  # (send ns, token chunk ns)
    failed: int = 0

    @property
    def w0(self) -> int:
        return self.t0_ns + int(self.warmup_s * 1e9)

    @property
    def w1(self) -> int:
        return self.w0 + int(self.seconds * 1e9)

    def running(self) -> bool:
        return time.perf_counter_ns() < self.w1

    def summary(self) -> dict[str, Any]:
        ttft: list[float] = []
        gaps: list[float] = []
        chunks = 0
        for send, times in self.requests:
            chunks += sum(1 for t in times if self.w0 <= t < self.w1)
            if send < self.w0 or not times or times[-1] >= self.w1:
                continue
            ttft.append((times[0] - send) / 1e6)
            gaps.extend((b - a) / 1e6 for a, b in itertools.pairwise(times))
        steady = [r for r in self.requests if self.w0 <= r[0] and r[1] and r[1][-1] < self.w1]
        return {
            "ttft_ms": ttft, "gaps_ms": gaps, "chunks": chunks, "cpu_s": self.cpu[1] - self.cpu[0],
            "window_s": self.seconds, "requests": len(steady), "failed": self.failed,
        }  # fmt: skip


def _request_bytes(url: str, body: bytes, key: str) -> tuple[str, int, bytes]:
    from maascheck.load.client.http11 import Endpoint

    ep = Endpoint.parse(url)
    head = (
        f"POST {ep.base_path}/chat/completions HTTP/1.1\r\nHost: {ep.host}:{ep.port}\r\n"
        f"Authorization: Bearer {key}\r\nContent-Type: application/json\r\nAccept: text/event-stream\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return ep.host, ep.port, head.encode() + body


# ---- gevent kinds ------------------------------------------------------------------------------------
def _reader(url: str, key: str, body: bytes, run: Run) -> Callable[[], None]:
    from maascheck.load.client.http11 import Endpoint
    from maascheck.load.client.reactor import ReactorClient

    def stream() -> None:
        client = ReactorClient(Endpoint.parse(url), {"Authorization": f"Bearer {key}"}, timeout=30)
        while run.running():
            res = client.post_stream("/chat/completions", body)
            times = [t for ev, t in zip(res.events, res.event_times_ns, strict=True) if TOKEN_MARK in ev]
            if res.transport == "complete" and res.status == 200 and times:
                run.requests.append((res.t_send_ns, times))
            else:
                run.failed += 1
        client.close()

    return stream


def _greenlet_client(url: str, key: str, body: bytes, run: Run) -> Callable[[], None]:
    """The previous client (a greenlet per socket) with the old record path: metrics, JSON line."""
    from maascheck.load.client.http11 import Endpoint
    from maascheck.load.client.lean import StreamClient
    from maascheck.load.measure.metrics import request_record

    sink = open("/dev/null", "w")  # noqa: SIM115 - lives as long as the process

    def stream() -> None:
        client = StreamClient(Endpoint.parse(url), {"Authorization": f"Bearer {key}"}, timeout=30)
        while run.running():
            res = client.post_stream("/chat/completions", body)
            rec = request_record(res, t0_ns=run.t0_ns)
            sink.write(json.dumps(rec) + "\n")
            if rec["outcome"] != "ok":
                run.failed += 1
                continue
            run.requests.append((res.t_send_ns, _token_times(res.t_send_ns, rec)))
        client.close()

    return stream


def _token_times(send_ns: int, rec: dict[str, Any]) -> list[int]:
    """Token chunk times recovered from a record: send + TTFT, then the chunk gaps (0.1 us rounding)."""
    t = send_ns + round(rec["ttft_ms"] * 1e6)
    times = [t]
    for gap in rec["icl_ms"]:
        t += round(gap * 1e6)
        times.append(t)
    return times


def _run_ours(url: str, key: str, run: Run, streams: int, stagger: float, model: str, tokens: int) -> None:
    """The real thing: `ChatUser`s spawned by a Locust LocalRunner with maascheck's listeners.

    Same options as `maascheck load` (GC policy, buffered JSONL to a temporary report dir, one
    request event per request, run controller); the figures are read back from its requests.jsonl.
    Only the first request of each user is delayed, to spread the starts over STAGGER as the other
    kinds do (Locust dispatches `floor(spawn_rate)` users at once, and a burst of 256 simultaneous
    requests measures the simulator's accept queue, not the client).
    """
    import os
    import shutil
    import tempfile
    from pathlib import Path

    import gevent
    import locust
    from locust.argument_parser import parse_options
    from locust.env import Environment

    from maascheck.load.run import listeners
    from maascheck.load.run.recorder import read_jsonl
    from maascheck.load.run.runtime import ATTR, runtime_of
    from maascheck.load.run.users import ChatUser

    class StaggeredChatUser(ChatUser):
        """`ChatUser` whose first request waits its turn: Locust spawns a whole second's users at once."""

        started = 0

        def on_start(self) -> None:
            StaggeredChatUser.started += 1
            gevent.sleep((StaggeredChatUser.started - 1) * stagger / streams)

    os.environ["MAASCHECK_BENCH_KEY"] = key
    report_dir = tempfile.mkdtemp(prefix="maascheck-bench-")
    listeners.register()
    stop_after = run.warmup_s + run.seconds + 0.5
    argv = [
        "--model", model, "--output-tokens", f"fixed:{tokens}", "--input-tokens", "fixed:3",
        "--stop-after", f"{stop_after:g}", "--report-dir", report_dir, "--api-key-env", "MAASCHECK_BENCH_KEY",
        "--request-timeout", "30", "-u", str(streams), "--host", url, "--no-reports",
    ]  # fmt: skip
    opts = parse_options(args=argv)
    env = Environment(user_classes=[StaggeredChatUser], host=url, parsed_options=opts, events=locust.events)
    runner = env.create_local_runner()
    hooks: Any = env.events  # Locust's EventHook.fire is untyped
    hooks.init.fire(environment=env, runner=runner, web_ui=None)
    runner.start(streams, spawn_rate=streams)
    while not hasattr(env, ATTR):  # test_start runs in the runner's spawning greenlet
        gevent.sleep(0.001)
    run.t0_ns = runtime_of(env).t0_ns

    def marks() -> None:
        gevent.sleep(run.warmup_s)
        run.cpu.append(time.process_time())
        gevent.sleep(run.seconds)
        run.cpu.append(time.process_time())

    gevent.spawn(marks).join()
    while runner.state != "stopped":
        gevent.sleep(0.05)
    hooks.quitting.fire(environment=env, reverse=True)
    records = read_jsonl(Path(report_dir) / "requests.jsonl")
    shutil.rmtree(report_dir, ignore_errors=True)
    for rec in records:
        if rec["outcome"] == "cancelled":
            continue
        send = run.t0_ns + round(rec["start_s"] * 1e9)
        if rec["outcome"] != "ok" or rec["ttft_ms"] is None:
            run.failed += 1
            continue
        run.requests.append((send, _token_times(send, rec)))


def _httpx(url: str, key: str, body: bytes, run: Run) -> Callable[[], None]:
    import httpx

    mark = TOKEN_MARK.decode()

    def stream() -> None:
        auth = {"Authorization": f"Bearer {key}"}  # verify=False: plain http, skip loading the CA bundle,
        with httpx.Client(base_url=url, headers=auth, timeout=30, verify=False) as client:  # ~25 ms CPU each
            while run.running():
                send = time.perf_counter_ns()
                times: list[int] = []
                headers = {"Content-Type": "application/json"}
                with client.stream("POST", "/chat/completions", content=body, headers=headers) as resp:
                    for line in resp.iter_lines():
                        if mark in line:
                            times.append(time.perf_counter_ns())
                ok = resp.status_code == 200 and bool(times)
                run.requests.append((send, times)) if ok else setattr(run, "failed", run.failed + 1)

    return stream


def _fasthttp(url: str, key: str, body: bytes, run: Run) -> Callable[[], None]:
    from geventhttpclient import URL, HTTPClient

    from maascheck.load.client.http11 import Endpoint

    path = Endpoint.parse(url).base_path + "/chat/completions"
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}

    def stream() -> None:
        client = HTTPClient.from_url(URL(url), concurrency=1, network_timeout=30)
        while run.running():
            send = time.perf_counter_ns()
            times: list[int] = []
            resp = client.post(path, body, headers=headers)
            while True:
                line = resp.readline(b"\n")
                if not line:
                    break
                if TOKEN_MARK in line:
                    times.append(time.perf_counter_ns())
            resp.release()
            run.requests.append((send, times)) if times else setattr(run, "failed", run.failed + 1)
        client.close()

    return stream


def _run_gevent(kind: str, url: str, key: str, body: bytes, run: Run, streams: int, stagger: float) -> None:
    import gevent

    make: Callable[[], Callable[[], None]] = {
        "reader": lambda: _reader(url, key, body, run),
        "greenlet": lambda: _greenlet_client(url, key, body, run),
        "httpx": lambda: _httpx(url, key, body, run),
        "fasthttp": lambda: _fasthttp(url, key, body, run),
    }[kind]
    stream = make()
    run.t0_ns = time.perf_counter_ns()

    def marks() -> None:
        gevent.sleep(run.warmup_s)
        run.cpu.append(time.process_time())
        gevent.sleep(run.seconds)
        run.cpu.append(time.process_time())

    jobs = [gevent.spawn_later(i * stagger / streams, stream) for i in range(streams)]
    gevent.joinall([gevent.spawn(marks), *jobs])


# ---- asyncio reference -------------------------------------------------------------------------------
def _run_asyncio(url: str, key: str, body: bytes, run: Run, streams: int, stagger: float) -> None:
    import asyncio

    import uvloop

    host, port, request = _request_bytes(url, body, key)

    class Stream(asyncio.Protocol):
        def __init__(self) -> None:
            self.transport: asyncio.Transport | None = None
            self.send = 0
            self.times: list[int] = []
            self.tail = b""

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport = transport  # type: ignore[assignment]

        def start(self) -> None:
            if not run.running():
                assert self.transport is not None
                self.transport.close()
                return
            self.send, self.times, self.tail = time.perf_counter_ns(), [], b""
            assert self.transport is not None
            self.transport.write(request)

        def data_received(self, data: bytes) -> None:
            t = time.perf_counter_ns()
            window = self.tail + data
            self.times.extend([t] * window.count(TOKEN_MARK))
            self.tail = window[-(len(TOKEN_MARK) - 1) :]
            if window.endswith(b"\r\n0\r\n\r\n"):
                run.requests.append((self.send, self.times))
                self.start()

    async def main() -> None:
        loop = asyncio.get_running_loop()
        protos = [Stream() for _ in range(streams)]
        for p in protos:
            await loop.create_connection(lambda p=p: p, host, port)  # type: ignore[misc]
        run.t0_ns = time.perf_counter_ns()
        for i, p in enumerate(protos):
            loop.call_later(i * stagger / streams, p.start)
        await asyncio.sleep(run.warmup_s)
        run.cpu.append(time.process_time())
        await asyncio.sleep(run.seconds)
        run.cpu.append(time.process_time())
        await asyncio.sleep(2.0)  # let requests in flight end (they are outside the window anyway)

    uvloop.run(main())


def main(argv: list[str]) -> int:
    """Drive the streams and write the figures to the OUT file."""
    kind, url, model = argv[0], argv[1], argv[2]
    streams, warmup, seconds, tokens = int(argv[3]), float(argv[4]), float(argv[5]), int(argv[6])
    stagger, key, out = float(argv[7]), argv[8], argv[9]
    if kind != "asyncio":
        from gevent import monkey

        monkey.patch_all()
    from maascheck.load.workload.payloads import BodyOptions, build_body
    from maascheck.load.workload.workloads import Prompt

    body = build_body("chat", Prompt("benchmark the client", tokens, 3), BodyOptions(model))
    run = Run(warmup, seconds)
    if kind == "asyncio":
        _run_asyncio(url, key, body, run, streams, stagger)
    elif kind == "ours":
        _run_ours(url, key, run, streams, stagger, model, tokens)
    else:
        _run_gevent(kind, url, key, body, run, streams, stagger)
    with open(out, "w") as f:
        json.dump(run.summary(), f)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
