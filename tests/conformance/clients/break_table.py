"""The pinned break table: which clients each client-breaking fault breaks, scenario by scenario.

Regenerate after a client upgrade (a pin in maascheck/conformance/clients/pins.json) or a new fault:
`python -m tests.conformance.clients.break_table > tests/conformance/clients/break_table.json`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from maascheck.conformance.clients.catalog import CLIENTS
from tests.conformance.clients.matrix_run import run_matrix

TABLE_FILE = Path(__file__).with_name("break_table.json")
# The deviations users report against clients (issue trackers of the SDKs, LangChain, LiteLLM, ...).
FAULTS = (
    "usage-unrequested",
    "tool-fragment-no-index",
    "tool-arguments-cut",
    "stream-no-done",
    "stream-truncated",
    "reasoning-dropped",
    "client-reasoning-renamed",
    "client-tool-arguments-object",
    "client-body-not-json",
    "client-event-not-json",
    "error-detail-envelope",
    "client-error-status-200",
)
CLEAN = "(no fault)"


def row(*faults: str) -> dict[str, list[str]]:
    """{client: the scenarios that failed} under `faults`, every client of the catalog listed."""
    results, _ = run_matrix("all", *faults)
    out: dict[str, list[str]] = {c.name: [] for c in CLIENTS}
    for r in results:
        if r.outcome in ("failed", "error") and r.rule.client is not None:
            out[r.rule.client].append(r.rule.id.rsplit("-", 1)[1].lower())
    return {c: sorted(s) for c, s in out.items()}


def table() -> dict[str, Any]:
    """The whole table: the clean simulator first, then each fault."""
    return {CLEAN: row()} | {f: row(f) for f in FAULTS}


if __name__ == "__main__":
    print(json.dumps(table(), indent=1, sort_keys=False))
