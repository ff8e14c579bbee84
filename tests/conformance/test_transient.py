"""Transient answers (429/503) are retried before judging; what stays transient skips its rules, never fails them."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from maascheck.conformance.transport.recorder import Recorder, Timeouts
from maascheck.conformance.transport.transient import TransientPolicy
from tests.conformance.proofs import SIM_KEY
from tests.core.scripted_http import scripted

OK_MODELS = json.dumps({"object": "list", "data": [{"id": "m", "object": "model", "created": 1, "owned_by": "x"}]})


def _after(first: list[tuple[int, dict[str, str]]]) -> Any:
    """Answer the scripted statuses first, then 200 with a model list."""
    queue = list(first)

    def answer(*_: object) -> tuple[int, dict[str, str], bytes]:
        if queue:
            status, headers = queue.pop(0)
            return status, headers, b'{"error": {"message": "busy"}}'
        return 200, {"Content-Type": "application/json"}, OK_MODELS.encode()

    return answer


def _recorder(url: str, **kw: Any) -> Recorder:
    return Recorder(url, "k", Timeouts(connect=2, headers=5, stall=2, total=10), **kw)


def test_429_is_retried_after_its_retry_after_and_counted() -> None:
    asked: list[int] = []
    with scripted(_after([(429, {"Retry-After": "1"})])) as srv:
        rec = _recorder(srv.origin + "/v1", may_retry=lambda: asked.append(1) is None)
        t0 = time.monotonic()
        ex = rec.record("models", "GET", "/models")
        rec.close()
        served = srv.count
    assert ex.status == 200 and ex.transient is None
    assert ex.prior_attempt is not None and ex.prior_attempt.status == 429
    assert time.monotonic() - t0 >= 1.0 and served == 2 and asked == [1]


def test_503_without_retry_after_backs_off_then_stays_transient() -> None:
    with scripted(_after([(503, {})] * 5)) as srv:
        rec = _recorder(srv.origin + "/v1", transient=TransientPolicy(retries=2, default_wait_s=0.1))
        ex = rec.record("models", "GET", "/models")
        rec.close()
        served = srv.count
    assert ex.status == 503 and served == 3
    assert ex.transient == "transient answer HTTP 503: still so after 2 retries"


def test_a_long_retry_after_is_not_waited() -> None:
    with scripted(_after([(429, {"Retry-After": "3600"})])) as srv:
        rec = _recorder(srv.origin + "/v1")
        t0 = time.monotonic()
        ex = rec.record("models", "GET", "/models")
        rec.close()
    assert ex.status == 429 and time.monotonic() - t0 < 1
    assert ex.transient is not None and "exceeds 10 s" in ex.transient and "'3600'" in ex.transient


def test_no_retry_without_budget() -> None:
    with scripted(_after([(429, {"Retry-After": "0"})])) as srv:
        rec = _recorder(srv.origin + "/v1", may_retry=lambda: False)
        ex = rec.record("models", "GET", "/models")
        rec.close()
        served = srv.count
    assert served == 1 and ex.transient is not None and "budget exhausted" in ex.transient


def _suite(url: str, profile_name: str = "openai", max_requests: int = 600) -> dict[str, Any]:
    from maascheck.conformance.engine.options import RunOptions
    from maascheck.conformance.engine.runner import run_suite
    from maascheck.core.profiles import load_profile

    profile = load_profile(profile_name)
    options = RunOptions(model="sim-chat", base_url=url, profile=profile_name, api_key=SIM_KEY, stall_timeout=1.0,
                         exchange_timeout=30.0, seed=1, max_requests=max_requests)  # fmt: skip
    result = run_suite(url, profile, options)
    return {r.rule.id: r for r in result.results}


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.parametrize("fault", ["legal-transient-429", "legal-transient-503"])
def test_transient_answers_waited_out_judge_like_the_baseline(sim: Any, fault: str) -> None:
    with sim() as url:
        baseline = {rid: r.outcome for rid, r in _suite(url).items()}
    with sim(fault) as url:
        judged = _suite(url)
    assert {rid: r.outcome for rid, r in judged.items()} == baseline
    assert not any(r.reason and "transient" in r.reason for r in judged.values())


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_an_endpoint_that_stays_rate_limited_fails_no_rule() -> None:
    body = b'{"error": {"message": "Rate limit reached", "type": "requests", "code": "rate_limit_exceeded"}}'
    headers = {"Content-Type": "application/json", "Retry-After": "0"}
    with scripted(lambda *_: (429, headers, body)) as srv:
        judged = _suite(srv.origin + "/v1", max_requests=400)
    failed = {rid: r.message for rid, r in judged.items() if r.outcome in ("failed", "error")}
    assert failed == {}
    stuck = [r for r in judged.values() if r.reason and r.reason.startswith("not judged: ")]
    assert stuck and all("transient answer HTTP 429" in str(r.reason) for r in stuck)
    models = judged["MODELS-001"]
    assert models.outcome == "skipped" and "still so after 2 retries" in str(models.reason)
    assert models.evidence is not None and len(models.evidence["exchanges"]) >= 2  # the attempts, shown
