"""`maascheck conformance`: run the conformance suite (pytest + the maascheck plugin) against an endpoint.

Everything after a bare `--` goes to pytest untouched (e.g. `-- -k STREAM -x`).
Exit codes: 0 pass, 1 the target failed under the --verdict view (compat by default: client breakage,
5xx, hangs, truncation, arithmetic; strict: every MUST; SHOULD too with --strict), 2 bad usage,
130 interrupted.
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from pathlib import Path

from maascheck.conformance.engine.options import CONFORMANCE_OPTIONS
from maascheck.core.errors import EXIT_INTERRUPTED
from maascheck.core.options import Values
from maascheck.core.paths import refuse_shared_report_dir
from maascheck.core.preflight import check_target, write_findings

RULES_MODULE = Path(__file__).resolve().parent / "test_rules.py"


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the conformance options (the pytest plugin's, from the same table)."""
    CONFORMANCE_OPTIONS.add_to_argparse(parser)


def resolve(args: argparse.Namespace) -> Values:
    """The validated options of `args` (ConfigError, exit 2, on any bad value; before any request)."""
    return CONFORMANCE_OPTIONS.resolve(CONFORMANCE_OPTIONS.raw_from(args))


def pytest_args(values: Values, report_dir: Path, passthrough: list[str] | None = None) -> list[str]:
    """The pytest command line for `values` (prefixed plugin options, so no other plugin's names collide)."""
    options = CONFORMANCE_OPTIONS.argv(values.replace(report_dir=str(report_dir)), "--maascheck-", only_given=True)
    return [
        str(RULES_MODULE),
        "-p",
        "no:cacheprovider",
        "-o",
        "console_output_style=count",
        "-rfE",
        f"--junitxml={report_dir / 'junit.xml'}",
        *options,
        *(passthrough or []),
    ]


def run(args: argparse.Namespace) -> int:
    """Run the suite in-process with pytest; print where the reports are and the verdict."""
    import pytest

    values = resolve(args)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    report_dir = Path(values.report_dir or f"reports/conformance-{stamp}")
    refuse_shared_report_dir(report_dir, bool(values.overwrite))  # ConfigError (exit 2) before any request
    found = check_target(
        values.base_url,
        values.model,
        api_key_env=values.api_key_env,
        profile=values.profile,
        enabled=not values.no_preflight,
    )  # PreflightFailed (exit 2, what to fix) before pytest starts
    values = values.replace(preflight_result=str(write_findings(found, report_dir)))
    code = int(pytest.main(pytest_args(values, report_dir, list(getattr(args, "passthrough", [])))))
    results = report_dir / "results.json"
    if results.is_file():
        doc = json.loads(results.read_text(encoding="utf-8"))
        s = doc["summary"]
        both = ", ".join(f"{name} {v['verdict'].upper()}" for name, v in s.get("views", {}).items())
        print(
            f"maascheck conformance: {s['verdict'].upper()} by --verdict {s.get('view', 'compat')} "
            f"({both}; {doc['run']['requests_made']} requests); "
            f"reports in {report_dir}/ (results.json, summary.md, summary.html, junit.xml)"
        )
    if code in (EXIT_INTERRUPTED, int(pytest.ExitCode.INTERRUPTED)):  # the plugin reports an interrupt as 130
        return EXIT_INTERRUPTED
    if code in (
        int(pytest.ExitCode.USAGE_ERROR),
        int(pytest.ExitCode.INTERNAL_ERROR),
        int(pytest.ExitCode.NO_TESTS_COLLECTED),
    ):
        return 2
    return code
