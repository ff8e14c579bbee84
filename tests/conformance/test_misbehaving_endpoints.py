"""A misbehaving endpoint yields failed rules with evidence: never a crash, a rule error or a hang.

Each case is a fault the simulator applies to every request; the suite must finish within its
bounded timeouts, report no rule `error` (a crash inside the suite), and fail the rules named.
The faults are registered for the test only: they break many rules at once, so they are not part
of the one-fault-one-rule catalog proved by tests/conformance/test_fault_proofs.py.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from maascheck.conformance.engine.options import RunOptions
from maascheck.conformance.engine.runner import run_suite
from maascheck.core.profiles import load_profile
from maascheck.sim.config import SimConfig
from maascheck.sim.faults import FAULTS, ChunkContext, Fault, RequestView, Response, register
from maascheck.sim.server import SimServer

KEY = "maascheck-sim-key"  # the simulator's loopback-only test key


def _invalid_utf8(raw: bytes, ctx: ChunkContext | None) -> bytes:
    if ctx is not None and ctx.index == 1:
        return raw.replace(b'"content":"', b'"content":"\xff\xfe', 1)
    return raw


def _huge_body(body: dict[str, Any], view: RequestView) -> dict[str, Any]:
    if view.endpoint == "chat" and "error" not in body:
        body["padding"] = "x" * (6 * 1024 * 1024)  # over the 4 MiB --max-response-bytes the test sets
    return body


def _gateway_502(view: RequestView) -> Response:
    return Response(502, b"<html><body>502 Bad Gateway</body></html>", [("Content-Type", "text/html")])


def _invalid_json(raw: bytes, view: RequestView) -> bytes:
    return raw[: len(raw) // 2]


CASES = [
    # (fault, rules that must be among the failures)
    (Fault("robust-invalid-utf8", "invalid UTF-8 in the second stream event", on_event=_invalid_utf8), {"STREAM-002"}),
    (Fault("robust-huge-body", "6 MiB non-stream chat bodies", on_body=_huge_body), {"CHAT-001"}),
    (
        Fault("robust-gateway-502", "every request answered 502 text/html", on_request=_gateway_502),
        {"CHAT-001", "MODELS-001"},
    ),
    (Fault("robust-invalid-json", "every non-stream body cut in half", on_body_bytes=_invalid_json), {"CHAT-001"}),
    (Fault("robust-stall", "every stream stalls after two events", stall_after_events=2), {"STREAM-005"}),
    (Fault("robust-cut", "every stream's connection is closed after two events", close_after_events=2), {"STREAM-004"}),
]


@pytest.fixture
def registered(request: pytest.FixtureRequest) -> Iterator[Fault]:
    fault: Fault = request.param
    register(fault)
    try:
        yield fault
    finally:
        FAULTS.pop(fault.name, None)


@pytest.mark.timeout(180)
@pytest.mark.parametrize(
    ("registered", "must_fail"), CASES, indirect=["registered"], ids=[f.name for f, _ in CASES]
)
def test_a_misbehaving_endpoint_fails_rules_and_never_crashes(registered: Fault, must_fail: set[str]) -> None:
    server = SimServer(SimConfig(faults=[registered.name], api_key=KEY, decode_step_ms=0.5, seed=3))
    base_url = server.start_in_thread()
    started = time.monotonic()
    try:
        options = RunOptions(
            model="sim-chat", base_url=base_url, vision_model="sim-vision", reasoning_model="sim-reasoner",
            api_key=KEY, stall_timeout=1.0, exchange_timeout=20.0, max_response_bytes=4 * 1024 * 1024,
        )  # fmt: skip
        result = run_suite(base_url, load_profile("openai"), options)
    finally:
        server.stop()
    outcomes = {r.rule.id: r for r in result.results}
    crashed = {rid: r.message for rid, r in outcomes.items() if r.outcome == "error"}
    assert not crashed, f"rules crashed instead of failing: {crashed}"
    failed = {rid for rid, r in outcomes.items() if r.outcome == "failed"}
    assert must_fail <= failed, f"expected {sorted(must_fail)} among the failures, got {sorted(failed)}"
    for rid in must_fail:
        assert outcomes[rid].message, f"{rid} failed without a message"
        assert outcomes[rid].evidence, f"{rid} failed without evidence"
    assert time.monotonic() - started < 120, "the run was not bounded by its timeouts"
