"""Whether a load run measured the target or its own load generator: five checks as data (pure).

A run is *invalid* when the generator fell behind, because its latencies then include client delay
and the offered load was not delivered. Each check is a `Check` (name, figure, bound, ok, why);
`ok` is None when the check does not apply (closed loop has no schedule; too few samples).

- `dispatch_lag_p99_ms` (open loop): p99 of actual − intended send time over the measured requests
  (those cancelled by the stop left out).
- `client_cpu_saturated_share`: per worker, the share of 1 s intervals in which the process used at
  least `SATURATED_CORE_SHARE` of one core (`time.process_time` over wall time, sampled in the worker);
  the worst worker's share above `MAX_SATURATED_SHARE` ("most of the run") is invalid.
- `event_loop_lag_p99_ms`: per worker, a greenlet sleeps `LOOP_TICK_MS` and records how late it
  woke; the worst worker's p99 above the bound is invalid (every timestamp may be that late).
- `littles_law_error`: L, the generator's own count of requests it means to have in flight (closed
  loop: its running users; open loop: requests whose send time has come and that have not finished),
  sampled every tick and time-averaged over the measured window, against λW from the records (their
  in-flight time inside the same window ÷ the window: completed rate × mean duration, edge requests
  counted for their part inside). |L − λW| / L above `MAX_LITTLE_ERROR` means the users were not
  sending as often as the generator intended (waiting on parsing, on the hub, or lost records).
  Not judged when the brakes held sends back (backoff, Retry-After) in over 5 % of the samples.
- `parse_wait_share`: per worker, the seconds users waited for room in the parse backlog
  (`maascheck.load.run.postprocess`) inside the measured window, over those seconds plus the records'
  in-flight time in it: the share of the users' busy time spent waiting for the generator's own
  parser. The worst worker above `MAX_PARSE_WAIT_SHARE` is invalid (the stream arrived faster than
  the generator could parse it).
Bounds and their reasons: docs/METRICS.md ("Run validity").
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from maascheck.load.measure.stats import percentile

DEFAULT_MAX_DISPATCH_LAG_MS = 50.0
DEFAULT_MAX_LOOP_LAG_MS = 25.0
SATURATED_CORE_SHARE = 0.95
MAX_SATURATED_SHARE = 0.5
MAX_LITTLE_ERROR = 0.10
LOOP_TICK_MS = 10.0
CPU_INTERVAL_S = 1.0
MIN_LITTLE_WINDOW_S = 1.0
MAX_HELD_SHARE = 0.05
MAX_PARSE_WAIT_SHARE = 0.05
_BUCKET_MS = 0.1
_MAX_BUCKET = 600_000  # 60 s: later wake-ups are counted in the last bucket


@dataclass(frozen=True)
class Bounds:
    """The configurable bounds (`--max-dispatch-lag-ms`, `--max-loop-lag-ms`) and `--allow-invalid`."""

    max_dispatch_lag_ms: float = DEFAULT_MAX_DISPATCH_LAG_MS
    max_loop_lag_ms: float = DEFAULT_MAX_LOOP_LAG_MS
    allow_invalid: bool = False


@dataclass(frozen=True)
class Check:
    """One validity check: its figure, its bound, whether it held (None: not applicable) and why."""

    name: str
    value: float | None
    bound: float
    ok: bool | None
    why: str

    def as_dict(self) -> dict[str, Any]:
        """The results.json form."""
        value = None if self.value is None else round(self.value, 4)
        return {"name": self.name, "value": value, "bound": self.bound, "ok": self.ok, "why": self.why}


class LagHistogram:
    """Wake-up lateness in 0.1 ms buckets (bounded memory whatever the run length)."""

    def __init__(self) -> None:
        self.counts: dict[int, int] = {}
        self.n = 0
        self.max_ms = 0.0

    def add(self, lag_ms: float) -> None:
        """Count one wake-up `lag_ms` late (negative counts as 0)."""
        lag = max(lag_ms, 0.0)
        key = min(int(lag / _BUCKET_MS), _MAX_BUCKET)
        self.counts[key] = self.counts.get(key, 0) + 1
        self.n += 1
        self.max_ms = max(self.max_ms, lag)

    def quantile(self, q: float) -> float | None:
        """The upper edge of the bucket holding the q-quantile (0..1); None without samples."""
        if not self.n:
            return None
        rank, seen = max(math.ceil(q * self.n), 1), 0
        for key in sorted(self.counts):
            seen += self.counts[key]
            if seen >= rank:
                return round(min((key + 1) * _BUCKET_MS, self.max_ms), 3)
        return round(self.max_ms, 3)


def p99(values: Iterable[float | None]) -> float | None:
    """The p99 (linear interpolation, as every other figure) of the non-null values; None if none."""
    xs = sorted(float(v) for v in values if v is not None)
    return percentile(xs, 99) if xs else None


def dispatch_lag_check(lags_ms: Sequence[float | None], *, open_loop: bool, bound_ms: float) -> Check:
    """Open loop: the measured requests' dispatch lag p99 against `bound_ms`."""
    name = "dispatch_lag_p99_ms"
    if not open_loop:
        return Check(name, None, bound_ms, None, "closed loop: requests have no scheduled send time")
    value = p99(lags_ms)
    if value is None:
        return Check(name, None, bound_ms, None, "no measured request has a dispatch lag")
    if value > bound_ms:
        why = (
            f"dispatch lag p99 {value:.1f} ms > {bound_ms:g} ms: requests left later than scheduled "
            "(user pool too small, or the generator starved); raise --pool or add --processes"
        )
        return Check(name, value, bound_ms, False, why)
    return Check(name, value, bound_ms, True, f"dispatch lag p99 {value:.1f} ms <= {bound_ms:g} ms")


def cpu_check(workers: Sequence[dict[str, Any]]) -> Check:
    """The worst worker's share of 1 s intervals at >= 95 % of one core, against "most of the run"."""
    name, bound = "client_cpu_saturated_share", MAX_SATURATED_SHARE
    shares = [
        (w["cpu_saturated_intervals"] / w["cpu_intervals"], str(w.get("id")), w.get("cpu_max_core_share"))
        for w in workers
        if w.get("cpu_intervals")
    ]
    if not shares:
        return Check(name, None, bound, None, "no 1 s CPU interval was sampled")
    share, wid, peak = max(shares)
    cpu = f"{share * 100:.0f} % of the run at >= {SATURATED_CORE_SHARE * 100:.0f} % of a core"
    if share > bound:
        why = (
            f"client CPU saturated: worker {wid} spent {cpu} (peak {float(peak or 0) * 100:.0f} %); "
            "latencies include client queueing; add --processes"
        )
        return Check(name, share, bound, False, why)
    return Check(name, share, bound, True, f"worst worker {wid}: {cpu}")


def loop_lag_check(workers: Sequence[dict[str, Any]], *, bound_ms: float) -> Check:
    """The worst worker's event-loop wake-up lag p99 against `bound_ms`."""
    name = "event_loop_lag_p99_ms"
    lags = [(float(w["loop_lag_p99_ms"]), str(w.get("id"))) for w in workers if w.get("loop_lag_p99_ms") is not None]
    if not lags:
        return Check(name, None, bound_ms, None, "the event loop was not sampled")
    value, wid = max(lags)
    if value > bound_ms:
        why = (
            f"event-loop lag p99 {value:.1f} ms > {bound_ms:g} ms (worker {wid}): a {LOOP_TICK_MS:g} ms sleep "
            "woke that late, so chunk timestamps may be too; the generator is starved of CPU"
        )
        return Check(name, value, bound_ms, False, why)
    return Check(name, value, bound_ms, True, f"event-loop lag p99 {value:.1f} ms <= {bound_ms:g} ms")


def in_flight_time(records: Iterable[dict[str, Any]], start_s: float, end_s: float) -> float:
    """Seconds of request time inside [start_s, end_s]: Σ over records of their interval's overlap.

    An open-loop request counts from its intended send time (start − dispatch lag): the generator
    means it to be in flight from then on, and its lateness is the dispatch-lag check's to judge.
    """
    total = 0.0
    for r in records:
        a, b = r.get("start_s"), r.get("end_s")
        if a is None or b is None:
            continue
        a = float(a) - float(r.get("dispatch_lag_ms") or 0.0) / 1000
        total += max(0.0, min(float(b), end_s) - max(a, start_s))
    return total


def sampled_window(worker: dict[str, Any], records: Sequence[dict[str, Any]]) -> tuple[float, float] | None:
    """A worker's sampling window in seconds and its records' in-flight seconds inside it; None when the
    window is missing or shorter than `MIN_LITTLE_WINDOW_S`."""
    a, b = worker.get("inflight_from_s"), worker.get("inflight_to_s")
    if a is None or b is None or b - a < MIN_LITTLE_WINDOW_S:
        return None
    mine = [r for r in records if r.get("worker") == worker.get("id")]
    return float(b) - float(a), in_flight_time(mine, float(a), float(b))


def little_check(workers: Sequence[dict[str, Any]], records: Sequence[dict[str, Any]]) -> Check:
    """The generator's sampled in-flight count L against λW from the records, per worker, summed.

    `workers` carry `inflight_mean` (L) over [`inflight_from_s`, `inflight_to_s`] of that worker's clock;
    `records` are every record (warm-up ones too: their part inside the window counts).
    """
    name, bound = "littles_law_error", MAX_LITTLE_ERROR
    held = max((float(w.get("held_share") or 0.0) for w in workers), default=0.0)
    if held > MAX_HELD_SHARE:
        why = (
            f"the brakes held sends back in {held * 100:.0f} % of the samples (failing requests): "
            "the users were paced on purpose"
        )
        return Check(name, None, bound, None, why)
    big_l = lam_w = 0.0
    for w in workers:
        window, mean = sampled_window(w, records), w.get("inflight_mean")
        if window is None or mean is None:
            continue
        big_l += float(mean)
        lam_w += window[1] / window[0]
    if big_l <= 0 and workers and not any(w.get("inflight_counted", True) for w in workers):
        why = "not counted for this workload: its users wait on purpose (a trace's record times, session think times)"
        return Check(name, None, bound, None, why)
    if big_l <= 0:
        return Check(name, None, bound, None, "no in-flight samples over a window of 1 s or more")
    error = abs(big_l - lam_w) / big_l
    figures = f"L = {big_l:.2f} in flight (generator's samples), λW = {lam_w:.2f} (records)"
    if error > bound:
        why = (
            f"Little's law off by {error * 100:.0f} % (> {bound * 100:.0f} %): {figures}; the users did not "
            "send as often as the generator intended (starved, or waiting on parsing)"
        )
        return Check(name, error, bound, False, why)
    return Check(name, error, bound, True, f"{figures}: off by {error * 100:.1f} %")


def parse_wait_check(workers: Sequence[dict[str, Any]], records: Sequence[dict[str, Any]]) -> Check:
    """The worst worker's share of its users' busy time spent waiting for room in the parse backlog."""
    name, bound = "parse_wait_share", MAX_PARSE_WAIT_SHARE
    shares: list[tuple[float, float, str]] = []
    for w in workers:
        window, wait = sampled_window(w, records), w.get("parse_wait_s")
        if window is None or wait is None:
            continue
        total = float(wait) + window[1]
        if total > 0:
            shares.append((float(wait) / total, float(wait), str(w.get("id"))))
    if not shares:
        return Check(name, None, bound, None, "no measured window of 1 s or more with requests in it")
    share, wait, wid = max(shares)
    figures = f"worker {wid}'s users waited {wait:.2f} s for the parser, {share * 100:.1f} % of their busy time"
    if share > bound:
        why = (
            f"parse backlog full: {figures} (> {bound * 100:.0f} %): the streams arrived faster than the "
            "generator parsed them; add --processes"
        )
        return Check(name, share, bound, False, why)
    return Check(name, share, bound, True, figures)


FIGURES = (
    "loop_lag_samples", "loop_lag_p99_ms", "loop_lag_max_ms", "cpu_intervals", "cpu_saturated_intervals",
    "cpu_max_core_share", "inflight_mean", "inflight_from_s", "inflight_to_s", "held_share", "parse_wait_s",
)  # fmt: skip
"""A worker's self-check figures (`maascheck.load.run.selfcheck.SelfCheck.summary`)."""


def clean_figures(raw: dict[str, Any]) -> dict[str, Any]:
    """A worker's figures as finite numbers (anything else None), plus `inflight_counted` as a bool."""
    out: dict[str, Any] = {}
    for key in FIGURES:
        value = raw.get(key)
        ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        out[key] = value if ok else None
    out["inflight_counted"] = raw.get("inflight_counted") is not False
    return out


def shift_window(figures: dict[str, Any], shift_s: float) -> dict[str, Any]:
    """`figures` with the in-flight window moved by `shift_s` (a worker's clock onto the master's)."""
    return {
        **figures,
        **{
            k: round(figures[k] + shift_s, 6)
            for k in ("inflight_from_s", "inflight_to_s")
            if figures.get(k) is not None
        },
    }


def run_checks(
    *,
    records: Sequence[dict[str, Any]],
    workers: Sequence[dict[str, Any]],
    open_loop: bool,
    bounds: Bounds,
) -> list[Check]:
    """Every check of a run: `records` all of them, `workers` the per-worker self-check summaries."""
    # A request cancelled by the stop left while the hub was stopping hundreds of users: not the schedule's lag.
    measured = [r.get("dispatch_lag_ms") for r in records if not r.get("warmup") and r.get("outcome") != "cancelled"]
    return [
        dispatch_lag_check(measured, open_loop=open_loop, bound_ms=bounds.max_dispatch_lag_ms),
        cpu_check(workers),
        loop_lag_check(workers, bound_ms=bounds.max_loop_lag_ms),
        little_check(workers, records),
        parse_wait_check(workers, records),
    ]


def validity_block(checks: Sequence[Check], *, allowed: bool) -> dict[str, Any]:
    """results.json `validity`: valid unless a check failed; `allowed` = --allow-invalid was given."""
    return {
        "valid": all(c.ok is not False for c in checks),
        "allowed": allowed,
        "checks": [c.as_dict() for c in checks],
    }


def invalid_reason(validity: dict[str, Any]) -> str | None:
    """One line naming every failed check with its figures; None for a valid run."""
    failed = [str(c.get("why")) for c in validity.get("checks") or [] if isinstance(c, dict) and c.get("ok") is False]
    return "; ".join(failed) if failed else None


def apply_to_verdict(verdict: dict[str, Any], validity: dict[str, Any]) -> dict[str, Any]:
    """The verdict with an invalid run marked: it fails (exit 1) unless allowed; an interrupt keeps 130."""
    reason = invalid_reason(validity)
    if reason is None:
        return verdict
    out = {**verdict, "invalid": True}
    if validity.get("allowed"):
        out["reasons"] = [*verdict.get("reasons", []), f"invalid run (allowed by --allow-invalid): {reason}"]
        return out
    out["reasons"] = [*verdict.get("reasons", []), f"invalid run: {reason}"]
    out["passed"] = False
    if out.get("exit_code") == 0:
        out["exit_code"] = 1
    return out
