"""Two verdicts of one run: compat (what breaks clients) and strict (every MUST of the documents).

compat counts a failure when the rule is MUST and its impact is `client` (a named real client fails
on it), and any failure that is a defect whatever the rule: a 5xx, a hang, a truncated answer, wrong
arithmetic. strict counts every MUST failure (and everything compat counts). Both count rule errors
and strict xpasses (a known deviation no longer observed), and SHOULD failures of their kind only
with --strict; MAY failures never. `--verdict compat|strict` picks the view that sets the exit code.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from maascheck.conformance.model.rule import Defect, Impact, Level

if TYPE_CHECKING:
    from maascheck.conformance.engine.runner import RuleResult
    from maascheck.conformance.model.exchange import Exchange


class View(StrEnum):
    """Which failures set the exit code."""

    COMPAT = "compat"
    STRICT = "strict"


DEFAULT_VIEW = View.COMPAT  # a CI gate fails on what breaks clients; strict is one flag away
HANG_KINDS = frozenset({"stall", "timeout"})


def observed_defects(exchanges: Iterable[Exchange]) -> tuple[Defect, ...]:
    """The defects visible in `exchanges`: a 5xx status, a stall or timeout, a body cut short."""
    found: set[Defect] = set()
    for ex in exchanges:
        if ex.status is not None and ex.status >= 500:
            found.add(Defect.SERVER_ERROR)
        if ex.error_kind in HANG_KINDS:
            found.add(Defect.HANG)
        if ex.error_kind == "truncated":
            found.add(Defect.TRUNCATION)
    return tuple(d for d in Defect if d in found)


def counts(result: RuleResult, view: View, *, should: bool = False) -> bool:
    """Whether `result` fails the run under `view` (`should`: SHOULD failures count too, --strict)."""
    if result.outcome in ("error", "xpassed"):
        return True
    if result.outcome != "failed":
        return False
    level = result.rule.level
    counted_levels = {Level.MUST, Level.SHOULD} if should else {Level.MUST}
    if result.defects:
        return True
    if result.rule.impact is Impact.CLIENT and level in counted_levels:
        return True
    return view is View.STRICT and level in counted_levels


def exit_code(results: Iterable[RuleResult], view: View, *, should: bool = False) -> int:
    """0 when nothing counts under `view`, else 1."""
    return 1 if any(counts(r, view, should=should) for r in results) else 0


def views(results: list[RuleResult], *, should: bool = False) -> dict[str, Any]:
    """Both views for results.json: each one's verdict, exit code and the IDs it counts."""
    out: dict[str, Any] = {}
    for view in View:
        failing = [r.rule.id for r in results if counts(r, view, should=should)]
        out[view.value] = {
            "verdict": "fail" if failing else "pass",
            "exit_code": 1 if failing else 0,
            "failing": failing,
        }
    return out
