"""The load shape: users over time (closed loop) or a fixed over-provisioned pool (open loop).

`Settings.level(t)` defines the shape (constant, step: `--steps` equal steps up to the target over the
run, ramp: linear from `--ramp-from` to the target over the run). In closed loop the shape sets the user
count; in open loop it sets the arrival rate (see `maascheck.load.run.pacing`) while the user pool stays at
`--users`. Stopping is left to the run controller (`--stop-after`, `--max-requests`).
"""

from __future__ import annotations

import math
from typing import Any

from locust import LoadTestShape

from maascheck.load.run.options import Settings, settings_from

SPAWN_RATE = 1000.0


class MaascheckShape(LoadTestShape):
    """Ticks once a second: the user count the current level asks for."""

    use_common_options = True

    def tick(self) -> tuple[int, float] | None:
        """(users, spawn rate) for now."""
        env: Any = self.runner.environment if self.runner else None
        s: Settings | None = getattr(self, "_settings", None)
        if s is None:
            s = self._settings = settings_from(env.parsed_options, env.host)
        if s.open_loop:
            return s.users, SPAWN_RATE
        run_time = float(self.get_run_time())  # type: ignore[no-untyped-call]
        users = max(math.ceil(s.level(run_time)), 1 if s.shape != "ramp" else 0)
        return users, SPAWN_RATE
