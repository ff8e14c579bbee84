"""Capacity and knee detection over the steps of a load sweep (pure functions, no I/O).

Definitions (`maascheck sweep`):
- **Scaling efficiency** of step i over step i-1: the measured throughput gain divided by the ideal
  linear gain, `(T_i - T_{i-1}) / (T_{i-1} * (L_i / L_{i-1} - 1))`, where L is the offered load
  (users or arrivals/s) and T the throughput (output tokens/s by default). 1.0 = perfectly linear,
  0 = no gain, negative = throughput fell.
- **Knee**: the load of the last step before the first step whose efficiency is below
  `min_efficiency` (default 0.5, i.e. less than half the ideal gain). It is the saturation point:
  adding load past it mostly adds queueing. None when every step still scales (sweep higher).
- **Capacity under SLOs**: the highest load of the run of passing steps that starts at the lowest
  step; a step passes when it met its SLOs *and* its `protocol_error_rate` is within the bound
  (`maascheck.load.measure.protocol`: none by default, or the SLO that names it). A passing step
  above a failing one is reported separately as `highest_passing`, and is not trusted as capacity.
  None when the lowest step fails.

vLLM's `serve_sla` instead bisects one knob with a PCHIP fit of the SLO margin
(`vllm/benchmarks/sweep/serve_sla.py`); stepping a fixed ladder here keeps each point a full,
warm-up-excluded steady-state run and makes the knee visible.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from maascheck.load.measure.protocol import DEFAULT_MAX_PROTOCOL_ERROR_RATE
from maascheck.load.measure.reader import num

DEFAULT_MIN_EFFICIENCY = 0.5
DEFAULT_KNEE_METRIC = "output_tokens_per_s"


@dataclass
class Step:
    """One step's outcome as the analysis sees it."""

    load: float
    ran: bool  # produced a results document
    passed: bool | None  # every SLO met (None: no SLO given, or not run)
    throughput: float | None  # the knee metric
    error_rate: float | None = None
    slos: list[dict[str, Any]] = field(default_factory=list)
    protocol_error_rate: float | None = None  # None: not measured (runs before the protocol taxonomy)

    @property
    def within_bounds(self) -> bool:
        """Met its SLOs and its protocol-error bound (an SLO naming `protocol_error_rate`, else none allowed)."""
        return self.passed is True and not self.protocol_broken

    @property
    def protocol_broken(self) -> bool:
        """More protocol-broken responses than the default bound, when no SLO sets the bound."""
        rate = self.protocol_error_rate
        gated = any(s.get("metric") == "protocol_error_rate" for s in self.slos)
        return not gated and rate is not None and rate > DEFAULT_MAX_PROTOCOL_ERROR_RATE


def efficiencies(steps: Sequence[Step]) -> list[float | None]:
    """Scaling efficiency of each step over the previous measured step (None for the first or unknown)."""
    out: list[float | None] = []
    prev: Step | None = None
    for s in steps:
        eff = None
        if prev is not None and s.throughput is not None and prev.throughput and prev.load > 0:
            ideal = prev.throughput * (s.load / prev.load - 1)
            if ideal > 0:
                eff = (s.throughput - prev.throughput) / ideal
        out.append(eff)
        if s.throughput is not None:
            prev = s
    return out


@dataclass(frozen=True)
class Knee:
    """The knee load (None if not reached) and a sentence saying why."""

    load: float | None
    reason: str


def find_knee(steps: Sequence[Step], min_efficiency: float = DEFAULT_MIN_EFFICIENCY) -> Knee:
    """The last step before throughput stops scaling (see the module docstring)."""
    measured = [s for s in steps if s.throughput is not None]
    if len(measured) < 2:
        return Knee(None, "fewer than two steps measured throughput: no knee can be found")
    effs = efficiencies(measured)
    for i, eff in enumerate(effs):
        if eff is not None and eff < min_efficiency:
            prev, cur = measured[i - 1], measured[i]
            gain = (
                f"raised throughput by only {eff * 100:.0f} % of the ideal linear gain"
                if eff >= 0
                else "lowered throughput"
            )
            return Knee(
                prev.load,
                f"going from {prev.load:g} to {cur.load:g} {gain} (threshold "
                f"{min_efficiency * 100:.0f} %): saturation at {prev.load:g}",
            )
    return Knee(
        None,
        f"throughput still scaled at {min_efficiency * 100:.0f} % or more of linear up to "
        f"{measured[-1].load:g}: the knee lies above the highest step",
    )


@dataclass(frozen=True)
class Capacity:
    """Capacity under the SLOs, the highest passing step anywhere, and why."""

    load: float | None
    highest_passing: float | None
    reason: str


def find_capacity(steps: Sequence[Step]) -> Capacity:
    """The highest load of the contiguous passing run from the lowest step (see the module docstring)."""
    if not steps:
        return Capacity(None, None, "no step ran")
    passing = [s.load for s in steps if s.within_bounds]
    highest = max(passing) if passing else None
    capacity = None
    for s in steps:
        if not s.within_bounds:
            break
        capacity = s.load
    if capacity is None:
        first = steps[0]
        why = "did not run" if not first.ran else _failed(first)
        return Capacity(None, highest, f"the lowest step ({first.load:g}) {why}: no load meets the SLOs")
    reason = f"every step up to {capacity:g} met the SLOs"
    nxt = next((s for s in steps if s.load > capacity), None)
    if nxt is not None:
        reason += f"; {nxt.load:g} " + ("did not run" if not nxt.ran else _failed(nxt))
    if highest is not None and highest > capacity:
        reason += f" (a higher step, {highest:g}, passed again: noisy or non-monotone; not trusted)"
    return Capacity(capacity, highest, reason)


def _failed(step: Step) -> str:
    """Why a step is not within its bounds: the SLOs it missed, the protocol errors beyond their bound."""
    why = []
    missed = [str(s.get("expr") or s.get("metric")) for s in step.slos if s.get("passed") is False]
    if missed:
        why.append("missed " + ", ".join(missed))
    if step.protocol_broken:
        why.append(f"broke the protocol on {(step.protocol_error_rate or 0) * 100:.2f} % of its responses")
    return "; ".join(why) or "failed its SLOs"


def bad_failure(step: Step, stop_factor: float, max_error_rate: float) -> str | None:
    """Why the sweep should stop after `step` (None to go on).

    Stops when the step did not run, when its error rate exceeds `max_error_rate`, or (with
    `stop_factor` > 0) when an SLO is missed by more than `stop_factor` times its threshold.
    """
    if not step.ran:
        return f"step {step.load:g} produced no results"
    if step.error_rate is not None and step.error_rate > max_error_rate:
        return f"step {step.load:g} error rate {step.error_rate * 100:.0f} % > {max_error_rate * 100:.0f} %"
    if stop_factor <= 0:
        return None
    for slo in step.slos:
        measured, threshold, op = num(slo.get("measured")), num(slo.get("threshold")), slo.get("op")
        if slo.get("passed") is not False or threshold is None:
            continue
        if measured is None:
            return f"step {step.load:g}: {slo.get('expr')} could not be measured"
        if op in ("<=", "<") and threshold > 0 and measured > stop_factor * threshold:
            return f"step {step.load:g}: {slo.get('expr')} missed by more than {stop_factor:g}x ({measured:g})"
        if op in (">=", ">") and measured * stop_factor < threshold:
            return f"step {step.load:g}: {slo.get('expr')} missed by more than {stop_factor:g}x ({measured:g})"
    return None
