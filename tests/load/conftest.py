"""Fixtures: an exact-schedule SSE server on 127.0.0.1 (ephemeral port)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .sse_server import ExactServer


@pytest.fixture(scope="module")
def exact_url() -> Iterator[str]:
    """Base URL of an exact-schedule server: TTFT 100 ms, ITL 10 ms, stalls 3 s."""
    server = ExactServer(ttft_ms=100, itl_ms=10, stall_s=3)
    url = server.start()
    yield url
    server.stop()
