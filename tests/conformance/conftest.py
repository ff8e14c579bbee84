"""Fixtures for the conformance tests: an in-thread simulator on 127.0.0.1 with fast timing."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager

import pytest

from tests.conformance.proofs import SIM_KEY, SIM_TIMING
from tests.simulator import running_simulator


def simulator(*faults: str, profile: str = "openai") -> AbstractContextManager[str]:
    """Serve the simulator with `faults` (the proof runs' key and timing); yields its base URL."""
    return running_simulator(*faults, profile=profile, api_key=SIM_KEY, **SIM_TIMING)


@pytest.fixture
def sim() -> Callable[..., object]:
    """The `simulator` context manager."""
    return simulator
