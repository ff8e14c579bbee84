"""What a reader needs first, taken from results.json: the verdicts, the failures by impact, the areas.

Markdown and HTML render the same digest, so both read in the same order: the verdict (both views,
the one that set the exit code first), then every failure grouped by impact with its one-line fact,
received vs expected and the curl line, then an index of the areas, then the area tables.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from maascheck.conformance.model.outcome import Outcome

FAILING = (Outcome.FAILED, Outcome.ERROR, Outcome.XPASSED)


def by_area(rules: Iterable[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Rules grouped by area, areas in first-seen order."""
    out: dict[str, list[dict[str, Any]]] = {}
    for r in rules:
        out.setdefault(str(r["area"]), []).append(r)
    return out

IMPACT_ORDER = ("client", "spec", "hygiene")
GROUP_TITLES = {
    "suite": "Rule errors and stale deviations (fail every view)",
    "client": "Client impact: a named client fails",
    "spec": "Spec impact: differs from the documented contract",
    "hygiene": "Hygiene",
}

BASELINE_ROWS = (
    ("new", "new failures"),
    ("regressions", "regressions (new, counted by the view)"),
    ("fixed", "fixed"),
    ("unchanged", "unchanged failures"),
    ("unjudged", "failed before, not judged now"),
)


@dataclass(frozen=True)
class Failure:
    """One failing rule as the failures list shows it."""

    rule: dict[str, Any]
    counted_in: tuple[str, ...]  # the views that count it
    fact: str  # the message's first line (or the title)
    received: str
    expected: str
    curl: str | None


def _short(value: Any, limit: int = 240) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def views(doc: dict[str, Any]) -> list[tuple[str, dict[str, Any], bool]]:
    """(name, view, sets the exit code) for each view, the one that set the exit code first.

    A results.json of an earlier version has no views: its own verdict stands in as `strict`.
    """
    summary = doc["summary"]
    found = summary.get("views")
    if not found:
        failing = [r["id"] for r in doc["rules"] if r["outcome"] in FAILING]
        return [("strict", {"verdict": summary["verdict"], "failing": failing}, True)]
    chosen = summary.get("view", "compat")
    ordered = sorted(found.items(), key=lambda kv: kv[0] != chosen)
    return [(name, view, name == chosen) for name, view in ordered]


def failures(doc: dict[str, Any]) -> list[tuple[str, list[Failure]]]:
    """Failing rules grouped (suite errors, then client, spec, hygiene impact), counted ones first."""
    counted: dict[str, list[str]] = {}
    for name, view, _ in views(doc):
        for rule_id in view.get("failing", []):
            counted.setdefault(rule_id, []).append(name)
    groups: dict[str, list[Failure]] = {}
    for r in doc["rules"]:
        if r["outcome"] not in FAILING:
            continue
        ev = r.get("evidence") or {}
        exchanges = ev.get("exchanges") or []
        message = (r.get("message") or "").strip()
        fact = message.splitlines()[0] if message else r["title"]
        group = "suite" if r["outcome"] != "failed" else r.get("impact", "spec")
        groups.setdefault(group, []).append(
            Failure(
                rule=r,
                counted_in=tuple(counted.get(r["id"], [])),
                fact=_short(fact, 400),
                received=_short(ev.get("received")) if ev else "",
                expected=_short(ev.get("expected")) if ev else "",
                curl=exchanges[0]["curl"] if exchanges else None,
            )
        )
    order = ("suite", *IMPACT_ORDER)
    out = []
    for name in order + tuple(g for g in groups if g not in order):
        if name in groups:
            items = sorted(groups[name], key=lambda f: (not f.counted_in, f.rule["level"] != "MUST"))
            out.append((name, items))
    return out


def area_index(doc: dict[str, Any]) -> list[tuple[str, dict[str, int]]]:
    """(area, outcome counts) in first-seen order."""
    out: dict[str, dict[str, int]] = {}
    for r in doc["rules"]:
        counts = out.setdefault(str(r["area"]), {})
        counts[r["outcome"]] = counts.get(r["outcome"], 0) + 1
    return list(out.items())


def anchor(area: str) -> str:
    """The anchor of an area's section."""
    return "area-" + "".join(c if c.isalnum() else "-" for c in area.lower())


def trial_rows(doc: dict[str, Any]) -> list[tuple[str, str, str, str, str, str]]:
    """(metric, successes/trials, rate, 95% interval, threshold, verdict) of each --trials rate."""
    rows = []
    for r in (doc.get("trials") or {}).get("rates", []):
        if r.get("skipped"):
            rows.append((r["name"], "-", "-", "-", str(r.get("threshold") or "-"), f"not run: {r['skipped']}"))
            continue
        low, high = r["ci95"]
        rows.append(
            (
                r["name"],
                f"{r['successes']}/{r['trials']}",
                f"{r['rate']:.1%}",
                f"{low:.1%} - {high:.1%}",
                "-" if r.get("threshold") is None else f"{r['threshold']:.0%}",
                r.get("verdict") or "no threshold",
            )
        )
    return rows
