"""Streaming: SSE framing, [DONE], truncation, stalls, in-stream errors, and the chunks of a chat stream.

Root causes first: a truncated or stalled stream, a non-200 answer or an in-stream error event is
reported by exactly one rule (STREAM-004, STREAM-005, the probe's acceptance rule, STREAM-006);
every rule that reads the content of a stream is NotApplicable on such a stream, so one broken
stream fails one rule. Spec: CreateChatCompletionStreamResponse (OpenAI spec).
"""

from __future__ import annotations

from maascheck.conformance.model.exchange import SIZE_BOUND_KINDS, Exchange
from maascheck.conformance.model.probe import Probe, probe
from maascheck.conformance.model.rule import Defect, Impact, Level, NotApplicable, RuleContext, Violation, rule
from maascheck.conformance.rules._clients import EVENT_ERROR, EVENT_NOT_JSON
from maascheck.conformance.rules._common import (
    ALL_STREAMS,
    CHAT_STREAMS,
    SPEC_CHUNK,
    at,
    chat_body,
    choices_by_index,
    delta_of,
    delta_output,
    error_event,
    failure,
    finish_reasons,
    is_event_stream,
    made,
    schema_problems,
    stream_accepted,
    stream_chunks,
)
from maascheck.core.stream_invariants import (
    choices_without_one_finish,
    events_after_done,
    finish_reason_counts,
    first_change,
)

SPEC_DONE = (
    "OpenAI spec CreateCompletionRequest.stream ('terminated by a data: [DONE] message')"
)

# Paths a more specific rule owns: the object name (STREAM-008) and tool-call fragments (TOOL-005/007).
CHUNK_OWNED = (at("object"), at("choices", None, "delta", "tool_calls"))




def answered(ctx: RuleContext) -> list[Exchange]:
    """The streams answered 200 (the ones a framing rule can judge); NotApplicable when none was."""
    found = [ex for ex in made(ctx, ALL_STREAMS) if ex.status == 200]
    if not found:
        raise NotApplicable("no streaming request was answered 200; STREAM-001 reports it")
    return found


# -- probes --------------------------------------------------------------------------------------

probe(Probe("chat-stream", "POST", "/chat/completions", body=lambda env: chat_body(env, stream=True)))


# -- framing rules (every stream, chat and legacy completions) ------------------------------------


@rule(
    "STREAM-001",
    Level.MUST,
    "A streamed response is declared Content-Type: text/event-stream",
    source=f"{SPEC_CHUNK} (200 text/event-stream); WHATWG HTML 9.2 server-sent events",
    probes=ALL_STREAMS,
    impact=Impact.SPEC,
)
def stream_content_type(ctx: RuleContext) -> None:
    """Every 200 answer to a `stream: true` request is `text/event-stream`; the plain stream must get 200."""
    stream_accepted_status(ctx.exchange("chat-stream"))
    for ex in made(ctx, ALL_STREAMS):
        if ex.status == 200 and not ex.is_sse:
            ctype = ex.header("content-type")
            raise Violation(
                f"probe {ex.probe}: a stream: true request was answered with Content-Type {ctype!r}, "
                f"expected text/event-stream ({SPEC_CHUNK})",
                expected="text/event-stream",
                received=ctype,
                where="Content-Type header",
                exchange=ex,
            )


def stream_accepted_status(ex: Exchange) -> None:
    """A Violation when the plain streaming request got no 200 (transport failures excepted)."""
    if ex.status is None or (ex.status != 200 and not ex.error):
        stream_accepted(ex, "the plain streaming chat request")


@rule(
    "STREAM-002",
    Level.MUST,
    "Every stream event's data is JSON or [DONE]",
    source="openai-python Stream.__stream__ (sse.json() on every data payload); "
    "WHATWG HTML 9.2.6 event-stream interpretation",
    probes=ALL_STREAMS,
    impact=Impact.CLIENT,
    breaks=[EVENT_NOT_JSON],
)
def stream_json_events(ctx: RuleContext) -> None:
    """Every data payload is JSON or the literal `[DONE]`, and a non-empty body carries `data:` events.

    Comments, CRLF and `data:` without a space are legal SSE; bare JSON lines (百炼openAi文档) are not.
    """
    for ex in answered(ctx):
        if ex.status != 200 or not is_event_stream(ex):
            continue
        if not ex.events and ex.body.strip() and not ex.error:
            raise Violation(
                f"probe {ex.probe}: {len(ex.body)} body bytes but no SSE data event (lines must start with "
                "'data:' and events end with a blank line; bare JSON lines are not SSE)",
                expected="data: <json> events",
                received=ex.body[:200].decode("utf-8", "replace"),
                exchange=ex,
            )
        bad = next((ev for ev in ex.events if ev.json_error is not None), None)
        if bad is not None:
            raise Violation(
                f"probe {ex.probe}: an event's data is neither JSON nor [DONE]: {bad.json_error} "
                f"(data {bad.data[:120]!r}); openai-python raises JSONDecodeError on it",
                expected="JSON or [DONE]",
                received=bad.data[:300],
                where=f"event {ex.events.index(bad)}",
                exchange=ex,
            )


@rule(
    "STREAM-003",
    Level.MUST,
    "The stream ends with data: [DONE] and nothing follows it",
    source=f"{SPEC_DONE}; 预置多模态大模型服务接口说明 and openapi.hhaice.com ('data: [DONE]')",
    probes=ALL_STREAMS,
    impact=Impact.SPEC,
    defect=Defect.TRUNCATION,
)
def stream_done(ctx: RuleContext) -> None:
    """The last event is `[DONE]` (exact capitalisation) and no event follows it.

    A stream that passes a size bound (--max-response-bytes, --max-line-bytes, --max-event-bytes,
    --max-events) before `[DONE]` fails here: no `[DONE]` within that bound. A truncated, stalled or
    failed stream, or one that reported an error, is left to its root cause: STREAM-004/005/006 or
    the acceptance rule.
    """
    for ex in answered(ctx):
        if ex.status == 200 and ex.error_kind in SIZE_BOUND_KINDS:
            raise Violation(
                f"probe {ex.probe}: no data: [DONE] within the suite's bound after {len(ex.events)} events: "
                f"{ex.error} ({SPEC_DONE})",
                expected="data: [DONE] within the bound",
                received=ex.error,
                where=f"after event {len(ex.events)}",
                exchange=ex,
            )
        if failure(ex) is not None or error_event(ex) is not None or not is_event_stream(ex) or not ex.events:
            continue
        after_done = events_after_done([ev.is_done for ev in ex.events])
        if after_done is None:
            raise Violation(
                f"probe {ex.probe}: the stream ended after {len(ex.events)} events without data: [DONE] "
                f"({SPEC_DONE}); last event {ex.events[-1].data[:120]!r}",
                expected="data: [DONE] as the last event",
                received=ex.events[-1].data[:300],
                exchange=ex,
            )
        if after_done:
            done_at = len(ex.events) - 1 - after_done
            after = ex.events[done_at + 1]
            raise Violation(
                f"probe {ex.probe}: {after_done} event(s) follow data: [DONE] "
                f"(first: {after.data[:120]!r}); [DONE] terminates the stream ({SPEC_DONE})",
                expected="nothing after [DONE]",
                received=after.data[:300],
                where=f"event {done_at + 1}",
                exchange=ex,
            )


@rule(
    "STREAM-004",
    Level.MUST,
    "A stream is not cut off: the body does not end inside an event",
    source=f"{SPEC_DONE}; WHATWG HTML 9.2.6 (an unterminated event is discarded)",
    probes=ALL_STREAMS,
    impact=Impact.SPEC,
    defect=Defect.TRUNCATION,
)
def stream_not_truncated(ctx: RuleContext) -> None:
    """The connection does not close mid-body or inside an unterminated event, nor breaks the HTTP framing."""
    for ex in answered(ctx):
        if ex.error_kind == "truncated" or (ex.status is not None and ex.error_kind == "protocol"):
            raise Violation(
                f"probe {ex.probe}: the stream was cut off after {len(ex.events)} complete events: "
                f"{ex.error}",
                expected="a complete stream ending with data: [DONE]",
                received=ex.error,
                where=f"after event {len(ex.events)}",
                exchange=ex,
            )


@rule(
    "STREAM-005",
    Level.MUST,
    "A stream does not stall: bytes keep arriving until it completes",
    source="OpenAI spec CreateChatCompletionRequest.stream (chunks sent as they become available); "
    "--stall-timeout bounds the silence",
    probes=ALL_STREAMS,
    impact=Impact.SPEC,
    defect=Defect.HANG,
)
def stream_not_stalled(ctx: RuleContext) -> None:
    """No silence longer than the stall timeout after the headers; the stream ends within the total one."""
    for ex in answered(ctx):
        if ex.status is not None and ex.error_kind in ("stall", "timeout"):
            raise Violation(
                f"probe {ex.probe}: the stream stalled after {len(ex.events)} events: {ex.error}",
                expected="events until data: [DONE]",
                received=ex.error,
                where=f"after event {len(ex.events)}",
                exchange=ex,
            )


@rule(
    "STREAM-006",
    Level.MUST,
    "A valid streaming request streams no error event",
    source='mid-stream errors arrive as data: {"error": ...}; openai-python Stream.__stream__ ('
    "raises APIError on them)",
    probes=ALL_STREAMS,
    impact=Impact.CLIENT,
    breaks=[EVENT_ERROR],
)
def stream_no_error_event(ctx: RuleContext) -> None:
    """No event of a valid request's stream is an object with an `error`."""
    for ex in answered(ctx):
        err = error_event(ex)
        if err is not None:
            detail = err.json.get("error")
            message = detail.get("message") if isinstance(detail, dict) else detail
            raise Violation(
                f"probe {ex.probe}: the server reported an error inside the stream of a valid request: "
                f"{str(message)[:300]!r}",
                expected="chunks only",
                received=err.json,
                where=f"event {ex.events.index(err)}",
                exchange=ex,
            )


# -- chunk rules (chat streams) ------------------------------------------------------------------


@rule(
    "STREAM-007",
    Level.MUST,
    "Every chat stream chunk validates against the chat.completion.chunk schema",
    source=f"{SPEC_CHUNK}; schemas/chat-completion-chunk.json",
    probes=CHAT_STREAMS,
    impact=Impact.SPEC,
)
def stream_chunk_schema(ctx: RuleContext) -> None:
    """Each JSON payload before [DONE] validates (object name and tool calls: own rules)."""
    for ex, chunks in stream_chunks(ctx, CHAT_STREAMS):
        for pos, chunk in enumerate(chunks):
            problems = schema_problems("chat-completion-chunk", chunk, CHUNK_OWNED)
            if problems:
                raise Violation(
                    f"probe {ex.probe}: chunk {pos} does not validate against "
                    "schemas/chat-completion-chunk.json "
                    f"({SPEC_CHUNK}): {problems[0]}",
                    expected="a chunk valid against schemas/chat-completion-chunk.json",
                    received=problems,
                    where=f"chunk {pos}",
                    exchange=ex,
                )


@rule(
    "STREAM-008",
    Level.MUST,
    'Every chat stream chunk\'s object is "chat.completion.chunk"',
    source=f"{SPEC_CHUNK} object enum [chat.completion.chunk]",
    probes=CHAT_STREAMS,
    impact=Impact.SPEC,
)
def stream_object(ctx: RuleContext) -> None:
    """`object` is `chat.completion.chunk` on every chunk, the final usage chunk included."""
    for ex, chunks in stream_chunks(ctx, CHAT_STREAMS):
        for pos, chunk in enumerate(chunks):
            if chunk.get("object") != "chat.completion.chunk":
                raise Violation(
                    f"probe {ex.probe}: chunk {pos} has object {chunk.get('object')!r}, expected "
                    f"'chat.completion.chunk' ({SPEC_CHUNK})",
                    expected="chat.completion.chunk",
                    received=chunk.get("object"),
                    where=f"chunk {pos} $.object",
                    exchange=ex,
                )


def _constant(ctx: RuleContext, key: str, source: str) -> None:
    for ex, chunks in stream_chunks(ctx, CHAT_STREAMS):
        first = chunks[0].get(key)
        pos = first_change([chunk.get(key) for chunk in chunks])
        if pos is not None:
            chunk = chunks[pos]
            raise Violation(
                f"probe {ex.probe}: chunk {pos} has {key} {chunk.get(key)!r}, chunk 0 had "
                f"{first!r}; every "
                f"chunk of one stream carries the same {key} ({source})",
                expected=first,
                received=chunk.get(key),
                where=f"chunk {pos} $.{key}",
                exchange=ex,
            )


@rule(
    "STREAM-009",
    Level.MUST,
    "Every chunk of a stream has the same id",
    source=f"{SPEC_CHUNK} id ('Each chunk has the same ID')",
    probes=CHAT_STREAMS,
    impact=Impact.SPEC,
)
def stream_same_id(ctx: RuleContext) -> None:
    """`id` is constant across the chunks of one stream."""
    _constant(ctx, "id", "CreateChatCompletionStreamResponse.id: 'Each chunk has the same ID'")


@rule(
    "STREAM-010",
    Level.MUST,
    "Every chunk of a stream has the same created timestamp",
    source=f"{SPEC_CHUNK} created ('Each chunk has the same timestamp')",
    probes=CHAT_STREAMS,
    impact=Impact.SPEC,
)
def stream_same_created(ctx: RuleContext) -> None:
    """`created` is constant across the chunks of one stream."""
    _constant(
        ctx, "created", "CreateChatCompletionStreamResponse.created: 'Each chunk has the same timestamp'"
    )


@rule(
    "STREAM-011",
    Level.SHOULD,
    "Every chunk of a stream names the same model",
    source=f"{SPEC_CHUNK} model ('The model to generate the completion')",
    probes=CHAT_STREAMS,
    impact=Impact.HYGIENE,
)
def stream_same_model(ctx: RuleContext) -> None:
    """`model` is constant across the chunks of one stream (one completion comes from one model)."""
    _constant(ctx, "model", "one completion is generated by one model")


@rule(
    "STREAM-012",
    Level.MUST,
    'The first delta of each streamed choice carries role "assistant"',
    source="openai-node ChatCompletionStream ('missing role for choice N'); "
    f"{SPEC_CHUNK} x-oaiMeta example",
    probes=CHAT_STREAMS,
    impact=Impact.SPEC,
)
def stream_role_first(ctx: RuleContext) -> None:
    """For each choice index, its first chunk has `delta.role == "assistant"` (content may be null)."""
    for ex, chunks in stream_chunks(ctx, CHAT_STREAMS):
        for index, entries in sorted(choices_by_index(chunks).items()):
            pos, choice = entries[0]
            role = delta_of(choice).get("role")
            if role != "assistant":
                raise Violation(
                    f"probe {ex.probe}: the first delta of choice {index} (chunk {pos}) has role "
                    f"{role!r}, expected "
                    "'assistant'; openai-node throws 'missing role for choice' without it",
                    expected="assistant",
                    received=delta_of(choice),
                    where=f"chunk {pos} choice {index} delta",
                    exchange=ex,
                )


@rule(
    "STREAM-013",
    Level.SHOULD,
    "Only the first delta of a streamed choice carries the role",
    source="llama.cpp server (asserts no role after chunk 0); ollama/ollama#7626",
    probes=CHAT_STREAMS,
    impact=Impact.HYGIENE,
)
def stream_role_once(ctx: RuleContext) -> None:
    """Later deltas of a choice have no `role` (or `role: null`, as 百炼openAi文档 shows)."""
    for ex, chunks in stream_chunks(ctx, CHAT_STREAMS):
        for index, entries in sorted(choices_by_index(chunks).items()):
            for pos, choice in entries[1:]:
                role = delta_of(choice).get("role")
                if role is not None:
                    raise Violation(
                        f"probe {ex.probe}: choice {index} repeats role {role!r} in chunk {pos}; only "
                        "its first "
                        "delta carries the role",
                        expected="no role after the first delta",
                        received=delta_of(choice),
                        where=f"chunk {pos} choice {index} delta",
                        exchange=ex,
                    )


@rule(
    "STREAM-014",
    Level.MUST,
    "Each streamed choice carries exactly one non-null finish_reason",
    source=f"{SPEC_CHUNK} choices[].finish_reason (nullable); vllm-project/vllm test_chat_streaming",
    probes=CHAT_STREAMS,
    impact=Impact.SPEC,
)
def stream_one_finish(ctx: RuleContext) -> None:
    """Every choice index seen has one chunk with a non-null finish_reason; a stream without choices fails."""
    for ex, chunks in stream_chunks(ctx, CHAT_STREAMS):
        by_index = choices_by_index(chunks)
        if not by_index:
            raise Violation(
                f"probe {ex.probe}: the stream carried {len(chunks)} chunks but no choice ({SPEC_CHUNK})",
                expected="chunks with choices",
                received=chunks[:3],
                exchange=ex,
            )
        counts = finish_reason_counts(
            (index, c.get("finish_reason")) for index, entries in by_index.items() for _, c in entries
        )
        for index in choices_without_one_finish(counts):
            reasons = finish_reasons(chunks, index)
            raise Violation(
                f"probe {ex.probe}: choice {index} carried {len(reasons)} non-null finish_reason values "
                f"{reasons}, expected exactly one (on its last chunk); openai-node throws 'missing "
                "finish_reason for choice' without it",
                expected="exactly one",
                received=reasons,
                where=f"choice {index}",
                exchange=ex,
            )


@rule(
    "STREAM-015",
    Level.MUST,
    "No output for a streamed choice follows its finish_reason chunk",
    source=f"{SPEC_CHUNK} choices[].finish_reason ('The reason the model stopped generating tokens')",
    probes=CHAT_STREAMS,
    impact=Impact.SPEC,
)
def stream_nothing_after_finish(ctx: RuleContext) -> None:
    """After the chunk that finishes a choice, no delta of it carries content, reasoning or tools."""
    for ex, chunks in stream_chunks(ctx, CHAT_STREAMS):
        for index, entries in sorted(choices_by_index(chunks).items()):
            finished_at = next((pos for pos, c in entries if c.get("finish_reason") is not None), None)
            if finished_at is None:
                continue
            late = next(
                ((pos, c) for pos, c in entries if pos > finished_at and delta_output(delta_of(c))), None
            )
            if late is not None:
                raise Violation(
                    f"probe {ex.probe}: choice {index} finished in chunk {finished_at} but chunk "
                    f"{late[0]} carries "
                    f"more output {delta_of(late[1])}",
                    expected="no output after the finish chunk",
                    received=delta_of(late[1]),
                    where=f"chunk {late[0]} choice {index}",
                    exchange=ex,
                )
