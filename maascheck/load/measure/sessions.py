"""The `sessions` block of results.json: multi-turn sessions, TTFT per turn, prompt-cache reads vs prefix.

Computed from the measured records that carry a `session` id (`--workload sessions:...`):

- `started`: sessions whose turn 1 is measured (not warm-up); `completed`: those of them whose last
  planned turn is ok;
  `turns`: measured turn requests, `ok_turns` the ok ones.
- `ttft_ms_first_turn`, `ttft_ms_later_turns` (turn >= 2), `ttft_ms_by_turn` (per turn index): exact
  summaries of the ok turns' TTFT (`maascheck.load.measure.stats.summarize`).
- `session_cache_hit_rate` = Σ `cached_tokens` / Σ `cacheable_tokens` over the ok turns >= 2 that report
  both, where `cacheable_tokens` is the previous turn's `usage.prompt_tokens` (that request is a prefix
  of this one, so the server could have cached all of it). A block cache reads whole blocks only, so
  it is below 1 even when everything hits; above 1 means the server cached more than the session's
  own prefix (e.g. a prompt shared across sessions). None when no turn reports both counts.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from maascheck.load.measure.stats import summarize


def _key(record: dict[str, Any]) -> tuple[Any, Any]:
    return record.get("worker"), record["session"]  # session ids are unique per worker process


def sessions_block(records: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The sessions figures of the measured `records`; None when no record belongs to a session."""
    turns = [r for r in records if r.get("session") is not None and isinstance(r.get("turn"), int)]
    if not turns:
        return None
    ok = [r for r in turns if r.get("outcome") == "ok"]
    by_turn: dict[int, list[float]] = defaultdict(list)
    for r in ok:
        if r.get("ttft_ms") is not None:
            by_turn[r["turn"]].append(r["ttft_ms"])
    later = [r for r in ok if r["turn"] >= 2]
    reads = [r for r in later if isinstance(r.get("cached_tokens"), int) and isinstance(r.get("cacheable_tokens"), int)]
    cached = sum(r["cached_tokens"] for r in reads)
    cacheable = sum(r["cacheable_tokens"] for r in reads)
    started = {_key(r) for r in turns if r["turn"] == 1}
    return {
        "started": len(started),
        "completed": len({_key(r) for r in ok if r["turn"] == r.get("session_turns")} & started),
        "turns": len(turns),
        "ok_turns": len(ok),
        "ttft_ms_first_turn": summarize(v for t, vs in by_turn.items() if t == 1 for v in vs),
        "ttft_ms_later_turns": summarize(v for t, vs in by_turn.items() if t >= 2 for v in vs),
        "ttft_ms_by_turn": {str(t): summarize(by_turn[t]) for t in sorted(by_turn)},
        "cached_tokens": cached if reads else None,
        "cacheable_tokens": cacheable if reads else None,
        "cache_turns": len(reads),
        "session_cache_hit_rate": round(cached / cacheable, 4) if reads and cacheable else None,
    }
