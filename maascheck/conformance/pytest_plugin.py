"""The maascheck pytest plugin: one test item per conformance rule, reports in the report dir.

Loaded in every pytest run (entry point `pytest11: maascheck`) and inert unless `--base-url` (or
MAASCHECK_BASE_URL) is given. Options live in the "maascheck" group; each has a `--maascheck-`
prefixed name, and the short name (`--model`, `--profile`...) too when no other plugin took it.
pytest owns `--strict`, so strictness is `--maascheck-strict` here (`maascheck conformance --strict`).
Exit status: MUST failures, errors and strict xpasses fail the run; SHOULD failures only with
--maascheck-strict; MAY failures never.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from maascheck.conformance.engine.options import DEFAULT_MAX_REQUESTS, RunOptions, profile_model
from maascheck.conformance.model.rule import RULES, Level
from maascheck.core.errors import ConfigError
from maascheck.core.secrets import DEFAULT_KEY_ENV, read_api_key

RULE_FIXTURE = "maascheck_rule_id"
STATE_KEY = pytest.StashKey["LiveState"]()


@dataclass(frozen=True)
class Opt:
    """One plugin option: its name (without dashes), env fallback, type, default and help."""

    name: str
    env: str | None
    help: str
    default: Any = None
    kind: type = str
    flag: bool = False


OPTIONS = (
    Opt(
        "base-url",
        "MAASCHECK_BASE_URL",
        "endpoint base URL, e.g. http://127.0.0.1:8000/v1 (activates the plugin)",
    ),
    Opt("model", "MAASCHECK_MODEL", "chat model under test, e.g. sim-chat"),
    Opt("profile", "MAASCHECK_PROFILE", "provider profile name or .json path", "openai"),
    Opt("vision-model", "MAASCHECK_VISION_MODEL", "vision model (default: the profile's)"),
    Opt("reasoning-model", "MAASCHECK_REASONING_MODEL", "reasoning model (default: the profile's)"),
    Opt("report-dir", "MAASCHECK_REPORT_DIR", "report folder (default reports/conformance-<UTC>)"),
    Opt("max-requests", "MAASCHECK_MAX_REQUESTS", "request budget for the run", DEFAULT_MAX_REQUESTS, int),
    Opt("seed", "MAASCHECK_SEED", "seed for generated requests", 0, int),
    Opt("api-key-env", "MAASCHECK_API_KEY_ENV", "environment variable holding the API key", DEFAULT_KEY_ENV),
    Opt(
        "stall-timeout",
        None,
        "seconds without a stream byte before an exchange counts as stalled",
        20.0,
        float,
    ),
    Opt("concurrency", None, "probes made at a time", 8, int),
    Opt("strict", None, "SHOULD failures fail the run too", False, bool, flag=True),
)


def _dest(opt: Opt) -> str:
    return "maascheck_" + opt.name.replace("-", "_")


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register the maascheck option group (prefixed names always, short aliases when free)."""
    group = parser.getgroup("maascheck", "maascheck conformance suite (active with --base-url)")
    for opt in OPTIONS:
        names = [f"--maascheck-{opt.name}"]
        short = f"--{opt.name}"
        env_note = f" [env {opt.env}]" if opt.env else ""
        kwargs: dict[str, Any] = {"dest": _dest(opt), "help": opt.help + env_note}
        if opt.flag:
            kwargs.update(action="store_true", default=False)
        else:
            kwargs.update(default=None, metavar=opt.name.upper().replace("-", "_"))
        if opt.name != "strict":
            try:
                group.addoption(short, *names, **kwargs)
                continue
            except ValueError:  # another plugin owns the short name
                pass
        group.addoption(*names, **kwargs)
    parser.addini("maascheck_report_dir", "default maascheck report folder", default=None)


def _value(config: pytest.Config, opt: Opt) -> Any:
    raw = config.getoption(_dest(opt))
    if (raw is None or raw is False) and opt.env and os.environ.get(opt.env):
        raw = os.environ[opt.env]
    if raw is None:
        return opt.default
    if opt.kind is bool:
        return raw if isinstance(raw, bool) else str(raw).lower() in ("1", "true", "yes")
    try:
        return opt.kind(raw)
    except ValueError:
        raise pytest.UsageError(
            f"--maascheck-{opt.name} must be {opt.kind.__name__}, got {raw!r}; e.g. --maascheck-{opt.name} "
            f"{opt.default}"
        ) from None


def options_from_config(config: pytest.Config) -> RunOptions | None:
    """The run options, validated; None when the plugin is inactive (no base URL)."""
    v = {opt.name: _value(config, opt) for opt in OPTIONS}
    if not v["base-url"]:
        return None
    problems = []
    if not str(v["base-url"]).startswith(("http://", "https://")):
        problems.append(
            f"--base-url must be an http(s) URL, got {v['base-url']!r}; e.g. http://127.0.0.1:8000/v1"
        )
    if not v["model"]:
        problems.append("--model is required with --base-url; e.g. --model sim-chat")
    if v["max-requests"] < 1:
        problems.append(
            f"--max-requests must be at least 1, got {v['max-requests']}; e.g. --max-requests 150"
        )
    if v["stall-timeout"] <= 0 or v["concurrency"] < 1:
        problems.append(
            "--stall-timeout must be > 0 and --concurrency >= 1; e.g. --stall-timeout 20 --concurrency 8"
        )
    if problems:
        raise pytest.UsageError("maascheck: " + "; ".join(problems))
    try:
        api_key = read_api_key(v["api-key-env"])
    except ConfigError as exc:
        raise pytest.UsageError(f"maascheck: {exc}") from None
    return RunOptions(
        model=v["model"],
        base_url=str(v["base-url"]).rstrip("/"),
        profile=v["profile"],
        vision_model=v["vision-model"],
        reasoning_model=v["reasoning-model"],
        seed=v["seed"],
        max_requests=v["max-requests"],
        strict=v["strict"],
        api_key_env=v["api-key-env"],
        api_key=api_key,
        stall_timeout=v["stall-timeout"],
        concurrency=v["concurrency"],
        report_dir=v["report-dir"],
    )


class LiveState:
    """The plugin's per-session state: the live run and the terminal reporter to print progress on."""

    def __init__(self, config: pytest.Config, options: RunOptions) -> None:
        from maascheck.conformance.engine.live import LiveRun
        from maascheck.core.profiles import load_profile

        try:
            profile = load_profile(options.profile)
        except ConfigError as exc:
            raise pytest.UsageError(f"maascheck: {exc}") from None
        if not options.vision_model and profile.feature("vision"):
            options.vision_model = profile_model(profile, options.model, "vision")
        if not options.reasoning_model and profile.feature("reasoning"):
            options.reasoning_model = profile_model(profile, options.model, "reasoning")
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        report_dir = Path(
            options.report_dir or config.getini("maascheck_report_dir") or f"reports/conformance-{stamp}"
        )
        options.report_dir = str(report_dir)
        self.config = config
        self.options = options
        self.profile = profile
        self.run = LiveRun(profile, options, report_dir, progress=self.progress)
        self.doc: dict[str, Any] | None = None

    def progress(self, line: str) -> None:
        """Print one progress line on the terminal (output capture suspended meanwhile)."""
        tr = self.config.pluginmanager.get_plugin("terminalreporter")
        capman = self.config.pluginmanager.get_plugin("capturemanager")
        if tr is None:
            return
        if capman is None:
            tr.write_line(f"maascheck: {line}")
            return
        with capman.global_and_fixture_disabled():
            tr.write_line(f"maascheck: {line}")


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """Validate the options; when active, default the JUnit XML into the report dir."""
    for level in Level:
        config.addinivalue_line(
            "markers", f"{level.value.lower()}: a conformance rule of level {level.value}"
        )
    options = options_from_config(config)
    if options is None:
        return
    state = LiveState(config, options)
    config.stash[STATE_KEY] = state
    if getattr(config.option, "xmlpath", None) is None and hasattr(config.option, "xmlpath"):
        config.option.xmlpath = str(state.run.report_dir / "junit.xml")


def _state(config: pytest.Config) -> LiveState | None:
    return config.stash.get(STATE_KEY, None)


def pytest_report_header(config: pytest.Config) -> list[str] | None:
    """How to reproduce this run (never the key)."""
    state = _state(config)
    if state is None:
        return None
    o = state.options
    key = f"${o.api_key_env} is set" if o.api_key else f"${o.api_key_env} is NOT set: requests carry no key"
    return [
        f"maascheck: target {o.base_url} model {o.model} profile {state.profile.name} seed {o.seed}",
        f"maascheck: budget {o.max_requests} requests; {key}; reports in {state.run.report_dir}",
        f"maascheck: reproduce: {o.reproduce_line()}",
    ]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """One item per registered rule, id = rule ID, marked by level; known deviations as strict xfails."""
    if RULE_FIXTURE not in metafunc.fixturenames:
        return
    state = _state(metafunc.config)
    if state is None:
        raise pytest.UsageError(
            "the conformance suite needs a target: pass --base-url URL --model NAME "
            "(or run `maascheck conformance --base-url URL --model NAME`)"
        )
    from maascheck.conformance import rules
    from maascheck.conformance.engine.runner import deviation_for

    rules.load_all()
    params = []
    for rule_id, r in RULES.items():
        marks: list[Any] = [getattr(pytest.mark, r.level.value.lower())]
        dev = deviation_for(rule_id, state.profile)
        if dev is not None:
            marks.append(pytest.mark.xfail(strict=True, reason=f"known deviation: {dev.reason}"))
        params.append(pytest.param(rule_id, id=rule_id, marks=marks))
    metafunc.parametrize(RULE_FIXTURE, params)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Remember which rules were selected, so only their probes are made."""
    state = _state(session.config)
    if state is None:
        return
    ids = [
        item.callspec.params[RULE_FIXTURE]
        for item in session.items
        if hasattr(item, "callspec") and RULE_FIXTURE in item.callspec.params
    ]
    state.run.select(ids)


@pytest.fixture
def maascheck_run(request: pytest.FixtureRequest) -> Any:
    """The live conformance run (skips when the plugin is inactive)."""
    state = _state(request.config)
    if state is None:
        pytest.skip("maascheck is inactive: no --base-url")
    return state.run


def judge(run: Any, rule_id: str) -> None:
    """Judge `rule_id` and translate its outcome into pytest's (fail, skip, or pass)."""
    from maascheck.conformance.report.failure import failure_text

    result = run.judge(rule_id)
    if result.outcome in ("passed", "xpassed"):
        return
    if result.outcome == "skipped":
        pytest.skip(result.reason or "not applicable")
    pytest.fail(failure_text(result), pytrace=False)


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    """Where the reports are, the request count and the verdict."""
    state = _state(config)
    if state is None or state.doc is None:
        return
    s, run = state.doc["summary"], state.doc["run"]
    terminalreporter.section("maascheck conformance")
    terminalreporter.write_line(
        f"verdict {s['verdict'].upper()}: MUST failed {s['must_failed']}, SHOULD failed {s['should_failed']}"
        f"{' (counted: --strict)' if run['strict'] else ' (not counted without --strict)'}, "
        f"{run['requests_made']} requests"
    )
    terminalreporter.write_line(
        f"reports: {state.run.report_dir}/results.json, summary.md, summary.html, junit.xml"
    )


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Write the final reports and set the exit status from the rule levels."""
    state = _state(session.config)
    if state is None or not state.run.results:
        return
    interrupted = int(exitstatus) == int(pytest.ExitCode.INTERRUPTED) or len(state.run.results) < len(
        state.run.selected
    )
    state.doc = state.run.finish(interrupted=interrupted)
    if int(exitstatus) in (int(pytest.ExitCode.OK), int(pytest.ExitCode.TESTS_FAILED)):
        session.exitstatus = state.doc["summary"]["exit_code"]
