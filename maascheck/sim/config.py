"""SimConfig: every simulator setting, mirroring the `maascheck sim` flags (see notes COMMON.md)."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field

from maascheck.core.errors import ConfigError

DEFAULT_API_KEY = "maascheck-sim-key"
"""The documented loopback-only test key, used when neither SimConfig.api_key nor MAASCHECK_SIM_KEY is set."""
API_KEY_ENV = "MAASCHECK_SIM_KEY"


@dataclass
class SimConfig:
    """Simulator settings; times in milliseconds, sizes in tokens unless named otherwise.

    Timing model (engine mode): each engine step costs `decode_step_ms + decode_ms_per_seq * running
    + prefill_ms_per_token * newly admitted prompt tokens`, times a seeded factor `1 + N(0, jitter)`;
    every running sequence emits `tokens_per_chunk` tokens per step, at most `max_batch` run at once.
    Exact-schedule mode replaces it: a stream's k-th content event is due at
    `t_received + ttft_ms + k * itl_ms`.
    """

    host: str = "127.0.0.1"
    port: int = 0
    profile: str = "openai"
    faults: list[str] = field(default_factory=list)
    seed: int | None = None
    prefill_ms_per_token: float = 0.02
    decode_step_ms: float = 8.0
    decode_ms_per_seq: float = 0.15
    max_batch: int = 32
    tokens_per_chunk: int = 1
    jitter: float = 0.05
    output_tokens: int = 64
    exact_schedule: bool = False
    ttft_ms: float | None = None
    itl_ms: float | None = None
    api_key: str | None = None
    max_body_bytes: int = 16 * 1024 * 1024
    header_timeout_s: float = 10.0
    body_timeout_s: float = 30.0
    record_lateness: bool = False
    prefix_cache: bool = True  # chat prompts read full 16-token blocks seen before (engine.PrefixCache)

    def resolved_api_key(self) -> str:
        """The key clients must present: `api_key`, else $MAASCHECK_SIM_KEY, else the documented test key."""
        return self.api_key or os.environ.get(API_KEY_ENV) or DEFAULT_API_KEY

    def validate(self) -> None:
        """Raise ConfigError naming the first bad setting, what is valid, and an example."""
        nonneg = {
            "prefill_ms_per_token": self.prefill_ms_per_token,
            "decode_step_ms": self.decode_step_ms,
            "decode_ms_per_seq": self.decode_ms_per_seq,
            "jitter": self.jitter,
        }
        for name, value in nonneg.items():
            if not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
                flag = "--" + name.replace("_", "-")
                raise ConfigError(f"{flag} must be a finite number >= 0, got {value!r}; e.g. {flag} 0.5")
        positive = {
            "max_batch": self.max_batch,
            "tokens_per_chunk": self.tokens_per_chunk,
            "output_tokens": self.output_tokens,
        }
        for name, ivalue in positive.items():
            if not isinstance(ivalue, int) or ivalue < 1:
                flag = "--" + name.replace("_", "-")
                raise ConfigError(f"{flag} must be an integer >= 1, got {ivalue!r}; e.g. {flag} 16")
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"--port must be in [0, 65535] (0 = pick a free port), got {self.port}")
        if self.exact_schedule:
            for name, tvalue in (("ttft_ms", self.ttft_ms), ("itl_ms", self.itl_ms)):
                if tvalue is None or not math.isfinite(tvalue) or tvalue < 0:
                    flag = "--" + name.replace("_", "-")
                    raise ConfigError(
                        f"--exact-schedule needs {flag} >= 0, got {tvalue!r}; "
                        "e.g. --exact-schedule --ttft-ms 50 --itl-ms 10"
                    )
        elif self.ttft_ms is not None or self.itl_ms is not None:
            raise ConfigError(
                "--ttft-ms/--itl-ms only apply with --exact-schedule; "
                "e.g. --exact-schedule --ttft-ms 50 --itl-ms 10"
            )
        if self.max_body_bytes < 1024:
            raise ConfigError(f"max_body_bytes must be >= 1024, got {self.max_body_bytes}")
