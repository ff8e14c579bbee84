"""Runs the suite against a fresh simulator on an ephemeral loopback port (stopped when the run ends)."""

from __future__ import annotations

from typing import Any

from maascheck.conformance.engine.options import RunOptions
from maascheck.conformance.engine.runner import SuiteResult, run_suite
from maascheck.core.profiles import load_profile
from maascheck.sim.config import DEFAULT_API_KEY, SimConfig
from maascheck.sim.server import SimServer

FAST = {"decode_step_ms": 0.0, "decode_ms_per_seq": 0.0, "prefill_ms_per_token": 0.0, "jitter": 0.0}


def run_against(
    *faults: str,
    sim_profile: str = "openai",
    profile: str = "openai",
    everything: bool = False,
    **options: Any,
) -> SuiteResult:
    """PARAM rules (all rules with `everything`) judged under `profile` against a `sim_profile` simulator."""
    server = SimServer(
        SimConfig(profile=sim_profile, faults=list(faults), seed=7, api_key=DEFAULT_API_KEY, **FAST)
    )
    url = server.start_in_thread()
    try:
        model = load_profile(sim_profile).models["chat"] or "sim-chat"
        opts = RunOptions(model=model, api_key=DEFAULT_API_KEY, profile=profile, **options)
        only = None if everything else (lambda r: r.id.startswith("PARAM-"))
        return run_suite(url, load_profile(profile), opts, only=only)
    finally:
        server.stop()
