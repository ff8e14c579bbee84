"""Per-request metric definitions: one streamed exchange -> one `requests.jsonl` record.

Definitions (times from `perf_counter_ns`; each event is stamped at the arrival of its first byte):

- **TTFT** `ttft_ms`: send -> first *token chunk*: a chunk with non-empty content, reasoning
  (`reasoning_content`/`reasoning`) or `tool_calls`. Role-only and usage-only chunks never count.
  vLLM bench serve counts any chunk with `choices` (so its role chunk sets TTFT, vllm PR #46652);
  AIPerf and guidellm use content-or-reasoning as here; GenAI-Perf/inference-perf use content only
  (= our TTFO).
- **TTFO** `ttfo_ms`: send -> first chunk with non-empty content or tool_calls (reasoning excluded);
  AIPerf "TTFO", guidellm "time to first output token".
- **ICL** `icl_ms`: gaps between consecutive token chunks (one value per gap); vLLM's `itl` and
  AIPerf's ICL are this.
- **ITL** `itl_ms`: per token: a chunk gap divided by the tokens that chunk carries, repeated once per
  token. Tokens per chunk come from per-chunk usage (vLLM `continuous_usage_stats`), else the logprobs
  count, else a tokenizer (`--tokenizer`), else 1 per chunk. With 1 token per chunk ITL == ICL.
  AIPerf/guidellm "ITL" is a per-request average, i.e. our TPOT.
- **E2E** `e2e_ms`: send -> last token chunk. It ends at the last generated token, not at the usage
  chunk or `[DONE]`, so trailing bookkeeping does not inflate it (as vLLM's `latency`, AIPerf's
  request latency to the last content chunk). `e2e_done_ms`: send -> `[DONE]` (or the last event).
- **TPOT** `tpot_ms`: (E2E - TTFT) / (N - 1), N = output tokens; None when N <= 1 (as vLLM, SGLang,
  genai-bench; AIPerf's ITL; guidellm divides by N including the first token).
- **Output tokens**: `usage.completion_tokens` (source "usage") when the usage chunk came, else the sum
  of per-chunk counts ("chunk_usage" / "tokenizer"), else the number of token chunks ("chunks").
  `token_mismatch` = usage - chunk-derived count when both are known.
- **Outcome** (first that applies): connect_error, http_error (any status but 200; the error kind is
  `http_<status>`), cancelled (the run stopped while the request was in flight; not a failure), a
  bound of `maascheck.load.client.limits` (head_timeout, idle_timeout, deadline, too_large,
  line_too_long, ...), stream_error (an in-stream error event), truncated (connection closed before
  the body ended), bad_json / bad_chunk (an event that is not JSON, or JSON of the wrong types),
  no_done (the body ended without `data: [DONE]`), no_tokens (no token chunk), ok. A request is ok
  only when every event parsed and it carried the tokens it counts.
- **Connections** `connect_ms`: TCP connect (+ TLS handshake on https) of the fresh connection the
  request was sent on, None on a reused one (or when the connect failed); never part of TTFT, which
  starts at the send. `reused_connection`: sent and answered on a kept-alive connection.
  `reconnected`: a kept-alive connection was found closed and replaced; `retries`: re-sent once
  because the kept-alive connection died before a response head (`maascheck.load.client.reuse`); the
  TTFT and E2E of a retried request run from its first send, so they include the retry.
- **Cached tokens** `cached_tokens`: `usage.prompt_tokens_details.cached_tokens` (prompt tokens read
  from the server's prefix cache; OpenAI spec `CompletionUsage.prompt_tokens_details`), None when absent.
- **Protocol errors** `protocol_errors`: the kinds `maascheck.load.measure.protocol` finds (the stream
  invariants shared with the conformance rules); an ok request can carry some (e.g. no finish_reason),
  and is then not good.
- **Capped lists**: `itl_ms` and `icl_ms` keep at most `MAX_GAPS` values per request: a longer list is
  replaced by `MAX_GAPS` values at evenly spaced ranks of the sorted list (its quantiles), and
  `gaps_capped` says so. Below the cap the lists are exact.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from typing import Any

from maascheck.load.client.limits import BOUND_KINDS
from maascheck.load.client.result import StreamResult
from maascheck.load.measure.events import Chunk, parse_stream, printable
from maascheck.load.measure.protocol import protocol_errors

TokenCounter = Callable[[str], int]
NS_PER_MS = 1e6
MAX_GAPS = 1000
"""Values kept per request in `itl_ms` and `icl_ms` (quantiles of the full list beyond it)."""
_TRANSPORT_OUTCOMES = frozenset(("connect_error", "http_error", "cancelled", *BOUND_KINDS))
OUTCOMES = ("ok", "connect_error", "http_error", "cancelled", *BOUND_KINDS, "stream_error", "truncated",
            "bad_json", "bad_chunk", "no_done", "no_tokens", "timeout")  # fmt: skip
"""Every outcome a record can carry (`timeout`: records of runs before the time bounds were split)."""


def _ms(delta_ns: int) -> float:
    return round(delta_ns / NS_PER_MS, 4)


def outcome_of(result: StreamResult, chunks: list[Chunk]) -> tuple[str, str | None]:
    """Classify the exchange; returns (outcome, error text)."""
    if result.transport in _TRANSPORT_OUTCOMES:
        return result.transport, None if result.error is None else printable(result.error)
    for c in chunks:
        if c.kind == "error":
            return "stream_error", c.error
    if result.transport == "truncated":
        return "truncated", result.error
    for kind in ("bad_json", "bad_chunk"):
        bad = [i for i, c in enumerate(chunks) if c.kind == kind]
        if bad:
            first = chunks[bad[0]]
            return kind, f"{len(bad)} of {len(chunks)} events; event {bad[0]}: {first.error}"
    if not any(c.kind == "done" for c in chunks):
        return "no_done", "the stream ended without a `data: [DONE]` event"
    if not any(c.is_token for c in chunks):
        return "no_tokens", "the stream carried no chunk with content, reasoning or tool calls"
    return "ok", None


def quantile_sample(values: list[float], cap: int = MAX_GAPS) -> list[float]:
    """`values` when at most `cap` long, else `cap` values at evenly spaced ranks of the sorted list."""
    if len(values) <= cap:
        return values
    ordered = sorted(values)
    last = len(ordered) - 1
    return [ordered[round(i * last / (cap - 1))] for i in range(cap)]


def _per_token_gaps(gaps: list[int], counts: Iterable[int], cap: int) -> tuple[list[float], bool]:
    """Each gap divided by its chunk's tokens, once per token; past `cap` values, their quantiles."""
    runs = [(_ms(g // n), n) for g, n in zip(gaps, counts, strict=False)]
    total = sum(n for _, n in runs)
    if total <= cap:
        out: list[float] = []
        for value, n in runs:
            out.extend([value] * n)
        return out, False
    runs.sort()
    picks, out, seen, k = [round(i * (total - 1) / (cap - 1)) for i in range(cap)], [], 0, 0
    for value, n in runs:  # the values at ranks `picks` of the expanded, sorted list
        seen += n
        while k < cap and picks[k] < seen:
            out.append(value)
            k += 1
    return out, True


def tokens_per_chunk(chunks: list[Chunk], counter: TokenCounter | None) -> tuple[list[int], str]:
    """Tokens carried by each token chunk, and where the counts came from."""
    token_chunks = [c for c in chunks if c.is_token]
    if any(c.usage_completion is not None and not c.final_usage for c in chunks):
        counts, prev = [], 0
        for c in chunks:
            if c.usage_completion is not None and not c.final_usage:
                delta = max(c.usage_completion - prev, 0)
                prev = c.usage_completion
                if c.is_token:
                    counts.append(max(delta, 1))
            elif c.is_token:
                counts.append(1)
        return counts, "chunk_usage"
    if token_chunks and all(c.logprob_tokens for c in token_chunks):
        return [c.logprob_tokens or 1 for c in token_chunks], "chunk_usage"
    if counter is not None:
        return [max(counter(c.text), 1) if c.text else 1 for c in token_chunks], "tokenizer"
    return [1] * len(token_chunks), "chunks"


def request_record(
    result: StreamResult,
    *,
    counter: TokenCounter | None = None,
    t0_ns: int = 0,
    intended_ns: int | None = None,
    chunks: list[Chunk] | None = None,
) -> dict[str, Any]:
    """Compute one request's metrics (the measurement part of a `requests.jsonl` record).

    `t0_ns` is the run's zero (for `start_s`); `intended_ns` the open-loop intended send time;
    `chunks` the already parsed events (parsed here when None).
    """
    if chunks is None:
        chunks = parse_stream(result.events, result.event_times_ns)
    outcome, error = outcome_of(result, chunks)
    send = result.t_send_ns
    token_chunks = [c for c in chunks if c.is_token]
    counts, source = tokens_per_chunk(chunks, counter)
    usage = next((c for c in reversed(chunks) if c.final_usage), None)
    if usage is None:  # per-chunk usage: the last one is cumulative
        usage = next((c for c in reversed(chunks) if c.usage_completion is not None), None)

    ttft = ttfo = e2e = tpot = None
    capped = False
    itl: list[float] = []
    icl: list[float] = []
    if token_chunks:
        ttft = _ms(token_chunks[0].t_ns - send)
        first_out = next((c for c in token_chunks if c.content or c.tool_calls), None)
        ttfo = _ms(first_out.t_ns - send) if first_out else None
        e2e = _ms(token_chunks[-1].t_ns - send)
        gaps = [cur.t_ns - prev.t_ns for prev, cur in itertools.pairwise(token_chunks)]
        icl = quantile_sample([round(g / NS_PER_MS, 4) for g in gaps])
        capped = len(gaps) > MAX_GAPS
        if all(n == 1 for n in counts):
            itl = icl.copy()
        else:
            itl, itl_capped = _per_token_gaps(gaps, counts[1:], MAX_GAPS)
            capped = capped or itl_capped
    chunk_tokens = sum(counts)
    output_tokens: int | None
    if usage is not None and usage.usage_completion is not None:
        output_tokens, source = usage.usage_completion, "usage"
    else:
        output_tokens = chunk_tokens if token_chunks else (0 if outcome == "ok" else None)
    mismatch = output_tokens - chunk_tokens if source == "usage" and output_tokens is not None else None
    if ttft is not None and e2e is not None and output_tokens is not None and output_tokens > 1:
        tpot = round((e2e - ttft) / (output_tokens - 1), 4)
    last_event = chunks[-1].t_ns if chunks else result.t_end_ns
    broken = protocol_errors(outcome, chunks)
    return {
        "intended_s": None if intended_ns is None else round((intended_ns - t0_ns) / 1e9, 6),
        "start_s": round((send - t0_ns) / 1e9, 6),
        "end_s": round((result.t_end_ns - t0_ns) / 1e9, 6),
        "dispatch_lag_ms": None if intended_ns is None else _ms(send - intended_ns),
        "status": result.status,
        "outcome": outcome,
        "error": error,
        "ttft_ms": ttft,
        "ttfo_ms": ttfo,
        "e2e_ms": e2e,
        "e2e_done_ms": _ms(last_event - send) if chunks else None,
        "e2e_from_intended_ms": None
        if e2e is None or intended_ns is None
        else _ms(token_chunks[-1].t_ns - intended_ns),
        "tpot_ms": tpot,
        "itl_ms": itl,
        "icl_ms": icl,
        "gaps_capped": capped,
        "chunks": len(token_chunks),
        "events": len(chunks),
        "output_tokens": output_tokens,
        "input_tokens": usage.usage_prompt if usage is not None else None,
        "cached_tokens": usage.usage_cached if usage is not None else None,
        "token_source": source,
        "token_mismatch": mismatch,
        "connect_ms": None if result.connect_ns is None else _ms(result.connect_ns),
        "reused_connection": result.reused,
        "reconnected": result.reconnected,
        "retries": result.retries,
        "protocol_errors": [kind for kind, _ in broken],
        "protocol_detail": "; ".join(printable(detail, 200) for _, detail in broken[:3]) or None,
    }
