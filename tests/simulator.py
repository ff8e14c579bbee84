"""One way for every test to serve the simulator: in a thread, on an ephemeral 127.0.0.1 port, fast timing."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from maascheck.sim.config import SimConfig
from maascheck.sim.server import SimServer

# Instant timing: no prefill, no decode step growth, no jitter (tests of timing pass their own).
FAST: dict[str, Any] = {"decode_step_ms": 0.0, "decode_ms_per_seq": 0.0, "prefill_ms_per_token": 0.0, "jitter": 0.0}


def sim_config(*faults: str, profile: str = "openai", **overrides: Any) -> SimConfig:
    """A simulator configuration with fast timing and seed 7 unless `overrides` say otherwise."""
    return SimConfig(**{**FAST, "seed": 7, "profile": profile, "faults": list(faults), **overrides})


@contextmanager
def running_simulator(*faults: str, profile: str = "openai", **overrides: Any) -> Iterator[str]:
    """Serve the simulator with `faults` under `profile`; yields its base URL and stops it afterwards."""
    server = SimServer(sim_config(*faults, profile=profile, **overrides))
    url = server.start_in_thread()
    try:
        yield url
    finally:
        server.stop()
