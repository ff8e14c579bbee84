"""Exact-schedule mode: stream k's events leave at `t_received + ttft + k * itl`, each within 0.2 ms.

The event loop's own timers have millisecond resolution (libuv rounds `call_later` to whole ms, so
events would leave up to ~1 ms late). On Linux the scheduler therefore wakes on a `timerfd`
(timerfd_create(2), CLOCK_MONOTONIC = the clock of `perf_counter_ns`) armed with TFD_TIMER_ABSTIME,
with the thread's timer slack set to 1 ns (prctl(2) PR_SET_TIMERSLACK; the default slack is 50 us).
The loop watches the timerfd with `add_reader`, so requests keep being read while nothing is due and
the scheduler burns no CPU between events. Elsewhere (no timerfd) it falls back to a loop timer
~1.5 ms early followed by a `sleep(0)` spin.

Tolerance is two-sided (|write time - due time| < 0.2 ms), which the design spends as follows:
- Window: a wake writes every event due within `WINDOW_NS` (50 us) from now, so one wake (epoll
  return, callback, timerfd re-arm) serves every stream due about then: at 256 streams and 10 ms ITL
  (an event every ~39 us) a wake writes ~3 events, and none waits for its own wake.
- Lead: the timer is armed `lead` before the earliest due time, and a wake serves at least `lead`
  ahead. Waking a VM's idle CPU and the first write after it take 50-150 us here, so the lead is
  steered by feedback: each wake moves it by 1/8 of its first event's lateness, within
  [0, `LEAD_MAX_NS` = 120 us]. The first event of a wake thus leaves on time at the median, and no
  event ever leaves more than 120 us early.
- Checkpoints: handling a request (parse, validate, plan 200 tokens, build the job) blocks the loop
  for 0.15-0.45 ms (measured in a 256-stream run), during which a timer cannot fire; so the server
  calls `checkpoint` before each request and between those steps, and the events due within
  `PRE_EMIT_NS` (120 us) are written there.
Per event, the due-time work is a template splice (~1.5 us of Python, measured) plus the write; the
write's send(2) on loopback, which also delivers to and wakes the client, is most of the ~30 us of
CPU per event, so precomputing the next event's bytes or calling `socket.send` directly (uvloop's
`transport.write` already sends directly when its buffer is empty) would save little.

Python's cyclic GC stops the loop for milliseconds (measured: gen1 1-5 ms, gen2 10-15 ms with 256
streams of 200 tokens alive), so while the scheduler runs, automatic collection is off: the start-up
heap is frozen (`gc.freeze`) and a collection runs when no stream is scheduled, or at the latest
after `GC_BOUND` net container allocations (measured: no collection at all during a 10 s run of 256
streams; ~2,000 net allocations).

Lateness (perf_counter_ns right after the event's write returned, minus its due time; negative =
early) is recorded per event in `Stats` and served at `GET /sim/stats`; `maascheck bench-sim` prints
|lateness| percentiles, its early and late sides, and the share within 200 us.
Measured with `maascheck bench-sim --mode exact --realtime` (ITL 10 ms, 200 tokens, sim and client
pinned to their own cores, other processes busy: load average 1.5-2.1; before = a timer wake per due
time plus a 25 us spin, no window, no checkpoints; ranges over 2-3 runs each, old and new alternating):

    streams  |lateness| p50 us   p99 us              within 200 us            early max us  sim CPU
    256      39-51 -> 13-19       272-379 -> 98-121   91.2-96.6% -> 99.5-99.97%  0 -> 111     67-76% -> 73-83%
    64       53-62 -> 13-16       377-438 -> 93-284   95.5-96.8% -> 98.8-99.8%   0 -> 112     30-32% -> 26-32%
    1        214-243 -> 100-104   375-604 -> 226-341  28-36% -> 94-97%           0 -> 14      2% -> 2%

The max stays at 1-4 ms: stalls of the whole process (other processes' work on the core) that no
schedule can undo. At 1 stream what remains is the VM's wake-from-idle latency beyond the lead cap.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import gc
import heapq
import itertools
import os
import time

from maascheck.sim.jobs import Job, run_step
from maascheck.sim.stats import Stats

SPIN_NS = 1_500_000
"""Fallback only: how long before a due time the scheduler stops sleeping and starts spinning."""

WINDOW_NS = 50_000
"""A wake also serves every event due within this long: early by less than this, instead of another
wake (epoll return, callback, timerfd re-arm) for each."""

LEAD_INIT_NS = 30_000
"""How long before the first due time the timer is armed at first (the wake latency, expiry to callback)."""

LEAD_MAX_NS = 120_000
"""The lead (and so how early an event may leave) never exceeds this: within the 200 us tolerance."""

LEAD_GAIN_SHIFT = 3
"""Each wake moves the lead by 1/8 of its first event's lateness (clamped to the window)."""

PRE_EMIT_NS = 120_000
"""Before a request is handled (~0.1-0.3 ms of blocked loop), events due within this long leave early."""

GC_BOUND = 2_000_000
"""Collect anyway once this many container objects were allocated (net) since the last collection."""

GC_IDLE_MIN = 50_000
"""Collect when idle only once this many were allocated (not after every request of a single stream)."""

_CLOCK_MONOTONIC = 1
_TFD_NONBLOCK_CLOEXEC = os.O_NONBLOCK | os.O_CLOEXEC
_TFD_TIMER_ABSTIME = 1
_PR_SET_TIMERSLACK = 29


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


class _Itimerspec(ctypes.Structure):
    _fields_ = [("it_interval", _Timespec), ("it_value", _Timespec)]


class TimerFd:
    """A one-shot CLOCK_MONOTONIC timerfd armed at absolute `perf_counter_ns` times (Linux, via libc)."""

    def __init__(self) -> None:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        self._settime = libc.timerfd_settime
        fd = libc.timerfd_create(_CLOCK_MONOTONIC, _TFD_NONBLOCK_CLOEXEC)
        if fd < 0:
            raise OSError(ctypes.get_errno(), "timerfd_create failed")
        self.fd: int = fd
        self._spec = _Itimerspec()
        self._ref = ctypes.byref(self._spec)
        libc.prctl(_PR_SET_TIMERSLACK, 1, 0, 0, 0)  # this thread: wake within ~us, not 50 us late

    def arm(self, due_ns: int) -> None:
        """Fire at `due_ns` (a time already past fires at once)."""
        value = self._spec.it_value
        value.tv_sec, value.tv_nsec = divmod(max(due_ns, 1), 1_000_000_000)
        self._settime(self.fd, _TFD_TIMER_ABSTIME, self._ref, None)

    def disarm(self) -> None:
        """Stop the timer (like `arm`, this also resets the expiration count: the fd stops being readable)."""
        value = self._spec.it_value
        value.tv_sec = value.tv_nsec = 0
        self._settime(self.fd, 0, self._ref, None)

    def close(self) -> None:
        """Close the fd."""
        os.close(self.fd)


def _timerfd() -> TimerFd | None:
    try:
        return TimerFd()
    except (OSError, AttributeError):  # not Linux, or no timerfd in this libc
        return None


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
        self._timer: TimerFd | None = None
        self._armed_ns = 0  # the wake time the timerfd is armed for (0: disarmed)
        self.lead_ns = LEAD_INIT_NS  # timers are armed this long before the first due time (adapts)
        self._gc_was_enabled = False
        self._emitting = False  # inside _emit_due (a finishing step may start the next pipelined request)

    def start(self) -> None:
        """Start scheduling on the running event loop (on its thread: the timer slack is per thread)."""
        loop = asyncio.get_running_loop()
        self._gc_was_enabled = gc.isenabled()
        gc.freeze()
        gc.disable()
        self._timer = _timerfd()
        if self._timer is not None:
            loop.add_reader(self._timer.fd, self._on_timer)
        else:
            self._task = loop.create_task(self._run_fallback())

    async def stop(self) -> None:
        """Stop scheduling."""
        if self._timer is not None:
            asyncio.get_running_loop().remove_reader(self._timer.fd)
            self._timer.close()
            self._timer = None
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        gc.unfreeze()
        if self._gc_was_enabled:
            gc.enable()

    def submit(self, job: Job, received_ns: int) -> None:
        """Schedule a job whose request was fully read at `received_ns` (perf_counter_ns)."""
        job.due_ns = received_ns + self.ttft_ns
        job.received_ns = received_ns
        heapq.heappush(self.heap, (job.due_ns, next(self._counter), job))
        self.stats.running = len(self.heap)
        if self._timer is not None:
            wake_ns = job.due_ns - self.lead_ns
            if not self._armed_ns or wake_ns < self._armed_ns:
                self._armed_ns = wake_ns
                self._timer.arm(wake_ns)
        else:
            self._wake.set()

    def checkpoint(self) -> None:
        """Write the events due within `PRE_EMIT_NS` now: the server calls this around blocking request work."""
        heap = self.heap
        if heap and not self._emitting and heap[0][0] <= time.perf_counter_ns() + PRE_EMIT_NS:
            self._emit_due(PRE_EMIT_NS)  # the armed timer then finds nothing due and re-arms

    def _on_timer(self) -> None:
        timer = self._timer
        if timer is None:
            return
        self._armed_ns = 0
        heap = self.heap
        # The timer fired `lead` before the first due time, so serve at least that far ahead.
        window = max(WINDOW_NS, self.lead_ns)
        first = self._emit_due(window)
        if first is not None:  # steer the first event of a wake onto its due time: late -> wake earlier
            lead = self.lead_ns + (max(-window, min(first, window)) >> LEAD_GAIN_SHIFT)
            self.lead_ns = max(0, min(lead, LEAD_MAX_NS))
        if heap:  # re-arming resets the expiration count, so the fd needs no read(2)
            due = heap[0][0]
            self._armed_ns = due - self.lead_ns
            timer.arm(self._armed_ns)
        else:
            timer.disarm()

    def _emit_due(self, window_ns: int = 0) -> int | None:
        """Write every event due by `window_ns` from now (one wake serves every stream due by then).

        Returns the lateness of the first event written (None: none was due).
        """
        self._emitting = True
        try:
            first = self._emit_loop(window_ns)
        finally:
            self._emitting = False
        heap = self.heap
        self.stats.running = len(heap)
        pending = gc.get_count()[0]
        if pending > GC_BOUND or (not heap and pending > GC_IDLE_MIN):
            gc.collect()  # idle (or overdue): the moment a collection delays nothing (or least)
        return first

    def _emit_loop(self, window_ns: int) -> int | None:
        heap, perf_ns, late, counter = self.heap, time.perf_counter_ns, self.stats.late, self._counter
        itl, ttft = self.itl_ns, self.ttft_ns
        replace, pop = heapq.heapreplace, heapq.heappop
        first: int | None = None
        horizon = perf_ns() + window_ns
        while heap and (entry := heap[0])[0] <= horizon:
            job = entry[2]
            if job.cancelled:
                pop(heap)
                continue
            finished = job.step() if job.safe else run_step(job)
            now = perf_ns()
            late(now - entry[0])
            if first is None:
                first = now - entry[0]
            horizon = now + window_ns
            if heap[0] is not entry:  # the step started another job (a pipelined request): take ours out
                heap.remove(entry)
                heapq.heapify(heap)
                if not finished:
                    job.due_ns = job.received_ns + ttft + job.k * itl
                    heapq.heappush(heap, (job.due_ns, next(counter), job))
            elif finished:
                pop(heap)
            else:
                job.due_ns = job.received_ns + ttft + job.k * itl
                replace(heap, (job.due_ns, next(counter), job))
        return first

    async def _run_fallback(self) -> None:
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
            if wait > WINDOW_NS:
                await asyncio.sleep(0)
                continue
            self._emit_due(WINDOW_NS)
