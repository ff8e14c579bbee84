"""The client matrix against the simulator: real clients pass on the clean simulator; a missing client is a skip.

Clients come from `maascheck clients install` (nox -s tests and CI run it); a client that is not installed
makes its tests skip with the command that installs it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from maascheck.conformance.clients.catalog import CLIENTS, Client
from maascheck.conformance.clients.impact import matrix_breaks
from maascheck.conformance.clients.install import installed
from maascheck.conformance.clients.scenarios import SCENARIOS
from tests.conformance.clients.matrix_run import run_matrix

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


def _need(client: Client) -> None:
    if installed(client) is None:
        pytest.skip(f"{client.name} is not installed: run `{client.install_hint}`")


@pytest.mark.parametrize("client", CLIENTS, ids=lambda c: c.name)
def test_every_scenario_passes_on_the_clean_simulator(client: Client) -> None:
    _need(client)
    results, _ = run_matrix(client.name)
    mine = {r.rule.id: r for r in results if r.rule.client == client.name}
    assert len(mine) == len(SCENARIOS)
    bad = {i: (r.outcome, r.message or r.reason) for i, r in mine.items() if r.outcome != "passed"}
    assert not bad, bad


def test_replay_makes_no_request_beyond_the_suites_own_probes() -> None:
    client = CLIENTS[0]
    _need(client)
    _, replay_requests = run_matrix(client.name)
    live, live_requests = run_matrix(client.name, mode="live")
    mine = [r for r in live if r.rule.client == client.name]
    assert mine and all(r.outcome == "passed" for r in mine), [(r.rule.id, r.message) for r in mine]
    assert replay_requests == len(SCENARIOS)  # one probe per scenario, each replayed, none repeated
    assert live_requests == 2 * len(SCENARIOS)  # live: the client's own request per scenario, in the budget


def test_a_failed_wire_rule_names_the_clients_that_broke_on_its_exchange() -> None:
    client = CLIENTS[0]
    _need(client)
    results, _ = run_matrix(client.name, "usage-unrequested", areas=("usage",))
    breaks = matrix_breaks(results)
    assert set(breaks) == {"USAGE-006"}, breaks
    assert [b.client for b in breaks["USAGE-006"]] == [client.name]  # USAGE-006 shows the plain stream
    assert all("IndexError" in b.failure for b in breaks["USAGE-006"])


def test_a_client_that_is_not_installed_is_a_skip_that_says_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAASCHECK_CACHE_DIR", str(tmp_path))
    results, _ = run_matrix("litellm")
    mine = [r for r in results if r.rule.client == "litellm"]
    assert mine and all(r.outcome == "skipped" for r in mine)
    assert all("maascheck clients install --clients litellm" in (r.reason or "") for r in mine)


def test_without_clients_the_matrix_rules_skip_and_say_how_to_run_them() -> None:
    results, _ = run_matrix("")
    assert results and all(r.outcome == "skipped" and "--clients all" in (r.reason or "") for r in results)
