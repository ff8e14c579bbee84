"""The client-breaking faults break the clients the pinned table says, and the clean simulator breaks none.

The table (break_table.json) is data: a client upgrade (a new pin) or a changed fault that moves any
cell fails here and prints the new table; regenerate it with
`python -m tests.conformance.clients.break_table > tests/conformance/clients/break_table.json`.
Every CLIENT-... rule is broken by at least one fault of the table (the matrix's fault proof).
"""

from __future__ import annotations

import json

import pytest

from maascheck.conformance import rules
from maascheck.conformance.clients.catalog import CLIENTS
from maascheck.conformance.clients.install import installed
from maascheck.conformance.model.rule import RULES
from maascheck.sim.faults import all_faults
from tests.conformance.clients.break_table import CLEAN, FAULTS, TABLE_FILE, table

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]
rules.load_all()
PINNED = json.loads(TABLE_FILE.read_text(encoding="utf-8"))


def test_the_table_covers_every_fault_and_every_matrix_rule() -> None:
    assert list(PINNED) == [CLEAN, *FAULTS]
    assert set(FAULTS) <= set(all_faults())
    assert all(not broken for broken in PINNED[CLEAN].values()), "the clean simulator breaks no client"
    broken = {f"CLIENT-{c.id}-{s.upper()}" for row in PINNED.values() for c in CLIENTS for s in row.get(c.name, [])}
    matrix_rules = {r for r, rule in RULES.items() if rule.area == "clients"}
    assert matrix_rules - broken == set(), "matrix rules no fault of the table breaks"


def test_the_clients_break_as_pinned() -> None:
    missing = [c.name for c in CLIENTS if installed(c) is None]
    if missing:
        pytest.skip(f"clients not installed: {', '.join(missing)}: run `maascheck clients install`")
    now = table()
    assert now == PINNED, (
        "the client break table changed (a client upgrade or a changed fault); if intended, pin it:\n"
        f"python -m tests.conformance.clients.break_table > {TABLE_FILE}\nnew table:\n{json.dumps(now, indent=1)}"
    )
