"""Human summaries rendered from results.json alone: `summary.md` and a self-contained `summary.html`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from maascheck.conformance.report.html_page import render_html
from maascheck.conformance.report.markdown import render_markdown

OUTCOME_ORDER = ("failed", "error", "xpassed", "xfailed", "skipped", "passed")


def load(path: Path) -> dict[str, Any]:
    """Read a results.json document."""
    doc: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return doc


def render_all(doc: dict[str, Any], report_dir: Path) -> list[Path]:
    """Write summary.md and summary.html next to results.json; returns their paths."""
    report_dir.mkdir(parents=True, exist_ok=True)
    md, html = report_dir / "summary.md", report_dir / "summary.html"
    md.write_text(render_markdown(doc), encoding="utf-8")
    html.write_text(render_html(doc), encoding="utf-8")
    return [md, html]


def main(argv: list[str] | None = None) -> int:
    """`python -m maascheck.conformance.report.summary DIR`: re-render a finished run's summaries from results.json."""
    import sys

    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print(
            "usage: python -m maascheck.conformance.report.summary REPORT_DIR (the folder holding results.json)",
            file=sys.stderr,
        )
        return 2
    folder = Path(args[0])
    for path in render_all(load(folder / "results.json"), folder):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
