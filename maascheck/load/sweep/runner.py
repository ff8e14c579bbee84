"""Run one sweep step: `maascheck load` as a subprocess, bounded by a timeout, output kept in a log.

A subprocess (not an in-process call) keeps Locust's gevent monkey-patching out of the sweep
process and gives every step a fresh client. The step's own exit code follows the CLI contract:
0 SLOs met, 1 SLOs failed, 2 bad usage; anything else (or no results.json) is a step error.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from maascheck.core.errors import ConfigError
from maascheck.load.measure.reader import RESULTS_FILE, load_results
from maascheck.load.sweep.ladder import StepCommand

LOG_FILE = "load.log"
_TAIL_CHARS = 1500
_KILL_WAIT_S = 5.0


@dataclass
class StepRun:
    """What one step produced."""

    exit_code: int | None  # None when killed on timeout
    results: dict[str, Any] | None
    error: str | None  # why there are no usable results
    wall_s: float
    log: Path


def _tail(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return text[-_TAIL_CHARS:].strip()


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGINT the step's process group (Locust then writes what it has), then SIGKILL if it lingers."""
    for sig, wait in ((signal.SIGINT, _KILL_WAIT_S), (signal.SIGKILL, _KILL_WAIT_S)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def run_step(cmd: StepCommand) -> StepRun:
    """Run one step to completion or its timeout; ConfigError when `maascheck load` rejects the options."""
    cmd.report_dir.mkdir(parents=True, exist_ok=True)
    log = cmd.report_dir / LOG_FILE
    t0 = time.monotonic()
    with log.open("wb") as fh:
        proc = subprocess.Popen(
            cmd.argv, stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
        )
        try:
            code: int | None = proc.wait(timeout=cmd.timeout_s)
        except subprocess.TimeoutExpired:
            _stop(proc)
            code = None
        except BaseException:  # KeyboardInterrupt: do not leave the step running
            _stop(proc)
            raise
    wall = time.monotonic() - t0
    if code == 2:
        raise ConfigError(f"`maascheck load` rejected the step options (exit 2); its output:\n{_tail(log)}")
    results: dict[str, Any] | None = None
    error: str | None = None
    if (cmd.report_dir / RESULTS_FILE).exists():
        try:
            results = load_results(cmd.report_dir / RESULTS_FILE)
        except ConfigError as exc:
            error = str(exc)
    else:
        error = "no results.json was written"
    if code is None:
        error = f"timed out after {cmd.timeout_s:g} s and was stopped" + (f"; {error}" if error else "")
    elif code not in (0, 1):
        error = f"exit code {code}" + (f"; {error}" if error else "")
    if error and results is None:
        error += f"; log tail: {_tail(log)[-300:]}"
    return StepRun(code, results, error, wall, log)


StepRunner = Callable[[StepCommand], StepRun]
