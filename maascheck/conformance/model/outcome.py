"""The outcome of one rule, the verdict of a run, and the exit codes they map to.

`Outcome` and `Verdict` are `StrEnum`s, so results.json keeps the same strings ("passed", "pass", ...).
Exit codes are the README's: 0 pass, 1 the target failed, 2 bad usage, 130 interrupted.
"""

from __future__ import annotations

from enum import StrEnum

from maascheck.core.errors import EXIT_FAIL, EXIT_INTERRUPTED, EXIT_PASS


class Outcome(StrEnum):
    """What judging one rule gave."""

    PASSED = "passed"
    FAILED = "failed"  # the rule raised Violation, or could not read an exchange the endpoint broke
    SKIPPED = "skipped"  # NotApplicable, an undocumented feature, or the request budget
    XFAILED = "xfailed"  # failed as the profile's known deviation says
    XPASSED = "xpassed"  # a known deviation that did not show (a strict xfail: fails the run)
    ERROR = "error"  # a bug in the rule: traceback kept


FAILING = frozenset({Outcome.FAILED, Outcome.ERROR, Outcome.XPASSED})


class Verdict(StrEnum):
    """The verdict of a run (`summary.verdict` of results.json)."""

    PASS = "pass"
    FAIL = "fail"
    INTERRUPTED = "interrupted"  # Ctrl-C or SIGTERM stopped it, or it is still going: never a pass


EXIT_CODE = {Verdict.PASS: EXIT_PASS, Verdict.FAIL: EXIT_FAIL, Verdict.INTERRUPTED: EXIT_INTERRUPTED}
