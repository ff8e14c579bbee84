"""Fixtures: synthetic load runs rendered once per module (matplotlib rendering costs ~0.5 s a figure)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from maascheck.load.report.render import render_all
from tests.load.reports.synthetic import make_records, make_results, write_run

# Fake, key-shaped strings for the redaction tests (not secrets; built from parts so no key literal is stored).
SECRET = "sk-" + "test-SECRET-0123456789abcdef"
SHAPED_KEY = "sk-" + "unknownkey0123456789"  # not in the environment: redacted by its shape
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)> | `rm` =cmd'


@pytest.fixture(scope="module")
def plain_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A rendered synthetic run with an SLO (failing), a few HTTP 429s and a warm-up."""
    records = make_records(160, error_every=20)
    results = make_results(
        records, slos=[{"metric": "ttft_ms", "stat": "p95", "op": "<=", "threshold": 150.0}]
    )
    run = write_run(tmp_path_factory.mktemp("plain"), records, results)
    render_all(run)
    return run


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A rendered run whose strings are hostile markup and secrets, with a saturated client,
    a baseline comparison and one torn requests.jsonl line; the environment holds SECRET as key."""
    records = make_records(60, error_every=4, error_text=HOSTILE)
    for i, r in enumerate(records):
        if r["error"] and i % 8 == 7:
            r["error"] = f"401: invalid key {SECRET} (Authorization: Bearer {SECRET}) or {SHAPED_KEY}"
    results = make_results(
        records, model=HOSTILE, reproduce=f"OPENAI_API_KEY={SECRET} maascheck load '{HOSTILE}'"
    )
    results["client"].update(saturated=True, cpu_percent=97.0, warnings=[HOSTILE, f"Bearer abc.{SECRET}"])
    results["workload"]["kind"] = HOSTILE
    results["baseline"] = {
        "path": "reports/old/results.json",
        "threshold_pct": 10.0,
        "regressed": True,
        "warnings": [HOSTILE],
        "regressions": [
            {
                "metric": "ttft_ms",
                "stat": "p95",
                "old": 100.0,
                "new": 130.0,
                "change_pct": 30.0,
                "regressed": True,
            }
        ],
    }
    run = write_run(tmp_path_factory.mktemp("hostile"), records, results)
    with (run / "requests.jsonl").open("a") as fh:
        fh.write('{"rid": "w0-9999", "start_')
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("OPENAI_API_KEY", SECRET)
        mp.setenv("MAASCHECK_SIM_KEY", SECRET)
        render_all(run)
    yield run
