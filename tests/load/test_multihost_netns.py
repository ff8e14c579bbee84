"""Distributed runs over a real network path: master and two workers in three network namespaces.

The simulator and the master run in the master's namespace on 10.231.7.1 (the native entry,
`locust -f loadtests/locustfile.py --master`, or `maascheck load --expect-workers 2`); each worker runs
`--worker --master-host 10.231.7.1` in its own namespace behind a veth pair (`tests/load/netns.py`).
One worker's wall clock is skewed by a known amount (the test-only MAASCHECK_TEST_CLOCK_SKEW_MS): the
master must measure that offset at the handshake and put the worker's records on its own run clock.
The tests skip, with the reason, where namespaces cannot be made.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import pytest

from maascheck.core import schema_registry as schemas
from maascheck.load.run.clock import SKEW_ENV
from maascheck.load.run.recorder import read_jsonl

from .netns import NetnsUnavailable, Topology
from .test_lost_worker import assert_one_worker_lost_and_reported

LOCUSTFILE = Path(__file__).resolve().parents[2] / "loadtests" / "locustfile.py"
KEY = "maascheck-sim-key"  # the simulator's documented test key, served inside the namespaces only
SKEW_MS = 3000.0  # far beyond the spread of the workers' start times, so a missing correction shows
OFFSET_TOLERANCE_MS = 20.0
SPREAD_S = 1.5  # the workers' start times lie this close on a loaded 2-core machine (0.01 s when idle)
RATE = 4.0  # open loop, constant arrivals: each worker 2 req/s, the second offset by half a period
RUN_S = 8


@pytest.fixture(scope="module")
def topology() -> Iterator[Topology]:
    """master, w1, w2 namespaces on a bridge, removed after the module (even on failure)."""
    try:
        with Topology.make() as topo:
            yield topo
    except NetnsUnavailable as exc:
        print(f"network namespaces unavailable: {exc}", file=sys.stderr)
        pytest.skip(f"network namespaces cannot be made here: {exc}")


@dataclass
class Run:
    """One finished distributed run."""

    doc: dict[str, Any]
    output: str
    returncode: int
    report_dir: Path


def _serve_simulator(topo: Topology, log: Path) -> tuple[subprocess.Popen[str], str]:
    """`maascheck sim` in the master's namespace on its bridge address; returns it and its base URL."""
    sim = topo.master.popen(
        [sys.executable, "-m", "maascheck", "sim", "--host", topo.master.address, "--port", "8000",
         "--decode-step-ms", "1", "--seed", "2"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    found: list[str] = []
    ready = threading.Event()

    def read() -> None:  # the banner names the URL; the rest of the output goes to the log
        assert sim.stdout is not None
        with log.open("w", encoding="utf-8") as out:
            for line in sim.stdout:
                out.write(line)
                m = re.search(r"listening on (http://\S+)", line)
                if m and not found:
                    found.append(m.group(1))
                    ready.set()
        ready.set()

    threading.Thread(target=read, daemon=True).start()
    ready.wait(30)
    if not found:
        sim.kill()
        raise AssertionError(f"the simulator did not start in {topo.master.netns}: {log.read_text()[-2000:]}")
    return sim, found[0]


def _master_argv(face: str, topo: Topology, url: str, report_dir: Path) -> list[str]:
    """The master's command: the native Locust entry or `maascheck load --expect-workers 2`."""
    if face == "native":
        return [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "--master",
                "--master-bind-host", topo.master.address, "--master-bind-port", "5557",
                "--expect-workers", "2", "--expect-workers-max-wait", "60",
                "--host", url, "--model", "sim-chat", "-u", "8", "-r", "100", "-t", f"{RUN_S}s",
                "--rate", f"{RATE:g}", "--arrival", "constant", "--output-tokens", "fixed:16",
                "--report-dir", str(report_dir), "ChatUser"]  # fmt: skip
    return [sys.executable, "-m", "maascheck", "load", "--base-url", url, "--model", "sim-chat",
            "--expect-workers", "2", "--master-bind-host", topo.master.address, "--workers-wait", "60",
            "--users", "4", "--run-time", f"{RUN_S}s", "--output-tokens", "fixed:16",
            "--report-dir", str(report_dir)]  # fmt: skip


def _worker_argv(face: str, topo: Topology) -> list[str]:
    if face == "native":
        return [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--worker",
                "--master-host", topo.master.address, "--master-port", "5557"]  # fmt: skip
    return [sys.executable, "-m", "maascheck", "load", "--worker", "--master-host", topo.master.address]


def _distributed_run(topo: Topology, tmp: Path, *, face: str = "native", kill_second_worker: bool = False) -> Run:
    """Simulator + master in the master namespace, a worker in each worker namespace (the first skewed)."""
    report_dir = tmp / "report"
    env = {**os.environ, "OPENAI_API_KEY": KEY, "PYTHONUNBUFFERED": "1"}
    env.pop(SKEW_ENV, None)
    sim, url = _serve_simulator(topo, tmp / "sim.log")
    procs: list[subprocess.Popen[str]] = [sim]
    try:
        with (tmp / "master.log").open("w", encoding="utf-8") as master_log:
            master = topo.master.popen(
                _master_argv(face, topo, url, report_dir), stdout=master_log, stderr=subprocess.STDOUT, env=env, cwd=tmp
            )
            procs.append(master)
            workers = []
            for i, node in enumerate(topo.workers):
                worker_env = {**env, SKEW_ENV: f"{SKEW_MS:g}"} if i == 0 else env
                argv = _worker_argv(face, topo)
                with (tmp / f"worker{i + 1}.log").open("w", encoding="utf-8") as worker_log:
                    out = {"stdout": worker_log, "stderr": subprocess.STDOUT}
                    workers.append(node.popen(argv, env=worker_env, cwd=tmp, **out))
            procs += workers
            if kill_second_worker:
                _kill_after_first_records(workers[1], report_dir)
            master.wait(timeout=RUN_S + 90)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
            p.wait(timeout=10)
    output = (tmp / "master.log").read_text(encoding="utf-8")
    results = report_dir / "results.json"
    assert results.exists(), output[-3000:]
    doc = json.loads(results.read_text(encoding="utf-8"))
    assert schemas.errors("load-results", doc) == []
    return Run(doc, output, master.returncode, report_dir)


def _kill_after_first_records(worker: subprocess.Popen[str], report_dir: Path) -> None:
    """SIGKILL the Locust worker of `worker` (itself, or the child `maascheck load --worker` runs) once both
    workers have written records (they flush once a second)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        files = list(report_dir.glob("requests-w*.jsonl"))
        if len(files) == 2 and all(f.stat().st_size > 0 for f in files):
            break
        time.sleep(0.2)
    else:
        raise AssertionError("the two workers wrote no records within 60 s")
    time.sleep(1.0)
    children = psutil.Process(worker.pid).children(recursive=True)
    (children[0] if children else psutil.Process(worker.pid)).kill()


@pytest.mark.slow
@pytest.mark.timeout(170)
def test_clock_offsets_are_measured_over_the_network_and_applied(topology: Topology, tmp_path: Path) -> None:
    run = _distributed_run(topology, tmp_path)
    assert run.returncode == 0, run.output[-3000:]
    workers = run.doc["workers"]
    assert len(workers) == 2 and not any(w["lost"] for w in workers), workers
    assert run.doc["load"]["processes"] == 2
    skewed, plain = sorted(workers, key=lambda w: -abs(w["clock_offset_ms"]))
    assert abs(skewed["clock_offset_ms"] - SKEW_MS) <= OFFSET_TOLERANCE_MS, workers
    assert abs(plain["clock_offset_ms"]) <= OFFSET_TOLERANCE_MS, workers
    for w in workers:
        assert w["clock_samples"] == 8 and w["clock_uncertainty_ms"] <= OFFSET_TOLERANCE_MS, w

    # Both workers started on the master's spawn message: their zeros on the master's run clock lie close
    # together and inside the run; without the correction the skewed one would sit SKEW_MS later.
    zeros = {w["id"]: w["zero_s"] for w in workers}
    assert all(0 <= z <= RUN_S for z in zeros.values()), zeros
    assert abs(zeros[skewed["id"]] - zeros[plain["id"]]) < SPREAD_S, zeros

    merged = read_jsonl(run.report_dir / "requests.jsonl")
    first = {wid: min(r["start_s"] for r in merged if r["worker"] == wid) for wid in zeros}
    period = 2 / RATE  # each worker's constant gap; the second worker's first slot is half a period in
    assert all(zeros[wid] <= first[wid] <= zeros[wid] + period + SPREAD_S for wid in first), (first, zeros)
    assert abs(first[skewed["id"]] - first[plain["id"]]) < SPREAD_S + period, (first, zeros)

    # The master moved each record by its worker's zero: the worker's own file keeps its local times.
    for wid, zero in zeros.items():
        local = {r["rid"]: r for r in read_jsonl(run.report_dir / f"requests-{wid}.jsonl")}
        shared = [r for r in merged if r["rid"] in local]
        assert shared, wid
        for r in shared:
            assert r["start_s"] == pytest.approx(local[r["rid"]]["start_s"] + zero, abs=2e-6)
            assert r["end_s"] == pytest.approx(local[r["rid"]]["end_s"] + zero, abs=2e-6)
    busy = [row["t_s"] for row in run.doc["timeseries"] if row["active"] or row["completed"]]
    assert busy and busy[0] >= int(min(first.values())), run.doc["timeseries"][:4]  # built from the moved records


@pytest.mark.slow
@pytest.mark.timeout(170)
def test_a_worker_killed_mid_run_across_the_network_is_reported(topology: Topology, tmp_path: Path) -> None:
    run = _distributed_run(topology, tmp_path, face="cli", kill_second_worker=True)
    assert_one_worker_lost_and_reported(run.doc, run.output, run.returncode)
    assert "--expect-workers 2" in run.doc["run"]["reproduce"] and run.doc["load"]["processes"] == 2
    lost = next(w for w in run.doc["workers"] if w["lost"])
    assert lost["clock_samples"] == 8 and lost["zero_s"] is not None, lost  # measured before it died
