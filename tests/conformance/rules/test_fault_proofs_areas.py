"""Every fault of these areas fails exactly its rule among these areas' rules; legal variations fail none.

The suite runs against the simulator (instant timing) with one fault at a time, restricted to the
rules of the areas this helper owns; the full-suite proof over every rule is
tests/conformance/test_fault_proofs.py. Vendor-parameter faults run under a profile that lists the
parameter (their rules are NotApplicable under `openai`).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from maascheck.conformance import rules
from maascheck.conformance.engine.options import RunOptions
from maascheck.conformance.engine.runner import SuiteResult, run_suite
from maascheck.conformance.model.rule import RULES
from maascheck.core.profiles import load_profile
from maascheck.sim.config import SimConfig
from maascheck.sim.faults import all_faults
from maascheck.sim.server import SimServer

AREAS = frozenset(
    {"chat", "stream", "finish", "usage", "completions", "vision", "tools", "reasoning", "defaults", "extras"}
)
PROFILE_FOR = {"ext-stop-token-ids-rejected": "maas-openmodels", "ext-repetition-penalty-rejected": "taichu"}
PROFILES = ("openai", "maas-openmodels", "taichu", "bailian", "hhaice", "llamacpp")

rules.load_all()
MINE = frozenset(r.id for r in RULES.values() if r.area in AREAS)
FAULTS = all_faults()
OWN_FAULTS = sorted(n for n, f in FAULTS.items() if f.breaks and set(f.breaks) <= MINE)
LEGAL = sorted(n for n, f in FAULTS.items() if f.legal)


def run(profile: str, faults: list[str]) -> SuiteResult:
    """The rules of these areas against a fresh simulator with `faults`, under `profile`."""
    prof = load_profile(profile)
    config = SimConfig(
        profile=profile,
        faults=faults,
        seed=1,
        decode_step_ms=0.0,
        decode_ms_per_seq=0.0,
        prefill_ms_per_token=0.0,
        jitter=0.0,
    )
    server = SimServer(config)
    url = server.start_in_thread()
    try:
        options = RunOptions(
            model=str(prof.models["chat"]),
            profile=profile,
            api_key=config.resolved_api_key(),
            stall_timeout=0.5,
            total_timeout=10.0,
        )
        return run_suite(url, prof, options, only=lambda r: r.area in AREAS)
    finally:
        server.stop()


def broken(result: SuiteResult) -> Iterator[str]:
    """Each failed or erroring rule with its message."""
    for r in result.results:
        if r.outcome in ("failed", "error"):
            yield f"{r.rule.id} {r.outcome}: {(r.message or '')[:300]}"


def test_every_rule_of_these_areas_has_a_fault() -> None:
    proven = {rule for name in OWN_FAULTS for rule in FAULTS[name].breaks}
    assert MINE - proven == set()


@pytest.mark.slow
@pytest.mark.timeout(60)
@pytest.mark.parametrize("profile", PROFILES)
def test_no_rule_fails_on_the_faithful_simulator(profile: str) -> None:
    result = run(profile, [])
    assert result.ids("failed", "error") == set(), list(broken(result))


@pytest.mark.slow
@pytest.mark.timeout(60)
@pytest.mark.parametrize("name", OWN_FAULTS)
def test_fault_fails_exactly_its_rule(name: str) -> None:
    result = run(PROFILE_FOR.get(name, "openai"), [name])
    assert result.ids("failed", "error") == set(FAULTS[name].breaks), list(broken(result))


@pytest.mark.slow
@pytest.mark.timeout(60)
@pytest.mark.parametrize("name", LEGAL)
def test_legal_variation_fails_no_rule(name: str) -> None:
    result = run("openai", [name])
    assert result.ids("failed", "error") == set(), list(broken(result))
