"""The maascheck pytest plugin: one test item per conformance rule, reports in the report dir.

Loaded in every pytest run (entry point `pytest11: maascheck`) and inert unless `--base-url` (or
MAASCHECK_BASE_URL) is given. Options live in the "maascheck" group; each has a `--maascheck-`
prefixed name, and the short name (`--model`, `--profile`...) too when no other plugin took it.
pytest owns `--strict`, so strictness is `--maascheck-strict` here (`maascheck conformance --strict`).
Exit status: the view `--verdict` picks (maascheck.conformance.engine.verdict): compat (default) fails
on MUST failures with client impact and on every 5xx, hang, truncation and wrong arithmetic; strict
on every MUST failure. Both fail on errors and strict xpasses; SHOULD failures count only with
--maascheck-strict; MAY failures never.
"""

from __future__ import annotations

import os
import signal
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

import pytest

from maascheck.conformance.engine.interrupt import InterruptTracebacks
from maascheck.conformance.engine.options import CONFORMANCE_OPTIONS, RunOptions, profile_model
from maascheck.conformance.model.outcome import Outcome
from maascheck.conformance.model.rule import RULES, Level
from maascheck.core.errors import ConfigError
from maascheck.core.inert import inert
from maascheck.core.paths import refuse_shared_report_dir
from maascheck.core.secrets import Redactor, read_api_key

RULE_FIXTURE = "maascheck_rule_id"
STATE_KEY = pytest.StashKey["LiveState"]()


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register the maascheck option group (prefixed names always, short aliases when free)."""
    group = parser.getgroup("maascheck", "maascheck conformance suite (active with --base-url)")
    CONFORMANCE_OPTIONS.add_to_pytest(group)
    parser.addini("maascheck_report_dir", "default maascheck report folder", default=None)


def usage_exit(message: str) -> NoReturn:
    """Stop the session before any request with exit code 2 (pytest's own usage error would be 4)."""
    pytest.exit(f"maascheck conformance: error: {message}", returncode=2)


def options_from_config(config: pytest.Config) -> RunOptions | None:
    """The run options, validated by the option table; None when the plugin is inactive (no base URL)."""
    raw = CONFORMANCE_OPTIONS.raw_from(config.option, "maascheck_")
    if not raw["base_url"] and not os.environ.get(CONFORMANCE_OPTIONS["base-url"].env_var):
        return None
    try:
        values = CONFORMANCE_OPTIONS.resolve(raw)
        api_key = read_api_key(values.api_key_env)
    except ConfigError as exc:
        usage_exit(str(exc))
    return RunOptions.from_values(values, api_key=api_key)


class LiveState:
    """The plugin's per-session state: the live run and the terminal reporter to print progress on."""

    def __init__(self, config: pytest.Config, options: RunOptions) -> None:
        from maascheck.conformance.engine.live import LiveRun
        from maascheck.core.profiles import load_profile

        try:
            profile = load_profile(options.profile)
        except ConfigError as exc:
            usage_exit(str(exc))
        if not options.vision_model and profile.feature("vision"):
            options.vision_model = profile_model(profile, options.model, "vision")
        if not options.reasoning_model and profile.feature("reasoning"):
            options.reasoning_model = profile_model(profile, options.model, "reasoning")
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        report_dir = Path(
            options.report_dir or config.getini("maascheck_report_dir") or f"reports/conformance-{stamp}"
        )
        try:
            refuse_shared_report_dir(report_dir, options.overwrite)
        except ConfigError as exc:
            usage_exit(str(exc))
        options.report_dir = str(report_dir)
        self.config = config
        self.options = options
        self.redactor = Redactor([options.api_key])
        self.profile = profile
        self.run = LiveRun(profile, options, report_dir, progress=self.progress)
        self.doc: dict[str, Any] | None = None

    def progress(self, line: str) -> None:
        """Print one progress line on the terminal (output capture suspended meanwhile)."""
        tr = self.config.pluginmanager.get_plugin("terminalreporter")
        capman = self.config.pluginmanager.get_plugin("capturemanager")
        if tr is None:
            return
        text = f"maascheck: {inert(self.redactor.text(line))}"
        if capman is None:
            tr.write_line(text)
            return
        with capman.global_and_fixture_disabled():
            tr.write_line(text)


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
    state.run.preflight = _preflight(config, options)
    config.stash[STATE_KEY] = state
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _interrupt)
    config.pluginmanager.register(InterruptTracebacks(), "maascheck-interrupt-tracebacks")
    if getattr(config.option, "xmlpath", None) is None and hasattr(config.option, "xmlpath"):
        config.option.xmlpath = str(state.run.report_dir / "junit.xml")


def _interrupt(signum: int, frame: object) -> None:
    """SIGTERM ends the run as Ctrl-C does: pytest's interrupted path, reports kept, verdict interrupted."""
    raise KeyboardInterrupt


def _preflight(config: pytest.Config, options: RunOptions) -> dict[str, Any]:
    """Check the target can be tested before any rule runs (exit 2 with what to fix when it cannot).

    Skipped with --no-preflight, and when pytest only lists (--collect-only) or shows help.
    """
    from maascheck.core.preflight import check_target, read_findings

    if options.preflight_result:  # made by `maascheck conformance` before pytest started
        given = read_findings(options.preflight_result)
        if given is not None:
            return given
    listing = bool(getattr(config.option, "collectonly", False) or getattr(config.option, "help", False))
    try:
        found = check_target(
            options.base_url,
            options.model,
            api_key_env=options.api_key_env,
            profile=options.profile,
            enabled=not (options.no_preflight or listing),
        )
    except ConfigError as exc:  # PreflightFailed included: the message says what to fix
        usage_exit(str(exc))
    return found.to_dict()


def _state(config: pytest.Config) -> LiveState | None:
    return config.stash.get(STATE_KEY, None)


def pytest_report_header(config: pytest.Config) -> list[str] | None:
    """How to reproduce this run (never the key)."""
    state = _state(config)
    if state is None:
        return None
    o = state.options
    key = f"${o.api_key_env} is set" if o.api_key else f"${o.api_key_env} is NOT set: requests carry no key"
    lines = [
        f"maascheck: target {o.base_url} model {o.model} profile {state.profile.name} seed {o.seed}",
        f"maascheck: budget {o.max_requests} requests; {key}; reports in {state.run.report_dir}",
        f"maascheck: reproduce: {o.reproduce_line()}",
    ]
    if o.trials:
        from maascheck.conformance.engine.trials import applicable_probes, plan_line

        lines.append(f"maascheck: --trials {o.trials}: {plan_line(o.trials, applicable_probes(state.run.suite)[0])}")
    return [inert(line) for line in lines]


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
    if result.outcome in (Outcome.PASSED, Outcome.XPASSED):
        return
    if result.outcome == Outcome.SKIPPED:  # the reason is printed and written to junit.xml: made inert
        pytest.skip(inert(result.reason or "not applicable"))
    pytest.fail(failure_text(result), pytrace=False)


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    """Where the reports are, the request count and the verdict."""
    state = _state(config)
    if state is None or state.doc is None:
        return
    s, run = state.doc["summary"], state.doc["run"]
    terminalreporter.section("maascheck conformance")
    if s["verdict"] == "interrupted":
        terminalreporter.write_line(
            f"verdict INTERRUPTED; reports rendered from the {len(state.doc['rules'])} rules judged so far in "
            f"{state.run.report_dir}/ ({run['requests_made']} requests)"
        )
        return
    terminalreporter.write_line(
        f"verdict {s['verdict'].upper()} ({s['view']}): MUST failed {s['must_failed']}, SHOULD failed "
        f"{s['should_failed']}{' (counted: --strict)' if run['strict'] else ' (not counted without --strict)'}, "
        f"{run['requests_made']} requests"
    )
    for name, view in s["views"].items():
        counted = ", ".join(view["failing"]) or "nothing"
        terminalreporter.write_line(f"  {name}: {view['verdict'].upper()} (counts {counted})")
    terminalreporter.write_line(
        f"reports: {state.run.report_dir}/results.json, summary.md, summary.html, junit.xml"
    )


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Write the final reports and set the exit status from the rule levels."""
    state = _state(session.config)
    stopped = int(exitstatus) == int(pytest.ExitCode.INTERRUPTED)  # Ctrl-C, or SIGTERM (`_interrupt`)
    if state is None or not (state.run.results or stopped):
        return
    interrupted = stopped or len(state.run.results) < len(state.run.selected)
    state.doc = state.run.finish(interrupted=interrupted, stopped=stopped)
    if stopped or int(exitstatus) in (int(pytest.ExitCode.OK), int(pytest.ExitCode.TESTS_FAILED)):
        session.exitstatus = state.doc["summary"]["exit_code"]
