"""The preflight of a load run (`maascheck.core.preflight`), on both faces.

`maascheck load` runs it before Locust starts and hands its findings to the Locust process as a
JSON file (`--preflight-result`); the native entry (`locust -f loadtests/locustfile.py`) runs it in
the master (or the single local process) when Locust initialises. A target that cannot be tested
stops the run with exit 2 and the preflight's message, before any load is sent.
"""

from __future__ import annotations

import sys
from typing import Any

from maascheck.core.errors import ConfigError
from maascheck.core.preflight import PreflightResult, check_target, read_findings
from maascheck.load.workload.payloads import SCENARIOS


def run_for_load(base_url: str, model: str, *, api_key_env: str, profile: str, scenario: str,
                 enabled: bool) -> PreflightResult:  # fmt: skip
    """The preflight of a load run of `scenario` (PreflightFailed, exit 2, when the target cannot be tested)."""
    return check_target(
        base_url,
        model,
        api_key_env=api_key_env,
        profile=profile,
        generate_path=SCENARIOS.get(scenario, "/chat/completions"),
        enabled=enabled,
    )


def preflight_on_init(options: Any, host: str | None) -> dict[str, Any] | None:
    """Locust master/local: the findings (read from `--preflight-result`, else a fresh preflight).

    A failed preflight prints its message and exits 2 before any user starts.
    """
    from maascheck.load.run.options import locust_values

    try:
        v = locust_values(options, host)
        if v.preflight_result:
            return read_findings(v.preflight_result)
        found = run_for_load(
            v.base_url, v.model, api_key_env=v.api_key_env, profile=v.profile, scenario=v.scenario,
            enabled=not v.no_preflight,
        )  # fmt: skip
    except ConfigError as exc:
        print(f"maascheck load: error: {exc}", file=sys.stderr, flush=True)
        raise SystemExit(2) from None
    return found.to_dict()
