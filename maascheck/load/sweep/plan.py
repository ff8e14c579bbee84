"""Capacity planning from a sweep: how many replicas like the one measured serve a target load.

From the sweep's capacity level (the highest step within its SLOs and its protocol-error bound,
`maascheck.load.sweep.analysis`): one replica serves its measured goodput (`goodput_rps`, requests/s
that met every per-request SLO) or, for a concurrency sweep, its capacity in users. With `headroom` h
kept free on each replica, `replicas = ceil(target / (per_replica * (1 - h)))`. Assumptions, stated in
every plan: replicas scale linearly (no shared bottleneck such as a gateway or a shared cache), and the
traffic is the measured workload (same prompt and output lengths, same scenario).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from maascheck.load.measure.reader import num

ASSUMPTIONS = (
    "replicas scale linearly (no shared bottleneck: gateway, network, shared cache)",
    "the traffic is the measured workload (same scenario, prompt and output lengths)",
)
_EPSILON = 1e-9


@dataclass(frozen=True)
class Plan:
    """The replica count for one target, and the figures it came from."""

    target: float
    target_unit: str  # "requests/s" | "users"
    capacity_load: float | None
    per_replica: float | None  # goodput (requests/s) or users one replica serves within the SLOs
    headroom: float
    replicas: int | None
    reason: str

    def as_json(self) -> dict[str, Any]:
        """The plan.json document body."""
        return {
            "target": self.target,
            "target_unit": self.target_unit,
            "capacity_load": self.capacity_load,
            "per_replica": self.per_replica,
            "headroom": self.headroom,
            "replicas": self.replicas,
            "reason": self.reason,
            "assumptions": list(ASSUMPTIONS),
        }


def plan(sweep: dict[str, Any], *, target_rate: float | None, target_users: float | None, headroom: float) -> Plan:
    """The plan for `target_rate` requests/s or `target_users` concurrent users (exactly one is given)."""
    found = sweep.get("result")
    result: dict[str, Any] = found if isinstance(found, dict) else {}
    capacity = num(result.get("capacity"))
    by_rate = target_rate is not None
    target = float((target_rate if by_rate else target_users) or 0.0)
    unit = "requests/s" if by_rate else "users"
    if capacity is None:
        why = result.get("capacity_reason") or "the sweep found no level within its SLOs"
        return Plan(target, unit, None, None, headroom, None, f"no capacity to plan from: {why}")
    steps = [s for s in sweep.get("steps") or [] if isinstance(s, dict)]
    step: dict[str, Any] = next((s for s in steps if num(s.get("load")) == capacity), {})
    if by_rate:
        throughput = step.get("throughput")
        per = num(throughput.get("goodput_rps")) if isinstance(throughput, dict) else None
        measured = f"goodput {per:g} requests/s at the capacity level {capacity:g}" if per else ""
    else:
        settings = sweep.get("sweep")
        per = capacity if isinstance(settings, dict) and settings.get("mode") == "concurrency" else None
        measured = f"{capacity:g} users within the SLOs" if per else ""
    if not per:
        what = "goodput at the capacity level" if by_rate else "a concurrency sweep (users) to plan users"
        return Plan(target, unit, capacity, None, headroom, None, f"cannot plan: needs {what}")
    usable = per * (1 - headroom)
    replicas = max(1, math.ceil(target / usable - _EPSILON))
    reason = (f"one replica: {measured}; with {headroom:.0%} headroom {usable:g} {unit}; "
              f"{target:g} {unit} / {usable:g} -> {replicas} replica(s)")  # fmt: skip
    return Plan(target, unit, capacity, per, headroom, replicas, reason)
