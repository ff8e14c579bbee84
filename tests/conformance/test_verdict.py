"""compat and strict: two verdicts of one run (issue 10.2), on simulator faults and on constructed results."""

from __future__ import annotations

import pytest

from maascheck.conformance import rules
from maascheck.conformance.engine.runner import RuleResult
from maascheck.conformance.engine.verdict import View, counts, exit_code
from maascheck.conformance.model.rule import RULES, Defect
from tests.conformance.proofs import pool, run_many

rules.load_all()


def _failed(rule_id: str, *defects: Defect) -> RuleResult:
    return RuleResult(RULES[rule_id], "failed", message="m", defects=defects)


def test_spec_must_failure_counts_in_strict_only() -> None:
    r = _failed("CHAT-006")
    assert not counts(r, View.COMPAT) and counts(r, View.STRICT)


def test_client_must_failure_counts_in_both() -> None:
    r = _failed("SDK-001")
    assert counts(r, View.COMPAT) and counts(r, View.STRICT)


def test_a_defect_counts_in_both_whatever_the_level_and_impact() -> None:
    r = _failed("ERR-009", Defect.SERVER_ERROR)  # a SHOULD of hygiene impact answered with a 500
    assert counts(r, View.COMPAT) and counts(r, View.STRICT)


def test_should_failures_count_only_with_strict_and_may_never() -> None:
    hygiene_should = _failed("ERR-009")
    assert not counts(hygiene_should, View.STRICT)
    assert counts(hygiene_should, View.STRICT, should=True)
    assert not counts(hygiene_should, View.COMPAT, should=True)


def test_errors_and_xpasses_fail_both_views() -> None:
    for outcome in ("error", "xpassed"):
        r = RuleResult(RULES["CHAT-006"], outcome)
        assert exit_code([r], View.COMPAT) == 1 and exit_code([r], View.STRICT) == 1
    assert exit_code([RuleResult(RULES["CHAT-006"], "xfailed")], View.STRICT) == 0


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_nullable_keys_omitted_pass_compat_fail_strict_and_a_broken_sdk_fails_both() -> None:
    jobs = {
        "nullable": (("chat-no-logprobs-key", "chat-no-refusal-key"), "openai", "openai"),
        "sdk": (("sdk-chat-garbled",), "openai", "openai"),
        "stall": (("stream-stall",), "openai", "openai"),
    }
    with pool() as executor:
        proofs = run_many(jobs, executor)
    nullable, sdk, stall = proofs["nullable"], proofs["sdk"], proofs["stall"]
    assert nullable.failed == {"CHAT-006", "CHAT-007"}, nullable.messages
    assert nullable.views["compat"] == {"verdict": "pass", "exit_code": 0, "failing": []}
    assert nullable.views["strict"] == {"verdict": "fail", "exit_code": 1, "failing": ["CHAT-006", "CHAT-007"]}
    assert nullable.exit_code == 0  # compat is the default view
    assert sdk.failed == {"SDK-001"}, sdk.messages
    assert sdk.views["compat"]["failing"] == sdk.views["strict"]["failing"] == ["SDK-001"]
    assert sdk.exit_code == 1
    assert "STREAM-005" in stall.failed and stall.views["compat"]["exit_code"] == 1  # a hang is a defect
    assert not (nullable.schema_errors or sdk.schema_errors or stall.schema_errors)
