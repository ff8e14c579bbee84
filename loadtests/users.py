"""Locust users: what each scenario sends. One streamed request per task iteration.

The request itself runs on `loadtests.reactor.open_client` (one keep-alive connection per user); this
module only picks the prompt, waits for the open-loop slot, and hands the result to the record sink.
The events are parsed in slices that yield to the hub, so the timing of other streams is not held up
(load-metrics.md §8). ONE Locust request event is fired per request (name = scenario, response time
= TTFT) for the live UI; Locust's bucketed statistics are never used for results (exact values come
from the records). A request cut off by the end of the run is recorded with outcome "cancelled".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import gevent
from locust import User, constant, task

from loadtests.client import Endpoint, StreamCancelled, StreamResult
from loadtests.metrics import request_record
from loadtests.payloads import SCENARIOS, build_body
from loadtests.reactor import open_client
from loadtests.runtime import Runtime, runtime_of
from loadtests.sse import Chunk, parse_stream
from loadtests.workloads import Prompt

_IDLE_S = 3600.0
SLICE_EVENTS = 24
"""Events parsed per slice: about 50 us of hub time on the 2-core VM (`loadtests/CLIENT.md`)."""
_NEXT_ITERATION_S = 1e-6


class StreamingUser(User):
    """Abstract base: streams requests of `scenario` in a closed loop, or on the open-loop schedule."""

    abstract = True
    scenario: ClassVar[str] = "chat"
    wait_time = constant(0)
    _ids: ClassVar[int] = 0

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        self.rt: Runtime = runtime_of(environment)
        s = self.rt.settings
        headers = {"Authorization": f"Bearer {self.rt.api_key}"} if self.rt.api_key else {}
        self.client = open_client(Endpoint.parse(s.host), headers, timeout=s.timeout)
        StreamingUser._ids += 1
        self._next_prompt: Callable[[], Prompt] = s.workload.sampler(StreamingUser._ids)
        self._path = SCENARIOS[self.scenario]

    def on_stop(self) -> None:
        """Close the connection."""
        self.client.close()

    @task
    def stream_one(self) -> None:
        """Send one streamed request and record it."""
        rt = self.rt
        if not rt.budget.try_start():
            gevent.sleep(_IDLE_S)  # quota used: idle until the controller stops the test
            return
        intended = None
        if rt.pacer is not None:
            intended = rt.pacer.next_slot()
            delay = (intended - rt.now()) / 1e9
            if delay > 0:
                gevent.sleep(delay)
        prompt = self._next_prompt()
        body = build_body(self.scenario, prompt, rt.settings.body)
        try:
            result = self.client.post_stream(self._path, body)
        except StreamCancelled as stop:  # the run stopped mid-stream: keep what was measured, then exit
            self._record(stop.result, intended, parse_stream(stop.result.events, stop.result.event_times_ns))
            raise
        self._record(result, intended, _parse_in_slices(result))

    def _record(self, result: StreamResult, intended: int | None, chunks: list[Chunk]) -> None:
        rt = self.rt
        record = request_record(result, counter=rt.counter, t0_ns=rt.t0_ns, intended_ns=intended, chunks=chunks)
        record = {
            "rid": rt.next_rid(),
            "worker": rt.worker_id,
            "scenario": self.scenario,
            "warmup": record["start_s"] < rt.settings.warmup,
            **record,
            "good": None,
        }
        rt.budget.finish()
        if rt.sink is not None:
            rt.sink.add(record)
        self._fire(record)

    def _fire(self, record: dict[str, Any]) -> None:
        """One Locust request event per request (for the live UI and Locust's own summary only)."""
        outcome = record["outcome"]
        self.environment.events.request.fire(
            request_type="SSE",
            name=self.scenario,
            response_time=record["ttft_ms"] if record["ttft_ms"] is not None else record["e2e_done_ms"] or 0.0,
            response_length=record["output_tokens"] or 0,
            exception=None if outcome in ("ok", "cancelled") else RuntimeError(f"{outcome}: {record['error']}"),
            context={},
        )


def _parse_in_slices(result: StreamResult) -> list[Chunk]:
    """Parse the events `SLICE_EVENTS` at a time, letting the hub poll sockets between slices.

    `gevent.sleep(0)` would not do: it may resume this greenlet before the loop polls again (gevent's
    `sleep` docstring); any positive delay waits for the next loop iteration.
    """
    events, times = result.events, result.event_times_ns
    if len(events) <= SLICE_EVENTS:
        return parse_stream(events, times)
    chunks: list[Chunk] = []
    for i in range(0, len(events), SLICE_EVENTS):
        if i:
            gevent.sleep(_NEXT_ITERATION_S)
        chunks += parse_stream(events[i : i + SLICE_EVENTS], times[i : i + SLICE_EVENTS])
    return chunks


class ChatUser(StreamingUser):
    """Streaming chat completions (POST /chat/completions)."""

    scenario = "chat"


class CompletionsUser(StreamingUser):
    """Streaming legacy completions (POST /completions)."""

    scenario = "completions"


class VisionUser(StreamingUser):
    """Streaming chat with an image part (a small generated PNG as a data: URL)."""

    scenario = "vision"


class ReasoningUser(StreamingUser):
    """Streaming chat with a reasoning model: TTFT at the first reasoning token, TTFO at the first content."""

    scenario = "reasoning"


USER_CLASSES: dict[str, type[StreamingUser]] = {
    "chat": ChatUser, "completions": CompletionsUser, "vision": VisionUser, "reasoning": ReasoningUser,
}  # fmt: skip
