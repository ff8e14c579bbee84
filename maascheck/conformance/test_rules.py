"""The conformance suite as pytest items: one per registered rule (ids like STREAM-003).

Run with `maascheck conformance ...` or `pytest conformance --base-url URL --model NAME`;
select with `-k STREAM` or `-m must`.
"""

from typing import Any

from maascheck.conformance.pytest_plugin import judge


def test_rule(maascheck_run: Any, maascheck_rule_id: str) -> None:
    """The rule's documented fact holds for the target."""
    judge(maascheck_run, maascheck_rule_id)
