"""Builds and writes results.json, the one machine-readable document every report is rendered from.

Shape: schemas/conformance-results.json (`maascheck/conformance-results/1`). It is written after
every rule, atomically, so an interrupted run keeps what it measured. Text is faithful data: JSON escapes
control characters, and `json_text` the few it may leave raw (so `cat results.json` is safe too).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from maascheck import __version__
from maascheck.conformance.engine.options import RunOptions
from maascheck.conformance.engine.runner import RuleResult, SuiteResult
from maascheck.conformance.engine.verdict import View, views
from maascheck.conformance.model.exchange import Exchange
from maascheck.conformance.model.outcome import Outcome, Verdict
from maascheck.conformance.model.rule import Level
from maascheck.conformance.report import baseline as baseline_run
from maascheck.core.errors import EXIT_INTERRUPTED
from maascheck.core.inert import json_text
from maascheck.core.profiles import Profile
from maascheck.core.sources import REFERENCES

SCHEMA_ID = "maascheck/conformance-results/1"
OUTCOMES = tuple(Outcome)


def rule_entry(r: RuleResult) -> dict[str, Any]:
    """One `rules[]` entry (client-matrix rules also name the client and its installed version)."""
    entry = {
        "id": r.rule.id,
        "level": r.rule.level.value,
        "title": r.rule.title,
        "source": r.rule.source,
        "area": r.rule.area,
        "impact": r.rule.impact.value,
        "breaks": [str(b) for b in r.rule.breaks],
        "defects": [d.value for d in r.defects],
        "outcome": r.outcome,
        "message": r.message,
        "reason": r.reason,
        "evidence": r.evidence,
    }
    if r.rule.client is not None:
        from maascheck.conformance.clients.catalog import BY_NAME
        from maascheck.conformance.clients.install import installed

        versions = installed(BY_NAME[r.rule.client]) or {}
        entry["client"] = r.rule.client
        entry["client_version"] = versions.get(BY_NAME[r.rule.client].packages[0][0])
    return entry


def _with_matrix_breaks(entry: dict[str, Any], observed: dict[str, list[Any]]) -> dict[str, Any]:
    """The entry with `client_breaks`: the matrix cells that failed on this rule's exchanges (if any)."""
    if entry["id"] in observed:
        entry["client_breaks"] = [str(b) for b in observed[entry["id"]]]
    return entry


def extension_fields(exchanges: list[Exchange]) -> list[dict[str, str]]:
    """Top-level and choice-level fields outside the OpenAI schema seen in responses (informational)."""
    from maascheck.conformance.rules.extensions import find_extensions

    return find_extensions(exchanges)


def build(
    results: list[RuleResult],
    *,
    options: RunOptions,
    profile: Profile,
    started_utc: str,
    finished_utc: str,
    duration_s: float,
    requests_made: int,
    interrupted: bool,
    extensions: list[dict[str, str]] | None = None,
    stopped: bool = False,
    trials: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The results.json document; `stopped` (Ctrl-C, SIGTERM, or a run still going) makes the verdict
    `interrupted` with exit code 130: a run cut short never passes."""
    from maascheck.conformance.clients.impact import matrix_breaks

    observed = matrix_breaks(results)
    counts = Counter(r.outcome for r in results)
    failed = [r for r in results if r.outcome == "failed"]
    both = views(results, should=options.strict)
    chosen = View(options.verdict)
    exit_code = both[chosen.value]["exit_code"]
    entries = [_with_matrix_breaks(rule_entry(r), observed) for r in results]
    against = None
    if options.baseline:
        against = baseline_run.section(
            entries, options.baseline, both[chosen.value]["failing"], gate=options.fail_on_regression
        )
        if options.fail_on_regression:
            exit_code = 1 if against["regressions"] else 0
    if trials and any(r["verdict"] == "below" for r in trials["rates"]):
        exit_code = 1  # a behaviour rate under the profile's threshold fails the run in every view
    return {
        "schema": SCHEMA_ID,
        "tool": {"name": "maascheck", "version": __version__},
        "run": {
            "started_utc": started_utc,
            "finished_utc": finished_utc,
            "duration_s": duration_s,
            "seed": options.seed,
            "reproduce": options.reproduce_line(),
            "requests_made": requests_made,
            "max_requests": options.max_requests,
            "strict": options.strict,
            "interrupted": interrupted,
        },
        "target": {
            "base_url": options.base_url,
            "model": options.model,
            "vision_model": options.vision_model,
            "reasoning_model": options.reasoning_model,
        },
        "profile": {"name": profile.name, "title": profile.title, "source": profile.source},
        "summary": {
            "verdict": Verdict.INTERRUPTED if stopped else Verdict.PASS if exit_code == 0 else Verdict.FAIL,
            "exit_code": EXIT_INTERRUPTED if stopped else exit_code,
            "counts": {k: counts.get(k, 0) for k in OUTCOMES},
            "must_failed": sum(1 for r in failed if r.rule.level is Level.MUST),
            "should_failed": sum(1 for r in failed if r.rule.level is Level.SHOULD),
            "view": chosen.value,
            "views": both,
        },
        "rules": entries,
        "findings": [
            {"id": str(f.get("id", "")), "text": str(f.get("text", "")), "source": str(f.get("source", ""))}
            for f in profile.findings
        ],
        "extensions": extensions or [],
        "references": [{"name": r.name, "where": r.where} for r in REFERENCES],
        **({"baseline": against} if against is not None else {}),
        **({"trials": trials} if trials else {}),
    }


def from_suite(suite_result: SuiteResult, options: RunOptions, profile: Profile) -> dict[str, Any]:
    """The results.json document of a finished `run_suite`."""
    return build(
        suite_result.results,
        options=options,
        profile=profile,
        started_utc=suite_result.started_utc,
        finished_utc=suite_result.finished_utc,
        duration_s=suite_result.duration_s,
        requests_made=suite_result.requests_made,
        interrupted=suite_result.interrupted,
        extensions=extension_fields(suite_result.exchanges),
        trials=suite_result.trials,
    )


def write(doc: dict[str, Any], path: Path) -> None:
    """Write `doc` to `path` atomically (a reader never sees a half-written file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".results-", suffix=".json", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:  # C0 controls are escaped by JSON, the rest by json_text
        fh.write(json_text(json.dumps(doc, indent=2, ensure_ascii=False)) + "\n")
    os.replace(tmp, path)
