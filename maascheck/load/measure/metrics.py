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
- **Outcome** (first that applies): connect_error, timeout, http_error (status >= 400), cancelled
  (the run stopped while the request was in flight; not a failure), stream_error (an in-stream error
  event), truncated (connection closed before the body ended), no_done (the body ended without
  `data: [DONE]`), ok.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from maascheck.load.client.lean import StreamResult
from maascheck.load.measure.events import Chunk, parse_stream

TokenCounter = Callable[[str], int]
NS_PER_MS = 1e6


def _ms(delta_ns: int) -> float:
    return round(delta_ns / NS_PER_MS, 4)


def outcome_of(result: StreamResult, chunks: list[Chunk]) -> tuple[str, str | None]:
    """Classify the exchange; returns (outcome, error text)."""
    if result.transport in ("connect_error", "timeout", "http_error", "cancelled"):
        return result.transport, result.error
    for c in chunks:
        if c.kind == "error":
            return "stream_error", c.error
    if result.transport == "truncated":
        return "truncated", result.error
    if not any(c.kind == "done" for c in chunks):
        return "no_done", "the stream ended without a `data: [DONE]` event"
    return "ok", None


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
    itl: list[float] = []
    icl: list[float] = []
    if token_chunks:
        ttft = _ms(token_chunks[0].t_ns - send)
        first_out = next((c for c in token_chunks if c.content or c.tool_calls), None)
        ttfo = _ms(first_out.t_ns - send) if first_out else None
        e2e = _ms(token_chunks[-1].t_ns - send)
        gaps = [cur.t_ns - prev.t_ns for prev, cur in itertools.pairwise(token_chunks)]
        icl = [round(g / NS_PER_MS, 4) for g in gaps]
        if all(n == 1 for n in counts):
            itl = icl.copy()
        else:
            for g, n in zip(gaps, counts[1:], strict=False):
                itl.extend([_ms(g // n)] * n)
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
        "chunks": len(token_chunks),
        "events": len(chunks),
        "output_tokens": output_tokens,
        "input_tokens": usage.usage_prompt if usage is not None else None,
        "token_source": source,
        "token_mismatch": mismatch,
    }
