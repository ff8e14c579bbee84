"""Per-process run state shared by users, shapes and listeners (attached to the Locust Environment)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from maascheck.load.measure.metrics import TokenCounter
from maascheck.load.run.brakes import Brakes
from maascheck.load.run.gcpolicy import GcPolicy
from maascheck.load.run.options import Settings
from maascheck.load.run.pacing import Pacer
from maascheck.load.run.postprocess import Postprocessor
from maascheck.load.run.recorder import RecordSink


class Role(StrEnum):
    """What one Locust process is in a run."""

    LOCAL = "local"  # one process: runs the users and writes the results
    MASTER = "master"  # merges the workers' records and writes the results
    WORKER = "worker"  # runs users, ships its records to the master


class Message(StrEnum):
    """maascheck's messages between master and workers (Locust `send_message` names)."""

    FINAL = "maascheck_final"  # a worker's last records and its CPU summary, on test stop
    DONE = "maascheck_done"  # a worker finished its share of --max-requests
    CLOCK_HELLO = "maascheck_clock_hello"  # worker -> master: connected, measure my clock
    CLOCK_PING = "maascheck_clock_ping"  # master -> worker: {t0}, the master's send time
    CLOCK_PONG = "maascheck_clock_pong"  # worker -> master: {t0, t1}, t1 the worker's receive time
    CLOCK_ZERO = "maascheck_clock_zero"  # worker -> master: {t0_utc}, its run zero on its wall clock

ATTR = "maascheck_runtime"


@dataclass
class Budget:
    """The request quota of one process (`--max-requests` split across workers); None = unbounded."""

    quota: int | None
    started: int = 0
    finished: int = 0

    def try_start(self) -> bool:
        """Claim one request; False once the quota is used up."""
        if self.quota is not None and self.started >= self.quota:
            return False
        self.started += 1
        return True

    def finish(self) -> None:
        """Count one finished request."""
        self.finished += 1

    @property
    def exhausted(self) -> bool:
        """Every request of the quota has finished."""
        return self.quota is not None and self.finished >= self.quota


@dataclass
class Runtime:
    """What one Locust process knows about the run."""

    settings: Settings
    role: Role
    report_dir: Path
    api_key: str | None
    counter: TokenCounter | None
    worker_id: str = "w0"
    t0_ns: int = 0
    t0_utc: float = 0.0
    cpu0: float = 0.0
    budget: Budget = field(default_factory=lambda: Budget(None))
    sink: RecordSink | None = None
    pacer: Pacer | None = None
    seq: int = 0
    stopped_by: str | None = None
    interrupted: bool = False  # Ctrl-C or SIGTERM stopped the run
    workers: dict[str, dict[str, Any]] = field(default_factory=dict)  # master: per worker summary
    gc: GcPolicy = field(default_factory=GcPolicy)
    post: Postprocessor | None = None  # load-generating processes: records made off the users' greenlets
    brakes: Brakes = field(default_factory=Brakes)  # this process's circuit breaker and backoff
    brake_reason: str | None = None  # master: the first worker's breaker reason
    preflight: dict[str, Any] | None = None  # results.json `preflight` (local/master)

    def now(self) -> int:
        """The run clock (perf_counter_ns)."""
        return time.perf_counter_ns()

    def next_rid(self) -> str:
        """A run-unique request id such as ``w0-000123``."""
        self.seq += 1
        return f"{self.worker_id}-{self.seq:06d}"

    def cpu_summary(self) -> dict[str, Any]:
        """This process's CPU use since the test started."""
        wall = max(time.perf_counter() - self.t0_ns / 1e9, 1e-9)
        cpu = time.process_time() - self.cpu0
        sink = self.sink
        return {
            "id": self.worker_id,
            "requests": self.budget.finished,
            "cpu_s": round(cpu, 4),
            "wall_s": round(wall, 4),
            "chunks": sink.chunks if sink else 0,
            "lost": False,
            "brakes": self.brakes.summary(),
            **self.gc.summary(),
        }


def runtime_of(environment: Any) -> Runtime:
    """The Runtime attached to a Locust Environment by the init listener."""
    rt = getattr(environment, ATTR, None)
    if not isinstance(rt, Runtime):
        raise RuntimeError("maascheck runtime missing: run Locust with -f loadtests/locustfile.py")
    return rt
