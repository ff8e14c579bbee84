"""results.json -> one self-contained HTML page (inline CSS, no scripts, nothing fetched).

Every value is escaped by `maascheck.core.inert.html_text`: markup from the target is shown as text and
control characters as visible escapes.
"""

from __future__ import annotations

import json
from typing import Any

from maascheck.core.inert import html_text

CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:2em;max-width:80em}
table{border-collapse:collapse;width:100%}
td,th{border:1px solid #ccc;padding:.3em .5em;text-align:left;vertical-align:top}th{background:#f4f4f4}
.passed{color:#176f2c}.failed,.error,.xpassed{color:#b00020;font-weight:bold}.skipped{color:#777}
.xfailed{color:#a15c00}.verdict-pass{color:#176f2c}.verdict-fail{color:#b00020}
pre{background:#f7f7f7;padding:.5em;overflow-x:auto;white-space:pre-wrap;max-height:30em}code{background:#f3f3f3}
"""


def _e(value: Any) -> str:
    return html_text(value)


def _json(value: Any, limit: int = 2000) -> str:
    return _e(json.dumps(value, ensure_ascii=False)[:limit])


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
        f"<p>expected: <code>{_json(ev.get('expected'))}</code><br>"
        f"received: <code>{_json(ev.get('received'))}</code><br>where: {_e(ev.get('where'))}</p>"
    )
    exchanges = "".join(_exchange(x) for x in ev.get("exchanges", []))
    return f"<details><summary>evidence</summary>{facts}{exchanges}</details>"


def _rule_row(r: dict[str, Any]) -> str:
    detail = _e(r.get("message") or r.get("reason") or "")
    if r.get("evidence"):
        detail += _evidence(r["evidence"])
    cells = [
        _e(r["id"]),
        _e(r["level"]),
        f'<span class="{_e(r["outcome"])}">{_e(r["outcome"])}</span>',
        f"{_e(r['title'])}<br><small>{_e(r['source'])}</small>",
        detail,
    ]
    return f'<tr id="{_e(r["id"])}">' + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"


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
    title = f'<h1 class="verdict-{_e(verdict)}">Conformance: {_e(verdict.upper())}</h1>'
    return title + "<ul>" + "".join(f"<li>{i}</li>" for i in items) + "</ul>"


def render_html(doc: dict[str, Any]) -> str:
    """The HTML summary of one run."""
    from maascheck.conformance.report import client_matrix
    from maascheck.conformance.report.summary import by_area

    body = [_header(doc), client_matrix.render_html(doc)]
    head_row = "<tr><th>rule</th><th>level</th><th>outcome</th><th>fact</th><th>detail</th></tr>"
    for area, rules in by_area(doc["rules"]).items():
        body.append(
            f"<h2>{_e(area)}</h2><table>{head_row}" + "".join(_rule_row(r) for r in rules) + "</table>"
        )
    if doc.get("findings"):
        items = "".join(
            f"<li><b>{_e(f['id'])}</b>: {_e(f['text'])} ({_e(f['source'])})</li>" for f in doc["findings"]
        )
        body.append(f"<h2>Findings in the provider's documentation</h2><ul>{items}</ul>")
    if doc.get("extensions"):
        items = "".join(
            f"<li><code>{_e(x['where'])}</code>: <code>{_e(x['field'])}</code></li>"
            for x in doc["extensions"]
        )
        body.append(f"<h2>Extension fields seen (informational)</h2><ul>{items}</ul>")
    title = f"maascheck conformance: {_e(doc['summary']['verdict'])}"
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        f"<style>{CSS}</style></head><body>{''.join(body)}</body></html>\n"
    )
