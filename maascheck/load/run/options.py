"""The load option table (`LOAD_OPTIONS`: `maascheck load` and the native Locust entry) and `Settings`.

One name per option on both faces: where Locust has the option itself (`--host` for `--base-url`,
`-u/--users`, `-t/--run-time`, `--processes`, `--profile`) its value is read from Locust's parsed
options; the rest are registered on Locust's parser (`events.init_command_line_parser`). Each has an
env-var fallback (`MAASCHECK_*`); validation and messages are the table's, the same on both faces.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

from maascheck.core.errors import ConfigError
from maascheck.core.options import (
    API_KEY_ENV,
    BASE_URL,
    MODEL,
    OVERWRITE,
    PROFILE,
    REPORT_DIR,
    SEED,
    TEXT,
    Kind,
    Option,
    OptionTable,
    Values,
    choice,
    duration,
    integer,
    number,
)
from maascheck.core.paths import refuse_shared_report_dir
from maascheck.core.preflight import NO_PREFLIGHT, PREFLIGHT_RESULT
from maascheck.load.client.limits import MIB, Limits
from maascheck.load.measure.slo import Slo, parse_slo, read_slo_file
from maascheck.load.measure.validity import Bounds
from maascheck.load.run.brakes import BrakeSettings
from maascheck.load.run.trace_replay import START_S
from maascheck.load.workload.payloads import OWNED_FIELDS, SCENARIOS, BodyOptions, parse_extra_body
from maascheck.load.workload.trace import FORMATS, parse_window, show_window
from maascheck.load.workload.workloads import Workload, build_workload


def _slo(text: str) -> Slo:
    return parse_slo(text)


SLO_KIND = Kind(_slo, "METRIC.STAT OP NUMBER or SCALAR OP NUMBER", lambda slo: str(slo.expr))
def _extra_body(text: str) -> str:
    parse_extra_body(text)
    return text


EXTRA_BODY = Kind(
    _extra_body,
    f"a JSON object of extra body fields, none of {', '.join(OWNED_FIELDS)}",
)
DEFAULT_USERS = 4
# The default error-rate gate (`--max-error-rate`): a run with more failed requests than this never passes.
DEFAULT_MAX_ERROR_RATE = 0.05


def _warmup_shorter(v: Values) -> str | None:
    run_time = v.stop_after or v.run_time
    if v.warmup and v.warmup >= run_time:
        return (
            f"--warmup {v.warmup:g}s must be shorter than --run-time {run_time:g}s; "
            "e.g. --run-time 60s --warmup 10s"
        )
    return None


TRACE_WINDOW = Kind(
    parse_window, "START:END offsets into the trace, either may be empty (60s:300s, 60s:, :5m)", show_window
)
# Without --run-time a trace replay may last its replay length plus this (the trace's end stops it first).
TRACE_TAIL_S = 60.0
TRACE_OPTIONS = ("trace_speed", "trace_window", "trace_format")


def _trace_fits(v: Values) -> str | None:
    trace = str(v.workload).startswith("trace:")
    stray = [f"--{d.replace('_', '-')}" for d in TRACE_OPTIONS if d in v.given]
    if stray and not trace:
        return (
            f"{', '.join(stray)} apply to a trace workload only; "
            "e.g. --workload trace:synthetic-2000 --trace-speed 2"
        )
    if trace and v.rate is not None:
        return "a trace sets its own arrival times: give --trace-speed instead of --rate; e.g. --trace-speed 2"
    if trace and v.shape != "constant":
        return "a trace sets its own arrival times: --shape step/ramp do not apply; e.g. --trace-speed 0.5"
    lengths = [f"--{d.replace('_', '-')}" for d in ("input_tokens", "output_tokens", "prefix_tokens") if d in v.given]
    if trace and lengths:
        return (
            f"a trace sets each request's lengths: {', '.join(lengths)} do not apply; "
            "e.g. --workload trace:synthetic-2000 --trace-window 0s:30s"
        )
    return None


def _sessions_fit(v: Values) -> str | None:
    if not str(v.workload).startswith("sessions"):
        return None
    if v.scenario not in ("chat", "reasoning"):
        return (
            f"--workload sessions needs a chat scenario (chat, reasoning), got --scenario {v.scenario}; "
            "e.g. --scenario chat --workload sessions:turns=4"
        )
    if v.rate:
        return (
            "--workload sessions runs closed loop (each user waits for a reply, then thinks); drop --rate "
            "and give --users, e.g. --users 8 --workload sessions:turns=4,think=fixed:1"
        )
    return None


BRAKES = "brakes (circuit breaker and backoff for failing requests)"
VALIDITY = "run validity (the generator checks it kept up; docs/METRICS.md)"
_BOUNDS = Bounds()
DISTRIBUTED = "distributed across hosts (Locust master/worker over TCP, docs/distributed.md)"
MASTER_PORT = 5557  # Locust's default master port


def _port(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 65535:
        raise ValueError(text)
    return value


PORT = Kind(_port, "a TCP port 1-65535")
_BRAKES = BrakeSettings()  # the brakes' defaults are the dataclass's

LOAD_OPTIONS = OptionTable(
    "load",
    (
        replace(BASE_URL, locust_dest="host"),
        replace(MODEL, help="model name sent in every request"),
        replace(PROFILE, locust_dest="profile", help="provider profile name or .json path (recorded in results)"),
        Option("scenario", "request kind", choice(*SCENARIOS), "chat", example="vision"),
        Option(
            "users", "closed loop: concurrent streams (open loop: the user pool)", integer(1), DEFAULT_USERS,
            example="16", metavar="N", locust_dest="num_users",
        ),
        Option("rate", "open loop: arrivals per second over all workers", number(0, above=True), example="5"),
        Option("arrival", "open-loop arrival process", choice("constant", "poisson"), "poisson", example="constant"),
        Option(
            "pool", "open loop: user pool size (default: enough for 10 s of arrivals)", integer(1),
            example="64", locust=False,
        ),
        Option("shape", "load shape over the run", choice("constant", "step", "ramp"), "constant", example="step"),
        Option("steps", "step shape: number of equal steps up to the target", integer(1), 4, example="4"),
        Option("ramp-from", "ramp shape: starting users or rate", number(0), 0.0, example="1"),
        Option(
            "run-time", "wall time of the load, warm-up included", duration(above=True), 30.0,
            example="5m", metavar="DURATION", locust_dest="run_time",
        ),
        Option(
            "stop-after", "exact run time in seconds from `maascheck load` (Locust's -t is whole seconds)",
            duration(above=True), hidden=True, cli=False, env=False, reproduce=False,
        ),
        Option("max-requests", "stop after N requests in all (0: unbounded)", integer(0), 0, example="1000"),
        Option(
            "warmup", "leading time whose requests are excluded", duration(), 0.0, example="5s", metavar="DURATION"
        ),
        Option(
            "processes", "load-generator worker processes (Locust --processes)", integer(1), 1,
            example="2", locust_dest="processes",
        ),
        Option(
            "expect-workers", "run as the master of N `maascheck load --worker` processes on other hosts "
            "(0: no master)", integer(0), 0, example="2", metavar="N", locust=False, group=DISTRIBUTED,
        ),
        Option(
            "master-bind-host", "master: interface the workers connect to", TEXT, "*", example="10.0.0.5",
            metavar="ADDR", locust=False, group=DISTRIBUTED,
        ),
        Option(
            "master-bind-port", "master: TCP port the workers connect to", PORT, MASTER_PORT, example="5557",
            metavar="PORT", locust=False, group=DISTRIBUTED,
        ),
        Option(
            "workers-wait", "master: longest wait for the workers to connect, seconds", duration(above=True),
            120.0, example="300", metavar="S", locust=False, group=DISTRIBUTED,
        ),
        Option(
            "worker", "run as a worker of the master at --master-host (it sends every other option)", flag=True,
            locust=False, reproduce=False, env=False, group=DISTRIBUTED,
        ),
        Option(
            "master-host", "worker: the master's address", TEXT, "127.0.0.1", example="10.0.0.5", metavar="ADDR",
            locust=False, reproduce=False, group=DISTRIBUTED,
        ),
        Option(
            "master-port", "worker: the master's port", PORT, MASTER_PORT, example="5557", metavar="PORT",
            locust=False, reproduce=False, group=DISTRIBUTED,
        ),
        Option(
            "workload", "synthetic | shared-prefix | corpus:PATH.jsonl | sessions:turns=DIST[,think=SECONDS] | "
            "trace:PATH.jsonl (docs/workloads.md)", TEXT,
            "synthetic", example="trace:synthetic-2000",
        ),
        Option(
            "trace-speed", "trace replay: send times are the trace's divided by X", number(0, above=True, maximum=1000),
            1.0, example="2", metavar="X",
        ),
        Option(
            "trace-window", "trace replay: only records from START to END (trace time, after its first record)",
            TRACE_WINDOW, example="60s:300s", metavar="START:END",
        ),
        Option(
            "trace-format", "trace replay: the unit of `timestamp` and tokens per hash id (mooncake: ms, 512; "
            "bailian: s, 16)", choice(*FORMATS), "mooncake", example="bailian",
        ),
        Option(
            "input-tokens", "input length distribution: fixed:N | uniform:A:B | normal:M:S | file:PATH", TEXT,
            "fixed:128", example="uniform:64:256", metavar="DIST",
        ),
        Option(
            "output-tokens", "output length distribution, as --input-tokens (default fixed:64)", TEXT,
            example="fixed:64", metavar="DIST",
        ),
        Option("prefix-tokens", "shared-prefix workload: prefix length in words", integer(0), 0, example="512"),
        replace(SEED, help="workload random seed"),
        Option("no-usage", "do not send stream_options.include_usage", flag=True),
        Option(
            "chunk-usage", "send stream_options.continuous_usage_stats (vLLM) for per-chunk token counts", flag=True
        ),
        Option(
            "extra-body", "JSON object merged into every request body (not model, messages, prompt, stream, "
            "max_tokens); recorded in results.json", EXTRA_BODY, "", example='{"ignore_eos": true}',
        ),
        Option("tokenizer", "HF tokenizer name for per-chunk token counts (needs `tokenizers`)", TEXT, ""),
        Option(
            "slo", "SLO gate (repeatable)", SLO_KIND, repeat=True, example="ttft_ms.p95<=500", metavar="EXPR"
        ),
        Option("slo-file", "SLO gates: one per line, JSON or TOML", TEXT, "", example="slos.toml", metavar="PATH"),
        Option(
            "max-error-rate", "the default gate error_rate<=F, applied unless an --slo on error_rate is given "
            "(1 turns it off)", number(0, maximum=1), DEFAULT_MAX_ERROR_RATE, example="0.01", metavar="F",
        ),
        Option(
            "baseline", "an older results.json (or its folder) to compare against", TEXT, "",
            example="reports/load-prev", metavar="PATH", locust=False,
        ),
        Option(
            "baseline-threshold", "a metric regresses when worse than the baseline by more than PCT percent",
            number(0), 10.0, example="10", metavar="PCT", locust=False,
        ),
        Option("fail-on-regression", "exit 1 when the baseline comparison flags one", flag=True, locust=False),
        replace(REPORT_DIR, help="output folder (default reports/load-<UTC>; native locust: reports/load)"),
        OVERWRITE,
        API_KEY_ENV,
        Option(
            "request-timeout", "per-request stall and total bound, seconds", number(0, above=True), 120.0,
            example="120", metavar="S", aliases=("timeout",),
        ),
        Option(
            "head-timeout", "per-request bound on the wait for the response head (1xx included), seconds; "
            "at most --request-timeout", number(0, above=True), Limits().head_s, example="60", metavar="S",
        ),
        Option(
            "idle-timeout", "per-request bound on a silence between two reads, seconds; at most --request-timeout",
            number(0, above=True), Limits().idle_s, example="60", metavar="S",
        ),
        Option(
            "max-response-mb", "per-request bound on the streamed body, MiB (beyond it: error kind too_large)",
            number(0, above=True), Limits().max_response_bytes / MIB, example="32", metavar="MB",
        ),
        Option("no-brakes", "turn the circuit breaker off (the backoff stays)", flag=True, group=BRAKES),
        Option(
            "brake-first-n", "stop when the first N requests all fail (0: off)", integer(0), _BRAKES.first_n,
            example="20", metavar="N", group=BRAKES,
        ),
        Option(
            "brake-window", "sliding window of the error-rate breaker, seconds", number(0, above=True),
            _BRAKES.window_s, example="10", metavar="S", group=BRAKES,
        ),
        Option(
            "brake-error-rate", "stop above this error rate over the window", number(0, above=True, maximum=1),
            _BRAKES.max_error_rate, example="0.8", metavar="F", group=BRAKES,
        ),
        Option(
            "backoff-cap", "longest backoff or Retry-After wait, seconds", number(0, above=True), _BRAKES.cap_s,
            example="10", metavar="S", group=BRAKES,
        ),
        Option(
            "allow-invalid", "exit by the SLOs even when the run is invalid (the generator fell behind)",
            flag=True, group=VALIDITY,
        ),
        Option(
            "max-dispatch-lag-ms", "open loop: invalid above this dispatch lag p99, ms", number(0, above=True),
            _BOUNDS.max_dispatch_lag_ms, example="25", metavar="MS", group=VALIDITY,
        ),
        Option(
            "max-loop-lag-ms", "invalid above this event-loop wake-up lag p99 of a worker, ms",
            number(0, above=True), _BOUNDS.max_loop_lag_ms, example="25", metavar="MS", group=VALIDITY,
        ),
        Option("reproduce", "the command that repeats the run", hidden=True, cli=False, env=False, reproduce=False),
        Option(
            "no-reports", "leave CSV, Markdown and HTML to the caller (`maascheck load` renders them itself)",
            flag=True, hidden=True, cli=False, env=False, reproduce=False,
        ),
        NO_PREFLIGHT,
        PREFLIGHT_RESULT,
    ),
    checks=(_warmup_shorter, _trace_fits, _sessions_fit),
)
NATIVE_REPORT_DIR = "reports/load"


def add_locust_arguments(parser: Any) -> None:
    """Register maascheck's options on Locust's (configargparse) parser, from `LOAD_OPTIONS`."""
    LOAD_OPTIONS.add_to_locust(parser.add_argument_group("maascheck", "streaming LLM load test options"))


def validate_when_parsed(parser: Any) -> None:
    """Check maascheck's options as soon as Locust has parsed them: before any fork or request, exit 2."""
    original = parser.parse_known_args

    def parse_known_args(*args: Any, **kwargs: Any) -> Any:
        namespace, rest = original(*args, **kwargs)
        if getattr(namespace, "num_users", 0) is None:  # else Locust's headless default (1) would apply
            namespace.num_users = LOAD_OPTIONS.default("users")
        if not getattr(namespace, "worker", False):  # workers take the master's options
            try:
                settings = settings_from(namespace, getattr(namespace, "host", None))
                refuse_shared_report_dir(settings.report_dir, bool(getattr(namespace, "overwrite", False)))
            except ConfigError as exc:
                parser.exit(2, f"maascheck load: error: {exc}\n")
        return namespace, rest

    parser.parse_known_args = parse_known_args


def locust_values(options: Any, host: str | None = None) -> Values:
    """The validated values of Locust's parsed options (ConfigError on a bad one)."""
    raw = LOAD_OPTIONS.raw_from(options, locust=True)
    if host is not None:
        raw["base_url"] = host
    return LOAD_OPTIONS.resolve(raw)


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
    report_dir: str = NATIVE_REPORT_DIR
    api_key_env: str = LOAD_OPTIONS.default("api-key-env")
    timeout: float = LOAD_OPTIONS.default("request-timeout")
    reproduce: str = ""
    render: bool = True
    brakes: BrakeSettings = field(default_factory=BrakeSettings)
    limits: Limits = field(default_factory=Limits)
    validity: Bounds = field(default_factory=Bounds)

    @property
    def open_loop(self) -> bool:
        """Arrivals on a schedule (rate > 0, or a trace's times) rather than users in a closed loop."""
        return self.rate > 0 or self.workload.trace is not None

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


def with_default_error_gate(slos: list[Slo], max_error_rate: float) -> list[Slo]:
    """`slos` plus the default gate `error_rate<=max_error_rate`, unless they gate error_rate already or it is 1.

    Without it a run whose requests mostly fail still passes when no SLO was given (issue: 50 % 503
    answers gave verdict PASS).
    """
    if max_error_rate >= 1 or any(s.metric == "error_rate" for s in slos):
        return slos
    return [*slos, parse_slo(f"error_rate<={max_error_rate:g}")]


def workload_of(v: Values) -> Workload:
    """The workload the validated values describe (ConfigError on a bad corpus, trace or distribution)."""
    return build_workload(
        v.workload,
        v.input_tokens,
        v.output_tokens,
        prefix_tokens=v.prefix_tokens,
        seed=v.seed,
        trace_speed=v.trace_speed,
        trace_window=v.trace_window or (0.0, None),
        trace_format=v.trace_format,
    )


def trace_run_time(workload: Workload, v: Values) -> float | None:
    """A trace replay's run time when --run-time is not given: its replay length plus `TRACE_TAIL_S`."""
    if workload.trace is None or "run_time" in v.given or v.stop_after:
        return None
    return math.ceil(START_S + workload.trace.span_s + TRACE_TAIL_S)


def settings_from(options: Any, host: str | None) -> Settings:
    """Validate Locust's parsed options into Settings (ConfigError on a bad value, same text as the CLI's)."""
    v = locust_values(options, host)
    workload = workload_of(v)
    slos = with_default_error_gate(
        list(v.slo) + [parse_slo(t) for t in (read_slo_file(v.slo_file) if v.slo_file else [])], v.max_error_rate
    )
    return Settings(
        host=v.base_url,
        model=v.model,
        scenario=v.scenario,
        profile=v.profile,
        rate=float(v.rate or 0.0),
        arrival=v.arrival,
        shape=v.shape,
        steps=v.steps,
        ramp_from=v.ramp_from,
        # `maascheck load` passes the exact time as --stop-after (Locust's own -t counts whole seconds).
        stop_after=float(v.stop_after or trace_run_time(workload, v) or v.run_time),
        max_requests=v.max_requests,
        warmup=v.warmup,
        users=v.users,
        workload=workload,
        body=BodyOptions(
            v.model, include_usage=not v.no_usage, chunk_usage=v.chunk_usage, extra=parse_extra_body(v.extra_body)
        ),
        tokenizer=v.tokenizer,
        slos=slos,
        report_dir=v.report_dir or NATIVE_REPORT_DIR,
        api_key_env=v.api_key_env,
        timeout=v.request_timeout,
        reproduce=v.reproduce or "",
        render=not v.no_reports,
        limits=replace(
            Limits.for_timeout(v.request_timeout),
            head_s=min(v.head_timeout, v.request_timeout),
            idle_s=min(v.idle_timeout, v.request_timeout),
            max_response_bytes=max(int(v.max_response_mb * MIB), 1),
        ),
        brakes=BrakeSettings(
            enabled=not v.no_brakes,
            first_n=v.brake_first_n,
            window_s=v.brake_window,
            max_error_rate=v.brake_error_rate,
            cap_s=v.backoff_cap,
        ),
        validity=Bounds(
            max_dispatch_lag_ms=v.max_dispatch_lag_ms, max_loop_lag_ms=v.max_loop_lag_ms,
            allow_invalid=bool(v.allow_invalid),
        ),
    )
