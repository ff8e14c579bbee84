"""Fixtures: simulators on ephemeral loopback ports, fast timing unless a test asks otherwise."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from maascheck.sim.config import DEFAULT_API_KEY
from maascheck.sim.server import SimServer
from tests.simulator import sim_config

KEY = DEFAULT_API_KEY
AUTH = {"Authorization": f"Bearer {KEY}"}
# A little decode time (0.5 ms a step), so streams arrive as separate events.
DECODE = {"decode_step_ms": 0.5}

StartSim = Callable[..., str]


@pytest.fixture(autouse=True)
def _no_env_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MAASCHECK_SIM_KEY", raising=False)


@pytest.fixture
def start_sim() -> Iterator[StartSim]:
    """Start simulators with SimConfig overrides (fast timing by default); all are stopped afterwards."""
    servers: list[SimServer] = []

    def start(**overrides: Any) -> str:
        server = SimServer(sim_config(**{**DECODE, **overrides}))
        servers.append(server)
        return server.start_in_thread()

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def base(start_sim: StartSim) -> str:
    """The base URL of a default (openai profile) simulator."""
    return start_sim()


@pytest.fixture
def client(base: str) -> Iterator[httpx.Client]:
    """An authenticated httpx client rooted at the simulator's base URL."""
    with httpx.Client(base_url=base, headers=AUTH, timeout=10) as c:
        yield c


def chat(model: str = "sim-chat", text: str = "Say hello", **extra: Any) -> dict[str, Any]:
    """A chat request body."""
    return {"model": model, "messages": [{"role": "user", "content": text}], **extra}


def sse_events(raw: str) -> list[str]:
    """The data payloads of an SSE body (LF or CRLF; comments and other fields skipped)."""
    out = []
    for block in raw.replace("\r\n", "\n").split("\n\n"):
        data = [ln[5:].lstrip(" ") if ln.startswith("data:") else None for ln in block.split("\n")]
        payload = [d for d in data if d is not None]
        if payload:
            out.append("\n".join(payload))
    return out
