"""The option table of `maascheck sweep` (`SWEEP_OPTIONS`): target options shared with `maascheck load`."""

from __future__ import annotations

from dataclasses import replace

from maascheck.core.options import (
    OVERWRITE,
    REPORT_DIR,
    TEXT,
    Kind,
    Option,
    OptionTable,
    choice,
    duration,
    integer,
    number,
)
from maascheck.core.preflight import NO_PREFLIGHT
from maascheck.load.measure.slo import parse_slo
from maascheck.load.run.options import LOAD_OPTIONS
from maascheck.load.sweep.analysis import DEFAULT_KNEE_METRIC, DEFAULT_MIN_EFFICIENCY

KNEE_METRICS = ("output_tokens_per_s", "total_tokens_per_s", "requests_per_s")
TARGET = "target (passed to every step)"
# Sweep option (dest) -> the `maascheck load` option of every step; the same Option declares both.
TARGET_NAMES = (
    "base-url", "model", "profile", "api-key-env", "scenario", "input-tokens", "output-tokens",
    "workload", "seed", "processes", "request-timeout",
)  # fmt: skip


def _slo_text(text: str) -> str:
    parse_slo(text)  # the load command's own grammar and range checks, same messages
    return text.strip()


def _open_fraction(text: str) -> float:
    value = float(text)
    if not 0 < value < 1:
        raise ValueError(text)
    return value


SWEEP_OPTIONS = OptionTable(
    "sweep",
    (
        *(replace(LOAD_OPTIONS[name], group=TARGET) for name in TARGET_NAMES),
        Option("concurrency", "comma-separated user counts", TEXT, example="1,2,4,8,16,32", metavar="LIST",
               group="load levels (one of)"),
        Option("rate-steps", "comma-separated open-loop arrival rates (requests/s)", TEXT, example="1,2,4,8",
               metavar="LIST", group="load levels (one of)"),
        Option("start", "geometric ladder: first level (with --stop, --factor)", number(0, above=True),
               example="1", metavar="L", group="load levels (one of)"),
        Option("stop", "geometric ladder: last level", number(0, above=True), example="32", metavar="L",
               group="load levels (one of)"),
        Option("factor", "geometric ladder: ratio between levels", number(1, above=True), 2.0, example="2",
               metavar="F", group="load levels (one of)"),
        Option("by", "what --start/--stop/--factor step", choice("concurrency", "rate"), "concurrency",
               example="rate", group="load levels (one of)"),
        Option("step-time", "measured time per step", duration(above=True), 20.0, example="60s",
               metavar="DURATION", group="steps and analysis"),
        Option("warmup", "warm-up per step, excluded", duration(), 5.0, example="5s", metavar="DURATION",
               group="steps and analysis"),
        Option("max-requests-per-step", "request bound per step, warm-up included (0 = time only)", integer(0),
               10000, example="5000", metavar="N", group="steps and analysis"),
        Option("step-grace", "time a step may overrun warm-up + step time before it is stopped",
               duration(above=True), 60.0, example="60s", metavar="DURATION", group="steps and analysis"),
        Option("slo", "SLO gate (repeatable)", Kind(_slo_text, "an SLO expression"), repeat=True,
               example="ttft_ms.p95<=500", metavar="EXPR", group="steps and analysis"),
        Option("knee-metric", "throughput figure the knee is found on", choice(*KNEE_METRICS), DEFAULT_KNEE_METRIC,
               example="requests_per_s", group="steps and analysis"),
        Option("knee-efficiency", "knee: first step gaining less than this fraction of the ideal linear gain",
               Kind(_open_fraction, "a fraction between 0 and 1 (exclusive)", lambda v: f"{v:g}"),
               DEFAULT_MIN_EFFICIENCY, example="0.5", metavar="F", group="steps and analysis"),
        Option("stop-factor", "stop after a step missing an SLO by more than this factor (0 = never)", number(0),
               2.0, example="2", metavar="F", group="steps and analysis"),
        Option("max-error-rate", "stop after a step whose error rate exceeds this fraction", number(0, maximum=1),
               0.5, example="0.5", metavar="F", group="steps and analysis"),
        Option("no-early-stop", "run every step whatever happens", flag=True, group="steps and analysis"),
        replace(NO_PREFLIGHT, help="skip the preflight (at most 5 requests that check the URL, key and model once, "
                "before the first step)", group="steps and analysis"),
        replace(REPORT_DIR, help="output folder (default reports/sweep-<UTC timestamp>)"),
        OVERWRITE,
    ),
)
