"""Timing: the batching engine saturates like a real one; exact-schedule mode keeps its schedule."""

from __future__ import annotations

import asyncio
import itertools
import statistics
import time

import httpx
import pytest

from tests.sim.conftest import AUTH, StartSim, chat

pytestmark = pytest.mark.timeout(90)


async def _one(client: httpx.AsyncClient, max_tokens: int) -> tuple[float, float, int]:
    """(TTFT s, end s, content events) of one streamed request."""
    t0 = time.perf_counter()
    ttft = 0.0
    events = 0
    async with client.stream(
        "POST", "/chat/completions", json=chat(stream=True, max_tokens=max_tokens)
    ) as resp:
        async for line in resp.aiter_lines():
            if line.startswith("data: {") and '"content":"' in line and '"content":""' not in line:
                events += 1
                ttft = ttft or time.perf_counter() - t0
    return ttft, time.perf_counter() - t0, events


async def _burst(base: str, concurrency: int, max_tokens: int) -> tuple[list[float], float, int]:
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, headers=AUTH, limits=limits, timeout=30) as client:
        t0 = time.perf_counter()
        results = await asyncio.gather(*(_one(client, max_tokens) for _ in range(concurrency)))
        wall = time.perf_counter() - t0
    return sorted(r[0] for r in results), wall, sum(r[2] for r in results)


def test_saturation_beyond_max_batch(start_sim: StartSim) -> None:
    base = start_sim(max_batch=4, decode_step_ms=10.0, decode_ms_per_seq=0.0, jitter=0.0)
    ttft4, wall4, tokens4 = asyncio.run(_burst(base, 4, 20))
    ttft16, wall16, tokens16 = asyncio.run(_burst(base, 16, 20))
    assert tokens4 == 4 * 20 and tokens16 == 16 * 20
    # TTFT: with 16 streams and room for 4, the last requests queue behind three generations of 20 steps.
    assert ttft16[-1] > 3 * max(ttft4) and ttft16[-1] > 0.3
    # Throughput flattens: 4x the streams yields well under 2x the token rate.
    assert (tokens16 / wall16) < 1.6 * (tokens4 / wall4)


def test_exact_schedule_keeps_time(start_sim: StartSim) -> None:
    base = start_sim(exact_schedule=True, ttft_ms=50.0, itl_ms=20.0)
    with httpx.Client(base_url=base, headers=AUTH, timeout=10) as client:
        client.get("/models")  # connect first, so the timing below covers only the request
        t0 = time.perf_counter()
        stamps = []
        with client.stream("POST", "/chat/completions", json=chat(stream=True, max_tokens=10)) as resp:
            for line in resp.iter_lines():
                if '"content":"' in line and '"content":""' not in line:
                    stamps.append(time.perf_counter() - t0)
    assert len(stamps) == 10
    assert 0.045 < stamps[0] < 0.15
    gaps = [b - a for a, b in itertools.pairwise(stamps)]
    assert 0.015 < statistics.median(gaps) < 0.03
    stats = httpx.get(base.removesuffix("/v1") + "/sim/stats").json()
    assert stats["lateness_us"]["count"] >= 10 and stats["lateness_us"]["p50"] < 2000


def test_non_stream_in_exact_mode_waits_for_the_last_event(start_sim: StartSim) -> None:
    base = start_sim(exact_schedule=True, ttft_ms=30.0, itl_ms=10.0)
    t0 = time.perf_counter()
    resp = httpx.post(base + "/chat/completions", headers=AUTH, json=chat(max_tokens=6))
    assert resp.status_code == 200 and 0.07 < time.perf_counter() - t0 < 1.0
