"""results.json -> Markdown, read in one minute: verdicts, failures by impact, area index, area tables.

Table cells hold only short single-line text (ID, level, impact, outcome, fact), so every table keeps
its layout; messages, evidence and curl lines go in the failures list above the tables. Every value is
rendered by `maascheck.core.inert`: inline text by `md_inline` (no raw HTML, no Markdown markup, no
control character, pipes escaped), blocks by `md_block` (an escaped `<pre>` the text cannot close).
"""

from __future__ import annotations

from typing import Any

from maascheck.conformance.report import client_matrix
from maascheck.conformance.report.digest import (
    BASELINE_ROWS,
    GROUP_TITLES,
    Failure,
    anchor,
    area_index,
    by_area,
    failures,
    trial_rows,
    views,
)
from maascheck.core.inert import md_block, md_inline

ICONS = {
    "passed": "PASS",
    "failed": "FAIL",
    "skipped": "skip",
    "xfailed": "xfail",
    "xpassed": "XPASS",
    "error": "ERROR",
}


def _cell(text: Any, limit: int = 160) -> str:
    """One line of literal text (a table cell): cut before escaping, so no escape is split."""
    flat = " ".join(str(text if text is not None else "").split())
    if len(flat) > limit:
        flat = flat[: limit - 1] + "…"
    return md_inline(flat)


def _code(text: Any, limit: int = 600) -> str:
    """Inline literal text in a code face (`<code>` with escaped content: a backtick cannot end it)."""
    return f"<code>{_cell(text, limit)}</code>"


def _exchanges(ev: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    for ex in ev.get("exchanges", []):
        resp = ex["response"]
        status = resp["status"] if resp["status"] is not None else ex.get("error")
        summary = f"{ex['probe']}: {ex['request']['method']} {ex['request']['url']} -> {status}"
        lines += ["", f"<details><summary>{_cell(summary, 300)}</summary>", ""]
        body = ex["curl"] + ("\n\n" + resp["body"][:4000] if resp.get("body") else "")
        lines += [md_block(body), "</details>"]
    return lines


def _failure(f: Failure) -> list[str]:
    r = f.rule
    counted = ", ".join(f.counted_in) if f.counted_in else "no view (not counted)"
    tags = [r["level"], r.get("impact", "spec"), r["outcome"]] + [f"defect: {d}" for d in r.get("defects", [])]
    out = [f"#### {r['id']}: {_cell(r['title'], 300)}", "", f"{' · '.join(tags)} · counts in: {counted}", ""]
    out += [f"- fact: {_cell(f.fact, 400)}"]
    if f.received or f.expected:
        out += [f"- received: {_code(f.received)}", f"- expected: {_code(f.expected)}"]
    for b in r.get("breaks", []):
        out.append(f"- breaks: {_cell(b, 300)}")
    out.append(f"- source: {_cell(r['source'], 400)}")
    if f.curl:
        out += ["- reproduce:", "", md_block(f.curl)]
    if r.get("evidence"):
        out += _exchanges(r["evidence"])
    return [*out, ""]


def _verdicts(doc: dict[str, Any]) -> list[str]:
    out = ["| view | verdict | counts |", "|---|---|---|"]
    for name, view, chosen in views(doc):
        label = f"**{name}** (sets the exit code)" if chosen else name
        counted = ", ".join(view.get("failing", [])) or "nothing"
        out.append(f"| {label} | {view['verdict'].upper()} | {_cell(counted, 600)} |")
    return out


def _baseline(doc: dict[str, Any]) -> list[str]:
    b = doc.get("baseline")
    if not b:
        return []
    gate = " (--fail-on-regression: only regressions set the exit code)" if b["fail_on_regression"] else ""
    out = [f"## Against the baseline{gate}", "", f"Baseline: {_code(b['path'])} (started {b['started_utc']})", ""]
    out += ["| change | rules |", "|---|---|"]
    for key, label in BASELINE_ROWS:
        out.append(f"| {label} | {_cell(', '.join(b[key]) or 'none', 600)} |")
    return [*out, ""]


def _trials(doc: dict[str, Any]) -> list[str]:
    t = doc.get("trials")
    if not t:
        return []
    out = [f"## Behaviour rates over {t['trials']} trials ({t['requests']} requests)", ""]
    out += ["| metric | successes | rate | 95% Wilson interval | threshold | verdict |", "|---|---|---|---|---|---|"]
    out += ["| " + " | ".join(_cell(c, 200) for c in row) + " |" for row in trial_rows(doc)]
    return [*out, ""]


def render_markdown(doc: dict[str, Any]) -> str:
    """The Markdown summary of one run."""

    run, summary, target, profile = doc["run"], doc["summary"], doc["target"], doc["profile"]
    counts = ", ".join(f"{v} {k}" for k, v in summary["counts"].items() if v)
    chosen = summary.get("view", "strict")
    out = [
        f"# Conformance: {summary['verdict'].upper()} ({chosen})",
        "",
        *_verdicts(doc),
        "",
        f"- target: {_code(target['base_url'])} model {_code(target['model'])}",
        f"- profile: {_code(profile['name'])} ({_cell(profile['title'])})",
        f"- requests made: {run['requests_made']}" + (f" of {run['max_requests']}" if run["max_requests"] else ""),
        f"- rules: {counts or 'none'}; MUST failed {summary['must_failed']}, "
        f"SHOULD failed {summary['should_failed']}" + (" (--strict)" if run["strict"] else ""),
        f"- started {run['started_utc']}, {run['duration_s']} s" + (" (interrupted)" if run["interrupted"] else ""),
        f"- reproduce: {_code(run['reproduce'])}",
        "",
        *_baseline(doc),
        *_trials(doc),
    ]
    groups = failures(doc)
    total = sum(len(items) for _, items in groups)
    out += [f"## Failures ({total})", ""]
    if not groups:
        out += ["None.", ""]
    for group, items in groups:
        out += [f"### {GROUP_TITLES.get(group, group)} ({len(items)})", ""]
        for f in items:
            out += _failure(f)
    out += client_matrix.render_markdown(doc)
    out += ["## Areas", "", "| area | rules | failed | passed | skipped | other |", "|---|---|---|---|---|---|"]
    for area, c in area_index(doc):
        other = sum(v for k, v in c.items() if k not in ("failed", "passed", "skipped"))
        out.append(
            f"| [{_cell(area)}](#{anchor(area)}) | {sum(c.values())} | {c.get('failed', 0)} | "
            f"{c.get('passed', 0)} | {c.get('skipped', 0)} | {other} |"
        )
    out.append("")
    for area, rules in by_area(doc["rules"]).items():
        out += [
            f'<a id="{anchor(area)}"></a>',
            "",
            f"### Area {_cell(area)}",
            "",
            "| rule | level | impact | outcome | fact |",
            "|---|---|---|---|---|",
        ]
        for r in rules:
            out.append(
                f"| {_cell(r['id'])} | {r['level']} | {r.get('impact', '')} | {ICONS.get(r['outcome'], r['outcome'])} "
                f"| {_cell(r['title'])} |"
            )
        out.append("")
    if doc.get("references"):
        out += ["## Sources cited", ""]
        out += [f"- **{_cell(x['name'])}**: {_cell(x['where'], 400)}" for x in doc["references"]] + [""]
    if doc.get("findings"):
        out += ["## Findings in the provider's documentation", ""]
        out += [f"- **{_cell(f['id'])}**: {_cell(f['text'], 600)} ({_cell(f['source'], 300)})" for f in doc["findings"]]
        out.append("")
    if doc.get("extensions"):
        out += ["## Extension fields seen (informational)", ""]
        out += [f"- {_code(e['where'])}: {_code(e['field'])}" for e in doc["extensions"]] + [""]
    return "\n".join(out)

