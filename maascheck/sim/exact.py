"""Exact-schedule mode: stream k's events leave at `t_received + ttft + k * itl`, within ~0.2 ms.

asyncio timers fire up to ~1 ms late, so the scheduler sleeps until `SPIN_NS` before the next due
time, then spins, yielding to the loop with `sleep(0)` so new requests keep being read, and writes
every event whose time has come. Lateness (perf_counter_ns at write minus due) is recorded per event.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time

from maascheck.sim.jobs import Job, run_step
from maascheck.sim.stats import Stats

SPIN_NS = 1_500_000
"""How long before a due time the scheduler stops sleeping and starts spinning."""


class ExactScheduler:
    """A heap of jobs ordered by the due time of their next event."""

    def __init__(self, ttft_ms: float, itl_ms: float, stats: Stats) -> None:
        self.ttft_ns = int(ttft_ms * 1e6)
        self.itl_ns = int(itl_ms * 1e6)
        self.stats = stats
        self.heap: list[tuple[int, int, Job]] = []
        self._counter = itertools.count()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the loop on the running event loop."""
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        """Stop the loop."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def submit(self, job: Job, received_ns: int) -> None:
        """Schedule a job whose request was fully read at `received_ns` (perf_counter_ns)."""
        job.due_ns = received_ns + self.ttft_ns
        job.received_ns = received_ns
        heapq.heappush(self.heap, (job.due_ns, next(self._counter), job))
        self.stats.running = len(self.heap)
        self._wake.set()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        perf_ns = time.perf_counter_ns
        heap = self.heap
        while True:
            if not heap:
                self._wake.clear()
                await self._wake.wait()
                continue
            wait = heap[0][0] - perf_ns()
            if wait > SPIN_NS:
                self._wake.clear()
                handle = loop.call_later((wait - SPIN_NS) / 1e9, self._wake.set)
                await self._wake.wait()
                handle.cancel()
                continue
            if wait > 0:
                await asyncio.sleep(0)
                continue
            now = perf_ns()
            while heap and heap[0][0] <= now:
                due, _, job = heapq.heappop(heap)
                if job.cancelled:
                    continue
                self.stats.late(perf_ns() - due)
                if not (job.step() if job.safe else run_step(job)):
                    job.due_ns = job.received_ns + self.ttft_ns + job.k * self.itl_ns
                    heapq.heappush(heap, (job.due_ns, next(self._counter), job))
            self.stats.running = len(heap)
