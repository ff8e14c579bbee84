"""Protocol errors of one load response, and their taxonomy over a run.

Every response of a load run is judged after its stream ended (off the timing path), with the stream
invariants the conformance rules use (`maascheck.core.stream_invariants`). A response is *protocol
broken* when it has at least one of these kinds:

- from its outcome: `truncated`, `no_done` (no `data: [DONE]`), `stream_error` (an in-stream error
  event, or a 200 answer whose body is an error object), `bad_json`, `bad_chunk`, `no_tokens`,
  `stalled` (the idle bound tripped: the stream went silent);
- from the invariants: `data_after_done` (events follow `[DONE]`), `finish_reason` (a choice without
  exactly one non-null `finish_reason`), `id_changed`, `created_changed`, `model_changed`,
  `usage_arithmetic` (`total_tokens != prompt_tokens + completion_tokens`), `usage_below_received`
  (`completion_tokens` smaller than the chunks that carried output).

Transport failures (connect errors, non-200 answers, other bounds) and cancelled requests are not
protocol errors: they count in `error_rate` as before. `protocol_error_rate` = protocol-broken
requests / requests that were not cancelled.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from maascheck.core.stream_invariants import (
    CONSTANT_FIELDS,
    choices_without_one_finish,
    completion_below_received,
    events_after_done,
    finish_reason_counts,
    first_change,
    usage_total_off,
)
from maascheck.load.measure.events import Chunk

OUTCOME_KINDS = {
    "truncated": "truncated",
    "no_done": "no_done",
    "stream_error": "stream_error",
    "bad_json": "bad_json",
    "bad_chunk": "bad_chunk",
    "no_tokens": "no_tokens",
    "idle_timeout": "stalled",
}
"""Outcomes that are protocol errors, and the taxonomy kind each is counted under."""

INVARIANT_KINDS = ("data_after_done", "finish_reason", "id_changed", "created_changed", "model_changed",
                   "usage_arithmetic", "usage_below_received")  # fmt: skip
KINDS = (*dict.fromkeys(OUTCOME_KINDS.values()), *INVARIANT_KINDS)
"""Every protocol-error kind, in report order."""

EXAMPLES_PER_KIND = 3
"""First examples (request id and detail) kept per kind."""

DEFAULT_MAX_PROTOCOL_ERROR_RATE = 0.0
"""The default gate: a run with any protocol-broken response fails (`--max-protocol-error-rate`)."""


def protocol_errors(outcome: str, chunks: list[Chunk]) -> list[tuple[str, str]]:
    """(kind, detail) of every protocol error of one response; [] when it is sound or was cancelled."""
    found: list[tuple[str, str]] = []
    if outcome in OUTCOME_KINDS:
        found.append((OUTCOME_KINDS[outcome], outcome))
    if outcome not in ("ok", "no_done", "no_tokens"):  # the stream's content was not read through
        return found
    after = events_after_done([c.kind == "done" for c in chunks if c.kind != "comment"])
    if after:
        found.append(("data_after_done", f"{after} event(s) after data: [DONE]"))
    data = [c for c in chunks if c.kind == "data"]
    for name in CONSTANT_FIELDS:
        values = [getattr(c, name) for c in data]
        pos = first_change(values)
        if pos is not None:
            found.append((f"{name}_changed", f"chunk {pos} has {name} {values[pos]!r}, chunk 0 had {values[0]!r}"))
    if outcome == "ok":
        counts = finish_reason_counts(pair for c in data for pair in c.finishes)
        missing = choices_without_one_finish(counts)
        if missing or not counts:
            detail = ", ".join(f"choice {i}: {counts[i]} finish_reason values" for i in missing) or "no choice"
            found.append(("finish_reason", f"{detail}; expected exactly one per choice"))
    usage = next((c for c in reversed(data) if c.final_usage), None)
    if usage is not None:
        if usage_total_off(usage.usage_prompt, usage.usage_completion, usage.usage_total):
            found.append(("usage_arithmetic", f"total_tokens {usage.usage_total} != prompt_tokens "
                          f"{usage.usage_prompt} + completion_tokens {usage.usage_completion}"))  # fmt: skip
        received = sum(1 for c in data if c.is_token)
        if completion_below_received(usage.usage_completion, received):
            found.append(("usage_below_received",
                          f"completion_tokens {usage.usage_completion} < {received} chunks with output"))  # fmt: skip
    return found


def protocol_block(records: list[dict[str, Any]]) -> dict[str, Any]:
    """The run's taxonomy: broken requests, `protocol_error_rate`, and per kind counts, rates, examples."""
    decided = [r for r in records if r.get("outcome") != "cancelled"]
    broken = [r for r in decided if r.get("protocol_errors")]
    counts: Counter[str] = Counter(k for r in decided for k in dict.fromkeys(r.get("protocol_errors") or ()))
    examples: dict[str, list[dict[str, Any]]] = {}
    for r in broken:
        for kind in dict.fromkeys(r["protocol_errors"]):
            kept = examples.setdefault(kind, [])
            if len(kept) < EXAMPLES_PER_KIND:
                kept.append({"rid": r.get("rid"), "worker": r.get("worker"), "detail": r.get("protocol_detail")})
    n = len(decided)
    return {
        "judged": n,
        "broken": len(broken),
        "protocol_error_rate": round(len(broken) / n, 4) if n else None,
        "by_kind": {
            kind: {"count": counts[kind], "rate": round(counts[kind] / n, 4), "examples": examples[kind]}
            for kind in KINDS
            if counts[kind]
        },
    }
