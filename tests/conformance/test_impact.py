"""Every rule says what breaks when it fails: an impact, and for `client` the client and its failure."""

from __future__ import annotations

import pytest

from maascheck.conformance import rules
from maascheck.conformance.model.rule import RULES, ClientBreak, Impact, Level, rule

rules.load_all()


def test_every_rule_declares_an_impact_and_client_rules_name_the_client() -> None:
    assert RULES
    for r in RULES.values():
        assert isinstance(r.impact, Impact), r.id
        assert (r.impact is Impact.CLIENT) == bool(r.breaks), r.id
        for b in r.breaks:
            assert b.client.strip() and b.failure.strip(), r.id


def test_the_sdk_rules_are_client_impact_and_nullable_keys_are_spec() -> None:
    assert {RULES[i].impact for i in ("SDK-001", "SDK-002", "SDK-003", "SDK-004")} == {Impact.CLIENT}
    assert RULES["CHAT-006"].impact is Impact.SPEC and RULES["CHAT-007"].impact is Impact.SPEC


@pytest.mark.parametrize(
    ("impact", "breaks"),
    [(Impact.CLIENT, ()), (Impact.SPEC, (ClientBreak("openai-python", "raises APIError"),))],
)
def test_a_client_impact_without_a_named_client_is_refused(impact: Impact, breaks: tuple[ClientBreak, ...]) -> None:
    with pytest.raises(ValueError, match="names the client that fails"):
        rule("TEST-999", Level.MUST, "a fact", source="a source", probes=(), impact=impact, breaks=breaks)
    assert "TEST-999" not in RULES
