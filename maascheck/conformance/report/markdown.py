"""results.json -> Markdown: verdict, how to reproduce, rules by area, failure evidence, findings.

Every value is rendered by `maascheck.core.inert`: inline text by `md_inline` (no raw HTML, no Markdown
markup, no control character), exchanges by `md_block` (an escaped `<pre>` block the text cannot close),
so server text shows as written and never as markup.
"""

from __future__ import annotations

import json
from typing import Any

from maascheck.conformance.report import client_matrix
from maascheck.core.inert import md_block, md_inline

ICONS = {
    "passed": "PASS",
    "failed": "FAIL",
    "skipped": "skip",
    "xfailed": "xfail",
    "xpassed": "XPASS",
    "error": "ERROR",
}
CELL_CHARS = 300
BODY_CHARS = 4000


def _cell(text: Any) -> str:
    return md_inline(str(text or "")[:CELL_CHARS])


def _code(text: Any) -> str:
    """Inline literal text in a code face (`<code>` with escaped content: a backtick cannot end it)."""
    return f"<code>{md_inline(text)}</code>"


def _json(value: Any) -> str:
    return _code(json.dumps(value, ensure_ascii=False)[:CELL_CHARS])


def _evidence(ev: dict[str, Any]) -> list[str]:
    lines = [f"- expected: {_json(ev.get('expected'))}", f"- received: {_json(ev.get('received'))}"]
    if ev.get("where"):
        lines.append(f"- where: {md_inline(ev['where'])}")
    for ex in ev.get("exchanges", []):
        resp = ex["response"]
        status = resp["status"] if resp["status"] is not None else ex.get("error")
        summary = f"{ex['probe']}: {ex['request']['method']} {ex['request']['url']} -> {status}"
        text = ex["curl"] + (f"\n\n{resp['body'][:BODY_CHARS]}" if resp.get("body") else "")
        lines += ["", f"<details><summary>{md_inline(summary)}</summary>", "", md_block(text), "</details>"]
    return lines


def render_markdown(doc: dict[str, Any]) -> str:
    """The Markdown summary of one run."""
    from maascheck.conformance.report.summary import by_area

    run, summary, target, profile = doc["run"], doc["summary"], doc["target"], doc["profile"]
    counts = ", ".join(f"{v} {k}" for k, v in summary["counts"].items() if v)
    out = [
        f"# Conformance: {md_inline(summary['verdict'].upper())}",
        "",
        f"- target: {_code(target['base_url'])} model {_code(target['model'])}",
        f"- profile: {_code(profile['name'])} ({md_inline(profile['title'])})",
        f"- requests made: {run['requests_made']}"
        + (f" of {run['max_requests']}" if run["max_requests"] else ""),
        f"- rules: {counts or 'none'}; MUST failed {summary['must_failed']}, "
        f"SHOULD failed {summary['should_failed']}" + (" (--strict)" if run["strict"] else ""),
        f"- started {md_inline(run['started_utc'])}, {run['duration_s']} s"
        + (" (interrupted)" if run["interrupted"] else ""),
        f"- reproduce: {_code(run['reproduce'])}",
        "",
    ]
    out += client_matrix.render_markdown(doc)
    for area, rules in by_area(doc["rules"]).items():
        out += [f"## {md_inline(area)}", "", "| rule | level | outcome | fact | detail |", "|---|---|---|---|---|"]
        for r in rules:
            detail = r.get("message") or r.get("reason") or ""
            outcome = ICONS.get(r["outcome"], r["outcome"])
            out.append(
                f"| {_cell(r['id'])} | {_cell(r['level'])} | {_cell(outcome)} | {_cell(r['title'])} "
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
                f"### {md_inline(r['id'])} ({md_inline(r['level'])}, {md_inline(r['outcome'])}): "
                f"{md_inline(r['title'])}",
                "",
                f"Source: {md_inline(r['source'])}",
                "",
            ]
            if r.get("message"):
                out += [md_inline(r["message"].splitlines()[0]), ""]
            out += [*_evidence(r["evidence"]), ""]
    if doc.get("findings"):
        out += ["## Findings in the provider's documentation", ""]
        out += [
            f"- **{md_inline(f['id'])}**: {md_inline(f['text'])} ({md_inline(f['source'])})"
            for f in doc["findings"]
        ] + [""]
    if doc.get("extensions"):
        out += ["## Extension fields seen (informational)", ""]
        out += [f"- {_code(e['where'])}: {_code(e['field'])}" for e in doc["extensions"]] + [""]
    return "\n".join(out)
