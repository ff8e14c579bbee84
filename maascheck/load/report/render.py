"""Render a load run's report files from its results.json and requests.jsonl alone.

`render_all(report_dir)` writes summary.csv, requests.csv, report.md and report.html next to the
documents and returns their paths. Every string read from the documents passes through a
`maascheck.core.secrets.Redactor` first (keys from OPENAI_API_KEY, MAASCHECK_SIM_KEY, the run's
`target.api_key_env` when recorded, plus bearer-token and `sk-` shapes), and the HTML and Markdown
renderers escape all text. Usage: `python -m maascheck.load.report.render REPORT_DIR` re-renders a run.

With `baseline=OLD_RESULTS`, the comparison (`maascheck.load.measure.baseline.compare`) is first stored in the
run's results.json `baseline` field, so the document stays the source of every rendering.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from maascheck.core.errors import ConfigError
from maascheck.core.secrets import Redactor
from maascheck.load.measure.baseline import DEFAULT_THRESHOLD_PCT, compare
from maascheck.load.measure.reader import RESULTS_FILE, load_results, read_run
from maascheck.load.report.csv_files import render_requests_csv, render_summary_csv
from maascheck.load.report.html_page import render_html
from maascheck.load.report.markdown import render_md

FILES = {"csv": "summary.csv", "requests_csv": "requests.csv", "md": "report.md", "html": "report.html"}


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def attach_baseline(
    report_dir: Path, baseline: Path | str, threshold_pct: float = DEFAULT_THRESHOLD_PCT
) -> bool:
    """Store the comparison with `baseline` in report_dir/results.json; returns whether it regressed."""
    path = Path(report_dir) / RESULTS_FILE
    doc = load_results(path)
    doc["baseline"] = compare(doc, baseline, threshold_pct)
    _write_atomic(path, json.dumps(doc, indent=2) + "\n")
    return bool(doc["baseline"]["regressed"])


def render_all(
    report_dir: Path,
    *,
    baseline: Path | str | None = None,
    baseline_threshold_pct: float = DEFAULT_THRESHOLD_PCT,
    redactor: Redactor | None = None,
) -> dict[str, Path]:
    """Write the four renderings into `report_dir`; returns {"csv", "requests_csv", "md", "html"} -> path.

    Raises ConfigError when results.json (or the `baseline`, when given) is missing or is not a load
    results document.
    """
    report_dir = Path(report_dir)
    if baseline:
        attach_baseline(report_dir, baseline, baseline_threshold_pct)
    docs = read_run(report_dir, redactor)
    texts = {
        "csv": render_summary_csv(docs),
        "requests_csv": render_requests_csv(docs),
        "md": render_md(docs),
        "html": render_html(docs),
    }
    out: dict[str, Path] = {}
    for key, text in texts.items():
        path = report_dir / FILES[key]
        _write_atomic(path, text)
        out[key] = path
    return out


def main(argv: list[str] | None = None) -> int:
    """`python -m maascheck.load.report.render REPORT_DIR...`: re-render existing runs."""
    dirs = sys.argv[1:] if argv is None else argv
    if not dirs:
        print("usage: python -m maascheck.load.report.render REPORT_DIR [REPORT_DIR...]", file=sys.stderr)
        return 2
    for d in dirs:
        try:
            paths = render_all(Path(d))
        except ConfigError as exc:
            print(f"maascheck.load.report.render: error: {exc}", file=sys.stderr)
            return 2
        print(paths["html"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
