"""Multi-turn sessions: ``--workload sessions:turns=DIST[,think=SECONDS]``.

Grammar: ``sessions:`` then comma-separated ``key=value`` pairs, each key at most once:

- ``turns`` (required): turns per session, a length distribution as ``--input-tokens`` takes
  (``4``, ``fixed:4``, ``uniform:2:6``, ``normal:4:1``, ``file:PATH``), each draw clipped to
  1..`MAX_TURNS`.
- ``think`` (default ``fixed:0``): seconds between receiving a reply and sending the next turn:
  ``fixed:S`` (or ``S``), ``uniform:LO:HI``, ``exp:MEAN`` (exponential), each draw at most `MAX_THINK_S`.

Each session is one conversation held by one Locust user (sticky): turn 1 sends a system message and
a user message from the run's prompt source (`--input-tokens`, `--output-tokens`, corpus); each later
turn sends the whole history, the assistant reply of the previous turn (the content text actually
received in its stream, not a stand-in) and a new user message. A session ends after its last turn or
at its first turn that is not ok (the history would no longer be what the server saw); the user then
starts a new session. History bound: at most ``2 * MAX_TURNS`` messages, each received reply cut at
`MAX_REPLY_CHARS` characters.

Cacheable prefix of turn k >= 2 (`Turn.cacheable_tokens`): the previous request of the same session
is a prefix of this one, so the client knows the server could have cached that request's whole
prompt: its `usage.prompt_tokens`. None when the previous turn reported no usage.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from maascheck.core.errors import ConfigError
from maascheck.load.measure.events import Chunk
from maascheck.load.workload.workloads import Distribution, Prompt

MAX_TURNS = 64
"""Most turns per session (the history bound: 2 * MAX_TURNS messages)."""
MAX_REPLY_CHARS = 64 * 1024
"""Characters of a received reply kept in the history (a longer reply is cut)."""
MAX_THINK_S = 600.0
"""Longest think time drawn."""
SYSTEM_PROMPT = "You are a concise assistant in conversation {sid}."
"""Turn 1's system message (unique per session, so sessions never share cache blocks by accident)."""

EXAMPLE = "e.g. --workload sessions:turns=4,think=uniform:0.5:2"
VALID = (
    "valid: sessions:turns=DIST[,think=SECONDS] with DIST fixed:N | N | uniform:A:B | normal:M:S | file:PATH "
    f"(1 <= N <= {MAX_TURNS}) and SECONDS fixed:S | S | uniform:LO:HI | exp:MEAN (0 <= S <= {MAX_THINK_S:g})"
)


def _bad(spec: str, what: str) -> ConfigError:
    return ConfigError(f"--workload {spec!r}: {what}; {VALID}; {EXAMPLE}")


@dataclass(frozen=True)
class ThinkTime:
    """A distribution of seconds: ``fixed:S``, ``uniform:LO:HI`` or ``exp:MEAN``."""

    kind: str
    params: tuple[float, ...]
    spec: str

    @classmethod
    def parse(cls, text: str, spec: str) -> ThinkTime:
        """Parse `text` (the think value); `spec` is the whole --workload value for messages."""
        kind, _, rest = text.partition(":")
        if not rest:
            kind, rest = "fixed", text
        try:
            params = tuple(float(x) for x in rest.split(":"))
        except ValueError:
            raise _bad(spec, f"think {text!r}: bad numbers") from None
        arity = {"fixed": 1, "uniform": 2, "exp": 1}
        if kind not in arity:
            raise _bad(spec, f"think {text!r}: unknown distribution {kind!r} (fixed, uniform, exp)")
        if len(params) != arity[kind] or not all(math.isfinite(p) and 0 <= p <= MAX_THINK_S for p in params):
            raise _bad(spec, f"think {text!r}: {kind} takes {arity[kind]} number(s) in [0, {MAX_THINK_S:g}] s")
        if kind == "uniform" and params[0] > params[1]:
            raise _bad(spec, f"think {text!r}: LO > HI")
        return cls(kind, params, text)

    def draw(self, rng: random.Random) -> float:
        """One think time in seconds (0..MAX_THINK_S)."""
        if self.kind == "fixed":
            value = self.params[0]
        elif self.kind == "uniform":
            value = rng.uniform(self.params[0], self.params[1])
        else:
            value = rng.expovariate(1.0 / self.params[0]) if self.params[0] > 0 else 0.0
        return min(max(value, 0.0), MAX_THINK_S)

    def describe(self) -> dict[str, Any]:
        """The think time as results.json shows it."""
        return {"kind": self.kind, "spec": self.spec, "params": list(self.params)}


@dataclass(frozen=True)
class SessionSpec:
    """How sessions are shaped: turns per session and think time between turns."""

    turns: Distribution
    think: ThinkTime
    spec: str

    def draw_turns(self, rng: random.Random) -> int:
        """Turns of one new session (1..MAX_TURNS)."""
        return min(max(self.turns.draw(rng), 1), MAX_TURNS)

    def describe(self) -> dict[str, Any]:
        """The sessions part of the workload block."""
        return {"spec": self.spec, "turns": self.turns.describe(), "think_s": self.think.describe()}


def parse_sessions(spec: str) -> SessionSpec:
    """Parse a ``sessions:...`` --workload value (ConfigError with what is valid and an example)."""
    _, _, body = spec.partition(":")
    if not body.strip():
        raise _bad(spec, "turns is required")
    pairs: dict[str, str] = {}
    for item in body.split(","):
        key, eq, value = item.strip().partition("=")
        if not eq or not value:
            raise _bad(spec, f"expected key=value, got {item!r}")
        if key not in ("turns", "think"):
            raise _bad(spec, f"unknown key {key!r} (turns, think)")
        if key in pairs:
            raise _bad(spec, f"{key} given twice")
        pairs[key] = value
    if "turns" not in pairs:
        raise _bad(spec, "turns is required")
    try:
        turns = Distribution.parse(pairs["turns"], "turns=")
    except ConfigError:
        raise _bad(spec, f"turns {pairs['turns']!r}: not a count distribution") from None
    bounds = turns.params if turns.kind in ("fixed", "uniform") else ()
    if any(not 1 <= b <= MAX_TURNS for b in bounds):
        raise _bad(spec, f"turns {pairs['turns']!r}: must lie in 1..{MAX_TURNS}")
    return SessionSpec(turns, ThinkTime.parse(pairs.get("think", "fixed:0"), spec), spec)


@dataclass(frozen=True)
class Turn:
    """One request of a session: what to send and what the records say about it."""

    session: str
    turn: int  # 1-based
    turns: int  # planned turns of the session
    messages: list[dict[str, str]]
    prompt: Prompt  # the new user message (its max_tokens is the request's)
    cacheable_tokens: int | None  # the previous request's prompt_tokens (turn >= 2), else None / 0


@dataclass
class _Conversation:
    sid: str
    turns: int
    messages: list[dict[str, str]] = field(default_factory=list)
    sent: int = 0
    prev_prompt_tokens: int | None = None


class SessionSource:
    """The sessions of one Locust user, one at a time: sticky history, think times, new sessions."""

    def __init__(self, spec: SessionSpec, next_prompt: Callable[[], Prompt], stream_id: int, seed: int = 0) -> None:
        self.spec = spec
        self._next_prompt = next_prompt
        self._stream = stream_id
        self._rng = random.Random(seed * 1_000_033 + stream_id + 17)
        self._conv: _Conversation | None = None
        self._serial = 0
        self.started = 0
        self.completed = 0

    def next_turn(self) -> Turn:
        """The next request: a new session's first turn, or the current session's next turn."""
        conv = self._conv
        if conv is None:
            self._serial += 1
            self.started += 1
            sid = f"{self._stream}.{self._serial}"
            conv = self._conv = _Conversation(sid, self.spec.draw_turns(self._rng))
            conv.messages.append({"role": "system", "content": SYSTEM_PROMPT.format(sid=sid)})
        prompt = self._next_prompt()
        conv.messages.append({"role": "user", "content": prompt.text})
        conv.sent += 1
        cacheable = 0 if conv.sent == 1 else conv.prev_prompt_tokens
        return Turn(conv.sid, conv.sent, conv.turns, list(conv.messages), prompt, cacheable)

    def finish_turn(self, turn: Turn, *, ok: bool, reply: str, prompt_tokens: int | None) -> float | None:
        """Take the outcome of `turn`; the think time before the next turn, or None when the session ended."""
        conv = self._conv
        if conv is None or conv.sid != turn.session or conv.sent != turn.turn:
            return None
        if not ok or conv.sent >= conv.turns:
            self.completed += ok
            self._conv = None
            return None
        conv.messages.append({"role": "assistant", "content": reply[:MAX_REPLY_CHARS]})
        conv.prev_prompt_tokens = prompt_tokens if isinstance(prompt_tokens, int) else None
        return self.spec.think.draw(self._rng)


def reply_text(chunks: list[Chunk]) -> str:
    """The assistant content received in a stream (reasoning-only chunks left out), cut at MAX_REPLY_CHARS."""
    parts: list[str] = []
    size = 0
    for c in chunks:
        if c.content and not c.reasoning and c.text:
            parts.append(c.text)
            size += len(c.text)
            if size >= MAX_REPLY_CHARS:
                break
    return "".join(parts)[:MAX_REPLY_CHARS]
