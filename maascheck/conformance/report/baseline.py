"""Run against run: compare this run's rule outcomes with an earlier results.json of the same suite.

A rule fails when its outcome is failed, error or xpassed. Against the baseline each rule that fails
in either run is new (fails now, did not then), fixed (failed then, passes now), unchanged (fails in
both) or unjudged (failed then, skipped or absent now: neither fixed nor new). With
`--fail-on-regression` only new failures that the run's view counts fail the run, so a team can gate
on "no worse than the deployment in production" while known deviations are worked off.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from maascheck.conformance.model.outcome import FAILING as OUTCOME_FAILING
from maascheck.core.errors import ConfigError

SUITE_SCHEMA = "maascheck/conformance-results/1"
FAILING = OUTCOME_FAILING
EXAMPLE = "--baseline reports/conformance-20260101T000000Z (or its results.json)"


def results_path(given: str) -> Path:
    """The results.json `given` names: the file itself or the report folder holding it."""
    path = Path(given)
    return path / "results.json" if path.is_dir() else path


def parse_baseline(given: str) -> str:
    """Validate `--baseline` before any request: a readable results.json of this suite (ConfigError otherwise)."""
    path = results_path(given)
    if not path.is_file():
        raise ConfigError(
            f"--baseline {given!r}: no results.json there; expected a report folder or its file; e.g. {EXAMPLE}"
        )
    load(str(path))
    return str(path)


@lru_cache(maxsize=4)
def load(path: str) -> dict[str, Any]:
    """The baseline document at `path` (read once per run), checked to be a conformance results.json."""
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ConfigError(f"--baseline {path!r} is not a readable JSON file ({exc}); e.g. {EXAMPLE}") from None
    rules = doc.get("rules") if isinstance(doc, dict) else None
    if not isinstance(doc, dict) or doc.get("schema") != SUITE_SCHEMA or not isinstance(rules, list):
        raise ConfigError(
            f"--baseline {path!r} is not the results.json of a conformance run (schema {SUITE_SCHEMA!r} with "
            f"rules[]); e.g. {EXAMPLE}"
        )
    if not all(isinstance(r, dict) and isinstance(r.get("id"), str) and isinstance(r.get("outcome"), str)
               for r in rules):
        raise ConfigError(f"--baseline {path!r}: every rules[] entry needs a string id and outcome; e.g. {EXAMPLE}")
    return doc


def compare(rules: list[dict[str, Any]], baseline: dict[str, Any]) -> dict[str, list[str]]:
    """new, fixed, unchanged and unjudged rule IDs (each sorted) of `rules` against `baseline`."""
    now = {r["id"]: r["outcome"] for r in rules}
    then = {r["id"]: r["outcome"] for r in baseline["rules"]}
    new = [i for i, o in now.items() if o in FAILING and then.get(i) not in FAILING]
    fixed = [i for i, o in then.items() if o in FAILING and now.get(i) == "passed"]
    unchanged = [i for i, o in now.items() if o in FAILING and then.get(i) in FAILING]
    unjudged = [i for i, o in then.items() if o in FAILING and now.get(i) not in FAILING | {"passed"}]
    return {
        "new": sorted(new),
        "fixed": sorted(fixed),
        "unchanged": sorted(unchanged),
        "unjudged": sorted(unjudged),
    }


def section(rules: list[dict[str, Any]], path: str, counted: list[str], *, gate: bool) -> dict[str, Any]:
    """The `baseline` object of results.json; `regressions`: the new failures the run's view counts."""
    baseline = load(str(results_path(path)))
    diff = compare(rules, baseline)
    regressions = [i for i in diff["new"] if i in set(counted)]
    return {
        "path": path,
        "started_utc": str((baseline.get("run") or {}).get("started_utc", "")),
        "fail_on_regression": gate,
        **diff,
        "regressions": regressions,
    }
