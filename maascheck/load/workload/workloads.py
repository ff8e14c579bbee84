"""Workloads as data: what each request asks for (prompt, input/output lengths, images).

- Synthetic prompts with input and output lengths drawn from a distribution: ``fixed:N``,
  ``uniform:LO:HI``, ``normal:MEAN:STD`` (clipped to >= 1) or ``file:PATH`` (one integer per line,
  sampled uniformly). Prompt length is approximate: one word is about one token for the simulator's
  whitespace tokenizer and English BPE vocabularies.
- A JSONL corpus in the ShareGPT style: one object per line,
  ``{"conversations": [{"from": "human", "value": ...}, {"from": "gpt", "value": ...}]}``; the first
  human turn is the prompt, the length of the first gpt turn (in words) bounds max_tokens unless
  --output-tokens is given.
- Shared-prefix prompts: a common prefix of ``--prefix-tokens`` words, then a unique suffix (prefix-cache
  workloads).
- A timestamped trace (``trace:PATH.jsonl``, `maascheck.load.workload.trace`): each record's lengths and
  block ids, replayed open loop at its own time (the trace sets arrivals, not a distribution).
- Multi-turn sessions (``sessions:turns=DIST[,think=SECONDS]``, `maascheck.load.workload.sessions`):
  synthetic user messages, each turn sending the whole conversation so far.

`max_tokens` of each request comes from the workload. Draws are reproducible from `seed`.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from maascheck.core.errors import ConfigError
from maascheck.load.workload.trace import PromptText, TracePlan, load_trace

if TYPE_CHECKING:
    from maascheck.load.workload.sessions import SessionSpec

_WORDS = [
    "the",
    "model",
    "serves",
    "tokens",
    "across",
    "many",
    "nodes",
    "while",
    "the",
    "scheduler",
    "batches",
    "requests",
    "and",
    "the",
    "cache",
    "keeps",
    "prefixes",
    "warm",
    "so",
    "that",
    "latency",
    "stays",
    "low",
    "under",
    "load",
    "and",
    "every",
    "stream",
    "finishes",
    "on",
    "time",
]


@dataclass(frozen=True)
class Distribution:
    """A length distribution: ``fixed:N``, ``uniform:LO:HI``, ``normal:MEAN:STD`` or ``file:PATH``."""

    kind: str
    params: tuple[float, ...] = ()
    values: tuple[int, ...] = ()
    spec: str = ""

    @classmethod
    def parse(cls, spec: str, what: str) -> Distribution:
        """Parse `spec`; `what` names the option in error messages."""
        example = f"examples: {what} fixed:128, {what} uniform:64:256, {what} normal:200:50, {what} file:PATH"
        kind, _, rest = spec.partition(":")
        if kind.isdigit() and not rest:
            kind, rest = "fixed", kind
        try:
            if kind == "fixed":
                return cls("fixed", (float(int(rest)),), spec=spec)
            if kind == "uniform":
                lo, hi = (int(x) for x in rest.split(":"))
                if lo > hi:
                    raise ValueError
                return cls("uniform", (float(lo), float(hi)), spec=spec)
            if kind == "normal":
                mean, std = (float(x) for x in rest.split(":"))
                return cls("normal", (mean, std), spec=spec)
        except ValueError:
            raise ConfigError(f"{what} {spec!r}: bad numbers; {example}") from None
        if kind == "file":
            try:
                values = tuple(int(x) for x in Path(rest).read_text(encoding="utf-8").split())
            except (OSError, ValueError) as exc:
                raise ConfigError(
                    f"{what} {spec!r}: cannot read integers from {rest!r} ({exc}); {example}"
                ) from None
            if not values:
                raise ConfigError(f"{what} {spec!r}: {rest!r} holds no lengths; {example}")
            return cls("file", values=values, spec=spec)
        raise ConfigError(
            f"{what} {spec!r}: unknown distribution {kind!r}; valid: fixed, uniform, normal, file; {example}"
        )

    def draw(self, rng: random.Random) -> int:
        """One length (>= 1)."""
        if self.kind == "fixed":
            return max(int(self.params[0]), 1)
        if self.kind == "uniform":
            return rng.randint(int(self.params[0]), int(self.params[1]))
        if self.kind == "normal":
            return max(round(rng.gauss(self.params[0], self.params[1])), 1)
        return max(rng.choice(self.values), 1)

    def describe(self) -> dict[str, Any]:
        """The distribution as results.json shows it."""
        out: dict[str, Any] = {"kind": self.kind, "spec": self.spec}
        if self.kind == "fixed":
            out["value"] = int(self.params[0])
        elif self.kind == "uniform":
            out["min"], out["max"] = int(self.params[0]), int(self.params[1])
        elif self.kind == "normal":
            out["mean"], out["std"] = self.params
        else:
            out["count"] = len(self.values)
        return out


@dataclass(frozen=True)
class Prompt:
    """What one request asks for."""

    text: str
    max_tokens: int
    input_words: int


@dataclass
class Workload:
    """A reproducible source of prompts."""

    kind: str  # "synthetic" | "corpus" | "shared-prefix" | "trace" | "sessions"
    input_tokens: Distribution
    output_tokens: Distribution
    output_given: bool = True
    prefix_tokens: int = 0
    corpus: list[tuple[str, int]] = field(default_factory=list)
    corpus_path: str | None = None
    seed: int = 0
    sessions: SessionSpec | None = None  # kind "sessions": turns and think time
    trace: TracePlan | None = None

    def trace_prompt(self) -> Callable[[int], Prompt]:
        """Trace workloads: the prompt of the plan's record at an index (deterministic under `seed`)."""
        plan = self.trace
        if plan is None:
            raise RuntimeError("not a trace workload")
        text = PromptText(plan.trace.block_tokens, self.seed, _WORDS)

        def prompt(index: int) -> Prompt:
            record = plan.records[index]
            return Prompt(text.text(record), record.output_tokens, record.input_tokens)

        return prompt

    def sampler(self, stream_id: int) -> Callable[[], Prompt]:
        """A per-user prompt generator (its own RNG, seeded from the workload seed and `stream_id`)."""
        rng = random.Random(self.seed * 1_000_003 + stream_id)
        prefix = _words(self.prefix_tokens, random.Random(self.seed)) if self.kind == "shared-prefix" else ""
        counter = iter(range(1 << 62))

        def next_prompt() -> Prompt:
            n_out = self.output_tokens.draw(rng)
            if self.kind == "corpus":
                text, ref_len = self.corpus[rng.randrange(len(self.corpus))]
                return Prompt(text, n_out if self.output_given else max(ref_len, 1), len(text.split()))
            n_in = self.input_tokens.draw(rng)
            tag = f"[{stream_id}-{next(counter)}] "
            if self.kind == "shared-prefix":
                return Prompt(prefix + " " + tag + _words(n_in, rng), n_out, self.prefix_tokens + n_in)
            return Prompt(tag + _words(n_in, rng), n_out, n_in)

        return next_prompt

    def describe(self, include_usage: bool) -> dict[str, Any]:
        """The workload block of results.json."""
        out: dict[str, Any] = {
            "kind": self.kind,
            "input_tokens": self.input_tokens.describe(),
            "output_tokens": self.output_tokens.describe(),
            "include_usage": include_usage,
            "seed": self.seed,
        }
        if self.kind == "shared-prefix":
            out["prefix_tokens"] = self.prefix_tokens
        if self.trace is not None:
            out["input_tokens"] = out["output_tokens"] = {"kind": "trace", "spec": "per record"}
            out["trace"] = self.trace.describe()
        if self.sessions is not None:
            out["sessions"] = self.sessions.describe()
        if self.corpus_path:
            out["corpus"] = {"path": self.corpus_path, "prompts": len(self.corpus)}
        return out


def _words(n: int, rng: random.Random) -> str:
    return " ".join(rng.choice(_WORDS) for _ in range(max(n, 1)))


def load_corpus(path: str) -> list[tuple[str, int]]:
    """(first human turn, word count of the first gpt turn) per line of a ShareGPT-style JSONL file."""
    out: list[tuple[str, int]] = []
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"cannot read corpus {path!r}: {exc.strerror}") from None
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            turns = json.loads(line)["conversations"]
            human = next(t["value"] for t in turns if t.get("from") == "human")
            reply = next((t["value"] for t in turns if t.get("from") == "gpt"), "")
        except (ValueError, KeyError, TypeError, StopIteration):
            raise ConfigError(
                f'corpus {path}:{n}: expected {{"conversations": [{{"from": "human", "value": ...}}, '
                '{"from": "gpt", "value": ...}]}'
            ) from None
        out.append((str(human), len(str(reply).split())))
    if not out:
        raise ConfigError(f"corpus {path!r} holds no conversations")
    return out


def build_workload(
    spec: str,
    input_tokens: str,
    output_tokens: str | None,
    *,
    prefix_tokens: int = 0,
    seed: int = 0,
    trace_speed: float = 1.0,
    trace_window: tuple[float, float | None] = (0.0, None),
    trace_format: str = "mooncake",
) -> Workload:
    """A workload from CLI values: `spec` is ``synthetic``, ``shared-prefix``, ``corpus:PATH``, ``trace:PATH`` or
    ``sessions:...``."""
    inp = Distribution.parse(input_tokens, "--input-tokens")
    out = Distribution.parse(output_tokens or "fixed:64", "--output-tokens")
    if spec == "synthetic":
        return Workload("synthetic", inp, out, seed=seed)
    if spec == "shared-prefix":
        return Workload("shared-prefix", inp, out, prefix_tokens=prefix_tokens or 256, seed=seed)
    if spec.startswith("sessions:") or spec == "sessions":
        from maascheck.load.workload.sessions import parse_sessions

        return Workload("sessions", inp, out, sessions=parse_sessions(spec), seed=seed)
    if spec.startswith("corpus:"):
        path = spec.split(":", 1)[1]
        return Workload(
            "corpus",
            inp,
            out,
            output_given=output_tokens is not None,
            corpus=load_corpus(path),
            corpus_path=path,
            seed=seed,
        )
    if spec.startswith("trace:"):
        plan = TracePlan(load_trace(spec.split(":", 1)[1], trace_format), trace_speed, trace_window)
        return Workload("trace", inp, out, seed=seed, trace=plan)
    raise ConfigError(
        f"--workload {spec!r}: valid: synthetic, shared-prefix, corpus:PATH.jsonl, trace:PATH.jsonl, "
        "sessions:turns=DIST[,think=SECONDS]; example: --workload corpus:sharegpt.jsonl"
    )
