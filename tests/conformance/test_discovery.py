"""Capabilities discovered: without a declared vision (reasoning) model, the vision (reasoning) rules judge the
chat model if it takes images (if its plain answer carries reasoning).

A profile that extends `openai` without vision and reasoning models runs against the simulator with
`sim-vision` or `sim-reasoner` as the chat model, then with `sim-chat` (it refuses images with 400 and
does not reason).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from maascheck.conformance.engine.options import RunOptions
from maascheck.conformance.engine.runner import RuleResult, run_suite
from maascheck.core.profiles import load_profile
from maascheck.sim.config import SimConfig
from maascheck.sim.server import SimServer

VISION_RULES = ("VISION-001", "VISION-002", "VISION-003")
REASONING_RULES = ("REASON-001", "REASON-002", "REASON-003")
NO_VISION_MODEL = {
    "extends": "openai",
    "title": "OpenAI API without declared vision and reasoning models",
    "source": "tests/conformance/test_discovery.py",
    "models": {"vision": None, "reasoning": None},
}


def vision_results(
    tmp_path: Path, chat_model: str, areas: tuple[str, ...] = ("vision", "inputs")
) -> dict[str, RuleResult]:
    """The rules of `areas` with `chat_model` as the only model named (profile and run)."""
    path = tmp_path / "no-vision-model.json"
    path.write_text(json.dumps(NO_VISION_MODEL), encoding="utf-8")
    config = SimConfig(profile="openai", seed=1, decode_step_ms=0.0, decode_ms_per_seq=0.0, jitter=0.0)
    server = SimServer(config)
    url = server.start_in_thread()
    try:
        options = RunOptions(model=chat_model, api_key=config.resolved_api_key(), exchange_timeout=10.0)
        result = run_suite(url, load_profile(str(path)), options, only=lambda r: r.area in areas)
    finally:
        server.stop()
    return {r.rule.id: r for r in result.results}


@pytest.mark.timeout(60)
def test_a_chat_model_that_takes_images_is_judged_by_the_vision_rules(tmp_path: Path) -> None:
    results = vision_results(tmp_path, "sim-vision")
    assert {r: results[r].outcome for r in ("INPUT-001", *VISION_RULES)} == dict.fromkeys(
        ("INPUT-001", *VISION_RULES), "passed"
    )


@pytest.mark.timeout(60)
def test_a_chat_model_that_refuses_images_skips_the_vision_rules_with_the_reason(tmp_path: Path) -> None:
    results = vision_results(tmp_path, "sim-chat")
    assert results["INPUT-001"].outcome == "passed"
    for rule_id in VISION_RULES:
        assert results[rule_id].outcome == "skipped", rule_id
        assert "discovered: the chat model answered an image with HTTP 400" in (results[rule_id].reason or ""), (
            results[rule_id].reason
        )


@pytest.mark.timeout(60)
def test_a_chat_model_that_reasons_is_judged_by_the_reasoning_rules(tmp_path: Path) -> None:
    results = vision_results(tmp_path, "sim-reasoner", ("reasoning",))
    assert {r: results[r].outcome for r in REASONING_RULES} == dict.fromkeys(REASONING_RULES, "passed")


@pytest.mark.timeout(60)
def test_a_chat_model_that_does_not_reason_skips_the_reasoning_rules_with_the_reason(tmp_path: Path) -> None:
    results = vision_results(tmp_path, "sim-chat", ("reasoning",))
    for rule_id in REASONING_RULES:
        assert results[rule_id].outcome == "skipped", rule_id
        assert "discovered: the plain chat request got an answer without reasoning" in (results[rule_id].reason or "")
