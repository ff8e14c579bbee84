"""run_suite: budget, deviations as strict expected failures, misbehaving endpoints, redaction."""

from __future__ import annotations

import dataclasses
import json
import time

import pytest

from maascheck.conformance.engine.options import RunOptions
from maascheck.conformance.engine.runner import BUDGET_EXHAUSTED, run_suite
from maascheck.conformance.engine.verdict import View
from maascheck.conformance.report.results import from_suite
from maascheck.core import schema_registry as schemas
from maascheck.core.profiles import Deviation, load_profile
from tests.conformance.conftest import simulator
from tests.conformance.proofs import SIM_KEY
from tests.conformance.rawserver import END, chunk, response, serving, sse_head

pytestmark = pytest.mark.timeout(120)
MINE = ("models", "auth", "errors", "sdk")


def _options(url: str, **kw: object) -> RunOptions:
    return RunOptions(model="sim-chat", base_url=url, api_key=SIM_KEY, **kw)  # type: ignore[arg-type]


def test_budget_skips_rules_whose_probes_do_not_fit() -> None:
    with simulator() as url:
        result = run_suite(
            url, load_profile("openai"), _options(url, max_requests=5), only=lambda r: r.area in MINE
        )
    assert result.requests_made <= 5
    skipped = [r for r in result.results if r.outcome == "skipped" and r.reason == BUDGET_EXHAUSTED]
    assert skipped, "a 5-request budget cannot cover the models/auth/errors/sdk probes"
    assert not result.ids("failed", "error")


def test_known_deviation_is_xfailed_when_observed_and_xpassed_when_fixed() -> None:
    profile = dataclasses.replace(load_profile("openai"), deviations=(Deviation("ERR-009", "param is null"),))
    only = lambda r: r.area == "errors"  # noqa: E731
    with simulator("error-param-null") as url:
        broken = run_suite(url, profile, _options(url), only=only)
    with simulator() as url:
        fixed = run_suite(url, profile, _options(url), only=only)
    assert broken.ids("xfailed") == {"ERR-009"} and broken.exit_code == 0
    assert fixed.ids("xpassed") == {"ERR-009"} and fixed.exit_code == 1


def test_should_failure_fails_the_run_only_when_strict() -> None:
    with simulator("error-param-null") as url:
        lenient = run_suite(url, load_profile("openai"), _options(url), only=lambda r: r.area == "errors")
        strict = run_suite(
            url,
            load_profile("openai"),
            _options(url, strict=True, verdict=View.STRICT),
            only=lambda r: r.area == "errors",
        )
    assert lenient.ids("failed") == {"ERR-009"} and lenient.exit_code == 0
    assert strict.exit_code == 1


def test_results_document_validates_and_never_contains_the_key() -> None:
    with simulator("auth-401-plain-text") as url:
        options = _options(url)
        result = run_suite(url, load_profile("openai"), options, only=lambda r: r.area in MINE)
    doc = from_suite(result, options, load_profile("openai"))
    assert schemas.errors("conformance-results", doc) == []
    assert SIM_KEY not in json.dumps(doc)
    (auth3,) = [r for r in doc["rules"] if r["id"] == "AUTH-003"]
    assert auth3["outcome"] == "failed"
    assert (
        auth3["evidence"]["exchanges"][0]["curl"].count("$OPENAI_API_KEY") == 0
    )  # the no-key probe sends none


GARBAGE = [response(200, b"\xff\xfe not json", "application/json")]
STALL = [sse_head(), chunk(b'data: {"id": "x"}\n\n'), 30.0, END]


@pytest.mark.parametrize("script", [GARBAGE, STALL], ids=["garbage", "stall"])
def test_misbehaving_endpoint_fails_rules_without_crashing_or_hanging(script: list[bytes | float]) -> None:
    with serving({"/models": script, "/chat/completions": script, "/completions": script}) as server:
        started = time.monotonic()
        options = _options(server.base_url, stall_timeout=0.5, exchange_timeout=5.0)
        result = run_suite(server.base_url, load_profile("openai"), options, only=lambda r: r.area in MINE)
    assert time.monotonic() - started < 60
    assert not result.ids("error"), {r.rule.id: r.message for r in result.results if r.outcome == "error"}
    assert {"MODELS-001", "AUTH-001", "ERR-002", "SDK-001"} <= result.ids("failed")


def test_broken_probe_code_is_a_rule_error_and_ad_hoc_sends_are_budgeted() -> None:
    from maascheck.conformance.model.probe import PROBES, Probe
    from maascheck.conformance.model.rule import RULES, Impact, Level, RuleContext, rule

    def broken_body(env: object) -> dict[str, object]:
        raise ValueError("bug in a body builder")

    def reads_broken(ctx: RuleContext) -> None:
        ctx.exchange("zz-broken")

    def sends_twice(ctx: RuleContext) -> None:
        for i in range(2):
            ctx.send("GET", "/models", label=f"zz-adhoc-{i}")

    PROBES["zz-broken"] = Probe(name="zz-broken", method="POST", path="/chat/completions", body=broken_body)
    rule("ZZ-001", Level.MUST, "test-only", source="test", probes=("zz-broken",), impact=Impact.SPEC)(reads_broken)
    rule("ZZ-002", Level.MAY, "test-only", source="test", probes=(), impact=Impact.SPEC)(sends_twice)
    try:
        with simulator() as url:
            result = run_suite(
                url,
                load_profile("openai"),
                _options(url, max_requests=3),
                only=lambda r: r.id.startswith("ZZ-"),
            )
    finally:
        del PROBES["zz-broken"], RULES["ZZ-001"], RULES["ZZ-002"]
    outcomes = {r.rule.id: r for r in result.results}
    assert outcomes["ZZ-001"].outcome == "error" and "bug in a body builder" in (
        outcomes["ZZ-001"].message or ""
    )
    assert outcomes["ZZ-002"].outcome == "passed" and result.requests_made == 2
