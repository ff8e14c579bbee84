"""Trace replay on the open-loop pool: each process's share of the records, in time order, and the results block.

The replay's zero is `START_S` after the test starts (the user pool is spawned by then); record k of the
plan is due at zero + `TracePlan.offset_s`. Worker i of n takes records i, i+n, i+2n, ... A user takes
the next record, builds its body, sleeps until the record is due and sends it; when every user is busy
the record leaves late and its `dispatch_lag_ms` (actual - intended send time) says by how much.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from maascheck.load.measure.stats import percentile
from maascheck.load.workload.trace import TracePlan
from maascheck.load.workload.workloads import Prompt

START_S = 1.0
NS = 1_000_000_000


class TraceFeed:
    """One process's share of a trace plan: (intended send time in perf_counter_ns, prompt), in order."""

    def __init__(
        self, plan: TracePlan, prompt: Callable[[int], Prompt], *, t0_ns: int, index: int = 0, workers: int = 1
    ) -> None:
        self.plan = plan
        self._prompt = prompt
        self._zero = t0_ns + int(START_S * NS)
        self._indexes = range(index, len(plan.records), max(workers, 1))
        self.issued = 0

    @property
    def exhausted(self) -> bool:
        """Every record of this share has been handed out."""
        return self.issued >= len(self._indexes)

    def due_ns(self, k: int) -> int:
        """The intended send time of this share's k-th record."""
        return self._zero + round(self.plan.offset_s(self.plan.records[self._indexes[k]]) * NS)

    def next(self) -> tuple[int, Prompt] | None:
        """The next record's intended send time and prompt; None once the share is exhausted."""
        if self.exhausted:
            return None
        k = self.issued
        self.issued += 1
        return self.due_ns(k), self._prompt(self._indexes[k])


def trace_block(plan: TracePlan, records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """results.json `trace`: the plan, requests sent, and dispatch lag over every request (warm-up included)."""
    lags = sorted(float(r["dispatch_lag_ms"]) for r in records if r.get("dispatch_lag_ms") is not None)
    return {
        **plan.describe(),
        "start_s": START_S,
        "requests_sent": len(records),
        "complete": len(records) >= len(plan.records),
        "dispatch_lag_ms": {
            "count": len(lags),
            "p50": round(percentile(lags, 50), 4) if lags else None,
            "p99": round(percentile(lags, 99), 4) if lags else None,
            "max": lags[-1] if lags else None,
        },
    }
