"""The report's client matrix: clients × scenarios from results.json, each cell linked to its rule."""

from __future__ import annotations

from typing import Any

from maascheck.conformance.report.client_matrix import matrix, render_html, render_markdown


def _rule(rule_id: str, client: str, outcome: str, message: str | None = None) -> dict[str, Any]:
    return {"id": rule_id, "client": client, "client_version": "1.2.3", "outcome": outcome, "message": message}


DOC = {
    "run": {"requests_made": 42},
    "rules": [
        {"id": "CHAT-001", "outcome": "passed"},
        _rule("CLIENT-OPENAIPY-CHAT", "openai-python", "passed"),
        _rule("CLIENT-OPENAIPY-STREAM", "openai-python", "failed", "raised builtins.IndexError: list index"),
        _rule("CLIENT-LITELLM-CHAT", "litellm", "skipped"),
    ],
}


def test_the_matrix_is_read_from_the_client_rules() -> None:
    clients, scenarios, cells = matrix(DOC)
    assert clients == ["openai-python", "litellm"] and scenarios == ["chat", "stream"]
    assert cells[("openai-python", "stream")]["outcome"] == "failed"


def test_markdown_and_html_show_each_cell_with_its_failure() -> None:
    md = "\n".join(render_markdown(DOC))
    assert "| openai-python | 1.2.3 | pass | FAIL (CLIENT-OPENAIPY-STREAM) |" in md, md
    assert "IndexError" in md and "Requests made by the whole run: 42" in md
    page = render_html(DOC)
    assert '<a href="#CLIENT-OPENAIPY-STREAM">FAIL</a>' in page and "IndexError" in page


def test_no_matrix_section_when_the_matrix_did_not_run() -> None:
    skipped = {"run": {"requests_made": 1}, "rules": [_rule("CLIENT-LITELLM-CHAT", "litellm", "skipped")]}
    assert render_markdown(skipped) == [] and render_html(skipped) == ""
