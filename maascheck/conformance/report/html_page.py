"""results.json -> one self-contained HTML page (inline CSS, no scripts, nothing fetched).

Read top down in a minute: the verdicts side by side (the one that set the exit code first), the
failures grouped by impact (fact, received vs expected, curl line; evidence folded), an index of the
areas, then one table per area. Tables have fixed column widths and IDs that never wrap; long text
wraps inside its cell. Every value is escaped by `maascheck.core.inert.html_text`: markup from the
target is shown as text and control characters as visible escapes.
"""

from __future__ import annotations

import json
from typing import Any

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
from maascheck.core.inert import html_text

CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:72em;padding:0 1em;color:#1b1b1b}
h1{margin-bottom:.3em}h2{margin-top:1.6em;border-bottom:1px solid #ddd}h3{margin-top:1.2em}
table{border-collapse:collapse;width:100%;table-layout:fixed;margin:.5em 0}
td,th{border:1px solid #ccc;padding:.3em .5em;text-align:left;vertical-align:top;overflow-wrap:anywhere}
th{background:#f4f4f4}.id,.nowrap{white-space:nowrap;overflow-wrap:normal}.id{font-family:ui-monospace,monospace}
th.level,th.impact{width:5.5em}th.outcome{width:6.5em}
.views{display:flex;gap:1em;flex-wrap:wrap}.view{flex:1 1 20em;border:2px solid #ccc;border-radius:6px;padding:.6em 1em}
.view.chosen{border-color:#555}.view h3{margin:.1em 0 .4em}
.passed,.verdict-pass{color:#176f2c}.failed,.error,.xpassed,.verdict-fail{color:#b00020;font-weight:bold}
.skipped{color:#777}.xfailed{color:#a15c00}
.failure{border-left:4px solid #b00020;padding:.2em .9em;margin:.8em 0;background:#fcf7f7}
.failure.uncounted{border-left-color:#bbb;background:#fafafa}.failure h4{margin:.3em 0}
.tags{color:#555;font-size:90%}dl{display:grid;grid-template-columns:7em 1fr;gap:.2em .8em;margin:.4em 0}
dt{color:#555}dd{margin:0;overflow-wrap:anywhere}
pre{background:#f3f3f3;padding:.5em;overflow-x:auto;white-space:pre-wrap;overflow-wrap:anywhere;max-height:30em}
code{background:#f3f3f3;overflow-wrap:anywhere}
"""


def _e(value: Any) -> str:
    return html_text(value)


def _pre(label: str, text: Any) -> str:
    return f"<p>{_e(label)}:</p><pre>{_e(text)}</pre>"


def _exchange(ex: dict[str, Any]) -> str:
    req, resp = ex["request"], ex["response"]
    status = resp["status"] if resp["status"] is not None else ex.get("error")
    summary = f"{ex['probe']}: {req['method']} {req['url']} -> {status}"
    parts = [f"<details><summary>{_e(summary)}</summary>", _pre("reproduce", ex["curl"])]
    if req.get("body"):
        parts.append(_pre("request body", req["body"]))
    parts.append(_pre("response headers", "\n".join(f"{k}: {v}" for k, v in resp.get("headers", []))))
    if resp.get("events"):
        lines = [
            f"+{e['t_ms']:.1f} ms  " + (f"event: {e['event']}  " if e.get("event") else "") + e["data"]
            for e in resp["events"]
        ]
        parts.append(_pre("events (arrival time)", "\n".join(lines)))
    elif resp.get("body"):
        label = "response body (truncated)" if resp.get("body_truncated") else "response body"
        parts.append(_pre(label, resp["body"]))
    if ex.get("error"):
        parts.append(f"<p>transport: {_e(ex['error'])}</p>")
    return "".join(parts) + "</details>"


def _evidence(ev: dict[str, Any]) -> str:
    facts = (
        f"<p>expected: <code>{_e(json.dumps(ev.get('expected'), ensure_ascii=False)[:2000])}</code><br>"
        f"received: <code>{_e(json.dumps(ev.get('received'), ensure_ascii=False)[:2000])}</code><br>"
        f"where: {_e(ev.get('where'))}</p>"
    )
    exchanges = "".join(_exchange(x) for x in ev.get("exchanges", []))
    return f"<details><summary>evidence</summary>{facts}{exchanges}</details>"


def _failure(f: Failure) -> str:
    r = f.rule
    counted = ", ".join(f.counted_in) if f.counted_in else "no view (not counted)"
    tags = [r["level"], r.get("impact", "spec"), r["outcome"]] + [f"defect: {d}" for d in r.get("defects", [])]
    rows = [("fact", _e(f.fact))]
    if f.received or f.expected:
        rows += [("received", f"<code>{_e(f.received)}</code>"), ("expected", f"<code>{_e(f.expected)}</code>")]
    rows += [("breaks", _e(b)) for b in r.get("breaks", [])]
    rows.append(("source", _e(r["source"])))
    if f.curl:
        rows.append(("reproduce", f"<pre>{_e(f.curl)}</pre>"))
    dl = "".join(f"<dt>{_e(k)}</dt><dd>{v}</dd>" for k, v in rows)
    evidence = _evidence(r["evidence"]) if r.get("evidence") else ""
    cls = "failure" if f.counted_in else "failure uncounted"
    return (
        f'<div class="{cls}" id="rule-{_e(r["id"])}"><h4><span class="nowrap">{_e(r["id"])}</span>: '
        f'{_e(r["title"])}</h4><div class="tags">{_e(" · ".join(tags))} · counts in: {_e(counted)}</div>'
        f"<dl>{dl}</dl>{evidence}</div>"
    )


def _views(doc: dict[str, Any]) -> str:
    boxes = []
    for name, view, chosen in views(doc):
        counted = view.get("failing", [])
        links = ", ".join(f'<a class="nowrap" href="#rule-{_e(i)}">{_e(i)}</a>' for i in counted) or "nothing"
        role = "sets the exit code" if chosen else "shown, does not set the exit code"
        boxes.append(
            f'<div class="view{" chosen" if chosen else ""}"><h3>{_e(name)}: '
            f'<span class="verdict-{_e(view["verdict"])}">{_e(view["verdict"].upper())}</span></h3>'
            f"<p>{_e(role)}; counts {links}</p></div>"
        )
    return '<div class="views">' + "".join(boxes) + "</div>"


def _header(doc: dict[str, Any]) -> str:
    run, summary, target, profile = doc["run"], doc["summary"], doc["target"], doc["profile"]
    counts = ", ".join(f"{v} {k}" for k, v in summary["counts"].items() if v)
    items = [
        f"target: <code>{_e(target['base_url'])}</code> model <code>{_e(target['model'])}</code>",
        f"profile: <code>{_e(profile['name'])}</code> ({_e(profile['title'])})",
        f"requests made: {_e(run['requests_made'])} (budget {_e(run['max_requests'])})",
        f"rules: {_e(counts)}; MUST failed {_e(summary['must_failed'])}, "
        f"SHOULD failed {_e(summary['should_failed'])}" + (" (strict)" if run["strict"] else ""),
        f"started {_e(run['started_utc'])}, {_e(run['duration_s'])} s"
        + (" (interrupted)" if run["interrupted"] else ""),
        f"reproduce: <code>{_e(run['reproduce'])}</code>",
    ]
    verdict = summary["verdict"]
    chosen = summary.get("view", "strict")
    title = f'<h1 class="verdict-{_e(verdict)}">Conformance: {_e(verdict.upper())} ({_e(chosen)})</h1>'
    return title + _views(doc) + "<ul>" + "".join(f"<li>{i}</li>" for i in items) + "</ul>"


def _area_table(rules: list[dict[str, Any]]) -> str:
    # The ID column fits the longest ID (monospace: 1ch per character), so no ID wraps or overflows.
    longest = max((len(str(r["id"])) for r in rules), default=8)
    head = (
        f'<tr><th class="id" style="width:calc({longest}ch + 1.2em)">rule</th><th class="level">level</th>'
        '<th class="impact">impact</th><th class="outcome">outcome</th><th>fact and source</th></tr>'
    )
    rows = []
    for r in rules:
        rid = _e(r["id"])
        link = f'<a href="#rule-{rid}">{rid}</a>' if r["outcome"] in ("failed", "error", "xpassed") else rid
        rows.append(
            f'<tr id="{rid}"><td class="id">{link}</td><td>{_e(r["level"])}</td><td>{_e(r.get("impact", ""))}</td>'
            f'<td><span class="{_e(r["outcome"])}">{_e(r["outcome"])}</span></td>'
            f"<td>{_e(r['title'])}<br><small>{_e(r['source'])}</small>"
            + (f"<br><small>{_e(r['reason'])}</small>" if r.get("reason") else "")
            + "</td></tr>"
        )
    return f"<table>{head}{''.join(rows)}</table>"


def _baseline(doc: dict[str, Any]) -> str:
    b = doc.get("baseline")
    if not b:
        return ""
    gate = " (--fail-on-regression: only regressions set the exit code)" if b["fail_on_regression"] else ""
    rows = "".join(
        f"<tr><td>{_e(label)}</td><td>{_e(', '.join(b[key]) or 'none')}</td></tr>" for key, label in BASELINE_ROWS
    )
    return (
        f"<h2>Against the baseline{_e(gate)}</h2><p>baseline: <code>{_e(b['path'])}</code> "
        f"(started {_e(b['started_utc'])})</p><table><tr><th>change</th><th>rules</th></tr>{rows}</table>"
    )


def _trials(doc: dict[str, Any]) -> str:
    t = doc.get("trials")
    if not t:
        return ""
    head = "".join(
        f"<th>{h}</th>" for h in ("metric", "successes", "rate", "95% Wilson interval", "threshold", "verdict")
    )
    rows = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>" for row in trial_rows(doc))
    return (
        f"<h2>Behaviour rates over {_e(t['trials'])} trials ({_e(t['requests'])} requests)</h2>"
        f"<table><tr>{head}</tr>{rows}</table>"
    )


def render_html(doc: dict[str, Any]) -> str:
    """The HTML summary of one run."""
    from maascheck.conformance.report import client_matrix

    body = [_header(doc), _baseline(doc), _trials(doc)]
    groups = failures(doc)
    body.append(f"<h2>Failures ({sum(len(items) for _, items in groups)})</h2>")
    if not groups:
        body.append("<p>None.</p>")
    for group, items in groups:
        body.append(f"<h3>{_e(GROUP_TITLES.get(group, group))} ({len(items)})</h3>")
        body += [_failure(f) for f in items]
    body.append(client_matrix.render_html(doc))
    rows = []
    for area, c in area_index(doc):
        other = sum(v for k, v in c.items() if k not in ("failed", "passed", "skipped"))
        rows.append(
            f'<tr><td><a href="#{_e(anchor(area))}">{_e(area)}</a></td><td>{sum(c.values())}</td>'
            f"<td>{c.get('failed', 0)}</td><td>{c.get('passed', 0)}</td><td>{c.get('skipped', 0)}</td>"
            f"<td>{other}</td></tr>"
        )
    body.append(
        "<h2>Areas</h2><table><tr><th>area</th><th>rules</th><th>failed</th><th>passed</th><th>skipped</th>"
        f"<th>other</th></tr>{''.join(rows)}</table>"
    )
    for area, rules in by_area(doc["rules"]).items():
        body.append(f'<h3 id="{_e(anchor(area))}">Area {_e(area)}</h3>{_area_table(rules)}')
    if doc.get("references"):
        refs = "".join(f"<li><b>{_e(x['name'])}</b>: {_e(x['where'])}</li>" for x in doc["references"])
        body.append(f"<h2>Sources cited</h2><ul>{refs}</ul>")
    if doc.get("findings"):
        found = "".join(f"<li><b>{_e(f['id'])}</b>: {_e(f['text'])} ({_e(f['source'])})</li>" for f in doc["findings"])
        body.append(f"<h2>Findings in the provider's documentation</h2><ul>{found}</ul>")
    if doc.get("extensions"):
        seen = "".join(
            f"<li><code>{_e(x['where'])}</code>: <code>{_e(x['field'])}</code></li>" for x in doc["extensions"]
        )
        body.append(f"<h2>Extension fields seen (informational)</h2><ul>{seen}</ul>")
    title = f"maascheck conformance: {_e(doc['summary']['verdict'])}"
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        f"<style>{CSS}</style></head><body>{''.join(body)}</body></html>\n"
    )
