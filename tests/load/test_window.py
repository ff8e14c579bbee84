"""The measured window and the per-second series leave requests cancelled at the stop out, as the token counts do."""

from __future__ import annotations

from typing import Any

from maascheck.load.measure.results import measured_window, throughput_block, timeseries


def _rec(start: float, end: float, outcome: str = "ok", tokens: int | None = 10) -> dict[str, Any]:
    return {"start_s": start, "end_s": end, "outcome": outcome, "output_tokens": tokens, "input_tokens": 5}


RECORDS = [_rec(0.5, 2.0), _rec(0.5, 3.5), _rec(1.0, 2.5, "http_error", None), _rec(3.0, 6.0, "cancelled", 4)]


def test_the_window_runs_from_the_end_of_the_warm_up_to_the_last_end() -> None:
    assert measured_window(RECORDS, 0.0) == (0.5, 6.0)  # the first send; the cancelled request's end (the stop)
    assert measured_window(RECORDS, 1.0) == (1.0, 6.0)  # from the end of the warm-up
    assert measured_window([], 1.0) == (0.0, 0.0)


def test_throughput_counts_each_request_for_its_share_inside_the_window() -> None:
    # ok 0.5-2.0 and 0.5-3.5 (10 tokens each) inside; the cancelled one (3.0-6.0) lasted longer than the ok
    # mean (2.25 s), so it is a whole request, weighted by the ok fraction 2/3 and the ok mean of 10 tokens.
    tp = throughput_block(RECORDS, measured_window(RECORDS, 0.0))
    assert tp["requests_per_s"] == round((2 + 2 / 3) / 5.5, 3)
    assert tp["output_tokens_per_s"] == round((20 + 2 / 3 * 10) / 5.5, 3)
    late = throughput_block(RECORDS, measured_window(RECORDS, 1.25))  # the first two cross the window's start
    assert late["requests_per_s"] == round((0.75 / 1.5 + 2.25 / 3.0 + 2 / 3) / 4.75, 3)


def test_a_cancelled_request_is_in_flight_in_the_series_but_never_a_completion() -> None:
    rows = timeseries(RECORDS)
    assert sum(r["completed"] for r in rows) == 3 and sum(r["output_tokens"] for r in rows) == 20
    assert rows[4]["active"] == 1 and rows[6]["completed"] == 0  # the cancelled one, in flight from 3 s to 6 s
