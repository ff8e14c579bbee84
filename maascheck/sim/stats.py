"""Simulator counters served at `GET /sim/stats`: events sent and schedule lateness."""

from __future__ import annotations

from array import array
from typing import Any

MAX_SAMPLES = 2_000_000


class Stats:
    """Events sent and per-step lateness (write time minus due time, ns) of the active scheduler."""

    def __init__(self, record_all: bool = False) -> None:
        self.record_all = record_all
        self.events_sent = 0
        self.steps = 0
        self.lateness_ns = array("q")
        self.max_lateness_ns = 0
        self.active_streams = 0
        self.queue_length = 0
        self.running = 0

    def late(self, ns: int) -> None:
        """Record one due step written `ns` after its due time (negative: early)."""
        self.steps += 1
        if ns > self.max_lateness_ns:
            self.max_lateness_ns = ns
        if len(self.lateness_ns) < MAX_SAMPLES:
            self.lateness_ns.append(ns)

    def reset(self) -> None:
        """Forget everything counted so far (e.g. after a benchmark's warm-up)."""
        self.events_sent = 0
        self.steps = 0
        self.lateness_ns = array("q")
        self.max_lateness_ns = 0

    def snapshot(self, with_samples: bool = False) -> dict[str, Any]:
        """The counters as JSON-ready data; lateness in microseconds (None when nothing was scheduled)."""
        samples = sorted(self.lateness_ns)

        def pct(q: float) -> float | None:
            if not samples:
                return None
            return round(samples[min(len(samples) - 1, int(q * len(samples)))] / 1000, 3)

        out: dict[str, Any] = {
            "events_sent": self.events_sent,
            "steps": self.steps,
            "lateness_us": {
                "p50": pct(0.50),
                "p99": pct(0.99),
                "max": round(self.max_lateness_ns / 1000, 3) if samples else None,
                "count": len(samples),
            },
            "active_streams": self.active_streams,
            "running": self.running,
            "queue_length": self.queue_length,
        }
        if with_samples and self.record_all:
            out["lateness_samples_us"] = [round(v / 1000, 3) for v in self.lateness_ns]
        return out
