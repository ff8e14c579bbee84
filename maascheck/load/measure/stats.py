"""Exact summary statistics from raw values (no histograms, no sketches).

Percentiles use linear interpolation between closest ranks (the default of numpy.percentile,
"linear", Hyndman & Fan type 7): p-th percentile of sorted x[0..n-1] is at rank (n-1)*p/100.
The same definition is used for every metric and for merged multi-worker runs, which simply pool the
raw per-request values.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

PERCENTILES: tuple[int, ...] = (50, 90, 95, 99)
STATS: tuple[str, ...] = ("count", "mean", "min", "p50", "p90", "p95", "p99", "max")


def percentile(sorted_values: Sequence[float], p: float) -> float:
    """The p-th percentile (0..100) of already sorted values, linear interpolation."""
    if not sorted_values:
        raise ValueError("percentile of no values")
    rank = (len(sorted_values) - 1) * p / 100.0
    lo = math.floor(rank)
    hi = min(lo + 1, len(sorted_values) - 1)
    frac = rank - lo
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * frac


def summarize(values: Iterable[float | int | None]) -> dict[str, float] | None:
    """count, mean, min, p50, p90, p95, p99, max of the non-null values; None when there are none."""
    xs = sorted(float(v) for v in values if v is not None)
    if not xs:
        return None
    out: dict[str, float] = {"count": len(xs), "mean": round(math.fsum(xs) / len(xs), 4), "min": xs[0]}
    for p in PERCENTILES:
        out[f"p{p}"] = round(percentile(xs, p), 4)
    out["max"] = xs[-1]
    return out
