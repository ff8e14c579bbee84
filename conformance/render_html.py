"""results.json -> one self-contained HTML page (inline CSS, no scripts, no network)."""

from __future__ import annotations

import json
from html import escape
from typing import Any

CSS = """body{font:14px/1.4 system-ui,sans-serif;margin:2em;max-width:80em}table{border-collapse:collapse;width:100%}
td,th{border:1px solid #ccc;padding:.3em .5em;text-align:left;vertical-align:top}th{background:#f4f4f4}
.passed{color:#176f2c}.failed,.error,.xpassed{color:#b00020;font-weight:bold}.skipped{color:#777}.xfailed{color:#a15c00}
pre{background:#f7f7f7;padding:.5em;overflow-x:auto;white-space:pre-wrap;max-height:30em}code{background:#f3f3f3}
.verdict-pass{color:#176f2c}.verdict-fail{color:#b00020}"""


def _e(value: Any) -> str:
    return escape(str(value if value is not None else ""))


def _exchange(ex: dict[str, Any]) -> str:
    req, resp = ex["request"], ex["response"]
    status = resp["status"] if resp["status"] is not None else ex.get("error")
    parts = [
        f"<details><summary>{_e(ex['probe'])}: {_e(req['method'])} {_e(req['url'])} &rarr; {_e(status)}</summary>",
        f"<p>reproduce:</p><pre>{_e(ex['curl'])}</pre>",
    ]
    if req.get("body"):
        parts.append(f"<p>request body:</p><pre>{_e(req['body'])}</pre>")
    headers = "\n".join(f"{k}: {v}" for k, v in resp.get("headers", []))
    parts.append(f"<p>response headers:</p><pre>{_e(headers)}</pre>")
    if resp.get("events"):
        events = "\n".join(
            f"+{e['t_ms']:.1f} ms  {'event: ' + e['event'] + '  ' if e.get('event') else ''}{e['data']}"
            for e in resp["events"]
        )
        parts.append(f"<p>events (arrival time):</p><pre>{_e(events)}</pre>")
    elif resp.get("body"):
        parts.append(
            f"<p>response body{' (truncated)' if resp.get('body_truncated') else ''}:</p><pre>{_e(resp['body'])}</pre>"
        )
    if ex.get("error"):
        parts.append(f"<p>transport: {_e(ex['error'])}</p>")
    return "".join(parts) + "</details>"


def _rule_row(r: dict[str, Any]) -> str:
    detail = _e(r.get("message") or r.get("reason") or "")
    ev = r.get("evidence")
    if ev:
        detail += (
            f"<details><summary>evidence</summary><p>expected: <code>{_e(json.dumps(ev.get('expected'), ensure_ascii=False))}"
            f"</code><br>received: <code>{_e(json.dumps(ev.get('received'), ensure_ascii=False))[:2000]}</code>"
            f"<br>where: {_e(ev.get('where'))}</p>"
            + "".join(_exchange(x) for x in ev.get("exchanges", []))
            + "</details>"
        )
    return (
        f'<tr><td>{_e(r["id"])}</td><td>{_e(r["level"])}</td><td class="{_e(r["outcome"])}">{_e(r["outcome"])}</td>'
        f"<td>{_e(r['title'])}<br><small>{_e(r['source'])}</small></td><td>{detail}</td></tr>"
    )


def render_html(doc: dict[str, Any]) -> str:
    """The HTML summary of one run."""
    from conformance.report import by_area

    run, summary, target, profile = doc["run"], doc["summary"], doc["target"], doc["profile"]
    counts = ", ".join(f"{v} {k}" for k, v in summary["counts"].items() if v)
    head = (
        f'<h1 class="verdict-{_e(summary["verdict"])}">Conformance: {_e(summary["verdict"].upper())}</h1><ul>'
        f"<li>target: <code>{_e(target['base_url'])}</code> model <code>{_e(target['model'])}</code></li>"
        f"<li>profile: <code>{_e(profile['name'])}</code> ({_e(profile['title'])})</li>"
        f"<li>requests made: {_e(run['requests_made'])} (budget {_e(run['max_requests'])})</li>"
        f"<li>rules: {_e(counts)}; MUST failed {_e(summary['must_failed'])}, SHOULD failed {_e(summary['should_failed'])}"
        f"{' (strict)' if run['strict'] else ''}</li>"
        f"<li>started {_e(run['started_utc'])}, {_e(run['duration_s'])} s{' (interrupted)' if run['interrupted'] else ''}</li>"
        f"<li>reproduce: <code>{_e(run['reproduce'])}</code></li></ul>"
    )
    body = [head]
    for area, rules in by_area(doc["rules"]).items():
        body.append(
            f"<h2>{_e(area)}</h2><table><tr><th>rule</th><th>level</th><th>outcome</th><th>fact</th><th>detail</th></tr>"
            + "".join(_rule_row(r) for r in rules)
            + "</table>"
        )
    if doc.get("findings"):
        body.append(
            "<h2>Findings in the provider's documentation</h2><ul>"
            + "".join(
                f"<li><b>{_e(f['id'])}</b>: {_e(f['text'])} ({_e(f['source'])})</li>" for f in doc["findings"]
            )
            + "</ul>"
        )
    if doc.get("extensions"):
        body.append(
            "<h2>Extension fields seen</h2><ul>"
            + "".join(
                f"<li><code>{_e(x['where'])}</code>: <code>{_e(x['field'])}</code></li>"
                for x in doc["extensions"]
            )
            + "</ul>"
        )
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>maascheck conformance: '
        f"{_e(summary['verdict'])}</title><style>{CSS}</style></head><body>{''.join(body)}</body></html>\n"
    )
