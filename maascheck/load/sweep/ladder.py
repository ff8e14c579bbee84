"""The ladder of load levels a sweep steps through, and the `maascheck load` command of each step."""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from pathlib import Path

from maascheck.core.errors import ConfigError

MAX_STEPS = 32


def parse_levels(text: str, *, integer: bool, flag: str) -> list[float]:
    """Parse `1,2,4,8` into ascending distinct positive levels; ConfigError on anything else."""
    example = "1,2,4,8,16" if integer else "0.5,1,2,4"
    try:
        values = [float(p) for p in text.split(",") if p.strip()]
    except ValueError:
        raise ConfigError(
            f"{flag} {text!r}: expected comma-separated numbers, e.g. {flag} {example}"
        ) from None
    if not values or any(v <= 0 or not math.isfinite(v) for v in values):
        raise ConfigError(f"{flag} {text!r}: every level must be a positive number, e.g. {flag} {example}")
    if integer and any(v != int(v) for v in values):
        raise ConfigError(f"{flag} {text!r}: concurrency levels are whole users, e.g. {flag} {example}")
    if values != sorted(set(values)):
        raise ConfigError(f"{flag} {text!r}: levels must be distinct and ascending, e.g. {flag} {example}")
    return _bounded(values)


def geometric_levels(start: float, stop: float, factor: float, *, integer: bool) -> list[float]:
    """start, start*factor, ... up to stop (inclusive; stop is appended when the ladder misses it)."""
    if start <= 0 or stop < start or factor <= 1:
        raise ConfigError(
            f"--start {start:g} --stop {stop:g} --factor {factor:g}: need 0 < start <= stop and factor > 1, "
            "e.g. --start 1 --stop 32 --factor 2"
        )
    out: list[float] = []
    level = start
    while level <= stop * (1 + 1e-9) and len(out) <= MAX_STEPS:
        value = float(round(level)) if integer else round(level, 6)
        if not out or value > out[-1]:
            out.append(value)
        level *= factor
    if out[-1] < stop:
        out.append(float(round(stop)) if integer else stop)
    return _bounded(out)


def _bounded(levels: list[float]) -> list[float]:
    if len(levels) > MAX_STEPS:
        raise ConfigError(
            f"{len(levels)} steps requested; at most {MAX_STEPS} keep a sweep bounded "
            "(use a larger --factor or fewer levels)"
        )
    return levels


def label(level: float, mode: str) -> str:
    """Directory name of a step: `step-8` (concurrency) or `step-r2.5` (rate)."""
    return f"step-{level:g}" if mode == "concurrency" else f"step-r{level:g}"


@dataclass(frozen=True)
class StepCommand:
    """What one step runs."""

    level: float
    report_dir: Path
    argv: list[str]
    timeout_s: float


def step_command(
    *,
    level: float,
    mode: str,
    sweep_dir: Path,
    step_time_s: float,
    warmup_s: float,
    max_requests: int,
    slos: list[str],
    target: dict[str, str],
    extra: list[str],
    grace_s: float,
) -> StepCommand:
    """The `maascheck load` subprocess of one step (run time = warm-up + measured step time)."""
    out_dir = sweep_dir / label(level, mode)
    argv = [sys.executable, "-m", "maascheck.cli", "load"]
    for key, value in target.items():  # the same option names on both commands (`SWEEP_OPTIONS`)
        argv += ["--" + key.replace("_", "-"), value]
    argv += ["--users", f"{int(level)}"] if mode == "concurrency" else ["--rate", f"{level:g}"]
    argv += ["--run-time", f"{warmup_s + step_time_s:g}", "--warmup", f"{warmup_s:g}"]
    if max_requests:
        argv += ["--max-requests", str(max_requests)]
    for slo in slos:
        argv += ["--slo", slo]
    argv += ["--report-dir", str(out_dir), *extra]
    return StepCommand(level, out_dir, argv, warmup_s + step_time_s + grace_s)
