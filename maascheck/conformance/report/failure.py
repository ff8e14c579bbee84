"""The text of a failed rule in pytest's output: fact, message, expected vs received, where, reproduce.

The text goes to the console and into junit.xml, so server text in it is made inert
(`maascheck.core.inert`): no control character reaches either raw.
"""

from __future__ import annotations

import json
from typing import Any

from maascheck.conformance.engine.runner import RuleResult
from maascheck.core.inert import inert


def _short(value: Any, limit: int = 600) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=repr)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def failure_text(result: RuleResult) -> str:
    """Fixed shape: `RULE (LEVEL) fact` / message / Expected / Received / Where / Source / Reproduce."""
    r = result.rule
    lines = [f"{r.id} ({r.level.value}) {r.title}", result.message or result.outcome]
    ev = result.evidence or {}
    if ev:
        lines += [f"Expected: {_short(ev.get('expected'))}", f"Received: {_short(ev.get('received'))}"]
        if ev.get("where"):
            lines.append(f"Where: {ev['where']}")
    lines.append(f"Source: {r.source}")
    curls: dict[str, str] = {}  # a retried attempt repeats its retry's curl line: shown once, named by the retry
    for ex in ev.get("exchanges", []):
        curls[ex["curl"]] = ex["probe"]
    for curl, probe in list(curls.items())[:3]:
        lines.append(f"Reproduce ({probe}): {curl}")
    return inert("\n".join(lines))
