"""results.json -> Markdown: verdict, how to reproduce, rules by area, failure evidence, findings."""

from __future__ import annotations

import json
from typing import Any

ICONS = {
    "passed": "PASS",
    "failed": "FAIL",
    "skipped": "skip",
    "xfailed": "xfail",
    "xpassed": "XPASS",
    "error": "ERROR",
}


def _cell(text: Any) -> str:
    return str(text or "").replace("|", "\\|").replace("\n", " ")[:300]


def _evidence(ev: dict[str, Any]) -> list[str]:
    lines = [
        f"- expected: `{_cell(json.dumps(ev.get('expected'), ensure_ascii=False))}`",
        f"- received: `{_cell(json.dumps(ev.get('received'), ensure_ascii=False))}`",
    ]
    if ev.get("where"):
        lines.append(f"- where: {ev['where']}")
    for ex in ev.get("exchanges", []):
        resp = ex["response"]
        lines += [
            "",
            "<details><summary>" + f"{ex['probe']}: {ex['request']['method']} {ex['request']['url']} -> "
            f"{resp['status'] if resp['status'] is not None else ex.get('error')}</summary>",
            "",
            "```",
        ]
        lines.append(ex["curl"])
        if resp.get("body"):
            lines += ["", resp["body"][:4000]]
        lines += ["```", "</details>"]
    return lines


def render_markdown(doc: dict[str, Any]) -> str:
    """The Markdown summary of one run."""
    from maascheck.conformance.report.summary import by_area

    run, summary, target, profile = doc["run"], doc["summary"], doc["target"], doc["profile"]
    counts = ", ".join(f"{v} {k}" for k, v in summary["counts"].items() if v)
    out = [
        f"# Conformance: {summary['verdict'].upper()}",
        "",
        f"- target: `{target['base_url']}` model `{target['model']}`",
        f"- profile: `{profile['name']}` ({profile['title']})",
        f"- requests made: {run['requests_made']}"
        + (f" of {run['max_requests']}" if run["max_requests"] else ""),
        f"- rules: {counts or 'none'}; MUST failed {summary['must_failed']}, "
        f"SHOULD failed {summary['should_failed']}" + (" (--strict)" if run["strict"] else ""),
        f"- started {run['started_utc']}, {run['duration_s']} s"
        + (" (interrupted)" if run["interrupted"] else ""),
        f"- reproduce: `{run['reproduce']}`",
        "",
    ]
    for area, rules in by_area(doc["rules"]).items():
        out += [f"## {area}", "", "| rule | level | outcome | fact | detail |", "|---|---|---|---|---|"]
        for r in rules:
            detail = r.get("message") or r.get("reason") or ""
            out.append(
                f"| {r['id']} | {r['level']} | {ICONS.get(r['outcome'], r['outcome'])} | {_cell(r['title'])} "
                f"| {_cell(detail)} |"
            )
        out.append("")
    failing = [
        r
        for r in doc["rules"]
        if r["outcome"] in ("failed", "error", "xpassed", "xfailed") and r.get("evidence")
    ]
    if failing:
        out += ["## Evidence", ""]
        for r in failing:
            out += [
                f"### {r['id']} ({r['level']}, {r['outcome']}): {r['title']}",
                "",
                f"Source: {r['source']}",
                "",
            ]
            if r.get("message"):
                out += [r["message"].splitlines()[0], ""]
            out += [*_evidence(r["evidence"]), ""]
    if doc.get("findings"):
        out += ["## Findings in the provider's documentation", ""]
        out += [f"- **{f['id']}**: {f['text']} ({f['source']})" for f in doc["findings"]] + [""]
    if doc.get("extensions"):
        out += ["## Extension fields seen (informational)", ""]
        out += [f"- `{e['where']}`: `{e['field']}`" for e in doc["extensions"]] + [""]
    return "\n".join(out)
