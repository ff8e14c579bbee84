"""Finished exchanges become records on one greenlet, one short slice per event-loop iteration.

Parsing a 64-token stream and building its record takes about 0.4 ms of CPU on the 2-core VM
(`docs/load-client.md`). Done by each user right after its stream, several users finishing together
would hold the hub for milliseconds, and every chunk arriving meanwhile would be stamped late. Here
the users hand their results over and send their next request at once; a single greenlet parses
`SLICE_EVENTS` events at a time and then sleeps for a microsecond: a positive sleep resumes only in
the next loop iteration, after the sockets were polled (`gevent.sleep`'s docstring; `sleep(0)` may
resume before polling). So the hub is never held for more than one slice (~50-100 us) by this work.
`drain()` finishes everything left synchronously (at test stop and quit).

The backlog is bounded: a stream flat out of tiny chunks (100,000 events in well under a second) arrives
faster than it is parsed, and an unbounded queue grew by one whole stream every ~0.8 s (600,000 raw
events after 5 s against such a server). `submit` therefore waits, before queueing, while the queued
exchanges hold more than `BACKLOG_BYTES`: the user sends its next request only when the parser has
caught up. The time users waited is kept (`waited_s`, `waits`): a run whose generator waited for its own
parser is client-bound, and says so.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import gevent
from gevent.event import Event

from maascheck.load.client.result import StreamResult
from maascheck.load.measure.events import Chunk, parse_stream

BACKLOG_BYTES = 48 * 1024 * 1024
"""What queued exchanges may hold (event bytes plus `EVENT_OVERHEAD` per event) before users wait."""
EVENT_OVERHEAD = 80
"""Bytes one held raw event costs besides its data: the bytes object, its list slot, its arrival time."""
SLICE_EVENTS = 16
"""Events parsed per slice: about 60 us of hub time at 256 streams on the 2-core VM."""
_NEXT_ITERATION_S = 1e-6

Finish = Callable[[StreamResult, list[Chunk]], None]


@dataclass(slots=True)
class _Job:
    result: StreamResult
    finish: Finish
    held: int  # bytes its raw events hold


def held_bytes(result: StreamResult) -> int:
    """What an exchange's raw events hold in memory, approximately."""
    events = result.events
    return sum(map(len, events)) + EVENT_OVERHEAD * len(events)


class Postprocessor:
    """A queue of finished exchanges and the greenlet that turns them into records."""

    def __init__(self, backlog_bytes: int = BACKLOG_BYTES) -> None:
        self._jobs: deque[_Job] = deque()
        self._current: _Job | None = None
        self._ready = Event()
        self._room = Event()
        self._greenlet: gevent.Greenlet[[], None] | None = None
        self.backlog_bytes = backlog_bytes
        self.held = 0  # bytes the queued and the current exchange hold
        self.peak_held = 0
        self.done = 0
        self.waits = 0  # submits that had to wait for room
        self.waited_s = 0.0  # seconds users waited for room, in all

    def start(self) -> None:
        """Start the worker greenlet."""
        if self._greenlet is None:
            self._greenlet = gevent.spawn(self._run)

    def submit(self, result: StreamResult, finish: Finish) -> None:
        """Queue one exchange (first waiting while the backlog is full); `finish(result, chunks)` is called
        with its parsed events, without yielding. An exchange larger than the bound waits for an empty queue."""
        n = held_bytes(result)
        started = 0.0
        while self.held and self.held + n > self.backlog_bytes:
            if not started:
                started = time.perf_counter()
            self._room.clear()
            self._room.wait()
        if started:
            self.waits += 1
            self.waited_s += time.perf_counter() - started
        self.held += n
        self.peak_held = max(self.peak_held, self.held)
        self._jobs.append(_Job(result, finish, n))
        self._ready.set()

    def _finished(self, job: _Job) -> None:
        self.held -= job.held
        self.done += 1
        self._room.set()

    @property
    def pending(self) -> int:
        """Exchanges not turned into records yet."""
        return len(self._jobs) + (self._current is not None)

    def _run(self) -> None:
        while True:
            if not self._jobs:
                self._ready.clear()
                self._ready.wait()
                continue
            job = self._current = self._jobs.popleft()
            events, times = job.result.events, job.result.event_times_ns
            chunks: list[Chunk] = []
            for i in range(0, len(events), SLICE_EVENTS):
                chunks += parse_stream(events[i : i + SLICE_EVENTS], times[i : i + SLICE_EVENTS])
                gevent.sleep(_NEXT_ITERATION_S)
            self._current = None
            job.finish(job.result, chunks)
            self._finished(job)
            del job, events, times, chunks  # nothing of a finished exchange outlives it here
            gevent.sleep(_NEXT_ITERATION_S)

    def drain(self) -> None:
        """Stop the worker greenlet and finish every queued exchange now, in order."""
        if self._greenlet is not None:
            self._greenlet.kill()
            self._greenlet = None
        if self._current is not None:
            self._jobs.appendleft(self._current)
            self._current = None
        while self._jobs:
            job = self._jobs.popleft()
            job.finish(job.result, parse_stream(job.result.events, job.result.event_times_ns))
            self._finished(job)
