"""The client catalog: pins as data, one rule per client and scenario, bad --clients values are usage errors."""

from __future__ import annotations

import pytest

from maascheck.conformance import rules
from maascheck.conformance.clients.catalog import CLIENTS, select
from maascheck.conformance.clients.scenarios import SCENARIOS
from maascheck.conformance.engine.options import CONFORMANCE_OPTIONS
from maascheck.conformance.model.rule import RULES
from maascheck.core.errors import ConfigError

rules.load_all()


def test_the_catalog_names_the_clients_the_matrix_promises() -> None:
    names = {c.name for c in CLIENTS}
    assert names == {"openai-python", "openai-python-0.28", "langchain-openai", "litellm", "openai-node", "ai-sdk"}
    assert len({c.id for c in CLIENTS}) == len(CLIENTS)
    assert all(c.adapter_path.is_file() for c in CLIENTS)
    assert all(version and version[0].isdigit() for c in CLIENTS for _, version in c.packages)


def test_one_rule_per_client_and_scenario_with_the_client_named() -> None:
    matrix = {r.id: r for r in RULES.values() if r.area == "clients"}
    assert len(matrix) == len(CLIENTS) * len(SCENARIOS)
    for c in CLIENTS:
        for s in SCENARIOS:
            r = matrix[f"CLIENT-{c.id}-{s.name.upper()}"]
            assert r.client == c.name and r.level is c.level and r.probes == (s.probe,)


def test_select_reads_all_and_lists() -> None:
    assert select("all") == CLIENTS
    assert [c.name for c in select("litellm, openai-node")] == ["litellm", "openai-node"]


@pytest.mark.parametrize("spec", ["openai-pyhton", "", "all,nope"])
def test_an_unknown_client_is_a_usage_error_naming_the_valid_ones(spec: str) -> None:
    with pytest.raises(ConfigError) as err:
        select(spec)
    assert (
        "valid: all" in str(err.value) and "langchain-openai" in str(err.value) and "e.g. --clients" in str(err.value)
    )


def test_an_unknown_mode_is_a_usage_error() -> None:
    with pytest.raises(ConfigError, match="--clients-mode 'recorded': expected one of replay, live"):
        CONFORMANCE_OPTIONS.resolve({"base_url": "http://127.0.0.1:1/v1", "model": "m", "clients_mode": "recorded"})
