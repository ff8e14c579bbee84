"""`maascheck conformance`: run the conformance suite (pytest + the maascheck plugin) against an endpoint.

Everything after a bare `--` goes to pytest untouched (e.g. `-- -k STREAM -x`).
Exit codes: 0 pass, 1 the target failed (MUST failures; SHOULD too with --strict), 2 bad usage,
130 interrupted.
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from pathlib import Path

from maascheck.conformance.engine.options import DEFAULT_MAX_REQUESTS
from maascheck.core.errors import ConfigError
from maascheck.core.profiles import load_profile
from maascheck.core.secrets import DEFAULT_KEY_ENV, read_api_key

RULES_MODULE = Path(__file__).resolve().parent / "test_rules.py"


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the conformance options (the same as the pytest plugin's)."""
    parser.add_argument("--base-url", required=True, help="endpoint base URL, e.g. http://127.0.0.1:8000/v1")
    parser.add_argument("--model", required=True, help="chat model under test, e.g. sim-chat")
    parser.add_argument(
        "--profile", default="openai", help="provider profile name or .json path (default openai)"
    )
    parser.add_argument("--vision-model", help="vision model (default: the profile's)")
    parser.add_argument("--reasoning-model", help="reasoning model (default: the profile's)")
    parser.add_argument("--report-dir", help="report folder (default reports/conformance-<UTC>)")
    parser.add_argument(
        "--max-requests", type=int, default=DEFAULT_MAX_REQUESTS, help="request budget (default %(default)s)"
    )
    parser.add_argument("--strict", action="store_true", help="SHOULD failures fail the run too")
    parser.add_argument("--seed", type=int, default=0, help="seed for generated requests (default 0)")
    parser.add_argument(
        "--api-key-env",
        default=DEFAULT_KEY_ENV,
        help="environment variable holding the API key (default %(default)s)",
    )
    parser.add_argument(
        "--stall-timeout",
        type=float,
        default=20.0,
        help="seconds without a stream byte = stalled (default 20)",
    )


def pytest_args(args: argparse.Namespace, report_dir: Path) -> list[str]:
    """The pytest command line for `args` (prefixed plugin options, so no other plugin's names collide)."""
    out = [
        str(RULES_MODULE),
        "-p",
        "no:cacheprovider",
        "-o",
        "console_output_style=count",
        "-rfE",
        f"--junitxml={report_dir / 'junit.xml'}",
        f"--maascheck-base-url={args.base_url}",
        f"--maascheck-model={args.model}",
        f"--maascheck-profile={args.profile}",
        f"--maascheck-report-dir={report_dir}",
        f"--maascheck-max-requests={args.max_requests}",
        f"--maascheck-seed={args.seed}",
        f"--maascheck-api-key-env={args.api_key_env}",
        f"--maascheck-stall-timeout={args.stall_timeout}",
    ]
    if args.vision_model:
        out.append(f"--maascheck-vision-model={args.vision_model}")
    if args.reasoning_model:
        out.append(f"--maascheck-reasoning-model={args.reasoning_model}")
    if args.strict:
        out.append("--maascheck-strict")
    return out + list(getattr(args, "passthrough", []))


def _validate(args: argparse.Namespace) -> None:
    if not str(args.base_url).startswith(("http://", "https://")):
        raise ConfigError(
            f"--base-url must be an http(s) URL, got {args.base_url!r}; e.g. http://127.0.0.1:8000/v1"
        )
    if args.max_requests < 1:
        raise ConfigError(
            f"--max-requests must be at least 1, got {args.max_requests}; e.g. --max-requests 150"
        )
    if args.stall_timeout <= 0:
        raise ConfigError(
            f"--stall-timeout must be > 0 seconds, got {args.stall_timeout}; e.g. --stall-timeout 20"
        )
    load_profile(args.profile)  # raises ConfigError naming the valid profiles
    read_api_key(args.api_key_env)  # validates the variable name


def run(args: argparse.Namespace) -> int:
    """Run the suite in-process with pytest; print where the reports are and the verdict."""
    import pytest

    _validate(args)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    report_dir = Path(args.report_dir or f"reports/conformance-{stamp}")
    code = int(pytest.main(pytest_args(args, report_dir)))
    results = report_dir / "results.json"
    if results.is_file():
        doc = json.loads(results.read_text(encoding="utf-8"))
        s = doc["summary"]
        print(
            f"maascheck conformance: {s['verdict'].upper()} ({doc['run']['requests_made']} requests); "
            f"reports in {report_dir}/ (results.json, summary.md, summary.html, junit.xml)"
        )
    if code == int(pytest.ExitCode.INTERRUPTED):
        return 130
    if code in (
        int(pytest.ExitCode.USAGE_ERROR),
        int(pytest.ExitCode.INTERNAL_ERROR),
        int(pytest.ExitCode.NO_TESTS_COLLECTED),
    ):
        return 2
    return code
