"""`Retry-After` (RFC 9110 §10.2.3): delay-seconds or an HTTP-date, as seconds from now."""

from __future__ import annotations

import math
import time
from email.utils import parsedate_to_datetime


def retry_after_seconds(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` value; None when absent or unreadable (never negative)."""
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if text.isdigit():
        return float(int(text[:12]))  # delay-seconds: 1*DIGIT (bounded: a huge number is still finite)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        return None
    delay = when.timestamp() - (time.time() if now is None else now)
    return max(delay, 0.0) if math.isfinite(delay) else None
