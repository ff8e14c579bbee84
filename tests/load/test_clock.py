"""The clock offset arithmetic, the handshake's bookkeeping and the shift of records (no sockets)."""

from __future__ import annotations

import logging
import math
import time
from types import SimpleNamespace
from typing import Any

import pytest

from maascheck import __version__
from maascheck.load.run.clock import (
    SAMPLES,
    SKEW_ENV,
    ClockBook,
    ClockSample,
    WorkerClock,
    register_master,
    shift_record,
    wall_time,
)
from maascheck.load.run.runtime import Message


def test_offset_is_t1_minus_the_midpoint_and_uncertainty_half_the_round_trip() -> None:
    s = ClockSample(t0=100.0, t1=100.254, t2=100.008)  # worker 250 ms ahead, 8 ms round trip
    assert s.offset_s == pytest.approx(0.250)
    assert s.rtt_s == pytest.approx(0.008)


def test_the_sample_with_the_smallest_round_trip_wins() -> None:
    clock = WorkerClock([ClockSample(0.0, 0.30, 0.10), ClockSample(1.0, 1.2505, 1.001), ClockSample(2.0, 2.2, 2.05)])
    assert clock.best is not None and clock.best.offset_s == pytest.approx(0.25)
    assert clock.describe(0.0)["clock_offset_ms"] == pytest.approx(250.0)
    assert clock.describe(0.0)["clock_uncertainty_ms"] == pytest.approx(0.5)


def test_shift_puts_a_skewed_worker_zero_on_the_master_clock() -> None:
    # master zero at 1000.0; the worker started 1.5 s later by the true clock, its clock 3 s ahead
    clock = WorkerClock([ClockSample(999.0, 1002.0005, 999.001)], t0_utc=1000.0 + 1.5 + 3.0)
    assert clock.shift_s(1000.0) == pytest.approx(1.5)
    record = {"start_s": 0.25, "end_s": 0.75, "intended_s": None, "ttft_ms": 5.0}
    assert shift_record(record, 1.5) == {"start_s": 1.75, "end_s": 2.25, "intended_s": None, "ttft_ms": 5.0}


def test_without_a_reported_zero_nothing_moves_and_without_samples_clocks_count_as_equal() -> None:
    assert WorkerClock().shift_s(1000.0) == 0.0
    assert WorkerClock(t0_utc=1002.0).shift_s(1000.0) == pytest.approx(2.0)
    assert WorkerClock().describe(1000.0)["clock_offset_ms"] is None


def test_the_book_takes_only_the_answer_to_the_pending_ping_and_stops_after_the_samples() -> None:
    book = ClockBook()
    wanted = []
    for i in range(SAMPLES):
        t0 = 10.0 + i
        book.sent("c1", t0)
        assert not book.add("c1", {"t0": t0 + 0.5, "t1": t0}, t0 + 0.001)  # not the pending ping
        for bad in ({"t0": t0, "t1": math.inf}, {"t0": t0, "t1": "x"}, {"t0": t0, "t1": True}, None, []):
            assert not book.add("c1", bad, t0 + 0.001)
        wanted.append(book.add("c1", {"t0": t0, "t1": t0 + 0.25}, t0 + 0.002))
        assert not book.add("c1", {"t0": t0, "t1": t0 + 0.25}, t0 + 0.002)  # a repeated answer
    assert wanted == [True] * (SAMPLES - 1) + [False]
    assert len(book.of("c1").samples) == SAMPLES
    assert book.of("c1").describe(0.0)["clock_offset_ms"] == pytest.approx(249.0)
    book.note_zero("c1", float("nan"))
    book.note_zero("c1", "soon")
    assert book.of("c1").t0_utc is None


def test_the_test_only_skew_moves_the_wall_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SKEW_ENV, "250")
    assert wall_time() - time.time() == pytest.approx(0.25, abs=0.05)
    monkeypatch.setenv(SKEW_ENV, "nonsense")
    assert wall_time() - time.time() == pytest.approx(0.0, abs=0.05)


class _FakeRunner:
    """Locust's runner surface the clock handshake uses: custom messages in and out."""

    def __init__(self) -> None:
        self.handlers: dict[str, Any] = {}
        self.sent: list[tuple[str, Any, str | None]] = []

    def register_message(self, name: str, handler: Any) -> None:
        self.handlers[name] = handler

    def send_message(self, name: str, data: Any = None, client_id: str | None = None) -> None:
        self.sent.append((name, data, client_id))


def test_master_pings_on_hello_warns_on_another_version_and_keeps_the_zero(caplog: pytest.LogCaptureFixture) -> None:
    runner, book = _FakeRunner(), ClockBook()
    env = SimpleNamespace(runner=runner)
    register_master(env, book)

    def deliver(name: str, data: Any) -> None:
        runner.handlers[name](environment=env, msg=SimpleNamespace(node_id="c1", data=data))

    deliver(Message.CLOCK_ZERO, {"t0_utc": 1234.5})
    with caplog.at_level(logging.WARNING, "maascheck.load"):
        deliver(Message.CLOCK_HELLO, {"version": "0.0.0-other\x1b[31m"})
    assert "runs maascheck 0.0.0-other" in caplog.text and "\x1b" not in caplog.text
    for _ in range(SAMPLES):
        name, data, client = runner.sent[-1]
        assert (name, client) == (Message.CLOCK_PING, "c1")
        deliver(Message.CLOCK_PONG, {"t0": data["t0"], "t1": data["t0"] + 0.25})
    assert len(runner.sent) == SAMPLES  # no ping after the last sample
    fields = book.of("c1").describe(1234.0)
    assert fields["clock_samples"] == SAMPLES and fields["version"] == "0.0.0-other\\x1b[31m"
    assert fields["clock_offset_ms"] == pytest.approx(250.0, abs=5.0)
    assert fields["zero_s"] == pytest.approx(0.5 - 0.25, abs=0.005)
    caplog.clear()
    with caplog.at_level(logging.WARNING, "maascheck.load"):
        deliver(Message.CLOCK_HELLO, {"version": __version__})
    assert not caplog.text and book.of("c1").t0_utc == 1234.5 and not book.of("c1").samples
