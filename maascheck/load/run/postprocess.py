"""Finished exchanges become records on one greenlet, one short slice per event-loop iteration.

Parsing a 64-token stream and building its record takes about 0.4 ms of CPU on the 2-core VM
(`docs/load-client.md`). Done by each user right after its stream, several users finishing together
would hold the hub for milliseconds, and every chunk arriving meanwhile would be stamped late. Here
the users hand their results over and send their next request at once; a single greenlet parses
`SLICE_EVENTS` events at a time and then sleeps for a microsecond: a positive sleep resumes only in
the next loop iteration, after the sockets were polled (`gevent.sleep`'s docstring; `sleep(0)` may
resume before polling). So the hub is never held for more than one slice (~50-100 us) by this work.
`drain()` finishes everything left synchronously (at test stop and quit).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import gevent
from gevent.event import Event

from maascheck.load.client.result import StreamResult
from maascheck.load.measure.events import Chunk, parse_stream

SLICE_EVENTS = 16
"""Events parsed per slice: about 60 us of hub time at 256 streams on the 2-core VM."""
_NEXT_ITERATION_S = 1e-6

Finish = Callable[[StreamResult, list[Chunk]], None]


@dataclass(slots=True)
class _Job:
    result: StreamResult
    finish: Finish


class Postprocessor:
    """A queue of finished exchanges and the greenlet that turns them into records."""

    def __init__(self) -> None:
        self._jobs: deque[_Job] = deque()
        self._current: _Job | None = None
        self._ready = Event()
        self._greenlet: gevent.Greenlet[[], None] | None = None
        self.done = 0

    def start(self) -> None:
        """Start the worker greenlet."""
        if self._greenlet is None:
            self._greenlet = gevent.spawn(self._run)

    def submit(self, result: StreamResult, finish: Finish) -> None:
        """Queue one exchange; `finish(result, chunks)` is called with its parsed events, without yielding."""
        self._jobs.append(_Job(result, finish))
        self._ready.set()

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
            self.done += 1
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
            self.done += 1
