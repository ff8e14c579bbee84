"""Open-loop arrivals: a shared absolute-time schedule per worker process.

Each worker owns its share of the total rate (rate / workers) and hands out intended send times in
order; users of an over-provisioned pool take the next slot and sleep until it. A late user still
records the intended time, so dispatch lag and latency from the intended time expose client-side
queueing instead of hiding it (no coordinated omission; vLLM #54101, guidellm #1053).
Poisson arrivals draw exponential gaps (a merged set of Poisson workers is Poisson at the total rate);
constant arrivals are evenly spaced, and workers are offset by their index within one period.
"""

from __future__ import annotations

import random
import time
from collections import deque
from collections.abc import Callable

import gevent

NS = 1_000_000_000
SPIN_S = 0.0015


def wait_until(intended_ns: int) -> None:
    """Sleep until `SPIN_S` before `intended_ns` (perf_counter_ns), then yield to the hub until it is due.

    libev times a sleep from its cached clock (refreshed first) and its epoll backend rounds a timeout
    up to whole milliseconds, so a plain sleep wakes up to 1 ms late; the last `SPIN_S` are spent in
    `sleep(0)` (other greenlets and the sockets still run). A longer spin makes the process compete for
    the CPU on a busy machine and wake later, not sooner.
    """
    gevent.get_hub().loop.update_now()
    delay = (intended_ns - time.perf_counter_ns()) / NS
    if delay > SPIN_S:
        gevent.sleep(delay - SPIN_S)
    while time.perf_counter_ns() < intended_ns:
        gevent.sleep(0)


class Pacer:
    """Hands out intended send times (perf_counter_ns) following `level(t_s)` arrivals/s in total."""

    def __init__(
        self,
        level: Callable[[float], float],
        *,
        arrival: str,
        t0_ns: int,
        share: float = 1.0,
        offset: float = 0.0,
        seed: int = 0,
    ) -> None:
        self.level = level
        self.arrival = arrival
        self.t0_ns = t0_ns
        self.share = share
        self._rng = random.Random(seed)
        self._next = t0_ns
        self._offset = offset
        self._first = True
        self.issued = 0
        self._ahead: deque[int] = deque()  # issued slots still in the future (users sleeping until them)

    def next_slot(self) -> int:
        """The next intended send time (never earlier than the previous one)."""
        t_s = (self._next - self.t0_ns) / NS
        rate = self.level(t_s) * self.share
        while rate <= 0:  # a ramp from zero: move on in 10 ms steps until arrivals start
            self._next += NS // 100
            t_s = (self._next - self.t0_ns) / NS
            rate = self.level(t_s) * self.share
            if t_s > 86_400:
                raise RuntimeError("open-loop rate stays at zero")
        gap = self._rng.expovariate(rate) if self.arrival == "poisson" else 1.0 / rate
        if self._first:
            self._first = False
            gap = gap * self._offset if self.arrival == "constant" else gap
        self._next += int(gap * NS)
        self.issued += 1
        self.waiting(time.perf_counter_ns())
        self._ahead.append(self._next)
        return self._next

    def waiting(self, now_ns: int) -> int:
        """Issued slots later than `now_ns`: users sleeping until their send time (not yet due)."""
        ahead = self._ahead
        while ahead and ahead[0] <= now_ns:
            ahead.popleft()
        return len(ahead)

