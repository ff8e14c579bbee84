"""Brakes for a load run: a circuit breaker and a backoff that bound the rate of failing requests.

Paid endpoints bill failed requests too, and a misconfigured run (an unset key, a wrong model)
would otherwise fire thousands of them per second. Per load-generating process:

- **Backoff.** After a failed request, sends are spaced process-wide by `base * 2**(k-1)` seconds
  (k consecutive failures, capped at `cap_s`); a 429 or 503 with `Retry-After` (RFC 9110 §10.2.3)
  holds every send until then (capped at `cap_s` too). One success ends the backoff. Failed
  requests are still recorded as errors: the backoff delays the next sends, it hides nothing.
- **Circuit breaker.** The run stops when the first `first_n` finished requests all failed, or when
  more than `max_error_rate` of the requests finished in the last `window_s` seconds failed (with
  at least `min_window` of them). The reason goes to results.json (`brakes`, `run.stopped_by:
  circuit_breaker`) and the console; with several worker processes each worker brakes itself and
  tells the master, which stops the run.
"""

from __future__ import annotations

import math
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

from maascheck.core.errors import ConfigError

BACKOFF_STATUSES = frozenset({429, 503})


@dataclass(frozen=True)
class BrakeSettings:
    """How hard the brakes bite; `enabled=False` turns the breaker off (the backoff stays)."""

    enabled: bool = True
    first_n: int = 20
    window_s: float = 10.0
    max_error_rate: float = 0.8
    min_window: int = 20
    base_s: float = 0.05
    cap_s: float = 10.0

    def __post_init__(self) -> None:
        if self.first_n < 0 or self.min_window < 1:
            raise ConfigError(
                f"--brake-first-n must be >= 0 (0: off), got {self.first_n}; e.g. --brake-first-n 20"
            )
        if not 0.0 < self.max_error_rate <= 1.0 or not math.isfinite(self.window_s) or self.window_s <= 0:
            raise ConfigError(
                "--brake-error-rate must be in (0, 1] and --brake-window > 0 seconds, got "
                f"{self.max_error_rate:g} and {self.window_s:g}; e.g. --brake-error-rate 0.8 --brake-window 10"
            )
        if not 0.0 < self.base_s <= self.cap_s or not math.isfinite(self.cap_s):
            raise ConfigError(
                f"--backoff-cap must be a finite number of seconds >= {self.base_s:g}, got {self.cap_s:g}; "
                "e.g. --backoff-cap 10"
            )

    def for_share(self, workers: int) -> BrakeSettings:
        """The settings of one of `workers` processes: the first-N count split between them."""
        if workers <= 1 or self.first_n == 0:
            return self
        share = max(math.ceil(self.first_n / workers), 1)
        return BrakeSettings(
            self.enabled, share, self.window_s, self.max_error_rate, max(math.ceil(self.min_window / workers), 1),
            self.base_s, self.cap_s,
        )  # fmt: skip

    def describe(self) -> dict[str, Any]:
        """These settings as JSON data (results.json `brakes.settings`)."""
        return {
            "enabled": self.enabled,
            "first_n": self.first_n,
            "window_s": self.window_s,
            "max_error_rate": self.max_error_rate,
            "min_window": self.min_window,
            "backoff_base_s": self.base_s,
            "backoff_cap_s": self.cap_s,
        }


@dataclass
class Brakes:
    """One process's brakes: `wait_s` before each send, `observe` after each finished request."""

    settings: BrakeSettings = field(default_factory=BrakeSettings)
    finished: int = 0
    failed: int = 0
    consecutive: int = 0
    reason: str | None = None
    waits: int = 0
    waited_s: float = 0.0
    max_wait_s: float = 0.0
    retry_after_honoured: int = 0
    _next_slot: float = 0.0
    _hold_until: float = 0.0
    _buckets: deque[list[int]] = field(default_factory=deque)  # [second, finished, failed]: memory bounded
    _window_total: int = 0
    _window_failed: int = 0
    _kinds: Counter[str] = field(default_factory=Counter)
    _ahead: deque[float] = field(default_factory=deque)  # backoff slots still in the future (users waiting)

    @property
    def tripped(self) -> bool:
        """The breaker stopped this process's sending."""
        return self.reason is not None

    def wait_s(self, now: float) -> float:
        """Seconds the next send must wait (0 while requests succeed); claims the send's slot."""
        if self.consecutive == 0 and now >= self._hold_until:
            return 0.0
        slot = max(now, self._next_slot, self._hold_until)
        self._next_slot = slot + self._gap()
        if slot > now:
            self.holding(now)
            self._ahead.append(slot)
        return slot - now

    def holding(self, now: float) -> int:
        """Sends held back at `now` (perf_counter seconds): users sleeping out a backoff or Retry-After."""
        ahead = self._ahead
        while ahead and ahead[0] <= now:
            ahead.popleft()
        return len(ahead)

    def _gap(self) -> float:
        """The spacing of sends after `consecutive` failures: base * 2**(k-1), capped; 0 without failures."""
        if self.consecutive == 0:
            return 0.0
        return min(self.settings.cap_s, self.settings.base_s * 2.0 ** (min(self.consecutive, 60) - 1))

    def waited(self, seconds: float) -> None:
        """Count one backoff wait that was slept in full (a wait cut by the run's stop is not counted)."""
        self.waits += 1
        self.waited_s += seconds
        self.max_wait_s = max(self.max_wait_s, seconds)

    def observe(self, now: float, ok: bool, *, kind: str = "", status: int | None = None,
                retry_after_s: float | None = None) -> None:  # fmt: skip
        """Count one finished request (`ok` or not), then trip the breaker if a condition holds."""
        self.finished += 1
        self._count(now, ok)
        if ok:
            self.consecutive = 0
        else:
            self.failed += 1
            self.consecutive += 1
            self._next_slot = max(self._next_slot, now + self._gap())
            self._kinds[kind or "error"] += 1
            if status in BACKOFF_STATUSES and retry_after_s is not None and math.isfinite(retry_after_s):
                self.retry_after_honoured += 1
                self._hold_until = max(self._hold_until, now + min(max(retry_after_s, 0.0), self.settings.cap_s))
        self._slide(now)
        if self.reason is None and self.settings.enabled:
            self.reason = self._trip_reason()

    def _count(self, now: float, ok: bool) -> None:
        second = math.floor(now)
        if not self._buckets or self._buckets[-1][0] != second:
            self._buckets.append([second, 0, 0])
        bucket = self._buckets[-1]
        bucket[1] += 1
        self._window_total += 1
        if not ok:
            bucket[2] += 1
            self._window_failed += 1

    def _slide(self, now: float) -> None:
        """Drop the 1-second buckets that ended before the window."""
        horizon = now - self.settings.window_s
        while self._buckets and self._buckets[0][0] + 1 <= horizon:
            _, total, failed = self._buckets.popleft()
            self._window_total -= total
            self._window_failed -= failed

    def _trip_reason(self) -> str | None:
        s = self.settings
        kinds = ", ".join(f"{k} {n}" for k, n in self._kinds.most_common(3))
        if s.first_n and self.finished == s.first_n and self.failed == s.first_n:
            return f"circuit breaker: the first {s.first_n} requests all failed ({kinds})"
        count = self._window_total
        if count >= s.min_window and self._window_failed / count > s.max_error_rate:
            return (
                f"circuit breaker: {self._window_failed} of the {count} requests of the last "
                f"{s.window_s:g} s failed ({self._window_failed / count:.0%} > {s.max_error_rate:.0%}; {kinds})"
            )
        return None

    def summary(self) -> dict[str, Any]:
        """What the brakes did in this process (merged by the master into results.json `brakes`)."""
        return {
            "tripped": self.tripped,
            "reason": self.reason,
            "finished": self.finished,
            "failed": self.failed,
            "backoff_waits": self.waits,
            "backoff_wait_s": round(self.waited_s, 3),
            "backoff_max_wait_s": round(self.max_wait_s, 3),
            "retry_after_honoured": self.retry_after_honoured,
        }


def merge_summaries(settings: BrakeSettings, parts: list[dict[str, Any]]) -> dict[str, Any]:
    """The results.json `brakes` object from the per-process summaries."""
    reasons = [p["reason"] for p in parts if p.get("reason")]
    return {
        "settings": settings.describe(),
        "tripped": bool(reasons),
        "reason": reasons[0] if reasons else None,
        "backoff_waits": sum(int(p.get("backoff_waits", 0)) for p in parts),
        "backoff_wait_s": round(sum(float(p.get("backoff_wait_s", 0.0)) for p in parts), 3),
        "backoff_max_wait_s": max((float(p.get("backoff_max_wait_s", 0.0)) for p in parts), default=0.0),
        "retry_after_honoured": sum(int(p.get("retry_after_honoured", 0)) for p in parts),
    }
