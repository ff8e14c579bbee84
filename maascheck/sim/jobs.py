"""Jobs: one generation request being served, advanced one engine step (or scheduled event) at a time.

A job's `step()` emits what one engine step produces: for a stream, one SSE event per choice
(`tokens_per_chunk` tokens each), with the role chunk before the first and the finish chunk, the
usage chunk (`stream_options.include_usage`) and `data: [DONE]` after the last, all in one write
unless a fault splits it. A non-stream job sends its body when the last step is done.
Without active stream hooks the stream path splices token text into pre-serialised JSON templates.
"""

from __future__ import annotations

import sys
from typing import Any, NamedTuple, Protocol

import orjson

from maascheck.sim.faults import ChunkContext, RequestView
from maascheck.sim.generate import ChoicePlan
from maascheck.sim.hooks import FaultSet
from maascheck.sim.http import LAST_FRAME, frame
from maascheck.sim.render import Renderer
from maascheck.sim.validate import GenRequest

_SENTINEL = "\x00\x01splice\x01\x00"
_SENTINEL_JSON = orjson.dumps(_SENTINEL)
DONE_EVENT = b"data: [DONE]\n\n"


class Output(Protocol):
    """The connection side a job writes to (implemented by server.Connection)."""

    closed: bool

    def write(self, data: bytes) -> None:
        """Send bytes."""

    def respond(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        """Send one complete response and end the exchange."""

    def end_stream(self) -> None:
        """The chunked body is complete; the connection may serve the next request."""

    def close(self) -> None:
        """Close the connection now."""


class StatsSink(Protocol):
    """Where jobs count what they send."""

    events_sent: int


class Group(NamedTuple):
    """The tokens one choice emits in one step: all of one kind (a tuple: a stream builds ~200 per request)."""

    kind: str
    text: str
    start: int
    end: int


def group_pieces(plan: ChoicePlan, per_step: int) -> list[Group]:
    """Cut a choice's output into steps of at most `per_step` tokens that never mix kinds."""
    pieces = plan.pieces()
    if per_step == 1:  # the common case, without the scan below: one group per token
        return [Group(kind, text, i, i + 1) for i, (kind, text) in enumerate(pieces)]
    groups: list[Group] = []
    i = 0
    while i < len(pieces):
        kind = pieces[i][0]
        j = i
        while j < len(pieces) and j - i < per_step and pieces[j][0] == kind:
            j += 1
        groups.append(Group(kind, "".join(p[1] for p in pieces[i:j]), i, j))
        i = j
    return groups


def run_step(job: Job) -> bool:
    """`job.step()`, but a failing step (a buggy fault hook) ends only its own job: True means finished."""
    try:
        return job.step()
    except Exception as exc:  # a hook error must not stop the engine loop serving every other stream
        print(
            f"maascheck-sim: job step failed ({type(exc).__name__}: {exc}); closing that connection",
            file=sys.stderr,
            flush=True,
        )
        job.cancelled = True
        job.out.close()
        return True


class Job:
    """Common state of stream and non-stream jobs (the engine and the exact scheduler drive `step`)."""

    def __init__(
        self,
        out: Output,
        req: GenRequest,
        view: RequestView,
        plans: list[ChoicePlan],
        renderer: Renderer,
        faults: FaultSet,
        per_step: int,
        cached: int,
    ) -> None:
        self.out = out
        self.req = req
        self.view = view
        self.plans = plans
        self.r = renderer
        self.faults = faults
        self.cached = cached
        self.groups = [group_pieces(p, per_step) for p in plans]
        self.total_steps = max(1, max((len(g) for g in self.groups), default=1))
        self.k = 0
        self.cancelled = False
        self.prefill_tokens = max(0, req.prompt_tokens - cached)
        self.weight = len(plans)
        self.safe = not faults.faults  # without fault hooks a step cannot raise; skip the try frame
        self.due_ns = 0  # exact-schedule mode: when the next step is due (perf_counter_ns)
        self.received_ns = 0  # exact-schedule mode: when the request was read (perf_counter_ns)
        self.stall_after = faults.stall_after(view) if faults.faults else None
        self.close_after = faults.close_after(view) if faults.faults else None

    def step(self) -> bool:
        """Emit the next step; True when the job is finished."""
        raise NotImplementedError


class BodyJob(Job):
    """A non-stream request: the body goes out when the last step completes."""

    def step(self) -> bool:
        """Count one step; on the last, send the full JSON body."""
        self.k += 1
        if self.k < self.total_steps:
            return False
        if not self.out.closed:
            body = self.r.body(self.plans, self.cached)
            if self.faults.on_body:
                body = self.faults.body(body, self.view)
            raw = orjson.dumps(body)
            if self.faults.on_body_bytes:
                raw = self.faults.body_bytes(raw, self.view)
            status = self.faults.status(200, self.view) if self.faults.on_status else 200
            headers = [("Content-Type", "application/json")]
            if self.faults.on_headers:
                headers = self.faults.headers(headers, self.view)
            self.out.respond(status, headers, raw)
        return True


class StreamJob(Job):
    """A stream request: SSE events over a chunked body (spec b.1)."""

    def __init__(self, *args: Any, stats: StatsSink, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.stats = stats
        self.chat = self.req.endpoint == "chat"
        self.slow = (
            self.faults.stream_hooks
            or any(p.logprobs is not None or len(p.tools) > 1 for p in self.plans)
            or self.req.echo
        )
        self.templates: dict[tuple[int, str], tuple[bytes, bytes]] = {}
        self.data_events = 0
        self.stalled = False
        # Fast path: one choice, no hooks; steps 1 .. len(groups)-2 are one plain content event each.
        self.g0 = self.groups[0]
        self.fast_end = len(self.g0) - 1 if len(self.plans) == 1 and not self.slow else 0
        self.tool_start = len(self.plans[0].reasoning)

    # ---- chunk dicts ---------------------------------------------------------------------------------
    def _piece_choice(self, plan: ChoicePlan, g: Group, text: str) -> dict[str, Any]:
        lps = plan.logprobs[g.start : g.end] if plan.logprobs is not None and g.kind == "content" else None
        if not self.chat:
            offset = sum(len(t) for t in plan.content[: g.start])
            return self.r.legacy_stream_choice(plan.index, text, None, lps, offset)
        if g.kind.startswith("tool"):
            n = int(g.kind.partition("#")[2] or 0)
            first = len(plan.reasoning) + sum(len(t.fragments) for t in plan.tools[:n])
            delta = self.r.piece_delta(g.kind, text, plan.tools[n], g.start == first, n)
        else:
            delta = self.r.piece_delta(g.kind, text)
        return self.r.stream_choice(plan.index, delta, None, lps)

    def _final_choice(self, plan: ChoicePlan) -> dict[str, Any]:
        if not self.chat:
            return self.r.legacy_stream_choice(plan.index, "", plan.finish_reason)
        return self.r.stream_choice(plan.index, self.r.final_delta(), plan.finish_reason)

    def _template(self, index: int, kind: str) -> tuple[bytes, bytes]:
        key = (index, kind)
        found = self.templates.get(key)
        if found is None:
            plan = self.plans[index]
            g = Group(kind, _SENTINEL, len(plan.reasoning) + 1, len(plan.reasoning) + 2)
            raw = b"data: " + orjson.dumps(self.r.chunk([self._piece_choice(plan, g, _SENTINEL)])) + b"\n\n"
            pre, post = raw.split(_SENTINEL_JSON)
            found = self.templates[key] = (pre, post)
        return found

    def _step_chunks(self, k: int, last: bool) -> list[tuple[dict[str, Any] | bytes, bool, bool]]:
        """The events of step k as (chunk dict or ready bytes, is_usage, is_final)."""
        out: list[tuple[dict[str, Any] | bytes, bool, bool]] = []
        if k == 0:
            for plan in self.plans:
                if self.chat:
                    out.append(
                        (
                            self.r.chunk([self.r.stream_choice(plan.index, self.r.role_delta(plan))]),
                            False,
                            False,
                        )
                    )
                elif self.req.echo:
                    prompt = self.req.prompts[plan.index // max(1, self.req.n)]
                    out.append(
                        (self.r.chunk([self.r.legacy_stream_choice(plan.index, prompt)]), False, False)
                    )
        for plan, groups in zip(self.plans, self.groups, strict=True):
            if k < len(groups):
                g = groups[k]
                if not self.slow and not (g.kind == "tool" and g.start == len(plan.reasoning)):
                    pre, post = self._template(plan.index, g.kind)
                    out.append((pre + orjson.dumps(g.text) + post, False, False))
                else:
                    out.append((self.r.chunk([self._piece_choice(plan, g, g.text)]), False, False))
            if k == max(len(groups), 1) - 1:
                out.append((self.r.chunk([self._final_choice(plan)]), False, True))
        if last and self.req.include_usage:
            out.append((self.r.chunk([], self.r.usage(self.plans, self.cached)), True, False))
        return out

    # ---- writing -------------------------------------------------------------------------------------
    def step(self) -> bool:
        """Write step k's events (one write on the fast path); True when the stream is complete."""
        k = self.k
        self.k = k + 1
        if 0 < k < self.fast_end:
            g = self.g0[k]
            if g.kind != "tool" or g.start != self.tool_start:
                pre, post = self.templates.get((0, g.kind)) or self._template(0, g.kind)
                data = pre + orjson.dumps(g.text) + post
                self.stats.events_sent += 1
                self.out.write(b"%x\r\n%b\r\n" % (len(data), data))
                return False
        last = self.k >= self.total_steps
        if self.out.closed or self.stalled:
            return last
        events = self._step_chunks(k, last)
        if not self.slow:
            payload = b"".join(
                e if isinstance(e, bytes) else b"data: " + orjson.dumps(e) + b"\n\n" for e, _, _ in events
            )
            self.stats.events_sent += len(events)
            if last:
                self.out.write(frame(payload + DONE_EVENT + self.faults.trailer) + LAST_FRAME)
                self.out.end_stream()
            else:
                self.out.write(frame(payload))
            return last
        self._write_slow(events, last)
        return last

    def _write_slow(self, events: list[tuple[dict[str, Any] | bytes, bool, bool]], last: bool) -> None:
        f = self.faults
        pieces: list[bytes] = []
        for event, is_usage, is_final in events:
            chunk = orjson.loads(event[6:]) if isinstance(event, bytes) else event
            ctx = ChunkContext(
                self.view,
                self.data_events,
                "chat" if self.chat else "completions",
                is_usage=is_usage,
                is_final=is_final,
            )
            for item in f.chunks(chunk, ctx) if f.on_chunk else [chunk]:
                if self.stall_after is not None and self.data_events >= self.stall_after:
                    self._flush(pieces)
                    self.stalled = True
                    return
                ctx = ChunkContext(
                    self.view, self.data_events, ctx.kind, is_usage=is_usage, is_final=is_final
                )
                raw = b"data: " + orjson.dumps(item) + b"\n\n"
                raw = f.event(raw, ctx) if f.on_event else raw
                pieces.extend(f.frames(raw, ctx) if f.on_frames else [raw])
                self.data_events += 1
                self.stats.events_sent += 1
                if self.close_after is not None and self.data_events >= self.close_after:
                    self._flush(pieces)
                    self.out.close()
                    return
        if last:
            if self.stall_after is not None and self.data_events >= self.stall_after:
                self._flush(pieces)
                self.stalled = True
                return
            raw = f.event(DONE_EVENT, None) if f.on_event else DONE_EVENT
            pieces.extend(f.frames(raw, None) if f.on_frames else [raw])
            if f.trailer:
                pieces.append(f.trailer)
        self._flush(pieces)
        if last:
            self.out.write(LAST_FRAME)
            self.out.end_stream()

    def _flush(self, pieces: list[bytes]) -> None:
        if not pieces:
            return
        if self.faults.on_frames:
            for piece in pieces:
                self.out.write(frame(piece))
        else:
            self.out.write(frame(b"".join(pieces)))
        pieces.clear()
