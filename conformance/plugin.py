"""The maascheck pytest plugin (being written): inert unless --base-url is given."""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register the maascheck option group."""
    group = parser.getgroup("maascheck", "maascheck conformance suite")
    group.addoption("--base-url", dest="maascheck_base_url", default=None, help="endpoint base URL")
