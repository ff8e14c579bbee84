"""The options of one conformance run: the option table (`CONFORMANCE_OPTIONS`) and `RunOptions`.

`CONFORMANCE_OPTIONS` is the one declaration of `maascheck conformance`'s options and of the pytest
plugin's (`--maascheck-NAME`, env `MAASCHECK_NAME`); `RunOptions` takes its defaults from it.

Probes and rules see these as `env.options` / `ctx.options`: `model`, `vision_model`,
`reasoning_model` (None when the run did not name them and `profile_model` gives none), `image_url`,
`seed`. The API key is held here for the client only; it is excluded from `repr` and from
`reproduce_line`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

from maascheck.conformance.engine.verdict import DEFAULT_VIEW, View
from maascheck.conformance.report.baseline import parse_baseline
from maascheck.conformance.transport.recorder import DEFAULT_TIMEOUTS
from maascheck.core.options import (
    API_KEY_ENV,
    BASE_URL,
    MODEL,
    OVERWRITE,
    PROFILE,
    REPORT_DIR,
    SEED,
    Kind,
    Option,
    OptionTable,
    Values,
    choice,
    duration,
    integer,
    number,
)
from maascheck.core.preflight import NO_PREFLIGHT, PREFLIGHT_RESULT

if TYPE_CHECKING:
    from maascheck.core.profiles import Profile


def _clients(text: str) -> str:
    from maascheck.conformance.clients.catalog import select

    select(text)  # ConfigError naming the valid clients
    return text


CLIENTS_KIND = Kind(_clients, "all, or client names separated by commas (maascheck clients list)")


def _regression_needs_baseline(values: Values) -> str | None:
    if values.get("fail_on_regression") and not values.get("baseline"):
        return (
            "--fail-on-regression compares with an earlier run: give --baseline too; "
            "e.g. --baseline reports/conformance-20260101T000000Z --fail-on-regression"
        )
    return None


CONFORMANCE_OPTIONS = OptionTable(
    "conformance",
    (
        BASE_URL,
        MODEL,
        PROFILE,
        Option("vision-model", "vision model (default: the profile's)", example="sim-vision", metavar="NAME"),
        Option("reasoning-model", "reasoning model (default: the profile's)", example="sim-reasoner", metavar="NAME"),
        REPORT_DIR,
        OVERWRITE,
        Option("max-requests", "request budget for the run", integer(1), 250, example="150", metavar="N"),
        Option("strict", "SHOULD failures fail the run too", flag=True, pytest_short=False),
        Option(
            "verdict",
            "which view sets the exit code: compat (client breakage, 5xx, hangs, truncation, wrong arithmetic) "
            "or strict (every MUST failure); the report shows both",
            choice(*(v.value for v in View)),
            DEFAULT_VIEW.value,
            example="strict",
            metavar="VIEW",
        ),
        SEED,
        API_KEY_ENV,
        Option(
            "stall-timeout",
            "seconds without a stream byte before an exchange counts as stalled",
            number(0, above=True),
            DEFAULT_TIMEOUTS.stall,
            example="20",
            metavar="S",
        ),
        Option("concurrency", "probes made at a time", integer(1), 8, example="8", metavar="N"),
        Option(
            "clients",
            "run the client matrix: all, or client names separated by commas (default: not run)",
            CLIENTS_KIND,
            example="all",
            metavar="NAMES",
        ),
        Option(
            "clients-mode",
            "client matrix: replay the recorded exchanges to each client (no extra request) or live",
            choice("replay", "live"),
            "replay",
            example="replay",
            metavar="MODE",
        ),
        # Bounds on what the target may cost the suite; each one that trips is named, with its value, in the
        # evidence of the rule it fails. Defaults leave room for long reasoning streams.
        Option(
            "connect-timeout",
            "seconds to open a connection",
            duration(0, above=True),
            DEFAULT_TIMEOUTS.connect,
            example="10",
        ),
        Option(
            "head-timeout",
            "seconds until the final response head (1xx interim answers included)",
            duration(0, above=True),
            DEFAULT_TIMEOUTS.headers,
            example="120",
        ),
        Option(
            "exchange-timeout",
            "seconds for one whole exchange, first byte sent to last byte read",
            duration(0, above=True),
            DEFAULT_TIMEOUTS.total,
            example="600",
        ),
        Option(
            "run-timeout",
            "seconds for the whole run: no request starts, and none reads, after it",
            duration(0, above=True),
            3600.0,
            example="30m",
        ),
        Option(
            "max-response-bytes",
            "decoded bytes of one response (after Content-Encoding)",
            integer(1),
            16 * 1024 * 1024,
            example="16777216",
            metavar="N",
        ),
        Option("max-line-bytes", "bytes of one SSE line", integer(1), 1024 * 1024, example="1048576", metavar="N"),
        Option("max-event-bytes", "bytes of one SSE event", integer(1), 1024 * 1024, example="1048576", metavar="N"),
        Option("max-events", "events of one stream", integer(1), 10_000, example="10000", metavar="N"),
        Option("max-json-depth", "nesting depth of one JSON document", integer(1), 64, example="64", metavar="N"),
        Option(
            "trials",
            "repeat the tool-call and structured-output probes N times and report behaviour rates with 95% "
            "Wilson intervals (opt-in; N more requests per probe, stated before they start)",
            integer(0),
            0,
            example="20",
            metavar="N",
        ),
        Option(
            "baseline",
            "an earlier run of the same suite (its report folder or results.json): the report lists new "
            "failures, fixed and unchanged ones",
            Kind(parse_baseline, "a report folder holding results.json, or that file"),
            example="reports/conformance-20260101T000000Z",
            metavar="DIR",
        ),
        Option(
            "fail-on-regression",
            "with --baseline: only new failures (those the --verdict view counts) fail the run",
            flag=True,
        ),
        Option(
            "max-run-bytes",
            "bytes all responses of the run may hold together (bodies and events kept for the rules)",
            integer(1),
            128 * 1024 * 1024,
            example="134217728",
            metavar="N",
        ),
        NO_PREFLIGHT,
        PREFLIGHT_RESULT,
    ),
    checks=(_regression_needs_baseline,),
)
DEFAULT_MAX_REQUESTS: int = CONFORMANCE_OPTIONS.default("max-requests")
# A 1x1 PNG as a data URL: vision probes need no network access to fetch an image.
DEFAULT_IMAGE_URL = (
    "data:image/png;base64,"
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


def profile_model(profile: Profile, chat_model: str, role: str) -> str | None:
    """The profile's `role` model (vision, reasoning), if the run's chat model is one the profile names.

    A profile's model names belong to the deployment it describes (the openai profile's are the
    simulator's `sim-*`). Against another deployment they would ask for a model that is not
    served, and a server that answers any name with its one model would be judged as a vision or
    reasoning model it is not; so they apply only when `chat_model` is among the profile's models.
    """
    model = profile.models.get(role)
    known = set(profile.model_ids) | {m for m in profile.models.values() if m}
    return model if model and chat_model in known else None


@dataclass
class RunOptions:
    """What to test and how: target models, budget, strictness, timeouts."""

    model: str
    base_url: str = ""
    profile: str = CONFORMANCE_OPTIONS.default("profile")
    vision_model: str | None = None
    reasoning_model: str | None = None
    seed: int = CONFORMANCE_OPTIONS.default("seed")
    max_requests: int | None = DEFAULT_MAX_REQUESTS
    strict: bool = False
    verdict: str = DEFAULT_VIEW.value  # compat | strict: the view that sets the exit code (engine/verdict.py)
    api_key_env: str = CONFORMANCE_OPTIONS.default("api-key-env")
    api_key: str | None = field(default=None, repr=False)
    stall_timeout: float = CONFORMANCE_OPTIONS.default("stall-timeout")
    connect_timeout: float = CONFORMANCE_OPTIONS.default("connect-timeout")
    head_timeout: float = CONFORMANCE_OPTIONS.default("head-timeout")
    exchange_timeout: float = CONFORMANCE_OPTIONS.default("exchange-timeout")
    run_timeout: float = CONFORMANCE_OPTIONS.default("run-timeout")
    max_response_bytes: int = CONFORMANCE_OPTIONS.default("max-response-bytes")
    max_line_bytes: int = CONFORMANCE_OPTIONS.default("max-line-bytes")
    max_event_bytes: int = CONFORMANCE_OPTIONS.default("max-event-bytes")
    max_events: int = CONFORMANCE_OPTIONS.default("max-events")
    max_json_depth: int = CONFORMANCE_OPTIONS.default("max-json-depth")
    max_run_bytes: int = CONFORMANCE_OPTIONS.default("max-run-bytes")
    concurrency: int = CONFORMANCE_OPTIONS.default("concurrency")
    image_url: str = DEFAULT_IMAGE_URL
    report_dir: str | None = None
    clients: str | None = None  # the client matrix: "all" or "name,name" (None: the CLIENT-... rules skip)
    clients_mode: str = "replay"  # replay: serve the recorded exchanges to each client; live: clients ask the target
    trials: int = 0  # --trials N: behaviour rates (engine/trials.py); 0 is off
    baseline: str | None = None  # the results.json of an earlier run (report/baseline.py)
    fail_on_regression: bool = False
    no_preflight: bool = False
    overwrite: bool = False  # write into a report folder that holds another run's results
    preflight_result: str | None = None  # findings file of a preflight `maascheck conformance` made

    @classmethod
    def from_values(cls, values: Any, api_key: str | None = None) -> RunOptions:
        """The options of a run from the resolved option table (`CONFORMANCE_OPTIONS.resolve`)."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in names}, api_key=api_key)

    def reproduce_line(self) -> str:
        """The `maascheck conformance` command that repeats this run (the key is named, never shown)."""
        values = {o.dest: getattr(self, o.dest, None) for o in CONFORMANCE_OPTIONS.options}
        values["report_dir"] = None  # a repeated run writes its own reports
        return CONFORMANCE_OPTIONS.reproduce(values)
