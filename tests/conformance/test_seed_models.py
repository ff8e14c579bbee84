"""Each seed persona passes its own profile with the chat model its seed names, at the simulator's default lengths.

Seed 003 (hhaice) names the reasoning model `deepseek-r1` as its chat model: a 16-token answer
holds only `reasoning_content`, which the SDK keeps on the delta, so SDK-002 reads it as text.
"""

from __future__ import annotations

import pytest

from maascheck.conformance.engine.options import RunOptions
from maascheck.conformance.engine.runner import run_suite
from maascheck.core.profiles import load_profile
from maascheck.sim.config import SimConfig
from maascheck.sim.server import SimServer

SEED_MODELS = {"hhaice": "deepseek-r1"}


@pytest.mark.timeout(120)
@pytest.mark.parametrize(("profile", "model"), sorted(SEED_MODELS.items()))
def test_seed_chat_model_passes_its_own_profile(profile: str, model: str) -> None:
    config = SimConfig(profile=profile, seed=1, decode_step_ms=0.0, decode_ms_per_seq=0.0, jitter=0.0)
    server = SimServer(config)
    url = server.start_in_thread()
    try:
        options = RunOptions(model=model, profile=profile, api_key=config.resolved_api_key(), exchange_timeout=10.0)
        result = run_suite(url, load_profile(profile), options)
    finally:
        server.stop()
    assert load_profile(profile).models["chat"] == model
    outcomes = {r.rule.id: r.outcome for r in result.results}
    assert outcomes["SDK-002"] == "passed", [r.message for r in result.results if r.rule.id == "SDK-002"]
    assert not result.ids("failed", "error"), [(r.rule.id, r.message) for r in result.results if r.outcome == "failed"]
