"""The generator's self-check greenlet: event-loop lag, CPU per interval, and its own in-flight count.

One greenlet per load-generating process wakes every `LOOP_TICK_MS`: it records how late the wake-up
came, samples the generator's in-flight count (time-averaged over the measured window, for Little's
law) and the users' waits for room in the parse backlog over that window, and, every
`CPU_INTERVAL_S`, the process's CPU time over wall time. Work per wake-up is a few microseconds.
Figures before the end of the warm-up are left out, like the requests. The summary (`summary()`)
travels in the worker's final message; `maascheck.load.measure.validity` judges it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import gevent

from maascheck.load.measure.validity import CPU_INTERVAL_S, LOOP_TICK_MS, SATURATED_CORE_SHARE, LagHistogram


class SelfCheck:
    """Samples the hub's wake-up lag, CPU per interval and `in_flight(now_ns)` from `t0_ns + warmup_s` on.

    `in_flight` None: the generator has no count of what it means to have in flight (a trace replay).
    """

    def __init__(
        self,
        *,
        t0_ns: int,
        warmup_s: float,
        in_flight: Callable[[int], int] | None,
        held: Callable[[int], int] = lambda _now_ns: 0,
        parse_waited: Callable[[], float] = lambda: 0.0,
    ) -> None:
        self.t0_ns = t0_ns
        self.warmup_s = warmup_s
        self.in_flight = in_flight
        self.held = held  # sends the brakes hold back (backoff, Retry-After): paced on purpose
        self.parse_waited = parse_waited  # seconds users have waited for room in the parse backlog, so far
        self._wait_from = self._wait_to = 0.0
        self._samples = 0
        self._held_samples = 0
        self.lag = LagHistogram()
        self.cpu_intervals = 0
        self.cpu_saturated = 0
        self.cpu_max = 0.0
        self._area = 0.0
        self._from_s: float | None = None
        self._to_s: float | None = None
        self._greenlet: gevent.Greenlet[[], None] | None = None

    def start(self) -> None:
        """Start sampling."""
        if self._greenlet is None:
            self._greenlet = gevent.spawn(self._run)

    def stop(self) -> None:
        """Stop sampling (the figures so far are kept)."""
        if self._greenlet is not None:
            self._greenlet.kill()
            self._greenlet = None

    def _run(self) -> None:
        loop, tick = gevent.get_hub().loop, LOOP_TICK_MS / 1000
        cpu_t, cpu0 = time.perf_counter(), time.process_time()
        prev_s: float | None = None
        prev_n = 0
        while True:
            loop.update_now()  # libev timers count from the loop's cached time
            before = time.perf_counter()
            gevent.sleep(tick)
            now = time.perf_counter()
            now_ns = time.perf_counter_ns()
            run_s = (now_ns - self.t0_ns) / 1e9
            measured = run_s >= self.warmup_s
            if measured:
                self.lag.add((now - before - tick) * 1000)
            n = self.in_flight(now_ns) if self.in_flight is not None else 0
            if measured:
                self._samples += 1
                self._held_samples += self.held(now_ns) > 0
            if measured and prev_s is not None and prev_s >= self.warmup_s:
                self._area += prev_n * (run_s - prev_s)
                self._to_s = run_s
                self._wait_to = self.parse_waited()
            elif measured:
                self._from_s = run_s
                self._wait_from = self._wait_to = self.parse_waited()
            prev_s, prev_n = run_s, n
            if now - cpu_t >= CPU_INTERVAL_S:
                cpu = time.process_time()
                share = (cpu - cpu0) / (now - cpu_t)
                if measured:
                    self.cpu_intervals += 1
                    self.cpu_saturated += share >= SATURATED_CORE_SHARE
                    self.cpu_max = max(self.cpu_max, share)
                cpu_t, cpu0 = now, cpu

    def summary(self) -> dict[str, Any]:
        """This process's figures (the worker's final message carries them)."""
        mean = None
        a, b = self._from_s, self._to_s
        if self.in_flight is not None and a is not None and b is not None and b > a:
            mean = self._area / (b - a)
        return {
            "loop_lag_samples": self.lag.n,
            "loop_lag_p99_ms": self.lag.quantile(0.99),
            "loop_lag_max_ms": round(self.lag.max_ms, 3),
            "cpu_intervals": self.cpu_intervals,
            "cpu_saturated_intervals": self.cpu_saturated,
            "cpu_max_core_share": round(self.cpu_max, 4),
            "inflight_mean": None if mean is None else round(mean, 4),
            "inflight_from_s": None if a is None else round(a, 6),
            "inflight_to_s": None if b is None else round(b, 6),
            "inflight_counted": self.in_flight is not None,
            "held_share": round(self._held_samples / self._samples, 4) if self._samples else None,
            "parse_wait_s": None if a is None or b is None else round(self._wait_to - self._wait_from, 6),
        }
