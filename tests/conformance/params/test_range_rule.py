"""The range rule's verdicts against a fake endpoint (a function of the sent value; no sockets)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from maascheck.conformance.engine.options import RunOptions
from maascheck.conformance.engine.runner import BUDGET_EXHAUSTED, ProbeUnavailable
from maascheck.conformance.model.exchange import Exchange
from maascheck.conformance.model.probe import PROBES, ProbeEnv
from maascheck.conformance.model.rule import NotApplicable, RuleContext, Violation
from maascheck.conformance.rules.params import SPEC_BY_RANGE, check_range
from maascheck.core.profiles import load_profile

Answer = Callable[[Any], int]  # the sent value -> the HTTP status the fake endpoint answers
OK = {
    "object": "chat.completion",
    "choices": [{"index": 0, "message": {"content": "hi"}, "finish_reason": "length"}],
}


def context(param: str, answer: Answer, *, profile: str = "openai", budget: int = 1000) -> RuleContext:
    prof, options = load_profile(profile), RunOptions(model="m", seed=5)
    left = [budget]

    def respond(label: str, body: Any) -> Exchange:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        value = json.loads(raw)[param]
        status = answer(value)
        reply = OK if status < 300 else {"error": {"message": f"bad {param}", "type": "x", "param": param}}
        return Exchange(
            label, "POST", "http://127.0.0.1:1/v1/x", [], raw, status=status, body=json.dumps(reply).encode()
        )

    def send(method: str, path: str, body: Any = None, *, label: str, auth: str = "valid") -> Exchange:
        if left[0] <= 0:
            raise ProbeUnavailable(BUDGET_EXHAUSTED)
        left[0] -= 1
        return respond(label, body)

    def exchange(name: str) -> Exchange:
        body = PROBES[name].body
        assert body is not None
        return send("POST", PROBES[name].path, body(ProbeEnv(prof, options, exchange)), label=name)

    return RuleContext(prof, options, exchange, sender=send)


def closed_0_2(value: Any) -> int:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= 2
    return 200 if ok else 400


def test_a_faithful_endpoint_passes() -> None:
    ctx = context("temperature", closed_0_2)
    check_range(ctx, SPEC_BY_RANGE["temperature"])
    assert len(ctx.used) == 7  # 6 boundary cases + 1 draw


def test_accepting_everything_fails_with_the_outside_values_as_evidence() -> None:
    ctx = context("temperature", lambda value: 200)
    with pytest.raises(Violation) as caught:
        check_range(ctx, SPEC_BY_RANGE["temperature"])
    rows = caught.value.received
    assert {r["value"] for r in rows} >= {"-0.01", "2.01", '"invalid"', "1e999"}
    assert all(r["outcome"] == "accepted" for r in rows)
    assert len(ctx.used) == len(rows) and all(ex.status == 200 for ex in ctx.used)


def test_a_500_fails_and_says_rejected_wrongly() -> None:
    ctx = context("temperature", lambda value: 500 if closed_0_2(value) == 400 else 200)
    with pytest.raises(Violation, match="rejected wrongly: HTTP 500"):
        check_range(ctx, SPEC_BY_RANGE["temperature"])


def test_the_same_endpoint_passes_taichu_but_not_openai_top_p() -> None:
    """seeds/001 top_p (0.0, 1.0): refusing the bounds passes taichu and fails the spec's [0, 1]."""

    def open_0_1(value: Any) -> int:
        return 200 if isinstance(value, float) and 0 < value < 1 else 400

    check_range(context("top_p", open_0_1, profile="taichu"), SPEC_BY_RANGE["top_p"])
    with pytest.raises(Violation) as caught:
        check_range(context("top_p", open_0_1), SPEC_BY_RANGE["top_p"])
    assert {r["value"] for r in caught.value.received} == {"0.0", "1.0"}


def test_budget_exhausted_before_any_wrong_answer_skips() -> None:
    with pytest.raises(NotApplicable, match=f"{BUDGET_EXHAUSTED} after 3 of 7 values"):
        check_range(context("temperature", closed_0_2, budget=3), SPEC_BY_RANGE["temperature"])


def test_budget_exhausted_after_a_wrong_answer_still_fails() -> None:
    with pytest.raises(Violation, match="exploration stopped early"):
        check_range(context("temperature", lambda value: 200, budget=3), SPEC_BY_RANGE["temperature"])


def test_rate_limited_answers_cannot_be_judged() -> None:
    with pytest.raises(NotApplicable, match="could not be judged"):
        check_range(context("temperature", lambda value: 429), SPEC_BY_RANGE["temperature"])


def test_missing_range_is_not_applicable() -> None:
    with pytest.raises(NotApplicable, match="documents no range for 'n'"):
        check_range(context("n", closed_0_2, profile="taichu"), SPEC_BY_RANGE["n"])


def test_stop_counts_are_sent_as_lists_of_distinct_sequences() -> None:
    sent: list[Any] = []

    def count_1_4(value: Any) -> int:
        sent.append(value)
        return 200 if isinstance(value, list) and 1 <= len(value) <= 4 else 400

    check_range(context("stop", count_1_4), SPEC_BY_RANGE["stop_count"])
    lists = [v for v in sent if isinstance(v, list)]
    assert {len(v) for v in lists} >= {0, 1, 4, 5}
    assert all(len(set(v)) == len(v) for v in lists)
    assert 7 in sent  # the type confusion: a number
