"""Locust users: what each scenario sends. One streamed request per task iteration.

The request itself runs on `maascheck.load.client.reactor.open_client` (one keep-alive connection per user); this
module only picks the prompt, waits for the open-loop slot, and hands the result to the record sink.
The finished exchange is handed to `maascheck.load.run.postprocess` (parsed and recorded in short slices off
this greenlet, so other streams' timestamps are not held up, load-metrics.md §8) and the user sends
its next request at once. ONE Locust request event is fired per request (name = scenario, response time
= TTFT) for the live UI; Locust's bucketed statistics are never used for results (exact values come
from the records). A request cut off by the end of the run is recorded with outcome "cancelled".
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, ClassVar

import gevent
from gevent.event import AsyncResult
from locust import User, constant, task

from maascheck.core.inert import one_line
from maascheck.core.retry_after import retry_after_seconds
from maascheck.load.client.http11 import Endpoint
from maascheck.load.client.reactor import open_client
from maascheck.load.client.result import StreamCancelled, StreamResult
from maascheck.load.measure.events import Chunk, parse_stream
from maascheck.load.measure.metrics import request_record
from maascheck.load.run.pacing import wait_until
from maascheck.load.run.runtime import Runtime, runtime_of
from maascheck.load.workload.payloads import SCENARIOS, build_body
from maascheck.load.workload.sessions import SessionSource, Turn, reply_text
from maascheck.load.workload.workloads import Prompt

_IDLE_S = 3600.0
_RECORD_WAIT_S = 120.0
"""Longest wait of a session turn for its record (parsed off the user's greenlet) before the session ends."""


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
        self.client = open_client(Endpoint.parse(s.host), headers, limits=s.limits)
        StreamingUser._ids += 1
        self._next_prompt: Callable[[], Prompt] | None = (
            None if self.rt.trace is not None else s.workload.sampler(StreamingUser._ids)
        )
        self._path = SCENARIOS[self.scenario]
        spec = s.workload.sessions
        self.sessions = (  # this user's conversations: sticky to it, one at a time (never with a trace)
            None
            if spec is None or self._next_prompt is None
            else SessionSource(spec, self._next_prompt, StreamingUser._ids, s.workload.seed)
        )

    def on_stop(self) -> None:
        """Close the connection."""
        self.client.close()

    @task
    def stream_one(self) -> None:
        """Send one streamed request and record it."""
        rt = self.rt
        trace_done = rt.trace is not None and rt.trace.exhausted
        if rt.brakes.tripped or trace_done or not rt.budget.try_start():
            gevent.sleep(_IDLE_S)  # quota or trace used, or breaker tripped: idle until the controller stops the test
            return
        item = rt.trace.next() if rt.trace is not None else None  # claimed before any yield: not exhausted
        backoff = rt.brakes.wait_s(time.perf_counter())  # 0 unless requests are failing
        if backoff > 0:
            gevent.sleep(backoff)
            rt.brakes.waited(backoff)
        intended = None
        if item is not None:  # a trace record: body and connection are made before its time, so it leaves on time
            intended = item[0]
            body = build_body(self.scenario, item[1], rt.settings.body)
            self.client.warm()
            wait_until(intended)
        else:
            if rt.pacer is not None:
                intended = rt.pacer.next_slot()
                wait_until(intended)
            if self.sessions is not None:
                self._session_turn(self.sessions, intended)
                return
            assert self._next_prompt is not None
            body = build_body(self.scenario, self._next_prompt(), rt.settings.body)
        try:
            result = self.client.post_stream(self._path, body)
        except StreamCancelled as stop:  # the run stopped mid-stream: keep what was measured, then exit
            res = stop.result
            self._record(res, intended, parse_stream(res.events, res.event_times_ns))
            raise
        if rt.post is None:
            self._record(result, intended, parse_stream(result.events, result.event_times_ns))
        else:  # parsed and recorded off this greenlet, in short slices; the next request leaves now
            rt.post.submit(result, lambda res, chunks: self._keep(res, intended, chunks))

    def _session_turn(self, sessions: SessionSource, intended: int | None) -> None:
        """Send one turn of this user's session, wait for its reply, then think before the next turn."""
        rt = self.rt
        turn = sessions.next_turn()
        body = build_body(self.scenario, turn.prompt, rt.settings.body, messages=turn.messages)
        try:
            result = self.client.post_stream(self._path, body)
        except StreamCancelled as stop:
            res = stop.result
            self._record(res, intended, parse_stream(res.events, res.event_times_ns), turn)
            raise
        done: AsyncResult[tuple[dict[str, Any], str]] = AsyncResult()

        def finish(res: StreamResult, chunks: list[Chunk]) -> None:
            done.set((self._record(res, intended, chunks, turn), reply_text(chunks)))

        if rt.post is None:
            finish(result, parse_stream(result.events, result.event_times_ns))
        else:  # parsed off this greenlet as any request; this user needs the reply before its next turn
            rt.post.submit(result, finish)
        try:
            record, reply = done.get(timeout=_RECORD_WAIT_S)
        except gevent.Timeout:
            sessions.finish_turn(turn, ok=False, reply="", prompt_tokens=None)
            return
        think = sessions.finish_turn(
            turn, ok=record["outcome"] == "ok", reply=reply, prompt_tokens=record.get("input_tokens")
        )
        if think:
            gevent.sleep(think)

    def _keep(self, result: StreamResult, intended: int | None, chunks: list[Chunk]) -> None:
        self._record(result, intended, chunks)

    def _record(
        self, result: StreamResult, intended: int | None, chunks: list[Chunk], turn: Turn | None = None
    ) -> dict[str, Any]:
        rt = self.rt
        record = request_record(result, counter=rt.counter, t0_ns=rt.t0_ns, intended_ns=intended, chunks=chunks)
        session: dict[str, Any] = {}
        if turn is not None:
            session = {
                "session": turn.session,
                "turn": turn.turn,
                "session_turns": turn.turns,
                "cacheable_tokens": turn.cacheable_tokens,
            }
        record = {
            "rid": rt.next_rid(),
            "worker": rt.worker_id,
            "scenario": self.scenario,
            "warmup": record["start_s"] < rt.settings.warmup,
            **session,
            **record,
            "good": None,
        }
        rt.budget.finish()
        outcome, status = record["outcome"], record.get("status")
        if outcome != "cancelled":
            rt.brakes.observe(
                time.perf_counter(),
                outcome == "ok",
                kind=f"http_{status}" if isinstance(status, int) and status >= 300 else str(outcome),
                status=status,
                retry_after_s=retry_after_seconds(result.retry_after),
            )
        if rt.sink is not None:
            rt.sink.add(record)
        self._fire(record)
        return record

    def _fire(self, record: dict[str, Any]) -> None:
        """One Locust request event per request (for the live UI and Locust's own summary only)."""
        outcome = record["outcome"]
        failure = None if outcome in ("ok", "cancelled") else RuntimeError(one_line(f"{outcome}: {record['error']}"))
        self.environment.events.request.fire(
            request_type="SSE",
            name=self.scenario,
            response_time=record["ttft_ms"] if record["ttft_ms"] is not None else record["e2e_done_ms"] or 0.0,
            response_length=record["output_tokens"] or 0,
            exception=failure,  # Locust prints it on the console: redacted by the sink, made inert here
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

