"""One conformance run driven rule by rule (by the pytest plugin), writing results.json as rules are judged."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from maascheck.conformance.engine.options import RunOptions
from maascheck.conformance.engine.runner import RuleResult, Suite, utc_now
from maascheck.conformance.model.rule import RULES, Rule
from maascheck.conformance.report import results
from maascheck.conformance.report import summary as report
from maascheck.core.profiles import Profile

WRITE_EVERY_S = 1.0  # results.json is rewritten at most this often while rules are judged, and at the end


class LiveRun:
    """A `Suite` plus its results so far, persisted to `report_dir/results.json` as they arrive."""

    def __init__(
        self,
        profile: Profile,
        options: RunOptions,
        report_dir: Path,
        progress: Callable[[str], None] | None = None,
    ) -> None:
        self.profile = profile
        self.options = options
        self.report_dir = report_dir
        self.suite = Suite(options.base_url, profile, options, progress=progress)
        self.results: dict[str, RuleResult] = {}
        self.selected: list[str] = []
        self._prefetched = False
        self.trials: dict[str, Any] | None = None
        self._t0 = time.monotonic()
        self._written = 0.0  # monotonic time of the last results.json write
        self.preflight: dict[str, Any] | None = None  # results.json `preflight` (maascheck.core.preflight)

    @property
    def results_path(self) -> Path:
        """Where results.json is written."""
        return self.report_dir / "results.json"

    def select(self, rule_ids: list[str]) -> None:
        """The rules this run will judge (after pytest's -k/-m selection)."""
        self.selected = [r for r in rule_ids if r in RULES]

    def judge(self, rule_id: str) -> RuleResult:
        """Judge one rule (making the selected rules' probes on the first call) and persist the results."""
        if not self._prefetched:
            self._prefetched = True
            self.suite.prefetch([RULES[r] for r in self.selected or list(RULES)])
        result = self.suite.evaluate(RULES[rule_id])
        self.results[rule_id] = result
        # As it stands (a run killed now was interrupted); at most every WRITE_EVERY_S, since each write
        # renders every result so far: one per rule would cost quadratic time on a run of many failures.
        if time.monotonic() - self._written >= WRITE_EVERY_S:
            self.write(interrupted=True, stopped=True)
            self._written = time.monotonic()
        return result

    def ordered(self) -> list[RuleResult]:
        """Results in rule registration order."""
        order: dict[str, int] = {rid: i for i, rid in enumerate(RULES)}
        return sorted(self.results.values(), key=lambda r: order.get(r.rule.id, 0))

    def document(self, *, interrupted: bool, stopped: bool = False) -> dict[str, Any]:
        """The results.json document as it stands."""
        doc = results.build(
            self.ordered(),
            options=self.options,
            profile=self.profile,
            started_utc=self.suite.started_utc,
            finished_utc=utc_now(),
            duration_s=round(time.monotonic() - self._t0, 3),
            requests_made=self.suite.budget.used + self.suite.trial_requests,
            interrupted=interrupted,
            stopped=stopped,
            extensions=results.extension_fields(self.suite.exchanges()),
            trials=self.trials,
        )
        if self.preflight is not None:
            doc["preflight"] = self.preflight
        return doc

    def write(self, *, interrupted: bool, stopped: bool = False) -> dict[str, Any]:
        """Persist results.json (atomically) and return it."""
        doc = self.document(interrupted=interrupted, stopped=stopped)
        results.write(doc, self.results_path)
        return doc

    def finish(self, *, interrupted: bool, stopped: bool = False) -> dict[str, Any]:
        """Final results.json plus the Markdown and HTML summaries (after --trials, if asked); closes the client.

        `stopped`: Ctrl-C or SIGTERM ended the run (verdict `interrupted`, exit 130).
        """
        if self.options.trials and not (interrupted or stopped):
            from maascheck.conformance.engine.trials import run_trials

            self.trials = run_trials(self.suite, self.options.trials)
        doc = self.write(interrupted=interrupted or stopped, stopped=stopped)
        report.render_all(doc, self.report_dir)
        self.suite.close()
        return doc

    def rule(self, rule_id: str) -> Rule:
        """The registered rule `rule_id`."""
        return RULES[rule_id]
