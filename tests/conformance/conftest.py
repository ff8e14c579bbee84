"""Fixtures for the conformance tests: an in-thread simulator on 127.0.0.1 with fast timing."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from tests.conformance.proofs import SIM_KEY


@contextmanager
def simulator(*faults: str, profile: str = "openai") -> Iterator[str]:
    """Serve the simulator with `faults`; yields its base URL."""
    from maascheck.sim.config import SimConfig
    from maascheck.sim.server import SimServer

    server = SimServer(
        SimConfig(
            profile=profile,
            faults=list(faults),
            api_key=SIM_KEY,
            decode_step_ms=0.5,
            decode_ms_per_seq=0.01,
            jitter=0.0,
            seed=7,
            output_tokens=24,
        )
    )
    url = server.start_in_thread()
    try:
        yield url
    finally:
        server.stop()


@pytest.fixture
def sim() -> Callable[..., object]:
    """The `simulator` context manager."""
    return simulator
