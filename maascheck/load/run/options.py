"""maascheck's options inside Locust (registered on `events.init_command_line_parser`) and their parsed form.

The same options work with the native entry (`locust -f loadtests/locustfile.py --model ...`) and are
what `maascheck load` passes to its Locust subprocess. Each has an env-var fallback (`MAASCHECK_*`).
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass, field
from typing import Any

from maascheck.core.errors import ConfigError
from maascheck.load.measure.slo import Slo, parse_all
from maascheck.load.workload.payloads import SCENARIOS, BodyOptions
from maascheck.load.workload.workloads import Workload, build_workload


def add_locust_arguments(parser: Any) -> None:
    """Register maascheck's options on Locust's (configargparse) parser."""
    g = parser.add_argument_group("maascheck", "streaming LLM load test options")

    def opt(name: str, **kw: Any) -> None:
        g.add_argument(name, env_var="MAASCHECK_" + name.lstrip("-").replace("-", "_").upper(), **kw)

    opt("--model", default="", help="model name sent in every request")
    opt("--scenario", default="chat", choices=list(SCENARIOS), help="request kind (default chat)")
    opt("--provider-profile", default="openai", help="maascheck provider profile name (recorded in results)")
    opt(
        "--rate",
        type=float,
        default=0.0,
        help="open loop: arrivals per second over all workers (0: closed loop)",
    )
    opt("--arrival", default="poisson", choices=["constant", "poisson"], help="open-loop arrival process")
    opt("--shape", default="constant", choices=["constant", "step", "ramp"], help="load shape over the run")
    opt("--steps", type=int, default=4, help="step shape: number of equal steps up to the target")
    opt("--ramp-from", type=float, default=0.0, help="ramp shape: starting users or rate")
    opt("--stop-after", type=float, default=0.0, help="stop the test after S seconds (0: unbounded)")
    opt("--max-requests", type=int, default=0, help="stop after N requests in all (0: unbounded)")
    opt("--warmup", type=float, default=0.0, help="seconds at the start whose requests are excluded")
    opt("--workload", default="synthetic", help="synthetic | shared-prefix | corpus:PATH.jsonl")
    opt("--input-tokens", default="fixed:128", help="input length distribution (fixed:N, uniform:A:B, ...)")
    opt("--output-tokens", default=None, help="output length distribution (default fixed:64)")
    opt("--prefix-tokens", type=int, default=0, help="shared-prefix workload: prefix length in words")
    opt("--seed", type=int, default=0, help="workload random seed")
    opt("--no-usage", action="store_true", default=False, help="do not send stream_options.include_usage")
    opt(
        "--chunk-usage",
        action="store_true",
        default=False,
        help="send stream_options.continuous_usage_stats (vLLM) for exact per-chunk token counts",
    )
    opt("--tokenizer", default="", help="HF tokenizer name for per-chunk token counts (needs `tokenizers`)")
    opt("--slo", action="append", default=[], help="SLO gate, e.g. ttft_ms.p95<=500 (repeatable)")
    opt("--slo-file", default="", help="file of SLO gates (one per line, JSON or TOML)")
    opt("--report-dir", default="reports/load", help="where requests.jsonl and results.json go")
    opt("--api-key-env", default="OPENAI_API_KEY", help="environment variable holding the API key")
    opt("--request-timeout", type=float, default=120.0, help="per-request stall and total bound, seconds")
    opt("--reproduce", default="", help=argparse.SUPPRESS)


@dataclass(frozen=True)
class Settings:
    """The validated run settings every worker and the master derive from the parsed options."""

    host: str
    model: str
    scenario: str
    profile: str
    rate: float
    arrival: str
    shape: str
    steps: int
    ramp_from: float
    stop_after: float
    max_requests: int
    warmup: float
    users: int
    workload: Workload
    body: BodyOptions
    tokenizer: str
    slos: list[Slo] = field(default_factory=list)
    report_dir: str = "reports/load"
    api_key_env: str = "OPENAI_API_KEY"
    timeout: float = 120.0
    reproduce: str = ""

    @property
    def open_loop(self) -> bool:
        """Arrivals on a schedule (rate > 0) rather than users in a closed loop."""
        return self.rate > 0

    def level(self, t_s: float) -> float:
        """Target users (closed loop) or arrivals/s (open loop) at `t_s` seconds into the run."""
        target = self.rate if self.open_loop else float(self.users)
        span = self.stop_after or 60.0
        if self.shape == "step":
            steps = max(self.steps, 1)
            k = min(math.floor(t_s / (span / steps)) + 1, steps)
            return target * k / steps
        if self.shape == "ramp":
            return self.ramp_from + (target - self.ramp_from) * min(max(t_s / span, 0.0), 1.0)
        return target


def settings_from(options: Any, host: str | None) -> Settings:
    """Validate Locust's parsed options into Settings (ConfigError on a bad value)."""
    if not host:
        raise ConfigError(
            "no target: pass the base URL with --host (locust) or --base-url (maascheck load), "
            "e.g. http://127.0.0.1:8000/v1"
        )
    if not options.model:
        raise ConfigError("no model: pass --model NAME, e.g. --model sim-chat")
    workload = build_workload(
        options.workload,
        options.input_tokens,
        options.output_tokens,
        prefix_tokens=options.prefix_tokens,
        seed=options.seed,
    )
    slo_files = [options.slo_file] if options.slo_file else []
    return Settings(
        host=host.rstrip("/"),
        model=options.model,
        scenario=options.scenario,
        profile=options.provider_profile,
        rate=float(options.rate or 0.0),
        arrival=options.arrival,
        shape=options.shape,
        steps=options.steps,
        ramp_from=options.ramp_from,
        # Native `locust -t 60s`: Locust ignores --run-time when a shape class runs the test, so it bounds ours.
        stop_after=float(options.stop_after or getattr(options, "run_time", None) or 0.0),
        max_requests=int(options.max_requests or 0),
        warmup=float(options.warmup or 0.0),
        users=int(getattr(options, "num_users", None) or 1),
        workload=workload,
        body=BodyOptions(options.model, include_usage=not options.no_usage, chunk_usage=options.chunk_usage),
        tokenizer=options.tokenizer,
        slos=parse_all(options.slo or [], slo_files),
        report_dir=options.report_dir,
        api_key_env=options.api_key_env,
        timeout=options.request_timeout,
        reproduce=options.reproduce,
    )
