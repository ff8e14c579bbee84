"""Brakes: the circuit breaker, the backoff and Retry-After (unit), and real Locust runs against failing servers."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest

from maascheck.core import schema_registry as schemas
from maascheck.core.errors import ConfigError
from maascheck.core.retry_after import retry_after_seconds
from maascheck.load.run.brakes import Brakes, BrakeSettings, merge_summaries
from tests.core.scripted_http import scripted

NO_PREFLIGHT = ["--no-preflight"]  # these runs test the brakes; the preflight would stop them first


def test_first_n_failures_trip_the_breaker() -> None:
    b = Brakes(BrakeSettings(first_n=5))
    for i in range(5):
        assert not b.tripped
        b.observe(float(i), False, kind="http_401", status=401)
    assert b.tripped and b.reason is not None
    assert "the first 5 requests all failed" in b.reason and "http_401 5" in b.reason


def test_one_success_among_the_first_n_keeps_it_closed() -> None:
    b = Brakes(BrakeSettings(first_n=5, min_window=100))
    b.observe(0.0, True)
    for i in range(10):
        b.observe(0.1 * i, False, kind="timeout")
    assert not b.tripped


def test_window_error_rate_above_the_threshold_trips() -> None:
    b = Brakes(BrakeSettings(first_n=0, window_s=10, max_error_rate=0.5, min_window=10))
    for i in range(20):  # 20 successes, then they age out of the window
        b.observe(i * 0.1, True)
    for i in range(8):
        b.observe(30.0 + i * 0.1, i % 4 != 0)  # 25 % errors: stays closed
    assert not b.tripped
    for i in range(12):
        b.observe(31.0 + i * 0.1, False, kind="http_503", status=503)
    assert b.tripped and "of the last 10 s failed" in str(b.reason)


def test_old_failures_leave_the_window() -> None:
    b = Brakes(BrakeSettings(first_n=0, window_s=5, max_error_rate=0.5, min_window=10))
    for i in range(9):
        b.observe(float(i) * 0.1, False)
    for i in range(20):
        b.observe(100.0 + i * 0.1, True)
    assert not b.tripped


def test_disabled_breaker_never_trips_but_backoff_stays() -> None:
    b = Brakes(BrakeSettings(enabled=False, first_n=2))
    for i in range(50):
        b.observe(float(i), False)
    assert not b.tripped and b.wait_s(50.0) > 0


def test_backoff_spaces_sends_exponentially_capped_and_success_ends_it() -> None:
    b = Brakes(BrakeSettings(first_n=0, base_s=0.1, cap_s=1.0))
    assert b.wait_s(0.0) == 0.0
    b.observe(0.0, False)
    gaps = [b.wait_s(0.0) for _ in range(3)]  # slots claimed back to back at gap 0.1
    assert gaps == pytest.approx([0.1, 0.2, 0.3])
    for _ in range(10):
        b.observe(0.0, False)
    first = b.wait_s(10.0)
    assert b.wait_s(10.0) - first == pytest.approx(1.0)  # capped
    b.observe(20.0, True)
    assert b.wait_s(20.0) == 0.0


def test_retry_after_holds_every_send_capped() -> None:
    b = Brakes(BrakeSettings(first_n=0, base_s=0.01, cap_s=5.0))
    b.observe(0.0, False, status=429, retry_after_s=3.0)
    assert b.wait_s(0.0) == pytest.approx(3.0) and b.retry_after_honoured == 1
    b.observe(4.0, True)
    b.observe(4.0, False, status=503, retry_after_s=3600.0)
    assert b.wait_s(4.0) == pytest.approx(5.0)
    b.observe(20.0, False, status=500, retry_after_s=100.0)  # not a backoff status: plain backoff
    assert b.retry_after_honoured == 2


def test_first_n_is_split_between_workers() -> None:
    s = BrakeSettings(first_n=20, min_window=20).for_share(3)
    assert (s.first_n, s.min_window) == (7, 7)


@pytest.mark.parametrize(
    "kw", [{"first_n": -1}, {"max_error_rate": 0.0}, {"max_error_rate": 1.5}, {"window_s": 0}, {"cap_s": 0.01}]
)
def test_bad_settings_are_config_errors_with_an_example(kw: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match=r"e\.g\."):
        BrakeSettings(**kw)


def test_summaries_merge_with_the_first_reason() -> None:
    a, b = Brakes(BrakeSettings(first_n=1)), Brakes()
    a.observe(0.0, False, kind="http_401")
    b.waited(0.5)
    doc = merge_summaries(BrakeSettings(), [b.summary(), a.summary()])
    assert doc["tripped"] and "first 1 requests" in doc["reason"] and doc["backoff_waits"] == 1


def test_retry_after_reads_seconds_and_http_dates() -> None:
    now = time.time()
    later = format_datetime(datetime.fromtimestamp(now, UTC) + timedelta(seconds=30), usegmt=True)
    assert retry_after_seconds("7") == 7.0
    assert retry_after_seconds(later, now=now) == pytest.approx(30, abs=1)
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", now=now) == 0.0
    assert retry_after_seconds("9" * 400) == float("9" * 12)
    for bad in (None, "", "soon", "-5", "1.5"):
        assert retry_after_seconds(bad) is None


def _failing(status: int, headers: dict[str, str]) -> Any:
    body = json.dumps({"error": {"message": "no"}}).encode()
    return scripted(lambda *_: (status, {"Content-Type": "application/json", **headers}, body))


def _load(url: str, out: Path, *extra: str) -> tuple[int, dict[str, Any], float, str]:
    argv = [sys.executable, "-m", "maascheck.cli", "load", "--base-url", url, "--model", "m",
            "--report-dir", str(out), *extra]  # fmt: skip
    t0 = time.monotonic()
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    doc = json.loads((out / "results.json").read_text())
    assert schemas.errors("load-results", doc) == []
    return proc.returncode, doc, time.monotonic() - t0, proc.stdout + proc.stderr


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_unset_key_run_is_stopped_by_the_breaker_across_two_processes(tmp_path: Path) -> None:
    with _failing(401, {}) as srv:
        code, doc, _, out = _load(
            srv.origin + "/v1", tmp_path, "--users", "16", "--run-time", "30s", "--processes", "2",
            *NO_PREFLIGHT,
        )  # fmt: skip
        served = srv.count
    assert code == 1 and not doc["verdict"]["passed"]
    assert doc["run"]["stopped_by"] == "circuit_breaker" and doc["brakes"]["tripped"]
    assert "the first 10 requests all failed" in doc["brakes"]["reason"]
    assert any("circuit breaker" in r for r in doc["verdict"]["reasons"])
    assert "stopped by the circuit breaker: the first 10 requests all failed" in out
    assert doc["run"]["measured_s"] < 10
    assert served <= 60  # 2 workers x (10 + the 16 users' requests in flight)
    assert doc["requests"]["errors_by_kind"].get("http_401", 0) >= 10


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_retry_after_is_honoured_and_every_429_counted(tmp_path: Path) -> None:
    with _failing(429, {"Retry-After": "1"}) as srv:
        code, doc, _, _ = _load(
            srv.origin + "/v1", tmp_path, "--users", "8", "--run-time", "4s", *NO_PREFLIGHT, "--", "--no-brakes"
        )
        served = srv.count
    assert code == 1 and doc["brakes"]["tripped"] is False
    assert doc["brakes"]["retry_after_honoured"] >= 1
    assert served <= 30  # without the backoff: thousands in 4 s
    assert doc["requests"]["errors_by_kind"]["http_429"] == doc["requests"]["failed"] >= served - 8
