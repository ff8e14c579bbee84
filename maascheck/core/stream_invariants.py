"""Invariants of one streamed chat completion, as pure functions over its parsed events.

Shared by the conformance rules (STREAM-003, STREAM-009/010/011, STREAM-014, USAGE arithmetic) and the
load tester, which checks every response of a run (`maascheck.load.measure.protocol`), so both judge
one fact the same way. Each function takes plain values (flags, field values, counts), never a layer's
own event type. Sources (github.com/openai/openai-openapi): `CreateCompletionRequest.stream` (the
stream is "terminated by a data: [DONE] message"), `CreateChatCompletionStreamResponse.id` ("Each
chunk has the same ID"), `.created` ("Each chunk has the same timestamp"), `.choices[].finish_reason`
(null until the choice ends), `CompletionUsage.total_tokens` ("Total number of tokens used in the
request (prompt + completion)").
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

CONSTANT_FIELDS = ("id", "created", "model")
"""Chunk fields that stay the same across one stream (`model`: one completion comes from one model)."""


def events_after_done(is_done: Sequence[bool]) -> int | None:
    """Events that follow the first `[DONE]`; None when no event is `[DONE]` (0 when it is last and once)."""
    for pos, done in enumerate(is_done):
        if done:
            return len(is_done) - 1 - pos
    return None


def first_change(values: Sequence[object]) -> int | None:
    """Position of the first value that differs from the first one; None when all are equal."""
    if not values:
        return None
    first = values[0]
    return next((pos for pos, value in enumerate(values) if value != first), None)


def finish_reason_counts(pairs: Iterable[tuple[int, object]]) -> dict[int, int]:
    """Non-null `finish_reason` values per choice index, from (index, finish_reason) of every choice seen."""
    counts: dict[int, int] = {}
    for index, reason in pairs:
        counts[index] = counts.get(index, 0) + (reason is not None)
    return counts


def choices_without_one_finish(counts: dict[int, int]) -> list[int]:
    """Choice indexes that did not carry exactly one non-null `finish_reason`."""
    return sorted(index for index, n in counts.items() if n != 1)


def usage_total_off(prompt: int | None, completion: int | None, total: int | None) -> bool:
    """`total_tokens` is present and differs from `prompt_tokens + completion_tokens`."""
    return None not in (prompt, completion, total) and total != (prompt or 0) + (completion or 0)


def completion_below_received(completion_tokens: int | None, token_chunks: int) -> bool:
    """`completion_tokens` is smaller than the chunks that carried output: each such chunk holds a token."""
    return completion_tokens is not None and completion_tokens < token_chunks
