"""A request that dies on a reused keep-alive connection before any response byte is retried once, fresh."""

from __future__ import annotations

import pytest

from maascheck.conformance import rules
from maascheck.conformance.engine.options import RunOptions
from maascheck.conformance.engine.runner import RuleResult, Suite
from maascheck.conformance.model.exchange import Exchange
from maascheck.conformance.model.rule import RULES
from maascheck.conformance.report.evidence import render_attempts
from maascheck.conformance.report.failure import failure_text
from maascheck.conformance.transport.recorder import Recorder, Timeouts
from maascheck.core.profiles import load_profile
from maascheck.core.secrets import Redactor
from tests.conformance.keepalive_server import DROP, PARTIAL, RESET, Step, keepalive_response, keepalive_serving

pytestmark = pytest.mark.timeout(30)
FAST = Timeouts(connect=2, headers=2, stall=1, total=5)
FIRST = keepalive_response(500, b'{"error": {"message": "first"}}')
ANSWER = keepalive_response(200, b'{"answer": "from a fresh connection"}')


def two_requests(scripts: list[list[Step]], *, may_retry: bool = True) -> tuple[Exchange, Exchange, list[int]]:
    """Two sequential requests; returns both exchanges and the connection number of each request served."""
    with keepalive_serving(scripts, ANSWER) as server:
        rec = Recorder(server.base_url, "k", FAST, may_retry=lambda: may_retry)
        try:
            first = rec.record("first", "POST", "/chat/completions", {"messages": []})
            second = rec.record("second", "POST", "/chat/completions", {"messages": []})
        finally:
            rec.close()
        return first, second, [n for n, _ in server.requests]


@pytest.mark.parametrize("death", [DROP, RESET])
def test_request_on_a_dead_reused_connection_is_retried_on_a_fresh_one(death: str) -> None:
    first, second, served = two_requests([[FIRST, death]])
    assert first.status == 500 and first.prior_attempt is None
    assert second.status == 200 and second.error is None
    assert second.json == {"answer": "from a fresh connection"}
    assert served == [0, 0, 1]  # the second request reached connection 0, died there, then went to connection 1
    prior = second.prior_attempt
    assert prior is not None and prior.status is None and prior.error_kind == "protocol"
    assert prior.error is not None and "retried once on a fresh connection" in prior.error


def test_retry_is_shown_in_the_evidence_before_the_answer() -> None:
    _, second, _ = two_requests([[FIRST, RESET]])
    shown = render_attempts(second, Redactor(["k"]))
    assert [e["probe"] for e in shown] == ["second (attempt 1, retried)", "second"]
    assert shown[0]["response"]["status"] is None and "reused keep-alive connection" in shown[0]["error"]
    assert shown[1]["response"]["status"] == 200 and shown[1]["error"] is None
    assert shown[0]["curl"] == shown[1]["curl"]


def test_request_on_a_fresh_connection_is_not_retried() -> None:
    with keepalive_serving([[DROP]], ANSWER) as server:
        rec = Recorder(server.base_url, "k", FAST)
        try:
            ex = rec.record("only", "POST", "/chat/completions", {"messages": []})
        finally:
            rec.close()
        served = [n for n, _ in server.requests]
    assert served == [0]
    assert ex.status is None and ex.error_kind == "protocol" and ex.prior_attempt is None
    assert ex.error is not None and "retried" not in ex.error


def test_request_that_received_a_byte_is_not_retried() -> None:
    _, second, served = two_requests([[FIRST, PARTIAL]])
    assert served == [0, 0]
    assert second.status is None and second.error_kind == "protocol" and second.prior_attempt is None


def test_retry_refused_by_the_budget_keeps_the_failure_and_says_why() -> None:
    _, second, served = two_requests([[FIRST, RESET]], may_retry=False)
    assert served == [0, 0]
    assert second.status is None and second.prior_attempt is None
    assert second.error is not None and "not retried: request budget exhausted" in second.error


def test_a_failed_retry_is_not_retried_again() -> None:
    _, second, served = two_requests([[FIRST, RESET], [DROP]])
    assert served == [0, 0, 1]
    assert second.status is None and second.prior_attempt is not None
    assert second.error is not None and "retried" not in second.error


def test_suite_counts_the_retry_against_the_budget() -> None:
    with keepalive_serving([[FIRST, RESET]], ANSWER) as server:
        options = RunOptions(model="m", base_url=server.base_url, api_key="k", max_requests=3)
        suite = Suite(server.base_url, load_profile("openai"), options)
        try:
            suite.send("POST", "/chat/completions", {"messages": []}, label="one")
            retried = suite.send("POST", "/chat/completions", {"messages": []}, label="two")
        finally:
            suite.close()
    assert retried.status == 200 and retried.prior_attempt is not None
    assert suite.budget.used == 3  # two requests asked for, plus the retry the endpoint also received


def test_failure_text_reproduces_a_retried_request_once() -> None:
    rules.load_all()
    _, second, _ = two_requests([[FIRST, RESET]])
    shown = render_attempts(second, Redactor(["k"]))
    evidence = {"expected": 400, "received": 200, "where": "POST /chat/completions", "exchanges": shown}
    text = failure_text(RuleResult(RULES["ERR-002"], "failed", message="m", evidence=evidence))
    reproduce = [line for line in text.splitlines() if line.startswith("Reproduce")]
    assert len(reproduce) == 1 and reproduce[0].startswith("Reproduce (second): curl ")
