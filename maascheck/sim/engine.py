"""The timing model of a continuous-batching GPU engine (vLLM-style scheduler), one loop per server.

Requests wait in a FIFO queue; at each step the scheduler admits waiting sequences while the running
set stays within `max_batch` (KV capacity; a request with n choices counts n). A step costs
`decode_step_ms + decode_ms_per_seq * running + prefill_ms_per_token * (prompt tokens of newly
admitted sequences, minus prefix-cache hits)`, scaled by `1 + N(0, jitter)` from a seeded RNG; at its
end every running sequence emits one event of `tokens_per_chunk` tokens (admission step included:
prefill yields the first token). With more concurrent requests than `max_batch`, throughput
saturates and TTFT grows with queueing.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import deque

from maascheck.sim.config import SimConfig
from maascheck.sim.jobs import Job, run_step
from maascheck.sim.stats import Stats
from maascheck.sim.tokens import tokenize

CACHE_BLOCK_TOKENS = 16
"""Prefix-cache granularity (vLLM's default KV block size)."""
CACHE_MAX_BLOCKS = 200_000


class PrefixCache:
    """Block-hash prefix cache: cached tokens = full leading blocks seen before, always < prompt tokens."""

    def __init__(self) -> None:
        self.blocks: set[int] = set()

    def lookup_and_insert(self, text: str, prompt_tokens: int) -> int:
        """Cached tokens of this prompt; its blocks are remembered for later requests."""
        toks = tokenize(text)
        h = 0
        hits = 0
        missed = False
        for start in range(0, len(toks) - CACHE_BLOCK_TOKENS + 1, CACHE_BLOCK_TOKENS):
            h = hash((h, tuple(toks[start : start + CACHE_BLOCK_TOKENS])))
            if not missed and h in self.blocks:
                hits += 1
            else:
                missed = True
                if len(self.blocks) >= CACHE_MAX_BLOCKS:
                    self.blocks.clear()
                self.blocks.add(h)
        cached = hits * CACHE_BLOCK_TOKENS
        limit = ((prompt_tokens - 1) // CACHE_BLOCK_TOKENS) * CACHE_BLOCK_TOKENS if prompt_tokens > 0 else 0
        return max(0, min(cached, limit))


class Engine:
    """The batching loop: admit, run one step, emit, repeat."""

    def __init__(self, config: SimConfig, stats: Stats) -> None:
        self.cfg = config
        self.stats = stats
        self.rng = random.Random(config.seed)
        self.waiting: deque[Job] = deque()
        self.running: list[Job] = []
        self.running_weight = 0
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

    def submit(self, job: Job) -> None:
        """Queue a job; it is admitted at the next step with room."""
        self.waiting.append(job)
        self.stats.queue_length = len(self.waiting)
        self._wake.set()

    def _admit(self) -> int:
        prefill = 0
        cap = self.cfg.max_batch
        while self.waiting:
            job = self.waiting[0]
            if job.cancelled:
                self.waiting.popleft()
                continue
            if self.running and self.running_weight + job.weight > cap:
                break
            self.waiting.popleft()
            self.running.append(job)
            self.running_weight += job.weight
            prefill += job.prefill_tokens
        self.stats.queue_length = len(self.waiting)
        self.stats.running = self.running_weight
        return prefill

    def step_ms(self, prefill_tokens: int) -> float:
        """The cost of one step with the current running set (before jitter)."""
        c = self.cfg
        return (
            c.decode_step_ms
            + c.decode_ms_per_seq * self.running_weight
            + c.prefill_ms_per_token * prefill_tokens
        )

    async def _run(self) -> None:
        perf = time.perf_counter
        due = perf()
        while True:
            if not self.running and not self.waiting:
                self._wake.clear()
                await self._wake.wait()
            prefill = self._admit()
            if not self.running:
                continue
            cost = self.step_ms(prefill)
            if self.cfg.jitter:
                cost *= max(0.0, 1.0 + self.rng.gauss(0.0, self.cfg.jitter))
            now = perf()
            due = max(due, now) + cost / 1000.0
            await asyncio.sleep(max(0.0, due - now - 0.0005))
            while perf() < due:  # timers have ~1 ms granularity: finish the wait by yielding
                await asyncio.sleep(0)
            self.stats.late(int((perf() - due) * 1e9))
            still: list[Job] = []
            weight = 0
            for job in self.running:
                if job.cancelled:
                    continue
                if not (job.step() if job.safe else run_step(job)):
                    still.append(job)
                    weight += job.weight
            self.running = still
            self.running_weight = weight
            self.stats.running = weight
