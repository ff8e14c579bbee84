"""Locust users: what each scenario sends. One streamed request per task iteration.

The request itself runs on `loadtests.reactor.open_client` (one keep-alive connection per user); this
module only picks the prompt, waits for the open-loop slot, and hands the result to the record sink.
ONE pair of Locust request events is fired per request ("<scenario> TTFT", "<scenario> E2E") for the
live UI; Locust's bucketed statistics are never used for results (exact values come from the records).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import gevent
from locust import User, constant, task

from loadtests.client import Endpoint
from loadtests.metrics import request_record
from loadtests.payloads import SCENARIOS, build_body
from loadtests.reactor import open_client
from loadtests.runtime import Runtime, runtime_of
from loadtests.workloads import Prompt

_IDLE_S = 3600.0


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
        result = self.client.post_stream(self._path, body)
        record = request_record(result, counter=rt.counter, t0_ns=rt.t0_ns, intended_ns=intended)
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
        """Two Locust request events per request (TTFT and E2E), for the live UI only."""
        exc = None if record["outcome"] == "ok" else RuntimeError(f"{record['outcome']}: {record['error']}")
        fire = self.environment.events.request.fire
        if record["ttft_ms"] is not None:
            fire(
                request_type="SSE",
                name=f"{self.scenario} TTFT",
                response_time=record["ttft_ms"],
                response_length=record["chunks"],
                exception=None,
                context={},
            )
        fire(
            request_type="SSE",
            name=f"{self.scenario} E2E",
            response_time=record["e2e_done_ms"] or 0.0,
            response_length=record["output_tokens"] or 0,
            exception=exc,
            context={},
        )


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
