"""The exact scheduler's window and lead: one wake serves every event due within the window, none earlier."""

from __future__ import annotations

import concurrent.futures
import time
from typing import cast

import httpx
import pytest

from maascheck.sim import exact
from maascheck.sim.config import SimConfig
from maascheck.sim.jobs import Job
from maascheck.sim.server import SimServer
from maascheck.sim.stats import Stats

from .conftest import AUTH


class _FakeJob:
    """A job of `steps` events that records when each step ran."""

    def __init__(self, received_ns: int, steps: int) -> None:
        self.received_ns = received_ns
        self.due_ns = 0
        self.k = 0
        self.steps = steps
        self.cancelled = False
        self.safe = True
        self.ran: list[int] = []

    def step(self) -> bool:
        self.ran.append(time.perf_counter_ns())
        self.k += 1
        return self.k >= self.steps


class _FakeTimer:
    """Records the times the scheduler arms the timerfd for."""

    def __init__(self) -> None:
        self.armed: list[int] = []

    def arm(self, due_ns: int) -> None:
        self.armed.append(due_ns)

    def disarm(self) -> None:
        self.armed.append(0)


def _scheduler(itl_ms: float = 10.0) -> exact.ExactScheduler:
    return exact.ExactScheduler(ttft_ms=0.0, itl_ms=itl_ms, stats=Stats(record_all=True))


def _submit(sched: exact.ExactScheduler, due_ns: int, steps: int = 2) -> _FakeJob:
    job = _FakeJob(due_ns, steps)  # ttft 0: the first event is due when the request was received
    sched.heap.append((due_ns, len(sched.heap), cast(Job, job)))
    sched.heap.sort(key=lambda e: e[0])
    return job


def test_one_pass_serves_every_event_due_within_the_window() -> None:
    sched = _scheduler()
    now = time.perf_counter_ns()
    past = _submit(sched, now - 1_000_000)
    soon = [_submit(sched, now + 5_000_000 + i) for i in range(3)]  # 5 ms ahead: far outside any window
    ahead = _submit(sched, now + exact.WINDOW_NS // 5)
    first = sched._emit_due(exact.WINDOW_NS)
    assert len(past.ran) == 1 and len(ahead.ran) == 1 and not any(j.ran for j in soon)
    assert first is not None and first >= 1_000_000  # the first event written was 1 ms overdue
    samples = list(sched.stats.lateness_ns)
    assert len(samples) == 2 and min(samples) >= -exact.WINDOW_NS  # `ahead` left early, within the window
    assert ahead.ran[0] >= ahead.received_ns - exact.WINDOW_NS
    dues = {e[0] for e in sched.heap}  # both served jobs are due again one ITL after their first event
    assert len(sched.heap) == 5 and {past.received_ns + sched.itl_ns, ahead.received_ns + sched.itl_ns} <= dues


def test_cancelled_jobs_leave_the_heap_unserved() -> None:
    sched = _scheduler()
    job = _submit(sched, time.perf_counter_ns() - 1000)
    job.cancelled = True
    assert sched._emit_due(exact.WINDOW_NS) is None
    assert not job.ran and not sched.heap and sched.stats.steps == 0


def test_checkpoint_writes_what_falls_due_soon_and_is_not_reentrant() -> None:
    sched = _scheduler()
    now = time.perf_counter_ns()
    soon = _submit(sched, now + exact.PRE_EMIT_NS // 4)
    later = _submit(sched, now + 10 * exact.PRE_EMIT_NS)
    sched._emitting = True  # inside a step (a finished stream starting the next pipelined request)
    sched.checkpoint()
    assert not soon.ran
    sched._emitting = False
    sched.checkpoint()
    assert len(soon.ran) == 1 and not later.ran
    assert min(sched.stats.lateness_ns) >= -exact.PRE_EMIT_NS


@pytest.mark.parametrize("overdue_ms", [5.0, -0.04], ids=["late", "early"])
def test_lead_follows_the_first_event_and_stays_bounded(overdue_ms: float) -> None:
    sched = _scheduler(itl_ms=1000.0)  # the rescheduled events stay out of the way
    timer = _FakeTimer()
    sched._timer = cast(exact.TimerFd, timer)
    before = sched.lead_ns
    for _ in range(100):
        job = _submit(sched, time.perf_counter_ns() - int(overdue_ms * 1e6), steps=1)
        sched._on_timer()
        assert job.ran, "the due event was not served"
        assert 0 <= sched.lead_ns <= exact.LEAD_MAX_NS
    if overdue_ms > 0:  # late wakes pull the timer earlier, up to the cap
        assert sched.lead_ns == exact.LEAD_MAX_NS > before
    else:  # early wakes push it later
        assert sched.lead_ns < before
    assert timer.armed and timer.armed[-1] == 0  # nothing left: disarmed


@pytest.mark.timeout(60)
def test_concurrent_streams_never_leave_earlier_than_the_lead_cap() -> None:
    streams, tokens = 16, 12
    server = SimServer(SimConfig(exact_schedule=True, ttft_ms=30.0, itl_ms=5.0, seed=3, record_lateness=True))
    base = server.start_in_thread()
    body = {"model": "sim-chat", "messages": [{"role": "user", "content": "x"}], "max_tokens": tokens,
            "stream": True}  # fmt: skip

    def one(_: int) -> int:
        with httpx.Client(base_url=base, headers=AUTH, timeout=10) as client:
            resp = client.post("/chat/completions", json=body)
            return resp.text.count('"delta":{"content":"')

    try:
        with concurrent.futures.ThreadPoolExecutor(streams) as pool:
            counts = list(pool.map(one, range(streams)))
        stats = httpx.get(base.removesuffix("/v1") + "/sim/stats?samples=1").json()
    finally:
        server.stop()
    assert counts == [tokens] * streams
    samples = stats["lateness_samples_us"]
    assert len(samples) >= streams * tokens
    # By construction no event is written earlier than the widest window (wake or checkpoint) before it is due.
    assert min(samples) >= -max(exact.WINDOW_NS, exact.LEAD_MAX_NS, exact.PRE_EMIT_NS) / 1000, min(samples)
    assert sorted(abs(v) for v in samples)[len(samples) // 2] < 5000  # generous: exact figures: bench-sim
