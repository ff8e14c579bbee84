"""Runs the suite against a fresh simulator on an ephemeral loopback port (stopped when the run ends)."""

from __future__ import annotations

from typing import Any

from maascheck.conformance.engine.options import RunOptions
from maascheck.conformance.engine.runner import SuiteResult, run_suite
from maascheck.core.profiles import load_profile
from maascheck.sim.config import DEFAULT_API_KEY
from tests.simulator import running_simulator


def run_against(
    *faults: str,
    sim_profile: str = "openai",
    profile: str = "openai",
    everything: bool = False,
    **options: Any,
) -> SuiteResult:
    """PARAM rules (all rules with `everything`) judged under `profile` against a `sim_profile` simulator."""
    with running_simulator(*faults, profile=sim_profile, api_key=DEFAULT_API_KEY) as url:
        model = load_profile(sim_profile).models["chat"] or "sim-chat"
        opts = RunOptions(model=model, api_key=DEFAULT_API_KEY, profile=profile, **options)
        only = None if everything else (lambda r: r.id.startswith("PARAM-"))
        return run_suite(url, load_profile(profile), opts, only=only)
