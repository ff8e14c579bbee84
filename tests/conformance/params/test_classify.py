"""Classification of answers and the effect checks, against hand-built exchanges (no sockets)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from maascheck.conformance.model.exchange import Exchange
from maascheck.conformance.model.rule import NotApplicable
from maascheck.conformance.rules.boundaries import BoundaryCase
from maascheck.conformance.rules.params import (
    Outcome,
    choose_stop,
    classify,
    limit_problem,
    n_problem,
    names_param,
    shown,
    stop_problem,
    table,
    wire_body,
)

INSIDE = BoundaryCase(1.0, True, "at the closed maximum 1")
OUTSIDE = BoundaryCase(1.01, False, "one step (0.01) outside the maximum")


def exchange(
    status: int | None, body: Any = None, *, request: Any = None, error: str | None = None
) -> Exchange:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode() if body is not None else b""
    req = json.dumps(request).encode() if request is not None else None
    return Exchange(
        "t",
        "POST",
        "http://127.0.0.1:1/v1/chat/completions",
        [],
        req,
        status=status,
        body=raw,
        error=error,
        error_kind="timeout" if error else None,
    )


def envelope(param: str | None, message: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": "invalid_request_error", "param": param, "code": None}}


COMPLETION = {"object": "chat.completion", "choices": [{"index": 0, "message": {"content": "hi"}}]}


@pytest.mark.parametrize(
    ("status", "body", "outcome"),
    [
        (200, COMPLETION, Outcome.ACCEPTED),
        (400, envelope("top_p", "bad"), Outcome.REJECTED),
        (422, {"detail": "bad"}, Outcome.REJECTED),
        (500, envelope(None, "boom"), Outcome.REJECTED_WRONGLY),
        (503, b"upstream down", Outcome.REJECTED_WRONGLY),
        (200, envelope("top_p", "bad"), Outcome.REJECTED_WRONGLY),  # an error object in a 200
        (404, envelope("model", "no such model"), Outcome.REJECTED_WRONGLY),
        (401, envelope(None, "bad key"), Outcome.REJECTED_WRONGLY),
        (429, envelope(None, "slow down"), Outcome.INCONCLUSIVE),
        (408, b"", Outcome.INCONCLUSIVE),
    ],
)
def test_outcome_by_status(status: int, body: Any, outcome: Outcome) -> None:
    assert classify(OUTSIDE, exchange(status, body)).outcome is outcome


def test_transport_failure_is_rejected_wrongly() -> None:
    judged = classify(OUTSIDE, exchange(None, error="no response within 20 s"))
    assert judged.outcome is Outcome.REJECTED_WRONGLY
    assert "timeout" in judged.detail and judged.correct is False


def test_correctness_follows_the_expectation() -> None:
    ok, refused = exchange(200, COMPLETION), exchange(400, envelope("top_p", "bad"))
    assert classify(INSIDE, ok).correct is True
    assert classify(INSIDE, refused).correct is False
    assert classify(OUTSIDE, refused).correct is True
    assert classify(OUTSIDE, ok).correct is False
    assert classify(OUTSIDE, exchange(429, b"")).correct is None


def test_detail_quotes_param_and_message() -> None:
    judged = classify(OUTSIDE, exchange(500, envelope("top_p", "sampler setup failed")))
    assert "HTTP 500" in judged.detail and 'param "top_p"' in judged.detail
    assert "sampler setup failed" in judged.detail


@pytest.mark.parametrize(
    ("body", "name", "named"),
    [
        (envelope("temperature", "out of range"), "temperature", True),
        (envelope("body.temperature", "out of range"), "temperature", True),
        (envelope(None, "Invalid value for 'top_p': expected (0, 1)"), "top_p", True),
        (envelope(None, "Invalid value: expected a number in [1, 128]"), "n", False),  # 'number' is not 'n'
        (envelope(None, "'n' must be at most 128"), "n", True),
        (envelope(None, "max_completion_tokens must be >= 1"), "max_tokens", False),
        (envelope(None, "value out of range"), "temperature", False),
        ({"detail": [{"loc": ["body", "n"], "msg": "too large"}]}, "n", True),  # no envelope: whole body
    ],
)
def test_names_param(body: Any, name: str, named: bool) -> None:
    assert names_param(exchange(400, body), name) is named


def test_infinity_is_sent_as_an_overflowing_json_number() -> None:
    raw = wire_body({"model": "m", "temperature": float("inf"), "top_p": float("-inf")})
    assert isinstance(raw, bytes)
    assert b'"temperature": 1e999' in raw and b'"top_p": -1e999' in raw
    assert json.loads(raw)["temperature"] == float("inf")
    assert wire_body({"temperature": 2.01}) == {"temperature": 2.01}
    assert shown(float("inf")) == "1e999" and shown("invalid") == '"invalid"'


def test_table_lists_value_expectation_and_answer() -> None:
    text = table(
        [classify(OUTSIDE, exchange(200, COMPLETION)), classify(INSIDE, exchange(502, b"bad gateway"))]
    )
    lines = text.splitlines()
    assert lines[0].split() == ["value", "case", "expected", "received"]
    assert "1.01" in lines[1] and "rejected with 4xx" in lines[1] and "HTTP 200 (accepted)" in lines[1]
    assert "rejected wrongly: HTTP 502" in lines[2]


def choices(*contents: str, reason: str = "stop") -> dict[str, Any]:
    return {
        "choices": [
            {"index": i, "message": {"content": c}, "finish_reason": reason} for i, c in enumerate(contents)
        ]
    }


def test_n_problem() -> None:
    assert n_problem(exchange(200, choices("a", "b", "c")), 3) is None
    assert n_problem(exchange(200, choices("a")), 3) == "1 choices for n=3"
    shuffled = {"choices": [{"index": 0}, {"index": 0}, {"index": 2}]}
    assert n_problem(exchange(200, shuffled), 3) == "choice indexes are not 0..2"


def test_choose_stop_takes_a_word_from_the_middle() -> None:
    text = "the model serves tokens in batches while the engine schedules"
    stop = choose_stop(text)
    assert stop is not None and text.find(stop) > 0
    assert choose_stop("") is None
    cjk = choose_stop("你好世界再见")  # no ASCII words: two characters from the middle
    assert cjk is not None and len(cjk) == 2 and "你好世界再见".find(cjk) > 0


def test_stop_problem() -> None:
    reference = "one two three four five"
    honoured = {"message": {"content": "one two "}, "finish_reason": "stop"}
    assert stop_problem(reference, "three", honoured) is None
    ignored = {"message": {"content": reference}, "finish_reason": "length"}
    assert "contains the stop sequence" in str(stop_problem(reference, "three", ignored))
    wrong_reason = {"message": {"content": "one two"}, "finish_reason": "length"}
    assert "finish_reason is 'length'" in str(stop_problem(reference, "three", wrong_reason))
    with pytest.raises(NotApplicable, match="diverged"):
        stop_problem(reference, "three", {"message": {"content": "something else"}, "finish_reason": "stop"})


def test_limit_problem() -> None:
    within = exchange(
        200, {**choices("a", reason="length"), "usage": {"completion_tokens": 1}}, request={"max_tokens": 1}
    )
    assert limit_problem(within, "max_tokens") is None
    over = exchange(
        200,
        {**choices("a b", reason="length"), "usage": {"completion_tokens": 2}},
        request={"max_completion_tokens": 1},
    )
    assert "usage.completion_tokens=2" in str(limit_problem(over, "max_completion_tokens"))
    with pytest.raises(NotApplicable, match="no usage"):
        limit_problem(exchange(200, choices("a"), request={"max_tokens": 1}), "max_tokens")
