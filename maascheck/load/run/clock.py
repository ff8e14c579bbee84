"""Worker clock offsets, measured NTP-style at the handshake, and the shift onto the master's run clock.

When a worker has connected it sends `maascheck_clock_hello`; the master then sends `SAMPLES` pings one
after the other. Each ping carries the master's send time t0, the worker answers with its receive time
t1, the master reads t2 when the answer arrives: offset = t1 - (t0 + t2) / 2, known within
±(t2 - t0) / 2 (NTP's on-wire estimate, RFC 5905 §8). The sample with the smallest round trip is kept.
A worker's records count from its own run zero (its test start, `perf_counter`), which it sends at its
test start (`maascheck_clock_zero`, ahead of any record on the same connection); that zero on its wall
clock, minus its offset, minus the master's zero, is the shift that puts them on the master's run clock.
Without a measured offset the clocks are taken as equal. The hello carries the worker's maascheck
version; the master warns when it differs from its own. The worker's messages are untrusted: fields
that are not finite numbers are ignored, its version is cut to 64 characters and made inert.
"""

from __future__ import annotations

import logging
import math
import os
import time
from dataclasses import dataclass, field
from typing import Any

import gevent
import gevent.event

from maascheck import __version__
from maascheck.core.inert import one_line
from maascheck.load.run.runtime import Message

log = logging.getLogger("maascheck.load")

SAMPLES = 8
HELLO_TRIES, HELLO_WAIT_S = 10, 1.0
# Test-only: milliseconds added to this process's wall clock, to fake a worker whose clock is off.
SKEW_ENV = "MAASCHECK_TEST_CLOCK_SKEW_MS"
TIME_FIELDS = ("start_s", "end_s", "intended_s")


def wall_time() -> float:
    """This process's wall clock, seconds since the epoch (plus the test-only skew of `SKEW_ENV`)."""
    try:
        skew_ms = float(os.environ.get(SKEW_ENV) or 0.0)
    except ValueError:
        skew_ms = 0.0
    return time.time() + (skew_ms / 1e3 if math.isfinite(skew_ms) else 0.0)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


@dataclass(frozen=True)
class ClockSample:
    """One ping: t0 master send, t1 worker receive/send, t2 master receive (seconds, own wall clocks)."""

    t0: float
    t1: float
    t2: float

    @property
    def offset_s(self) -> float:
        """Worker clock minus master clock."""
        return self.t1 - (self.t0 + self.t2) / 2

    @property
    def rtt_s(self) -> float:
        """Round trip of the ping; the offset is known within half of it."""
        return self.t2 - self.t0


@dataclass
class WorkerClock:
    """What the master knows about one worker's clock."""

    samples: list[ClockSample] = field(default_factory=list)
    t0_utc: float | None = None  # the worker's run zero on its own wall clock
    pings: int = 0
    pending_t0: float | None = None  # the t0 of the ping awaiting its answer
    version: str | None = None  # the worker's maascheck version, from its hello

    @property
    def best(self) -> ClockSample | None:
        """The sample with the smallest round trip."""
        return min(self.samples, key=lambda s: s.rtt_s, default=None)

    def shift_s(self, master_t0_utc: float) -> float:
        """Seconds to add to this worker's record times to put them on the master's run clock."""
        if self.t0_utc is None:
            return 0.0
        best = self.best
        return self.t0_utc - (best.offset_s if best else 0.0) - master_t0_utc

    def describe(self, master_t0_utc: float) -> dict[str, Any]:
        """results.json fields of this worker: offset, round trip, uncertainty (ms), its zero (s)."""
        best = self.best
        return {
            "clock_offset_ms": None if best is None else round(best.offset_s * 1e3, 3),
            "rtt_ms": None if best is None else round(best.rtt_s * 1e3, 3),
            "clock_uncertainty_ms": None if best is None else round(best.rtt_s * 1e3 / 2, 3),
            "clock_samples": len(self.samples),
            "zero_s": round(self.shift_s(master_t0_utc), 6) if self.t0_utc is not None else None,
            "version": self.version,
        }


@dataclass
class ClockBook:
    """The master's clocks of every worker, by Locust client id."""

    clocks: dict[str, WorkerClock] = field(default_factory=dict)

    def of(self, client_id: str) -> WorkerClock:
        """The clock of `client_id` (made on first use)."""
        return self.clocks.setdefault(client_id, WorkerClock())

    def note_zero(self, client_id: str, t0_utc: Any) -> None:
        """Record a worker's run zero as it reported it (ignored unless a finite number)."""
        value = _number(t0_utc)
        if value is not None:
            self.of(client_id).t0_utc = value

    def sent(self, client_id: str, t0: float) -> None:
        """Note a ping sent at `t0`."""
        clock = self.of(client_id)
        clock.pings += 1
        clock.pending_t0 = t0

    def add(self, client_id: str, data: Any, t2: float) -> bool:
        """Add the answer to the pending ping (others are ignored); True while more pings are wanted."""
        clock = self.of(client_id)
        t0 = _number(data.get("t0")) if isinstance(data, dict) else None
        t1 = _number(data.get("t1")) if isinstance(data, dict) else None
        if t0 is None or t1 is None or t0 != clock.pending_t0 or t0 > t2:
            return False
        clock.pending_t0 = None
        clock.samples.append(ClockSample(t0, t1, t2))
        return clock.pings < SAMPLES


def shift_record(record: dict[str, Any], shift_s: float) -> dict[str, Any]:
    """`record` with its run-clock times moved by `shift_s` seconds (in place)."""
    for name in TIME_FIELDS:
        value = _number(record.get(name))
        if value is not None:
            record[name] = round(value + shift_s, 6)
    return record


def register_master(environment: Any, book: ClockBook) -> None:
    """Master: answer each worker's hello with `SAMPLES` pings, recording every answer in `book`."""
    runner = environment.runner

    def ping(client_id: str) -> None:
        t0 = time.time()
        book.sent(client_id, t0)
        runner.send_message(Message.CLOCK_PING, {"t0": t0}, client_id)

    def on_hello(environment: Any, msg: Any, **_kw: Any) -> None:
        client_id = str(msg.node_id)
        version = msg.data.get("version") if isinstance(msg.data, dict) else None
        version = one_line(version[:64]) if isinstance(version, str) else None
        if version != __version__:
            log.warning(
                "worker %s runs maascheck %s, the master %s: install the same version on every host",
                one_line(client_id[:80]), version or "(unknown)", __version__,
            )  # fmt: skip
        # a reconnect measures anew
        book.clocks[client_id] = WorkerClock(t0_utc=book.of(client_id).t0_utc, version=version)
        ping(client_id)

    def on_pong(environment: Any, msg: Any, **_kw: Any) -> None:
        t2 = time.time()
        if book.add(str(msg.node_id), msg.data, t2):
            ping(str(msg.node_id))

    def on_zero(environment: Any, msg: Any, **_kw: Any) -> None:
        book.note_zero(str(msg.node_id), msg.data.get("t0_utc") if isinstance(msg.data, dict) else None)

    runner.register_message(Message.CLOCK_HELLO, on_hello)
    runner.register_message(Message.CLOCK_PONG, on_pong)
    runner.register_message(Message.CLOCK_ZERO, on_zero)


def register_worker(environment: Any) -> None:
    """Worker: answer the master's pings with this process's wall clock; say hello until pinged."""
    runner = environment.runner
    pinged = gevent.event.Event()

    def on_ping(environment: Any, msg: Any, **_kw: Any) -> None:
        t1 = wall_time()
        pinged.set()
        t0 = msg.data.get("t0") if isinstance(msg.data, dict) else None
        runner.send_message(Message.CLOCK_PONG, {"t0": t0, "t1": t1})

    def hello() -> None:  # a master still starting up may not listen yet
        for _ in range(HELLO_TRIES):
            runner.send_message(Message.CLOCK_HELLO, {"version": __version__})
            if pinged.wait(HELLO_WAIT_S):
                return

    runner.register_message(Message.CLOCK_PING, on_ping)
    gevent.spawn(hello)


def send_zero(environment: Any, t0_utc: float) -> None:
    """Worker: tell the master this run's zero on this process's wall clock."""
    environment.runner.send_message(Message.CLOCK_ZERO, {"t0_utc": t0_utc})
