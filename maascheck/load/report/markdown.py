"""report.md: the load report as GitHub-flavoured Markdown (tables, no images).

Text is rendered by `maascheck.core.inert` (`md_inline`, `md_block`): HTML specials as character
references, Markdown punctuation escaped, control characters as visible escapes, so target-controlled
strings cannot inject markup, break the table, or reach a terminal raw.
"""

from __future__ import annotations

from maascheck.core.inert import md_block, md_inline
from maascheck.load.measure.reader import RunDocs, section
from maascheck.load.report.session_tables import SESSION_DEFINITION, sessions_table
from maascheck.load.report.tables import (
    INPUT_TOKENS_NOTE,
    Table,
    baseline_table,
    connections_table,
    error_kind_table,
    error_message_table,
    input_tokens_table,
    invalid_note,
    load_table,
    metric_table,
    outcome_table,
    protocol_table,
    reproduce_line,
    slo_table,
    target_table,
    throughput_table,
    tokens_table,
    trace_table,
    validity_table,
    verdict,
    warnings,
)


def md_escape(text: str) -> str:
    """Text for a Markdown table cell or paragraph, on one line (`maascheck.core.inert.md_inline`)."""
    return md_inline(" ".join(text.split()))


def md_table(t: Table) -> str:
    """A Markdown table, or `_none_`."""
    if not t.rows:
        return "_none_\n"
    lines = ["| " + " | ".join(md_escape(h) for h in t.headers) + " |", "|" + "---|" * len(t.headers)]
    lines += ["| " + " | ".join(md_escape(c) for c in row) + " |" for row in t.rows]
    return "\n".join(lines) + "\n"


def render_md(docs: RunDocs) -> str:
    """The whole Markdown report."""
    target, run = section(docs.results, "target"), section(docs.results, "run")
    passed, reasons = verdict(docs)
    out = [
        f"# maascheck load report: {md_escape(str(target.get('model', '?')))} @ "
        f"{md_escape(str(target.get('base_url', '?')))}\n",
        f"Run {md_escape(str(run.get('id', '?')))}, "
        f"started {md_escape(str(run.get('started_utc', '?')))} UTC.\n",
        "**Verdict: "
        + (
            "INTERRUPTED**"
            if section(docs.results, "verdict").get("interrupted")
            else "INVALID**"
            if invalid_note(docs) and not section(docs.results, "validity").get("allowed")
            else "PASS**"
            if passed
            else "FAIL**"
            if passed is False
            else "none recorded**"
        )
        + "\n",
    ]
    out += [f"- {md_escape(r)}" for r in reasons]
    warns = warnings(docs)
    if warns:
        out.append("\n> **Warnings**\n>")
        out += [f"> - {md_escape(w)}" for w in warns]
    repro = reproduce_line(docs)
    if section(docs.results, "validity"):
        note = invalid_note(docs)
        allowed = " (allowed by --allow-invalid)" if section(docs.results, "validity").get("allowed") else ""
        head = f"**Invalid**{allowed}: the load generator fell behind.\n" if note else "Valid: the generator kept up.\n"
        out += ["\n## Run validity\n", head]
        out.append(md_table(validity_table(docs)))
    out += [
        "\n## SLOs\n",
        md_table(slo_table(docs)),
        "## Protocol errors\n",
        md_table(protocol_table(docs)),
        "## Plots\n",
        "The plots are in report.html: TTFT and ITL distributions, latency over time (requests cancelled at "
        "the stop as their own series), throughput over time, tokens per completed request.\n",
        "## Target and load settings\n",
        md_table(target_table(docs)),
        md_table(load_table(docs)),
        "Reproduce:\n",
        md_block(repro or "not recorded") + "\n",
        "## Metrics\n",
        md_table(metric_table(docs)),
        "## Throughput\n",
        md_table(throughput_table(docs)),
        "## Requests and errors\n",
        md_table(outcome_table(docs)),
        "### Errors by kind\n",
        md_table(error_kind_table(docs)),
        "### Most frequent error messages\n",
        md_table(error_message_table(docs)),
        "### Connections\n",
        md_table(connections_table(docs)),
        "## Token accounting\n",
        md_table(tokens_table(docs)),
        "### Input tokens: requested and server-counted\n",
        md_table(input_tokens_table(docs)),
        md_escape(INPUT_TOKENS_NOTE) + "\n",
    ]
    replay = trace_table(docs)
    if replay is not None:
        out += ["## Trace replay\n", md_table(replay)]
    sessions = sessions_table(docs)
    if sessions is not None:
        out += ["## Sessions\n", md_table(sessions), md_escape(SESSION_DEFINITION) + "\n"]
    base = baseline_table(docs)
    if base is not None:
        out += [
            "## Baseline comparison\n",
            f"Compared with {md_escape(str(section(docs.results, 'baseline').get('path', '?')))}.\n",
            md_table(base),
        ]
    return "\n".join(out)
