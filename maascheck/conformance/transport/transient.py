"""Transient answers: a 429 or a 503 is retried before any rule judges it, and what stays transient is said so.

RFC 9110 §15.5.29 (via RFC 6585 §4) makes 429 "too many requests" and §15.6.4 makes 503 a temporary
overload; both may carry `Retry-After` (§10.2.3). Neither says anything about the request the
probe made, so a rule must not read one as the endpoint's answer to its question (MODELS-001,
AUTH-001, ...). The recorder retries such an answer up to `retries` times, waiting what
`Retry-After` asks (or 1 s, then 2 s, without it), each retry taking the run's request budget; an
answer that is still 429/503 after that, or that asks for a wait longer than `max_wait_s`, is marked
transient on the exchange and the rules that read it are skipped with that reason, not failed.
"""

from __future__ import annotations

from dataclasses import dataclass

from maascheck.conformance.model.exchange import Exchange
from maascheck.core.retry_after import retry_after_seconds

TRANSIENT_STATUSES = frozenset({429, 503})


@dataclass(frozen=True)
class TransientPolicy:
    """How many times, and how long, a transient answer is waited out."""

    retries: int = 2
    max_wait_s: float = 10.0
    default_wait_s: float = 1.0

    def wait_before_retry(self, ex: Exchange, retries_done: int) -> float | None:
        """Seconds to wait before retrying `ex`; None when it is not transient or is not to be retried."""
        if ex.status not in TRANSIENT_STATUSES or retries_done >= self.retries:
            return None
        asked = retry_after_seconds(ex.header("retry-after"))
        wait = self.default_wait_s * 2**retries_done if asked is None else asked
        return wait if wait <= self.max_wait_s else None


NO_RETRIES = TransientPolicy(retries=0)


def transient_note(ex: Exchange, retries_done: int, policy: TransientPolicy) -> str:
    """Why `ex` stayed transient: its status, its Retry-After, how often it was retried."""
    asked = ex.header("retry-after")
    after = f", Retry-After: {asked[:40]!r}" if asked is not None else ""
    waited = retry_after_seconds(asked)
    if waited is not None and waited > policy.max_wait_s:
        why = f"the wait it asked for exceeds {policy.max_wait_s:g} s"
    elif retries_done:
        why = f"still so after {retries_done} {'retry' if retries_done == 1 else 'retries'}"
    else:
        why = "not retried (request budget exhausted)"
    return f"transient answer HTTP {ex.status}{after}: {why}"
