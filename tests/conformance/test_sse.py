"""The incremental event-stream parser against data cases, fed whole and byte by byte."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from maascheck.conformance.transport.sse import SSEParser, parse_all

CASES = json.loads((Path(__file__).parent / "sse_cases.json").read_text(encoding="utf-8"))["cases"]


def _feed(raw: bytes, sizes: str) -> tuple[list[Any], SSEParser]:
    parser = SSEParser()
    events: list[Any] = []
    if sizes == "whole":
        events = parser.feed(raw, 5)
    else:
        for i in range(len(raw)):
            events += parser.feed(raw[i : i + 1], i)
    return events, parser


@pytest.mark.parametrize("sizes", ["whole", "bytewise"])
@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_case(case: dict[str, Any], sizes: str) -> None:
    events, parser = _feed(case["raw"].encode("utf-8"), sizes)
    got = [{k: getattr(e, k) for k in want} for e, want in zip(events, case["events"], strict=False)]
    assert got == case["events"]
    assert len(events) == len(case["events"])
    assert parser.comments == case.get("comments", parser.comments)
    if "pending" in case:
        assert parser.pending is case["pending"]


def test_event_time_is_first_byte_arrival() -> None:
    parser = SSEParser()
    assert parser.feed(b"data: hel", 100) == []
    assert parser.feed(b"lo\n", 200) == []
    (event,) = parser.feed(b"\n", 300)
    assert (event.data, event.t_ns) == ("hello", 100)


def test_crlf_split_across_chunks_is_one_line_break() -> None:
    parser = SSEParser()
    events = parser.feed(b"data: a\r", 1) + parser.feed(b"\n\r", 2) + parser.feed(b"\n", 3)
    assert [e.data for e in events] == ["a"]
    assert not parser.pending


def test_json_payloads_are_parsed_and_bad_ones_explained() -> None:
    events, _ = parse_all(b'data: {"x": 1}\n\ndata: {oops\n\ndata: [DONE]\n\n')
    assert events[0].json == {"x": 1} and events[0].json_error is None
    assert events[1].json is None and "not JSON" in (events[1].json_error or "")
    assert events[2].is_done and events[2].json_error is None


def test_invalid_utf8_is_reported() -> None:
    events, _ = parse_all(b'data: {"x": "\xff"}\n\n')
    assert "UTF-8" in (events[0].json_error or "")


def test_tail_keeps_unterminated_bytes() -> None:
    _, parser = parse_all(b'data: a\n\ndata: {"trunc')
    assert parser.tail == b'data: {"trunc'
