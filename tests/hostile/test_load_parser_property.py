"""Property: any bytes and any JSON through the load parser (HTTP reader, SSE framing, event parsing, the
request record) end as an ok record or a named outcome; no exception escapes and every record encodes."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from maascheck.load.client.exchange import ResponseReader
from maascheck.load.client.limits import KIB, BoundExceeded, Limits
from maascheck.load.client.result import StreamResult
from maascheck.load.client.sse import frame_events
from maascheck.load.measure.metrics import OUTCOMES, request_record
from maascheck.load.run.recorder import encode

SMALL = Limits(max_head_bytes=2 * KIB, max_response_bytes=64 * KIB, max_line_bytes=4 * KIB,
               max_event_bytes=8 * KIB, max_events=200, max_error_body=1 * KIB)  # fmt: skip
FIELDS = ["choices", "delta", "content", "reasoning_content", "reasoning", "tool_calls", "text", "usage",
          "completion_tokens", "prompt_tokens", "finish_reason", "created", "id", "model", "object", "logprobs",
          "error", "message", "index", "role", "tokens"]  # fmt: skip
TEXT = st.text(st.characters(codec=None, categories=None), max_size=8) | st.sampled_from(["\ud800", "\udfff x", ""])
SCALARS = (st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70) | st.floats() | TEXT)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(FIELDS) | TEXT, inner, max_size=5),
    max_leaves=25,
)
LINE_ENDS = st.sampled_from([b"\n", b"\r\n", b"\r"])
CHUNK = st.fixed_dictionaries(
    {"id": st.just("chatcmpl-1"), "object": st.just("chat.completion.chunk"), "created": st.integers(0, 2**31),
     "choices": st.lists(st.fixed_dictionaries({"index": st.just(0), "delta": st.fixed_dictionaries(
         {"content": st.text(max_size=5)})}), min_size=1, max_size=2)}
)  # fmt: skip
PATHS = [("id",), ("created",), ("choices",), ("choices", 0), ("choices", 0, "delta"),
         ("choices", 0, "delta", "content"), ("choices", 0, "finish_reason"), ("usage",)]  # fmt: skip


def mutated(chunk: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    """`chunk` with the value at `path` replaced by `value` (as far as the path exists)."""
    node: Any = chunk
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return chunk


DOCS = CHUNK | JSON | st.builds(mutated, CHUNK, st.sampled_from(PATHS), JSON) | st.builds(
    mutated, CHUNK, st.just(("usage",)), st.fixed_dictionaries({"completion_tokens": JSON, "prompt_tokens": JSON})
)


def check(result: StreamResult) -> dict[str, Any]:
    record = request_record(result)
    assert record["outcome"] in OUTCOMES, record
    encode(record)  # orjson refuses lone surrogates and >64-bit integers: a record must never hold them
    if record["outcome"] == "ok":
        assert record["chunks"] >= 1 and isinstance(record["output_tokens"], int), record
    else:
        assert record["error"] or record["outcome"] in ("no_done", "no_tokens"), record
    return record


def stream_of(events: list[bytes], cuts: list[int]) -> StreamResult:
    framed = frame_events(split(b"".join(events), cuts), list(range(len(cuts) + 1)), SMALL)
    transport = "complete" if framed.bound is None else framed.bound.kind
    return StreamResult(transport=transport, t_send_ns=0, status=200, t_end_ns=10**9,
                        events=framed.events, event_times_ns=framed.times)  # fmt: skip


def split(body: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(body) + 1) for c in cuts})
    return [p for p in (body[a:b] for a, b in zip([0, *points], [*points, len(body)], strict=True)) if p] or [b"x"]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(DOCS, max_size=6), st.booleans(), LINE_ENDS, st.lists(st.integers(0, 10**6), max_size=6))
def test_any_json_events_give_a_named_outcome(docs: list[Any], done: bool, eol: bytes, cuts: list[int]) -> None:
    events = [b"data: " + json.dumps(d).encode("utf-8", "surrogatepass") + eol * 2 for d in docs]
    if done:
        events.append(b"data: [DONE]" + eol * 2)
    check(stream_of(events, cuts))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.binary(max_size=64) | st.sampled_from([b"data: ", b"\n\n", b"\r", b": c\n", b"[DONE]",
                                                           b'{"choices":[{"delta":{"content":"x"}}]}']),
                max_size=20), st.lists(st.integers(0, 10**6), max_size=6))  # fmt: skip
def test_any_body_bytes_give_a_named_outcome(parts: list[bytes], cuts: list[int]) -> None:
    check(stream_of(parts, cuts))


HEADS = [b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", b"HTTP/1.1 200 OK\r\nContent-Length: 40\r\n\r\n",
         b"HTTP/1.1 200 OK\r\n\r\n", b"HTTP/1.1 100 Continue\r\n\r\n", b"HTTP/1.1 429 X\r\nContent-Length: 5\r\n\r\n",
         b"HTTP/1.0 200 OK\n\n", b""]  # fmt: skip


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(HEADS), st.lists(st.binary(max_size=80) | st.sampled_from([b"5\r\n", b"\r\n", b"0\r\n\r\n",
       b"data: x\n\n", b"ff\r\n", b"-1\r\n", b"0x10\r\n"]), max_size=12), st.booleans())  # fmt: skip
def test_any_wire_bytes_end_as_a_result(head: bytes, pieces: list[bytes], eof: bool) -> None:
    res = StreamResult(transport="complete", t_send_ns=0)
    reader = ResponseReader(res, SMALL)
    ended = False
    try:
        for t, piece in enumerate([head, *pieces]):
            if piece and reader.feed(piece, t):
                ended = True
                break
    except BoundExceeded as exc:  # what the clients catch: the bound or protocol error names the kind
        reader.fail(exc.kind, str(exc))
        ended = True
    if not ended and not (eof and reader.eof()):
        reader.fail("truncated", "connection closed before the response ended")
    res.t_end_ns = 10**9
    check(res)
