"""The option tables: one declaration gives every face the same values, defaults and messages."""

from __future__ import annotations

import argparse

import pytest

from maascheck.conformance.engine.options import CONFORMANCE_OPTIONS, RunOptions
from maascheck.core.errors import ConfigError
from maascheck.core.options import Option, OptionTable, duration, integer, parse_duration
from maascheck.load.run.options import LOAD_OPTIONS
from maascheck.load.sweep.options import SWEEP_OPTIONS

TARGET = {"base_url": "http://127.0.0.1:9/v1", "model": "sim-chat"}

DURATIONS = [("30", 30.0), ("30s", 30.0), ("1.5s", 1.5), ("2m", 120.0), ("1m30s", 90.0), ("1h", 3600.0)]


@pytest.mark.parametrize(("text", "seconds"), DURATIONS)
def test_durations_accept_units(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "s", "-1", "1x", "1m1h", "abc"])
def test_bad_durations_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_resolve_order_given_then_environment_then_default() -> None:
    table = OptionTable("x", (Option("users", "users", integer(1), 4, example="8"),))
    assert table.resolve({"users": "2"}, {"MAASCHECK_USERS": "3"}).users == 2
    assert table.resolve({}, {"MAASCHECK_USERS": "3"}).users == 3
    assert table.resolve({}, {}).users == 4


def test_every_bad_value_is_reported_with_what_is_valid_and_an_example() -> None:
    table = OptionTable(
        "x", (Option("users", "u", integer(1), 4, example="8"), Option("run-time", "t", duration(above=True), 30.0))
    )
    with pytest.raises(ConfigError) as exc:
        table.resolve({"users": "0", "run_time": "0s"}, {})
    text = str(exc.value)
    assert "--users '0': expected a whole number >= 1; e.g. --users 8" in text
    assert "--run-time '0s': expected a duration > 0 s" in text


# (table, raw options, words the message must carry)
BAD = [
    (LOAD_OPTIONS, {"users": "0"}, ["--users '0'", ">= 1", "e.g. --users"]),
    (LOAD_OPTIONS, {"users": "-3"}, ["--users '-3'", ">= 1"]),
    (LOAD_OPTIONS, {"rate": "0"}, ["--rate '0'", "> 0"]),
    (LOAD_OPTIONS, {"rate": "-1"}, ["--rate '-1'", "> 0"]),
    (LOAD_OPTIONS, {"profile": "opnai"}, ["unknown profile 'opnai'", "valid:", "openai"]),
    (LOAD_OPTIONS, {"slo": ["error_rate<=2"]}, ["error_rate<=2", "[0, 1]", "e.g. error_rate<=0.01"]),
    (LOAD_OPTIONS, {"slo": ["ttft_ms.p95<=-5"]}, ["outside the range", ">= 0"]),
    (LOAD_OPTIONS, {"slo": ["ttft_ms.p95<=1e400"]}, ["outside the range"]),
    (LOAD_OPTIONS, {"run_time": "fast"}, ["--run-time 'fast'", "1m30s"]),
    (LOAD_OPTIONS, {"run_time": "10s", "warmup": "10s"}, ["--warmup", "shorter than --run-time"]),
    (LOAD_OPTIONS, {"request_timeout": "0"}, ["--request-timeout '0'", "> 0"]),
    (LOAD_OPTIONS, {"idle_timeout": "0"}, ["--idle-timeout '0'", "> 0", "e.g. --idle-timeout 60"]),
    (LOAD_OPTIONS, {"head_timeout": "-1"}, ["--head-timeout '-1'", "> 0"]),
    (LOAD_OPTIONS, {"max_response_mb": "0"}, ["--max-response-mb '0'", "> 0", "e.g. --max-response-mb 32"]),
    (LOAD_OPTIONS, {"base_url": "ftp://x"}, ["--base-url 'ftp://x'", "http://"]),
    (LOAD_OPTIONS, {"report_dir": "/proc/version/x"}, ["--report-dir", "not a folder"]),
    (LOAD_OPTIONS, {"brake_error_rate": "1.5"}, ["--brake-error-rate '1.5'", "<= 1"]),
    (LOAD_OPTIONS, {"brake_first_n": "-1"}, ["--brake-first-n '-1'", ">= 0"]),
    (SWEEP_OPTIONS, {"profile": "opnai"}, ["unknown profile 'opnai'"]),
    (SWEEP_OPTIONS, {"step_time": "soon"}, ["--step-time 'soon'", "e.g. --step-time 60s"]),
    (SWEEP_OPTIONS, {"slo": ["error_rate<=2"]}, ["[0, 1]"]),
    (SWEEP_OPTIONS, {"knee_efficiency": "1"}, ["--knee-efficiency '1'", "between 0 and 1"]),
    (SWEEP_OPTIONS, {"max_error_rate": "1.5"}, ["--max-error-rate '1.5'", "<= 1"]),
    (CONFORMANCE_OPTIONS, {"max_requests": "0"}, ["--max-requests '0'", ">= 1"]),
    (CONFORMANCE_OPTIONS, {"stall_timeout": "0"}, ["--stall-timeout '0'", "> 0"]),
    (CONFORMANCE_OPTIONS, {"profile": "nope"}, ["unknown profile 'nope'"]),
    (CONFORMANCE_OPTIONS, {"api_key_env": "NOT A VAR"}, ["--api-key-env", "letters, digits and underscores"]),
]


@pytest.mark.parametrize(("table", "raw", "words"), BAD, ids=[f"{t.command}-{next(iter(r))}" for t, r, _ in BAD])
def test_bad_values_are_config_errors(table: OptionTable, raw: dict[str, object], words: list[str]) -> None:
    with pytest.raises(ConfigError) as exc:
        table.resolve({**TARGET, **raw}, {})
    for word in words:
        assert word in str(exc.value)


def test_sweep_step_time_accepts_units() -> None:
    values = SWEEP_OPTIONS.resolve({**TARGET, "step_time": "60s", "warmup": "1m"}, {})
    assert values.step_time == 60.0 and values.warmup == 60.0


def test_one_default_per_option() -> None:
    assert RunOptions(model="m").stall_timeout == CONFORMANCE_OPTIONS.default("stall-timeout") == 20.0
    assert SWEEP_OPTIONS["profile"] is not None and SWEEP_OPTIONS.default("profile") == LOAD_OPTIONS.default("profile")
    assert LOAD_OPTIONS.default("api-key-env") == CONFORMANCE_OPTIONS.default("api-key-env")


def test_old_spellings_are_hidden_aliases() -> None:
    parser = argparse.ArgumentParser()
    LOAD_OPTIONS.add_to_argparse(parser)
    raw = LOAD_OPTIONS.raw_from(parser.parse_args(["--base-url", "http://a/v1", "--model", "m", "--timeout", "5"]))
    assert LOAD_OPTIONS.resolve(raw, {}).request_timeout == 5.0
    assert "--timeout" not in parser.format_help() and "--request-timeout" in parser.format_help()


def test_reproduce_line_repeats_the_run() -> None:
    values = CONFORMANCE_OPTIONS.resolve({**TARGET, "strict": True, "stall_timeout": "5"}, {})
    line = CONFORMANCE_OPTIONS.reproduce(values)
    assert line == "maascheck conformance --base-url http://127.0.0.1:9/v1 --model sim-chat --strict --stall-timeout 5"
    parser = argparse.ArgumentParser()
    CONFORMANCE_OPTIONS.add_to_argparse(parser)
    again = CONFORMANCE_OPTIONS.resolve(CONFORMANCE_OPTIONS.raw_from(parser.parse_args(line.split()[2:])), {})
    assert dict(again) == dict(values)
