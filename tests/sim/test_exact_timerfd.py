"""The exact scheduler's timerfd wake-ups (Linux) and its fallback: schedules kept, GC state restored."""

from __future__ import annotations

import gc
import itertools
import statistics
import sys
import time

import httpx
import pytest

from maascheck.sim import exact
from maascheck.sim.config import SimConfig
from maascheck.sim.server import SimServer

from .conftest import AUTH


def _stamps(base: str, tokens: int) -> tuple[float, list[float]]:
    with httpx.Client(base_url=base, headers=AUTH, timeout=10) as client:
        client.get("/models")
        t0 = time.perf_counter()
        stamps = []
        body = {"model": "sim-chat", "messages": [{"role": "user", "content": "x"}], "max_tokens": tokens,
                "stream": True}  # fmt: skip
        with client.stream("POST", "/chat/completions", json=body) as resp:
            for line in resp.iter_lines():
                if '"delta":{"content":"' in line:
                    stamps.append(time.perf_counter() - t0)
    return stamps[0], [b - a for a, b in itertools.pairwise(stamps)]


@pytest.mark.timeout(30)
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="timerfd is Linux-only")
def test_timerfd_fires_at_an_absolute_time() -> None:
    timer = exact.TimerFd()
    try:
        import select

        due = time.perf_counter_ns() + 20_000_000
        timer.arm(due)
        ready, _, _ = select.select([timer.fd], [], [], 2.0)
        woke = time.perf_counter_ns()
        assert ready == [timer.fd] and woke >= due, woke - due
        timer.disarm()  # re-arming or disarming clears the expiration: no longer readable
        assert select.select([timer.fd], [], [], 0.05)[0] == []
    finally:
        timer.close()


@pytest.mark.timeout(30)
@pytest.mark.parametrize("use_timerfd", [True, False], ids=["timerfd", "fallback"])
def test_schedule_kept_and_gc_restored(monkeypatch: pytest.MonkeyPatch, use_timerfd: bool) -> None:
    if not use_timerfd:
        monkeypatch.setattr(exact, "_timerfd", lambda: None)
    assert gc.isenabled()
    server = SimServer(SimConfig(exact_schedule=True, ttft_ms=40.0, itl_ms=15.0, seed=7))
    base = server.start_in_thread()
    try:
        assert not gc.isenabled()  # automatic collection is off while the scheduler runs
        ttft, gaps = _stamps(base, 8)
        stats = httpx.get(base.removesuffix("/v1") + "/sim/stats").json()
    finally:
        server.stop()
    assert gc.isenabled() and gc.get_freeze_count() == 0  # restored at stop
    assert 0.035 < ttft < 0.2, ttft
    assert len(gaps) == 7 and 0.010 < statistics.median(gaps) < 0.025, gaps
    assert stats["lateness_us"]["count"] >= 8 and stats["lateness_us"]["p50"] < 5000
