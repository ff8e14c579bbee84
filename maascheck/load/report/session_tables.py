"""The "Sessions" table of the load report (multi-turn runs only), from results.json `sessions`."""

from __future__ import annotations

from typing import Any

from maascheck.load.measure.reader import RunDocs, fmt
from maascheck.load.report.tables import Table

SESSION_DEFINITION = (
    "session_cache_hit_rate = Σ cached_tokens / Σ cacheable_tokens over the ok turns ≥ 2 that report both; "
    "cacheable_tokens = the previous turn's prompt_tokens (that request is a prefix of this one)."
)


def _pct(summary: Any, stat: str) -> str:
    return fmt(summary.get(stat)) if isinstance(summary, dict) else "—"


def sessions_table(docs: RunDocs) -> Table | None:
    """Session counts, TTFT of turn 1 vs later turns, and prompt-cache reads vs the cacheable prefix; None
    when the run had no sessions."""
    block = docs.results.get("sessions")
    if not isinstance(block, dict):
        return None
    table = Table(["sessions", "value"])
    for key in ("started", "completed", "turns", "ok_turns"):
        table.add([key.replace("_", " "), fmt(block.get(key))])
    for label, key in (("TTFT turn 1", "ttft_ms_first_turn"), ("TTFT turns ≥ 2", "ttft_ms_later_turns")):
        summary = block.get(key)
        table.add([f"{label} p50 / p95 (ms)", f"{_pct(summary, 'p50')} / {_pct(summary, 'p95')}"])
    cached, cacheable = fmt(block.get("cached_tokens")), fmt(block.get("cacheable_tokens"))
    table.add(["cached_tokens / cacheable_tokens", f"{cached} / {cacheable}"])
    table.add(["session_cache_hit_rate", fmt(block.get("session_cache_hit_rate"))])
    return table
