"""Runs the client matrix against an in-thread simulator (optionally with faults) and returns each cell's outcome."""

from __future__ import annotations

from maascheck.conformance.engine.options import RunOptions
from maascheck.conformance.engine.runner import RuleResult, run_suite
from maascheck.core.profiles import load_profile
from tests.conformance.proofs import SIM_TIMING
from tests.simulator import running_simulator

# A fake key for these runs, built from parts; unlike the proof key it holds no word the messages use,
# so redaction by fragment leaves the messages (install hints, model names) whole.
MATRIX_KEY = "sk-" + "fake-matrix-" + "7d41c9e0"


def run_matrix(
    clients: str, *faults: str, mode: str = "replay", areas: tuple[str, ...] = ()
) -> tuple[list[RuleResult], int]:
    """(the results, requests made) of a run of the matrix rules (and those of `areas`) for `clients`."""
    profile = load_profile("openai")
    with running_simulator(*faults, api_key=MATRIX_KEY, **SIM_TIMING) as url:
        options = RunOptions(
            model="sim-chat",
            base_url=url,
            reasoning_model=profile.models.get("reasoning"),
            api_key=MATRIX_KEY,
            stall_timeout=3.0,
            exchange_timeout=30.0,
            seed=1,
            clients=clients,
            clients_mode=mode,
        )
        result = run_suite(url, profile, options, only=lambda r: r.area == "clients" or r.area in areas)
    return result.results, result.requests_made
