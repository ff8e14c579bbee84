"""The client matrix against the real server: every installed client runs every scenario the server offers.

Replay mode: the matrix run makes exactly the requests of the suite's own probes (the same count as a
run without the matrix). Each cell's outcome is a finding about llama-cpp-python's server, printed as
the matrix; a cell may fail (a real incompatibility), but no cell is a rule error, and none is skipped
for want of an installed client when `maascheck clients install` ran (nox -s e2e runs it).
"""

from __future__ import annotations

from typing import Any

import pytest

from maascheck.conformance.clients.catalog import CLIENTS
from maascheck.conformance.clients.install import installed
from maascheck.conformance.report.client_matrix import render_markdown
from maascheck.orchestrate.real_server import RealServer

from .test_conformance import run_conformance

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def matrix_results(server: RealServer, server_env: dict[str, str]) -> dict[str, Any]:
    env = dict(server_env, MAASCHECK_CLIENTS="all")
    return run_conformance(server, env, name="e2e-client-matrix")


@pytest.fixture(scope="module")
def plain_results(server: RealServer, server_env: dict[str, str]) -> dict[str, Any]:
    env = {k: v for k, v in server_env.items() if k != "MAASCHECK_CLIENTS"}
    return run_conformance(server, env, name="e2e-client-matrix-off")


def test_every_installed_client_runs_and_no_cell_is_an_error(matrix_results: dict[str, Any]) -> None:
    print("\n".join(render_markdown(matrix_results)))
    cells = [r for r in matrix_results["rules"] if r.get("client")]
    assert {r["client"] for r in cells} == {c.name for c in CLIENTS}
    assert not [r["id"] for r in cells if r["outcome"] == "error"]
    for c in CLIENTS:
        mine = [r for r in cells if r["client"] == c.name]
        if installed(c) is None:
            assert all(r["outcome"] == "skipped" and "clients install" in r["reason"] for r in mine)
            continue
        assert all(r["client_version"] for r in mine)
        not_installed = [r["id"] for r in mine if "not installed" in (r.get("reason") or "")]
        assert not not_installed
        assert any(r["outcome"] in ("passed", "failed") for r in mine), f"{c.name} judged nothing"


def test_replay_costs_no_request_beyond_the_suites_own(
    matrix_results: dict[str, Any], plain_results: dict[str, Any]
) -> None:
    # Live cells would cost one request each (54); the suite's own count against this server varies by one
    # between two runs (seen 86 vs 85 with the same outcomes everywhere), so one is allowed either way.
    assert abs(matrix_results["run"]["requests_made"] - plain_results["run"]["requests_made"]) <= 1
