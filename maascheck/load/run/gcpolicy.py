"""Garbage collection in a load-generating process: no automatic collections while the run measures.

CPython's cyclic collector runs whenever allocations pass a threshold, wherever the program is. A full
(generation 2) collection walks every tracked object: 10-15 ms with 256 live streams on the 2-core VM
(`docs/load-client.md`), during which no socket is read and every timestamp is late. AIPerf disables
the collector in its workers for the same reason. Here, at the start of the run, the start-up heap is
collected once and frozen (`gc.freeze`: never scanned again), and automatic collection is turned off.
`step()`, called every 0.25 s, collects only what was allocated since the previous step and
freezes the survivors, so each pause stays short; its duration is recorded. Setting the environment
variable `MAASCHECK_LOAD_GC=auto` keeps CPython's automatic collection (to compare, or as an escape
hatch should a workload leak reference cycles).
"""

from __future__ import annotations

import gc
import os
from time import perf_counter_ns

ENV = "MAASCHECK_LOAD_GC"


class GcPolicy:
    """Freeze the heap at start, collect the young generations explicitly, restore on stop."""

    def __init__(self) -> None:
        self.active = False
        self.steps = 0
        self.collected = 0
        self.max_pause_ms = 0.0
        self.total_pause_ms = 0.0
        self._was_enabled = True

    def start(self) -> None:
        """Collect, freeze what exists, and turn automatic collection off."""
        if self.active or os.environ.get(ENV, "").lower() == "auto":
            return
        self._was_enabled = gc.isenabled()
        gc.collect()
        gc.freeze()
        gc.disable()
        self.active = True

    def step(self) -> None:
        """Collect the objects allocated since the last step and freeze the survivors."""
        if not self.active:
            return
        t = perf_counter_ns()
        self.collected += gc.collect(1)
        gc.freeze()
        pause = (perf_counter_ns() - t) / 1e6
        self.steps += 1
        self.total_pause_ms += pause
        self.max_pause_ms = max(self.max_pause_ms, pause)

    def stop(self) -> None:
        """Unfreeze and restore automatic collection as it was."""
        if not self.active:
            return
        self.active = False
        gc.unfreeze()
        if self._was_enabled:
            gc.enable()

    def summary(self) -> dict[str, float | int]:
        """Explicit collections made, objects they freed, and their pauses."""
        return {
            "gc_steps": self.steps,
            "gc_collected": self.collected,
            "gc_max_pause_ms": round(self.max_pause_ms, 3),
            "gc_total_pause_ms": round(self.total_pause_ms, 3),
        }
