"""docs/rules.md lists every registered rule with its level, area and fact."""

from __future__ import annotations

from pathlib import Path

from tests.conformance.catalogue import render

CATALOGUE = Path(__file__).resolve().parents[2] / "docs" / "rules.md"


def test_catalogue_lists_every_rule_as_registered() -> None:
    assert CATALOGUE.read_text(encoding="utf-8") == render(), (
        "docs/rules.md is out of step with the rule registry: "
        "regenerate it with `python -m tests.conformance.catalogue > docs/rules.md`"
    )
