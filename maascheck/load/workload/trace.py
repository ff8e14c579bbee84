"""Timestamped request traces (JSONL): reading, validation, the replay window and speed, prompts from block ids.

One JSON object per line; blank lines are skipped, unknown fields ignored. Fields (one of each alias set):

- arrival time: ``timestamp`` (milliseconds in the Mooncake format, seconds in the Bailian format, see
  `FORMATS`), ``timestamp_ms`` (milliseconds) or ``arrival_time_s`` (seconds); a number >= 0;
- input length: ``input_length`` or ``input_tokens``; output length: ``output_length`` or ``output_tokens``
  (whole numbers 1..`MAX_TOKENS`); the output length is the request's max_tokens;
- optional ``hash_ids``: the prompt's block ids (whole numbers >= 0, at most `MAX_HASH_IDS`).

Mooncake's FAST'25 traces (https://github.com/kvcache-ai/Mooncake, `FAST25-release/traces`) carry
``timestamp`` in ms and 512-token blocks; Alibaba's Bailian usage traces (as AIPerf documents them,
https://github.com/ai-dynamo/aiperf) carry ``timestamp`` in seconds and 16-token blocks. Times are made
relative to the earliest record; records are replayed in time order (a stable sort of the file).
Bounds: a file of at most `MAX_TRACE_BYTES`, `MAX_TRACE_LINES` lines, each at most `MAX_LINE_BYTES`.
"""

from __future__ import annotations

import json
import math
import random
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from maascheck.core.errors import ConfigError
from maascheck.core.options import parse_duration
from maascheck.core.paths import DATA_DIR

MAX_TRACE_BYTES = 64 * 1024 * 1024
MAX_TRACE_LINES = 1_000_000
MAX_LINE_BYTES = 1024 * 1024
MAX_TOKENS = 1_000_000
MAX_HASH_IDS = 65_536
TRACES_DIR = DATA_DIR / "traces"
EXAMPLE = '{"timestamp": 1250, "input_length": 700, "output_length": 32, "hash_ids": [0, 1]}'
TIME_FIELDS = ("timestamp", "timestamp_ms", "arrival_time_s")
INPUT_FIELDS = ("input_length", "input_tokens")
OUTPUT_FIELDS = ("output_length", "output_tokens")


@dataclass(frozen=True)
class TraceFormat:
    """What ``timestamp`` counts and how many tokens (prompt words here) one hash id stands for."""

    timestamp_ms: float  # milliseconds per unit of `timestamp`
    block_tokens: int


FORMATS = {"mooncake": TraceFormat(1.0, 512), "bailian": TraceFormat(1000.0, 16)}


@dataclass(frozen=True)
class TraceRecord:
    """One request of a trace: its arrival (ms after the earliest record), lengths and block ids."""

    line: int
    t_ms: float
    input_tokens: int
    output_tokens: int
    hash_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class Trace:
    """A validated trace file, records in time order."""

    path: str
    format: str
    records: tuple[TraceRecord, ...]

    @property
    def block_tokens(self) -> int:
        """Prompt words per hash id."""
        return FORMATS[self.format].block_tokens

    @property
    def duration_s(self) -> float:
        """Time from the earliest to the latest record."""
        return self.records[-1].t_ms / 1000 if self.records else 0.0


def resolve_path(path: str) -> Path:
    """`path` itself, or a shipped trace of that name (``synthetic-2000`` or ``synthetic-2000.jsonl``)."""
    given = Path(path)
    if given.exists() or "/" in path:
        return given
    shipped = TRACES_DIR / (path if path.endswith(".jsonl") else path + ".jsonl")
    return shipped if shipped.is_file() else given


def _bad(where: str, what: str, valid: str) -> ConfigError:
    return ConfigError(f"trace {where}: {what}; valid: {valid}; e.g. {EXAMPLE}")


def _one(obj: dict[str, Any], names: tuple[str, ...], where: str, valid: str) -> tuple[str, Any] | None:
    present = [n for n in names if n in obj]
    if len(present) > 1:
        raise _bad(where, f"{' and '.join(present)} both given", f"one of {', '.join(names)}: {valid}")
    return (present[0], obj[present[0]]) if present else None


def _whole(value: Any, name: str, where: str, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise _bad(where, f"{name} {json.dumps(value)[:40]} is not a whole number {lo}..{hi}", f"{name} {lo}..{hi}")
    return value


def parse_record(obj: Any, where: str, line: int, fmt: TraceFormat) -> TraceRecord:
    """One trace line's object as a record (ConfigError naming `where` = file:line on anything wrong)."""
    if not isinstance(obj, dict):
        raise _bad(where, f"a JSON {type(obj).__name__} is not an object", "one JSON object per line")
    time_valid = "a number >= 0 (timestamp in the format's unit, timestamp_ms in ms, arrival_time_s in s)"
    got = _one(obj, TIME_FIELDS, where, time_valid)
    if got is None:
        raise _bad(where, "no arrival time", f"one of {', '.join(TIME_FIELDS)}: {time_valid}")
    name, value = got
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise _bad(where, f"{name} {json.dumps(value)[:40]} is not a number >= 0", f"{name}: {time_valid}")
    unit = {"timestamp": fmt.timestamp_ms, "timestamp_ms": 1.0, "arrival_time_s": 1000.0}[name]
    lengths: list[int] = []
    for names in (INPUT_FIELDS, OUTPUT_FIELDS):
        length = _one(obj, names, where, f"a whole number 1..{MAX_TOKENS}")
        if length is None:
            raise _bad(where, f"no {names[0]}", f"one of {', '.join(names)}: a whole number 1..{MAX_TOKENS}")
        lengths.append(_whole(length[1], length[0], where, 1, MAX_TOKENS))
    ids = obj.get("hash_ids", [])
    if not isinstance(ids, list) or len(ids) > MAX_HASH_IDS:
        raise _bad(where, "hash_ids is not a list of at most 65536 ids", "hash_ids: [whole numbers >= 0]")
    hash_ids = tuple(_whole(i, "hash_ids item", where, 0, 2**63 - 1) for i in ids)
    return TraceRecord(line, float(value) * unit, lengths[0], lengths[1], hash_ids)


def load_trace(path: str, fmt: str = "mooncake") -> Trace:
    """Read and validate a JSONL trace within its bounds (ConfigError, exit 2, naming file:line)."""
    file = resolve_path(path)
    try:
        size = file.stat().st_size
        if size > MAX_TRACE_BYTES:
            raise _bad(str(file), f"{size} bytes is above the {MAX_TRACE_BYTES} byte bound", "a smaller trace")
        data = file.read_bytes()
    except OSError as exc:
        raise ConfigError(
            f"cannot read trace {path!r}: {exc.strerror}; valid: a JSONL file or a shipped trace "
            f"({', '.join(shipped_traces())}); e.g. --workload trace:synthetic-2000"
        ) from None
    form = FORMATS[fmt]
    records: list[TraceRecord] = []
    for n, raw in enumerate(data.split(b"\n"), 1):
        where = f"{file}:{n}"
        if n > MAX_TRACE_LINES:
            raise _bad(where, f"more than {MAX_TRACE_LINES} lines", f"at most {MAX_TRACE_LINES} lines")
        if len(raw) > MAX_LINE_BYTES:
            raise _bad(where, f"a line of {len(raw)} bytes", f"lines of at most {MAX_LINE_BYTES} bytes")
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
        except (ValueError, RecursionError) as exc:
            raise _bad(where, f"not JSON ({str(exc)[:80]})", "one JSON object per line") from None
        records.append(parse_record(obj, where, n, form))
    if not records:
        raise _bad(str(file), "no records", "at least one JSON object line")
    records.sort(key=lambda r: r.t_ms)  # stable: equal times keep the file's order
    first = records[0].t_ms
    shifted = tuple(TraceRecord(r.line, r.t_ms - first, r.input_tokens, r.output_tokens, r.hash_ids) for r in records)
    return Trace(str(file), fmt, shifted)


def shipped_traces() -> list[str]:
    """Names of the traces shipped in `maascheck/data/traces`."""
    return sorted(p.stem for p in TRACES_DIR.glob("*.jsonl")) if TRACES_DIR.is_dir() else []


def parse_window(text: str) -> tuple[float, float | None]:
    """``START:END`` offsets into the trace (durations, either may be empty): (start_s, end_s or None)."""
    start_text, sep, end_text = text.partition(":")
    if not sep:
        raise ValueError(text)
    start = parse_duration(start_text) if start_text.strip() else 0.0
    end = parse_duration(end_text) if end_text.strip() else None
    if end is not None and end <= start:
        raise ValueError(text)
    return start, end


def show_window(window: tuple[float, float | None]) -> str:
    """The window as ``START:END`` text (``60s:300s``, ``0s:`` for the whole trace)."""
    start, end = window
    return f"{start:g}s:" + (f"{end:g}s" if end is not None else "")


@dataclass(frozen=True)
class TracePlan:
    """What a run replays: the trace's records in the window, sent at (t - window start) / speed."""

    trace: Trace
    speed: float = 1.0
    window: tuple[float, float | None] = (0.0, None)
    records: tuple[TraceRecord, ...] = field(default=(), init=False)

    def __post_init__(self) -> None:
        start, end = self.window
        chosen = tuple(r for r in self.trace.records if r.t_ms >= start * 1000 and (end is None or r.t_ms < end * 1000))
        if not chosen:
            raise ConfigError(
                f"--trace-window {show_window(self.window)}: no record of {self.trace.path} falls in it (the "
                f"trace spans 0s..{self.trace.duration_s:g}s); valid: a window inside that span; "
                f"e.g. --trace-window 0s:{max(self.trace.duration_s / 2, 1):g}s"
            )
        object.__setattr__(self, "records", chosen)

    def offset_s(self, record: TraceRecord) -> float:
        """When `record` is sent, seconds after the replay starts."""
        return (record.t_ms / 1000 - self.window[0]) / self.speed

    @property
    def span_s(self) -> float:
        """The replay's length: the last record's send offset."""
        return self.offset_s(self.records[-1])

    @property
    def mean_rps(self) -> float:
        """Records per second of replay (the records' count when they all leave at once)."""
        span = self.span_s
        return len(self.records) / span if span > 0 else float(len(self.records))

    def describe(self) -> dict[str, Any]:
        """The plan as results.json shows it (the workload's `trace` settings)."""
        return {
            "path": self.trace.path,
            "format": self.trace.format,
            "block_tokens": self.trace.block_tokens,
            "records": len(self.trace.records),
            "window": show_window(self.window),
            "window_records": len(self.records),
            "speed": self.speed,
            "replay_s": round(self.span_s, 3),
        }


class PromptText:
    """Prompts of trace records: equal leading hash ids give an equal prefix, other words are unique.

    A hash id stands for `block_tokens` words drawn from an RNG seeded with (seed, id); the prompt is
    its blocks in order, cut or padded with words unique to its record up to ``input_length`` words.
    Without hash ids the prompt is ``input_length`` unique words. About one word per token.
    """

    def __init__(self, block_tokens: int, seed: int, words: list[str]) -> None:
        self.block_tokens = block_tokens
        self.seed = seed
        self.words = words
        self.block = lru_cache(maxsize=4096)(self._block)  # bounded memory whatever the trace's id count

    def _block(self, block_id: int) -> str:
        rng = random.Random(f"{self.seed}:block:{block_id}")
        return " ".join([f"[b{block_id}]", *(rng.choice(self.words) for _ in range(self.block_tokens - 1))])

    def text(self, record: TraceRecord) -> str:
        """The prompt of `record` (``input_tokens`` words)."""
        n = record.input_tokens
        parts: list[str] = []
        have = 0
        for block_id in record.hash_ids:
            if have >= n:
                break
            block = self.block(block_id)
            take = min(self.block_tokens, n - have)
            parts.append(block if take == self.block_tokens else " ".join(block.split(" ")[:take]))
            have += take
        if have < n:
            rng = random.Random(f"{self.seed}:line:{record.line}")
            parts.append(" ".join([f"[r{record.line}]", *(rng.choice(self.words) for _ in range(n - have - 1))]))
        return " ".join(parts)
