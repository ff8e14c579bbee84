"""Run validity: each check fires on bad figures and stays quiet on good ones; real runs clean and starved.

The starved run pins the Locust process to CPU 0 with two busy-loop processes and lowers its priority
(nice 12 for every thread, and for its autogroup: with `sched_autogroup` a process in its own session
is weighed as a group, so a per-thread nice alone would leave it half the core). It gets a few per cent
of one core, so its event loop wakes late and its users send less often than intended; the hogs stop
when its run time is over, so it still writes its results promptly.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gevent
import pytest

from maascheck.core import schema_registry as schemas
from maascheck.core.errors import EXIT_INTERRUPTED
from maascheck.load.measure import validity as v
from maascheck.load.run.selfcheck import SelfCheck
from maascheck.load.sweep.analysis import Step, find_capacity
from maascheck.sim.config import DEFAULT_API_KEY, SimConfig
from maascheck.sim.server import SimServer
from tests.conftest import ALLOW_INVALID_ENV

KEY_ENV = "MAASCHECK_TEST_SIM_KEY"
STARVED_NICE = 12


def by_name(checks: list[v.Check]) -> dict[str, v.Check]:
    return {c.name: c for c in checks}


# --- the checks, one by one -------------------------------------------------------------------------


def test_dispatch_lag_fires_above_the_bound_and_not_below() -> None:
    bad = v.dispatch_lag_check([1.0] * 90 + [80.0] * 10, open_loop=True, bound_ms=50)
    good = v.dispatch_lag_check([1.0] * 99 + [80.0], open_loop=True, bound_ms=50)  # p99 interpolates: 1.79
    assert bad.ok is False and bad.value == 80.0 and "80.0 ms > 50 ms" in bad.why
    assert good.ok is True and good.value is not None and good.value < 50


def test_dispatch_lag_does_not_apply_to_a_closed_loop() -> None:
    check = v.dispatch_lag_check([500.0], open_loop=False, bound_ms=50)
    assert check.ok is None and check.value is None


def test_cancelled_and_warmup_requests_are_not_judged_for_dispatch_lag() -> None:
    records = [{"dispatch_lag_ms": 1.0, "outcome": "ok"}] * 50 + [
        {"dispatch_lag_ms": 300.0, "outcome": "cancelled"},
        {"dispatch_lag_ms": 300.0, "outcome": "ok", "warmup": True},
    ]
    check = by_name(v.run_checks(records=records, workers=[], open_loop=True, bounds=v.Bounds()))
    assert check["dispatch_lag_p99_ms"].ok is True and check["dispatch_lag_p99_ms"].value == 1.0


def cpu(wid: str, saturated: int, intervals: int = 10) -> dict[str, Any]:
    return {"id": wid, "cpu_intervals": intervals, "cpu_saturated_intervals": saturated, "cpu_max_core_share": 0.99}


def test_cpu_fires_when_a_worker_was_saturated_most_of_the_run() -> None:
    bad = v.cpu_check([cpu("w0", 2), cpu("w1", 6)])
    good = v.cpu_check([cpu("w0", 5), cpu("w1", 4)])  # half the run is not "most"
    assert bad.ok is False and bad.value == 0.6 and "worker w1" in bad.why
    assert good.ok is True and good.value == 0.5
    assert v.cpu_check([{"id": "w0", "cpu_intervals": 0}]).ok is None


def test_loop_lag_fires_on_the_worst_worker() -> None:
    workers = [{"id": "w0", "loop_lag_p99_ms": 3.0}, {"id": "w1", "loop_lag_p99_ms": 40.0}]
    bad = v.loop_lag_check(workers, bound_ms=25)
    good = v.loop_lag_check(workers, bound_ms=50)
    assert bad.ok is False and bad.value == 40.0 and "worker w1" in bad.why
    assert good.ok is True
    assert v.loop_lag_check([{"id": "w0", "loop_lag_p99_ms": None}], bound_ms=25).ok is None


def closed_records(worker: str, users: int, duration_s: float, gap_s: float, until_s: float) -> list[dict[str, Any]]:
    """Each user sends back to back: requests of `duration_s`, `gap_s` apart, from 0 to `until_s`."""
    out = []
    for _ in range(users):
        t = 0.0
        while t < until_s:
            out.append({"worker": worker, "start_s": t, "end_s": t + duration_s, "outcome": "ok"})
            t += duration_s + gap_s
    return out


def sampled(worker: str, mean: float, a: float = 1.0, b: float = 9.0) -> dict[str, Any]:
    return {"id": worker, "inflight_mean": mean, "inflight_from_s": a, "inflight_to_s": b}


def test_little_quiet_when_users_send_as_intended() -> None:
    records = closed_records("w0", 8, 0.2, 0.001, 10)
    check = v.little_check([sampled("w0", 8.0)], records)
    assert check.ok is True and check.value is not None and check.value < 0.01


def test_little_fires_when_users_idle_between_requests() -> None:
    records = closed_records("w0", 8, 0.2, 0.05, 10)  # 20 % of each cycle spent outside a request
    check = v.little_check([sampled("w0", 8.0)], records)
    assert check.ok is False and check.value is not None and abs(check.value - 0.2) < 0.01
    assert "L = 8.00" in check.why and "λW = 6.4" in check.why


def test_little_sums_workers_on_their_own_clocks_and_windows() -> None:
    records = closed_records("w0", 4, 0.2, 0.001, 10) + [
        {**r, "start_s": r["start_s"] + 3, "end_s": r["end_s"] + 3} for r in closed_records("w1", 4, 0.2, 0.001, 10)
    ]
    good = v.little_check([sampled("w0", 4.0), sampled("w1", 4.0, 4.0, 12.0)], records)
    lost = v.little_check([sampled("w0", 4.0), sampled("w1", 4.0, 4.0, 12.0)], records[: len(records) // 2])
    assert good.ok is True
    assert lost.ok is False  # a worker's records missing: λW is half of L


def test_little_counts_open_loop_requests_from_their_intended_time() -> None:
    records = [
        {"worker": "w0", "start_s": t / 10 + 0.02, "end_s": t / 10 + 0.1, "dispatch_lag_ms": 20.0} for t in range(100)
    ]
    check = v.little_check([sampled("w0", 1.0, 1.0, 9.0)], records)
    assert check.ok is True and check.value is not None and check.value < 0.01


def test_little_needs_a_window_of_a_second() -> None:
    assert v.little_check([sampled("w0", 4.0, 1.0, 1.5)], []).ok is None


def test_lag_histogram_quantile_is_within_a_bucket() -> None:
    h = v.LagHistogram()
    for i in range(1000):
        h.add(i / 10)  # 0.0 .. 99.9 ms
    h.add(-3.0)  # counted as on time
    q = h.quantile(0.99)
    assert h.n == 1001 and q is not None and 98.8 <= q <= 99.1 and h.max_ms == 99.9
    assert v.LagHistogram().quantile(0.99) is None


# --- the verdict --------------------------------------------------------------------------------------


def invalid_block(allowed: bool) -> dict[str, Any]:
    return v.validity_block([v.Check("event_loop_lag_p99_ms", 90.0, 25.0, False, "loop lag 90 ms")], allowed=allowed)


def test_an_invalid_run_fails_with_its_reason() -> None:
    verdict = v.apply_to_verdict({"passed": True, "exit_code": 0, "reasons": []}, invalid_block(False))
    assert verdict == {"passed": False, "exit_code": 1, "invalid": True, "reasons": ["invalid run: loop lag 90 ms"]}


def test_allow_invalid_keeps_the_slo_verdict_and_says_why() -> None:
    verdict = v.apply_to_verdict({"passed": True, "exit_code": 0, "reasons": []}, invalid_block(True))
    assert verdict["passed"] is True and verdict["exit_code"] == 0 and verdict["invalid"] is True
    assert "allowed by --allow-invalid" in verdict["reasons"][0]


def test_interrupted_stays_interrupted_and_valid_runs_are_untouched() -> None:
    interrupted = {"passed": False, "exit_code": EXIT_INTERRUPTED, "interrupted": True, "reasons": ["x"]}
    assert v.apply_to_verdict(interrupted, invalid_block(False))["exit_code"] == EXIT_INTERRUPTED
    valid = v.validity_block(
        [v.Check("littles_law_error", 0.01, 0.1, True, "ok"), v.Check("x", None, 1, None, "")], allowed=False
    )
    assert valid["valid"] is True
    assert v.apply_to_verdict({"passed": True, "exit_code": 0, "reasons": []}, valid)["exit_code"] == 0


def test_an_invalid_sweep_step_is_never_the_capacity() -> None:
    steps = [
        Step(load=1, ran=True, passed=True, throughput=10.0, valid=True),
        Step(load=2, ran=True, passed=True, throughput=20.0, valid=False),
        Step(load=4, ran=True, passed=True, throughput=40.0),
    ]
    cap = find_capacity(steps)
    assert cap.load == 1 and "invalid run" in cap.reason and cap.highest_passing == 4


# --- the self-check greenlet (gevent in this process, no monkey-patching) -------------------------------


def test_selfcheck_measures_a_held_hub_and_the_in_flight_mean() -> None:
    def hog() -> None:  # holds the hub for 40 ms at a time
        while True:
            t = time.perf_counter()
            while time.perf_counter() - t < 0.04:
                pass
            gevent.sleep(0.005)

    def figures(with_hog: bool) -> dict[str, Any]:
        sc = SelfCheck(t0_ns=time.perf_counter_ns(), warmup_s=0.0, in_flight=lambda _now: 3)
        sc.start()
        hogs = [gevent.spawn(hog)] if with_hog else []
        gevent.sleep(1.2)
        sc.stop()
        gevent.killall(hogs)
        return sc.summary()

    quiet, held = figures(False), figures(True)
    assert quiet["loop_lag_samples"] > 20 and quiet["inflight_mean"] == 3.0 and quiet["cpu_intervals"] >= 1
    assert held["loop_lag_p99_ms"] >= 25 and held["cpu_saturated_intervals"] >= 0
    assert quiet["loop_lag_p99_ms"] < held["loop_lag_p99_ms"]


# --- real runs -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sim_url() -> Iterator[str]:
    """A fast, unsaturated simulator in this process (5 ms decode steps, batch 64)."""
    config = SimConfig(decode_step_ms=5.0, decode_ms_per_seq=0.0, prefill_ms_per_token=0.0, jitter=0.0, max_batch=64)
    server = SimServer(config)
    url = server.start_in_thread()
    yield url
    server.stop()


def free_port() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return str(s.getsockname()[1])


def argv(url: str, out: Path, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "maascheck.cli", "load", "--base-url", url, "--model", "sim-chat",
        "--report-dir", str(out), "--api-key-env", KEY_ENV, "--output-tokens", "fixed:8", *extra,
    ]  # fmt: skip


def results(out: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((out / "results.json").read_text())
    assert schemas.errors("load-results", doc) == []
    return doc


def judged_env() -> dict[str, str]:
    """The environment with the key, without the suite's allow-invalid setting (tests/conftest.py)."""
    return {k: v for k, v in os.environ.items() if k != ALLOW_INVALID_ENV} | {KEY_ENV: DEFAULT_API_KEY}


def run(url: str, out: Path, *extra: str) -> tuple[int, dict[str, Any], str]:
    env = judged_env()
    proc = subprocess.run(argv(url, out, *extra), capture_output=True, text=True, timeout=150, env=env)
    assert (out / "results.json").exists(), proc.stderr[-2000:]
    return proc.returncode, results(out), proc.stdout + proc.stderr


def checks_of(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in doc["validity"]["checks"]}


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_a_clean_open_loop_run_is_valid(sim_url: str, tmp_path: Path) -> None:
    code, doc, out = run(sim_url, tmp_path, "--rate", "30", "--run-time", "5s", "--warmup", "1s")
    checks = checks_of(doc)
    assert code == 0 and doc["validity"]["valid"] is True and doc["verdict"]["passed"], checks
    judged = ("dispatch_lag_p99_ms", "event_loop_lag_p99_ms", "littles_law_error", "parse_wait_share")
    assert all(checks[n]["ok"] is True for n in judged), checks
    assert "INVALID" not in out and "verdict: PASS" in out
    assert "## Run validity" in (tmp_path / "report.md").read_text()


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_a_clean_two_process_run_is_valid_with_each_workers_figures(sim_url: str, tmp_path: Path) -> None:
    port = free_port()  # its own master port: other runs on this machine use Locust's default 5557
    ports = ["--", "--master-bind-host", "127.0.0.1", "--master-host", "127.0.0.1"]
    code, doc, _ = run(
        sim_url, tmp_path, "--users", "8", "--run-time", "5s", "--warmup", "1s", "--processes", "2",
        *ports, "--master-port", port, "--master-bind-port", port,
    )  # fmt: skip
    workers = doc["validity"]["workers"]
    checks = checks_of(doc)
    assert code == 0 and doc["validity"]["valid"] is True, checks
    assert sorted(w["id"] for w in workers) == ["w0", "w1"] and all(w["loop_lag_samples"] > 50 for w in workers)
    assert checks["dispatch_lag_p99_ms"]["ok"] is None  # closed loop
    assert checks["littles_law_error"]["ok"] is True and "L = 8.00" in checks["littles_law_error"]["why"]


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_a_bound_below_the_figures_makes_the_run_invalid_unless_allowed(sim_url: str, tmp_path: Path) -> None:
    common = ("--users", "2", "--run-time", "3s", "--max-loop-lag-ms", "0.0001")
    code, doc, out = run(sim_url, tmp_path / "strict", *common)
    assert code == 1 and doc["validity"]["valid"] is False and doc["verdict"]["invalid"] is True
    assert "verdict: INVALID (reason: event-loop lag p99" in out
    assert "**Verdict: INVALID**" in (tmp_path / "strict" / "report.md").read_text()
    code, doc, out = run(sim_url, tmp_path / "allowed", *common, "--allow-invalid")
    assert code == 0 and doc["validity"] == {**doc["validity"], "valid": False, "allowed": True}
    assert "verdict: PASS, INVALID allowed by --allow-invalid (reason: event-loop lag p99" in out


def test_a_bad_bound_exits_2_before_any_request(tmp_path: Path) -> None:
    proc = subprocess.run(
        argv("http://127.0.0.1:9/v1", tmp_path, "--max-loop-lag-ms", "-1"), capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2 and "--max-loop-lag-ms" in proc.stderr and not (tmp_path / "results.json").exists()


def _hog() -> None:
    os.sched_setaffinity(0, {0})
    while True:
        pass


def _children(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(stat[1]) == pid:
                out.append(int(entry))
    return out


def _starve(pid: int) -> None:
    """Pin every thread of `pid` to CPU 0 and lower its priority (and its autogroup's, when there is one)."""
    for tid in os.listdir(f"/proc/{pid}/task"):
        os.sched_setaffinity(int(tid), {0})
        os.setpriority(os.PRIO_PROCESS, int(tid), STARVED_NICE)
    autogroup = Path(f"/proc/{pid}/autogroup")
    if autogroup.exists():
        autogroup.write_text(str(STARVED_NICE))


@pytest.mark.slow
@pytest.mark.timeout(240)
@pytest.mark.skipif(not hasattr(os, "sched_setaffinity") or (os.cpu_count() or 1) < 2, reason="needs Linux, 2 CPUs")
def test_a_starved_generator_is_marked_invalid(sim_url: str, tmp_path: Path) -> None:
    out = tmp_path / "starved"
    shutil.rmtree(out, ignore_errors=True)
    run_s, env = 8.0, judged_env()
    cmd = argv(sim_url, out, "--users", "8", "--run-time", f"{run_s:g}s", "--warmup", "2s")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    ctx = multiprocessing.get_context("fork")
    hogs = [ctx.Process(target=_hog, daemon=True) for _ in range(2)]
    try:
        t0 = time.monotonic()
        while not (out / "requests.jsonl").exists():  # Locust started its test
            assert proc.poll() is None and time.monotonic() - t0 < 60, "the load run did not start"
            time.sleep(0.05)
        started = time.monotonic()
        for h in hogs:
            h.start()
        locusts = _children(proc.pid)
        assert locusts, "no Locust process under maascheck load"
        for pid in locusts:
            _starve(pid)
        time.sleep(max(run_s - (started - t0) + 0.5, 1.0))
    finally:
        for h in hogs:
            h.kill()
    text, _ = proc.communicate(timeout=150)
    doc = results(out)
    failed = {c["name"] for c in doc["validity"]["checks"] if c["ok"] is False}
    assert proc.returncode == 1 and doc["validity"]["valid"] is False, doc["validity"]
    assert "event_loop_lag_p99_ms" in failed, doc["validity"]
    assert doc["verdict"]["invalid"] is True and any(r.startswith("invalid run: ") for r in doc["verdict"]["reasons"])
    assert "verdict: INVALID (reason: " in text


def test_little_is_not_judged_while_the_brakes_pace_the_users() -> None:
    records = closed_records("w0", 8, 0.2, 0.05, 10)  # would fire (see above)
    check = v.little_check([{**sampled("w0", 8.0), "held_share": 0.3}], records)
    assert check.ok is None and "brakes held sends back in 30 %" in check.why
    assert v.little_check([{**sampled("w0", 8.0), "held_share": 0.01}], records).ok is False


def test_worker_figures_are_cleaned_and_moved_onto_the_masters_clock() -> None:
    raw = {"loop_lag_p99_ms": float("nan"), "cpu_intervals": True, "inflight_mean": 2.0, "inflight_from_s": 1.0,
           "inflight_to_s": 9.0, "held_share": "x", "extra": 1}  # fmt: skip
    clean = v.clean_figures(raw)
    assert clean["loop_lag_p99_ms"] is None and clean["cpu_intervals"] is None and clean["held_share"] is None
    assert "extra" not in clean and clean["inflight_counted"] is True
    moved = v.shift_window(clean, 2.5)
    assert (moved["inflight_from_s"], moved["inflight_to_s"], moved["inflight_mean"]) == (3.5, 11.5, 2.0)


@pytest.mark.parametrize(
    ("wait_s", "ok"),
    [(0.0, True), (2.0, True), (5.0, False), (40.0, False)],  # busy time: 8 users x 0.2/0.201 of 8 s ~ 63.7 s
)
def test_parse_wait_share_fires_when_users_waited_for_the_parser(wait_s: float, ok: bool) -> None:
    records = closed_records("w0", 8, 0.2, 0.001, 10)
    check = v.parse_wait_check([{**sampled("w0", 8.0), "parse_wait_s": wait_s}], records)
    assert check.ok is ok and check.value == pytest.approx(wait_s / (wait_s + 63.68), abs=0.01), check
    if not ok:
        assert "parse backlog full" in check.why and f"waited {wait_s:.2f} s" in check.why


def test_parse_wait_names_the_worst_worker_and_needs_a_window() -> None:
    records = closed_records("w0", 8, 0.2, 0.001, 10) + closed_records("w1", 8, 0.2, 0.001, 10)
    workers = [{**sampled("w0", 8.0), "parse_wait_s": 0.0}, {**sampled("w1", 8.0), "parse_wait_s": 20.0}]
    assert "worker w1" in v.parse_wait_check(workers, records).why
    short = {**sampled("w0", 8.0, 1.0, 1.5), "parse_wait_s": 20.0}
    assert v.parse_wait_check([short], records).ok is None
    assert v.parse_wait_check([{**sampled("w0", 8.0), "parse_wait_s": None}], records).ok is None


def test_selfcheck_counts_only_the_parse_waits_inside_the_measured_window() -> None:
    waited = [0.0]
    t0 = time.perf_counter_ns()
    check = SelfCheck(t0_ns=t0, warmup_s=0.1, in_flight=lambda _n: 1, parse_waited=lambda: waited[0])
    waited[0] = 5.0  # waits during the warm-up are not the run's
    check.start()
    gevent.get_hub().loop.update_now()
    gevent.sleep(0.3)
    waited[0] = 5.75
    gevent.sleep(0.2)
    check.stop()
    assert check.summary()["parse_wait_s"] == pytest.approx(0.75)


def test_little_says_when_the_generator_did_not_count() -> None:
    figures = {**sampled("w0", 0.0), "inflight_mean": None, "inflight_counted": False}
    assert "wait on purpose" in v.little_check([figures], []).why
