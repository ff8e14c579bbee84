"""The client's deferred framing, the buffered record output, the GC policy and the cancelled outcome."""

from __future__ import annotations

import gc
import random
from pathlib import Path
from typing import Any

import pytest

from maascheck.load.client.exchange import ResponseReader
from maascheck.load.client.limits import Limits
from maascheck.load.client.result import StreamResult
from maascheck.load.client.sse import frame_events
from maascheck.load.measure.results import requests_block, throughput_block
from maascheck.load.run import recorder
from maascheck.load.run.gcpolicy import GcPolicy
from maascheck.load.run.recorder import JsonlWriter, RecordSink, read_jsonl

EVENTS = [b'data: {"choices":[{"delta":{"content":"%d"}}]}' % i for i in range(12)] + [b"data: [DONE]"]


def reference(pieces: list[bytes]) -> tuple[list[bytes], list[int]]:
    """Byte-at-a-time framing as WHATWG HTML §9.2.6 reads lines: CRLF, LF or CR end a line."""
    events: list[bytes] = []
    times: list[int] = []
    line, event, start, prev_cr = b"", b"", -1, False
    for t, piece in enumerate(pieces):
        for byte in piece:
            c = bytes([byte])
            if c == b"\n" and prev_cr:
                prev_cr = False
                continue
            prev_cr = c == b"\r"
            if c in (b"\r", b"\n"):
                if line == b"" and event:
                    events.append(event[:-1])
                    times.append(start)
                    event, start = b"", -1
                elif line or event:
                    event += line + b"\n"
                line = b""
                continue
            if start < 0:
                start = t
            line += c
    if (event + line).strip():
        events.append(event + line)
        times.append(start)
    return events, times


def cuts(body: bytes, rng: random.Random) -> list[bytes]:
    points = sorted(rng.sample(range(1, len(body)), rng.randint(0, 20)))
    return [body[a:b] for a, b in zip([0, *points], [*points, len(body)], strict=True)]


def reader() -> ResponseReader:
    return ResponseReader(StreamResult(transport="complete", t_send_ns=0), Limits())


@pytest.mark.parametrize("sep", [b"\n", b"\r\n", b"\r"])
def test_framing_splits_at_blank_lines_with_any_line_end(sep: bytes) -> None:
    """LF, CRLF and CR line ends (a CRLF cut by a read boundary included) give the same events and stamps."""
    rng = random.Random(7)
    body = (sep * 2).join(EVENTS) + sep * 2 + b": comment" + sep + b"data: a" + sep + b"data: b" + sep * 3
    body += b"data: unterminated tail"
    for _ in range(200):
        pieces = cuts(body, rng)
        framed = frame_events(pieces, list(range(len(pieces))))
        assert (framed.events, framed.times) == reference(pieces)
        assert framed.events[:13] == EVENTS and framed.bound is None


def chunked(body: bytes, size: int) -> bytes:
    parts = [body[i : i + size] for i in range(0, len(body), size)]
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"


def test_exchange_dechunks_any_split_of_the_wire_bytes() -> None:
    """Chunk-size lines, data and CRLFs cut at every byte position give the same events and stamps."""
    body = b"\n\n".join(EVENTS) + b"\n\n"
    head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    wire = head + chunked(body, 37)
    expected = body.split(b"\n\n")[:-1]
    starts = [sum(len(e) + 2 for e in expected[:i]) for i in range(len(expected))]  # body offsets
    wire_offset = []  # wire offset of each body byte: after each chunk's size line, before its CRLF
    for k in range(0, len(body), 37):
        data_at = len(head) + sum(len(b"%x\r\n\r\n" % len(body[j : j + 37])) + 37 for j in range(0, k, 37))
        data_at += len(b"%x\r\n" % len(body[k : k + 37]))
        wire_offset += range(data_at, data_at + len(body[k : k + 37]))
    for cut in range(1, len(wire)):
        ex = reader()
        ended = ex.feed(wire[:cut], 1) or ex.feed(wire[cut:], 2)
        assert ended and ex.res.events == expected, cut
        assert ex.res.event_times_ns == [1 if wire_offset[o] < cut else 2 for o in starts], cut


def test_exchange_error_body_and_partial_end() -> None:
    ex = reader()
    assert ex.feed(b"HTTP/1.1 429 Too Many\r\nContent-Length: 9\r\n\r\n{\"e\": 1}\n", 5)
    assert ex.res.transport == "http_error" and ex.res.body == b'{"e": 1}\n' and not ex.res.events
    ex = reader()
    head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    assert not ex.feed(head + chunked(b"data: 1\n\ndata: 2", 9)[:-5], 3)
    ex.end()  # as on a timeout or a cancel: what arrived is framed
    assert ex.res.events == [b"data: 1", b"data: 2"]


def test_writer_buffers_and_flushes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [100.0]
    monkeypatch.setattr(recorder.time, "monotonic", lambda: clock[0])
    path = tmp_path / "r.jsonl"
    writer = JsonlWriter(path)
    sink = RecordSink(writer, keep=True, ship=True)
    sink.add({"rid": "a", "events": 3})
    assert read_jsonl(path) == []  # buffered
    clock[0] += recorder.FLUSH_S
    writer.flush_if_due()
    assert [r["rid"] for r in read_jsonl(path)] == ["a"]
    for i in range(recorder.FLUSH_RECORDS):
        sink.add({"rid": str(i)})
    assert len(read_jsonl(path)) == 1 + recorder.FLUSH_RECORDS  # a full buffer is written at once
    sink.add({"rid": "last"})
    writer.close()
    assert read_jsonl(path)[-1]["rid"] == "last" and sink.count == 2 + recorder.FLUSH_RECORDS
    assert sink.records[0] == {"rid": "a", "events": 3} and sink.chunks == 3
    assert sink.take_outbox().count(b"\n") == 2 + recorder.FLUSH_RECORDS and sink.take_outbox() == b""
    with path.open("ab") as f:
        f.write(b'{"rid": "torn')
    assert len(read_jsonl(path)) == 2 + recorder.FLUSH_RECORDS


def test_gc_policy_freezes_and_collects_explicitly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MAASCHECK_LOAD_GC", raising=False)
    policy = GcPolicy()
    was = gc.isenabled()
    policy.start()
    try:
        assert not gc.isenabled() and gc.get_freeze_count() > 0
        cycle: list[Any] = []
        cycle.append(cycle)
        del cycle
        policy.step()
        assert policy.collected >= 1 and policy.steps == 1 and policy.max_pause_ms >= 0
    finally:
        policy.stop()
    assert gc.isenabled() == was and gc.get_freeze_count() == 0


def record(outcome: str, input_tokens: int | None = 10) -> dict[str, Any]:
    return {"outcome": outcome, "status": 200, "output_tokens": 5, "input_tokens": input_tokens, "good": None,
            "start_s": 0.0, "end_s": 1.0}  # fmt: skip


def test_total_tokens_is_null_without_input_counts() -> None:
    known = throughput_block([record("ok"), record("ok")], (0.0, 1.0))
    assert known["total_tokens_per_s"] == 30 and known["output_tokens_per_s"] == 10
    unknown = throughput_block([record("ok"), record("ok", None)], (0.0, 1.0))
    assert unknown["total_tokens_per_s"] is None and unknown["output_tokens_per_s"] == 10


def test_cancelled_is_neither_ok_nor_failed() -> None:
    rq = requests_block([record("ok"), record("cancelled"), record("timeout")], 0)
    assert rq["by_outcome"] == {"cancelled": 1, "ok": 1, "timeout": 1}
    assert (rq["total"], rq["ok"], rq["failed"], rq["cancelled"], rq["error_rate"]) == (3, 1, 1, 1, 0.5)
    assert rq["errors_by_kind"] == {"timeout": 1}
    assert throughput_block([record("ok"), record("cancelled")], (0.0, 1.0))["good_fraction"] == 1.0
