"""The client matrix of a run, clients × scenarios, read from results.json's `CLIENT-...` rules.

Each cell is the rule's outcome with its exception or difference; it links to the rule's row, whose
evidence holds the exchange the client was served and the curl line that reproduces it. Every text
from the target (a client's exception can quote it) is made inert with `maascheck.core.inert`.
"""

from __future__ import annotations

from typing import Any

from maascheck.core.inert import html_text, md_inline

SHORT = {
    "passed": "pass",
    "failed": "FAIL",
    "skipped": "skip",
    "error": "ERROR",
    "xfailed": "xfail",
    "xpassed": "XPASS",
}


def matrix(doc: dict[str, Any]) -> tuple[list[str], list[str], dict[tuple[str, str], dict[str, Any]]]:
    """(clients in order, scenarios in order, {(client, scenario): rule entry}) of the run's matrix rules."""
    clients: list[str] = []
    scenarios: list[str] = []
    cells: dict[tuple[str, str], dict[str, Any]] = {}
    for r in doc.get("rules", []):
        client = r.get("client")
        if not client:
            continue
        scenario = str(r["id"]).rsplit("-", 1)[1].lower()
        if client not in clients:
            clients.append(client)
        if scenario not in scenarios:
            scenarios.append(scenario)
        cells[(client, scenario)] = r
    return clients, scenarios, cells


def ran(doc: dict[str, Any]) -> bool:
    """Whether the run judged any matrix cell (all skipped: the matrix was not asked for)."""
    return any(r.get("client") and r["outcome"] != "skipped" for r in doc.get("rules", []))


def _version(cells: dict[tuple[str, str], dict[str, Any]], client: str) -> str:
    return next(
        (str(r["client_version"]) for (c, _), r in cells.items() if c == client and r.get("client_version")), ""
    )


def _detail(r: dict[str, Any]) -> str:
    if r["outcome"] == "passed":
        return ""
    text = str(r.get("message") or r.get("reason") or "")
    return (text.splitlines() or [""])[0][:240]


def render_markdown(doc: dict[str, Any]) -> list[str]:
    """The matrix as Markdown lines (none when the matrix did not run)."""
    if not ran(doc):
        return []
    clients, scenarios, cells = matrix(doc)
    out = [
        "## Client matrix",
        "",
        f"Requests made by the whole run: {doc['run']['requests_made']} (replay mode serves the suite's own "
        "recorded exchanges to each client: no request beyond them).",
        "",
        "| client | version | " + " | ".join(scenarios) + " |",
        "|---|---|" + "---|" * len(scenarios),
    ]
    notes: list[str] = []
    for client in clients:
        row = []
        for s in scenarios:
            r = cells.get((client, s))
            if r is None:
                row.append("")
                continue
            row.append(
                f"{SHORT.get(r['outcome'], r['outcome'])} ({md_inline(r['id'])})"
                if r["outcome"] != "passed"
                else "pass"
            )
            if _detail(r):
                notes.append(f"- {md_inline(r['id'])} {r['outcome']}: {md_inline(_detail(r))}")
        out.append(f"| {md_inline(client)} | {md_inline(_version(cells, client))} | " + " | ".join(row) + " |")
    return [*out, "", *notes, ""] if notes else [*out, ""]


def render_html(doc: dict[str, Any]) -> str:
    """The matrix as an HTML section ('' when the matrix did not run); cells link to the rules' rows."""
    if not ran(doc):
        return ""
    e = html_text
    clients, scenarios, cells = matrix(doc)
    head = "<tr><th>client</th><th>version</th>" + "".join(f"<th>{e(s)}</th>" for s in scenarios) + "</tr>"
    rows = []
    for client in clients:
        tds = []
        for s in scenarios:
            r = cells.get((client, s))
            if r is None:
                tds.append("<td></td>")
                continue
            label = SHORT.get(r["outcome"], r["outcome"])
            title = e(_detail(r))
            tds.append(
                f'<td class="{e(r["outcome"])}" title="{title}"><a href="#{e(r["id"])}">{e(label)}</a>'
                + (f"<br><small>{e(_detail(r)[:120])}</small>" if _detail(r) else "")
                + "</td>"
            )
        rows.append(f"<tr><td>{e(client)}</td><td>{e(_version(cells, client))}</td>{''.join(tds)}</tr>")
    note = (
        f"<p>Requests made by the whole run: {e(str(doc['run']['requests_made']))} (replay mode serves the "
        "suite's own recorded exchanges to each client: no request beyond them).</p>"
    )
    return f"<h2>Client matrix</h2>{note}<table>{head}{''.join(rows)}</table>"
