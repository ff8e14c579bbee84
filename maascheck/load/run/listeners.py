"""Locust event listeners: set up each process, stop the run, ship records to the master, write results.

Roles: *local* (one process), *worker* (runs users, writes `requests-<worker>.jsonl`, ships its records
as one batch of JSONL bytes with every `report_to_master` (every 3 s) and a final `maascheck_final`
message on stop), *master* (merges the records into `requests.jsonl` as they arrive and writes
`results.json` on quit). Processes that generate load run under `maascheck.load.run.gcpolicy.GcPolicy` and
flush their buffered records once a second, at test stop and on quit (SIGINT/SIGTERM included).
A worker that never sends its final message is reported as lost; its records received so far (and
those in its local file, when the master can read it) are kept. Each worker's clock offset is measured at
its handshake (`maascheck.load.run.clock`) and its records are moved onto the master's run clock as they
are merged.
"""

from __future__ import annotations

import logging
import math
import signal
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import gevent
from locust import events
from locust.runners import MasterRunner, WorkerRunner

from maascheck import __version__
from maascheck.core.secrets import Redactor, read_api_key
from maascheck.load.measure.results import build_results
from maascheck.load.measure.tokens import load_counter
from maascheck.load.measure.validity import apply_to_verdict, clean_figures, run_checks, shift_window, validity_block
from maascheck.load.run.brakes import Brakes, merge_summaries
from maascheck.load.run.clock import (
    ClockBook,
    register_master,
    register_worker,
    send_zero,
    shift_record,
    wall_time,
)
from maascheck.load.run.options import Settings, add_locust_arguments, settings_from, validate_when_parsed
from maascheck.load.run.pacing import Pacer
from maascheck.load.run.postprocess import Postprocessor
from maascheck.load.run.preflight_hook import preflight_on_init
from maascheck.load.run.recorder import JsonlWriter, RecordSink, decode_lines, encode, read_jsonl
from maascheck.load.run.runtime import ATTR, Budget, Message, Role, Runtime, runtime_of
from maascheck.load.run.selfcheck import SelfCheck
from maascheck.load.run.trace_replay import TraceFeed, trace_block

log = logging.getLogger("maascheck.load")
SATURATED_CPU_PERCENT = 90.0
LAG_WARN_MS = 100.0
HOUSEKEEPING_S = 0.25
CLOCKS = "maascheck_clocks"  # the master's ClockBook, on the Locust Environment


class _NoSpawnRateWarning(logging.Filter):
    """Drops Locust's "spawn rate is very high" warning: every user is meant to start at once here."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "spawn rate is very high" not in record.getMessage()


_QUIET = _NoSpawnRateWarning()


def register() -> None:
    """Attach maascheck's listeners to Locust's global events (called once by the locustfile)."""
    runners_log = logging.getLogger("locust.runners")
    if _QUIET not in runners_log.filters:
        runners_log.addFilter(_QUIET)
    hooks: Any = events  # Locust's EventHook.add_listener is untyped
    hooks.init_command_line_parser.add_listener(_on_parser)
    hooks.init.add_listener(_on_init)
    hooks.test_start.add_listener(_on_test_start)
    hooks.test_stopping.add_listener(_on_test_stopping)
    hooks.test_stop.add_listener(_on_test_stop)
    hooks.quitting.add_listener(_on_quitting)


def _role(runner: Any) -> Role:
    if isinstance(runner, MasterRunner):
        return Role.MASTER
    if isinstance(runner, WorkerRunner):
        return Role.WORKER
    return Role.LOCAL


def _on_parser(parser: Any) -> None:
    add_locust_arguments(parser)
    validate_when_parsed(parser)


def _stop_on_signals(environment: Any) -> None:
    """Ctrl-C and SIGTERM stop the run as the controller does (results, reports, verdict `interrupted`).

    Locust's own handling would print gevent's KeyboardInterrupt line, and while a shape runs headless it
    has no SIGTERM handler at all (the process dies without results.json).
    """
    for sig in (signal.SIGINT, signal.SIGTERM):
        gevent.signal_handler(sig, lambda: gevent.spawn(_interrupt, environment))


def _interrupt(environment: Any) -> None:
    rt, runner = getattr(environment, ATTR, None), environment.runner
    if isinstance(rt, Runtime):
        if rt.interrupted:
            return
        rt.interrupted = True
    if isinstance(runner, MasterRunner):
        runner.stop()  # the workers' final records come first
    runner.quit()


def _on_init(environment: Any, **_kw: Any) -> None:
    _stop_on_signals(environment)
    runner = environment.runner
    role = _role(runner)
    if role == Role.MASTER:  # before the preflight, whose requests let the workers' messages in
        setattr(environment, CLOCKS, ClockBook())
        register_master(environment, getattr(environment, CLOCKS))
    if role != Role.WORKER:  # workers take the master's findings
        environment.maascheck_preflight = preflight_on_init(environment.parsed_options, environment.host)
    if role == Role.MASTER:
        runner.register_message(Message.FINAL, _on_final)
        runner.register_message(Message.DONE, _on_done)
        runner.register_message("maascheck_brake", _on_brake)
        environment.events.worker_report.add_listener(
            lambda client_id, data: _on_worker_report(environment, str(client_id), data)
        )
    if role == Role.WORKER:
        environment.events.report_to_master.add_listener(
            lambda client_id, data: _on_report_to_master(environment, data)
        )
        register_worker(environment)


def _on_test_start(environment: Any, **_kw: Any) -> None:
    runner = environment.runner
    role = _role(runner)
    s = settings_from(environment.parsed_options, environment.host)
    report_dir = Path(s.report_dir)
    rt = Runtime(
        settings=s,
        role=role,
        report_dir=report_dir,
        api_key=read_api_key(s.api_key_env),
        counter=load_counter(s.tokenizer),
    )
    rt.t0_ns, rt.t0_utc, rt.cpu0 = time.perf_counter_ns(), wall_time(), time.process_time()
    n_workers, index = 1, 0
    redactor = Redactor([rt.api_key])
    if role == Role.WORKER:
        index = max(int(runner.worker_index), 0)
        n_workers = max(int(getattr(environment.parsed_options, "expect_workers", 1) or 1), index + 1)
        rt.worker_id = f"w{index}"
        rt.sink = RecordSink(
            JsonlWriter(report_dir / f"requests-{rt.worker_id}.jsonl"), keep=False, ship=True, redactor=redactor
        )
    else:
        rt.sink = RecordSink(JsonlWriter(report_dir / "requests.jsonl"), keep=True, ship=False, redactor=redactor)
    rt.preflight = getattr(environment, "maascheck_preflight", None)
    rt.brakes = Brakes(s.brakes.for_share(n_workers))
    if s.max_requests:
        rt.budget = Budget(s.max_requests // n_workers + (1 if index < s.max_requests % n_workers else 0))
    if s.workload.trace is not None and role != Role.MASTER:
        rt.trace = TraceFeed(
            s.workload.trace, s.workload.trace_prompt(), t0_ns=rt.t0_ns, index=index, workers=n_workers
        )
    elif s.open_loop and role != Role.MASTER:
        rt.pacer = Pacer(
            s.level,
            arrival=s.arrival,
            t0_ns=rt.t0_ns,
            share=1.0 / n_workers,
            offset=index / n_workers,
            seed=s.workload.seed * 7919 + index,
        )
    setattr(environment, ATTR, rt)
    if role != Role.MASTER:  # processes that generate load: no automatic GC pauses, records made in slices
        post = rt.post = Postprocessor()
        post.start()
        rt.gc.start()
        gevent.spawn(_housekeeping, rt)
        rt.selfcheck = SelfCheck(
            t0_ns=rt.t0_ns, warmup_s=s.warmup,
            in_flight=None if paced_by_workload(s) else _in_flight_counter(rt, runner),
            held=lambda now_ns: rt.brakes.holding(now_ns / 1e9), parse_waited=lambda: post.waited_s,
        )  # fmt: skip
        rt.selfcheck.start()
    if role == Role.WORKER:
        send_zero(environment, rt.t0_utc)  # before any record is shipped: every batch is moved alike
        gevent.spawn(_watch_quota, environment, rt)
        gevent.spawn(_watch_brakes, environment, rt)
    else:
        gevent.spawn(_control, environment, rt)


def paced_by_workload(s: Settings) -> bool:
    """Users that wait on purpose beyond the schedule: a trace's record times, a session's think times."""
    return s.workload.trace is not None or s.workload.sessions is not None


def _in_flight_counter(rt: Runtime, runner: Any) -> Callable[[int], int]:
    """The generator's own count of requests it means to have in flight at `now_ns` (Little's law's L).

    Closed loop: every running user (each is meant to stream without pause), until the quota is
    claimed or the breaker tripped; then, as in the open loop, the requests started and not finished,
    less those waiting for parsing and (open loop) those whose send time has not come; users sleeping
    out a backoff are not meant to be in flight; never more than the running users (users stopped at
    the end of the run had a slot, but send nothing).
    """

    def count(now_ns: int) -> int:
        b, users = rt.budget, int(runner.user_count)  # a stopped user has nothing in flight
        held = rt.brakes.holding(now_ns / 1e9)  # the brakes' clock is perf_counter seconds
        started = b.started - b.finished - (rt.post.pending if rt.post is not None else 0) - held
        if rt.pacer is not None:
            return min(max(started - rt.pacer.waiting(now_ns), 0), users)
        if rt.brakes.tripped or (b.quota is not None and b.started >= b.quota):
            return min(max(started, 0), users)
        return max(users - held, 0)

    return count


def _housekeeping(rt: Runtime) -> None:
    """Every 0.25 s: write out records buffered for a second, run the explicit young collection.

    The collection's pause grows with the objects created since the previous one (about 1 ms after
    1 s at 256 streams, `docs/load-client.md`), so it runs often and short.
    """
    while True:
        gevent.sleep(HOUSEKEEPING_S)
        if rt.sink is not None and rt.sink.writer is not None:
            rt.sink.writer.flush_if_due()
        rt.gc.step()


def _watch_quota(environment: Any, rt: Runtime) -> None:
    """Worker: tell the master once this worker's share of --max-requests (or of the trace) has finished."""
    while not (rt.budget.exhausted or rt.trace_done):
        gevent.sleep(0.05)
    reason = "max_requests" if rt.budget.exhausted else "trace_end"
    environment.runner.send_message(Message.DONE, {"id": rt.worker_id, "reason": reason})


def _watch_brakes(environment: Any, rt: Runtime) -> None:
    """Worker: tell the master once this worker's circuit breaker tripped (the master stops the run)."""
    while not rt.brakes.tripped:
        gevent.sleep(0.05)
    environment.runner.send_message("maascheck_brake", {"id": rt.worker_id, "reason": rt.brakes.reason})


def _on_brake(environment: Any, msg: Any, **_kw: Any) -> None:
    rt = getattr(environment, ATTR, None)
    if isinstance(rt, Runtime) and rt.brake_reason is None:
        rt.brake_reason = f"{msg.data.get('reason')} (worker {msg.data.get('id')})"


def _control(environment: Any, rt: Runtime) -> None:
    """Local/master: stop at --stop-after seconds or when every request of --max-requests finished."""
    s, runner = rt.settings, environment.runner
    while True:
        gevent.sleep(0.05)
        elapsed = (time.perf_counter_ns() - rt.t0_ns) / 1e9
        if s.stop_after and elapsed >= s.stop_after:
            rt.stopped_by = "time"
        elif rt.brakes.tripped or rt.brake_reason:
            rt.stopped_by = "circuit_breaker"
        elif rt.role == Role.LOCAL and rt.budget.exhausted:
            rt.stopped_by = "max_requests"
        elif rt.role == Role.LOCAL and rt.trace_done:
            rt.stopped_by = "trace_end"
        elif rt.role == Role.MASTER and (s.max_requests or s.workload.trace is not None):
            expected = max(int(getattr(environment.parsed_options, "expect_workers", 1) or 1), 1)
            done = [w for w in rt.workers.values() if w.get("done")]
            if len(done) >= expected:
                quota = any(w["done"] == "max_requests" for w in done) or s.workload.trace is None
                rt.stopped_by = "max_requests" if quota else "trace_end"
        if rt.interrupted:  # a signal stopped the run (`_interrupt`)
            return
        if rt.stopped_by:
            break
    if rt.role == Role.MASTER:
        runner.stop()  # sends stop and waits for the workers, whose final records come first
    runner.quit()


def _on_report_to_master(environment: Any, data: dict[str, Any]) -> None:
    rt = getattr(environment, ATTR, None)
    if isinstance(rt, Runtime) and rt.sink is not None:
        data["maascheck_records"] = rt.sink.take_outbox()


def _master_accept(rt: Runtime, batch: bytes, shift_s: float = 0.0) -> None:
    """Master: merge a worker's batch of JSONL lines into requests.jsonl (times moved by `shift_s` onto the
    master's run clock) and count them per worker."""
    if rt.sink is None:
        return
    for line in batch.splitlines():
        decoded = decode_lines([line]) if line.strip() else []
        if not decoded or not isinstance(decoded[0].get("worker"), str):
            continue
        r = decoded[0]
        rt.sink.add_line(encode(shift_record(r, shift_s)) if shift_s else line + b"\n")
        w = rt.workers.setdefault(r["worker"], {"id": r["worker"], "requests": 0, "lost": True})
        w["requests"] += 1


def _shift_of(environment: Any, rt: Runtime, client_id: str) -> float:
    """Master: the shift of a worker's records onto the master's run clock (0 without its clock)."""
    book = getattr(environment, CLOCKS, None)
    return book.of(client_id).shift_s(rt.t0_utc) if isinstance(book, ClockBook) else 0.0


def _on_worker_report(environment: Any, client_id: str, data: dict[str, Any]) -> None:
    rt = getattr(environment, ATTR, None)
    if isinstance(rt, Runtime) and data.get("maascheck_records"):
        shift = _shift_of(environment, rt, client_id)
        _master_accept(rt, data["maascheck_records"], shift)


def _on_final(environment: Any, msg: Any, **_kw: Any) -> None:
    rt = getattr(environment, ATTR, None)
    if not isinstance(rt, Runtime):
        return
    shift = _shift_of(environment, rt, str(msg.node_id))
    _master_accept(rt, msg.data.get("records") or b"", shift)
    summary = msg.data["summary"]
    if isinstance(summary.get("selfcheck"), dict):  # its sampling window onto the master's clock, as its records
        summary["selfcheck"] = shift_window(clean_figures(summary["selfcheck"]), shift)
    w = rt.workers.setdefault(summary["id"], {"id": summary["id"], "requests": 0})
    w.update({k: v for k, v in summary.items() if k != "requests"}, lost=False, final=True)


def _on_done(environment: Any, msg: Any, **_kw: Any) -> None:
    rt = getattr(environment, ATTR, None)
    if isinstance(rt, Runtime):
        rt.workers.setdefault(msg.data["id"], {"id": msg.data["id"], "requests": 0, "lost": True})["done"] = str(
            msg.data.get("reason") or "max_requests"
        )


def _on_test_stopping(environment: Any, **_kw: Any) -> None:
    """The self-check samples end before users are stopped (a stopping hub is not the run's)."""
    rt = getattr(environment, ATTR, None)
    if isinstance(rt, Runtime) and rt.selfcheck is not None:
        rt.selfcheck.stop()


def _on_test_stop(environment: Any, **_kw: Any) -> None:
    rt = getattr(environment, ATTR, None)
    if not isinstance(rt, Runtime) or rt.sink is None:
        return
    if rt.selfcheck is not None:  # stopped at test_stopping already, unless Locust skipped it
        rt.selfcheck.stop()
    if rt.post is not None:  # users are stopped by now (cancelled requests recorded): finish the rest
        rt.post.drain()
    rt.sink.flush()
    if rt.role != Role.WORKER:
        return
    environment.runner.send_message(
        Message.FINAL, {"records": rt.sink.take_outbox(), "summary": rt.cpu_summary()}
    )


def _on_quitting(environment: Any, **_kw: Any) -> None:
    rt = getattr(environment, ATTR, None)
    if not isinstance(rt, Runtime) or rt.sink is None:
        return
    if rt.post is not None:
        rt.post.drain()
    rt.gc.stop()
    if rt.role == Role.WORKER:
        if rt.sink.writer is not None:
            rt.sink.writer.close()
        return
    if rt.role == Role.MASTER:
        _recover_unreported(environment, rt)
    doc = results_document(rt, environment)
    if rt.sink.writer is not None:
        rt.sink.writer.close()
    path = rt.report_dir / "results.json"
    path.write_text(_dumps(doc), encoding="utf-8")
    for w in doc["client"]["warnings"]:
        log.warning(w)
    if doc["brakes"]["tripped"]:
        log.warning("run stopped by the %s", doc["brakes"]["reason"])
    if rt.settings.render:  # the native entry; `maascheck load` renders them itself (with its baseline)
        _render(rt.report_dir)
    if doc["verdict"].get("interrupted") and rt.settings.render:  # `maascheck load` says it itself
        log.warning("interrupted; results.json and the reports keep what was measured in %s", rt.report_dir)
    environment.process_exit_code = doc["verdict"]["exit_code"]


def _render(report_dir: Path) -> None:
    """CSV, Markdown and HTML from the results just written (a rendering failure is logged, not raised)."""
    from maascheck.load.report.render import render_all

    try:
        render_all(report_dir)
    except Exception as exc:  # results.json is the source of truth; the renderings are secondary
        log.warning("report rendering failed: %s: %s", type(exc).__name__, exc)


def _recover_unreported(environment: Any, rt: Runtime) -> None:
    """Master: merge records of workers without a final report from their local file, when readable."""
    assert rt.sink is not None
    clients = {f"w{index}": client_id for client_id, index in _worker_indexes(environment).items()}
    for wid in clients:
        rt.workers.setdefault(wid, {"id": wid, "requests": 0, "lost": True})
    seen = {r["rid"] for r in rt.sink.records}
    for wid, w in list(rt.workers.items()):
        if w.get("final"):
            continue
        extra = [r for r in read_jsonl(rt.report_dir / f"requests-{wid}.jsonl") if r.get("rid") not in seen]
        shift = _shift_of(environment, rt, clients[wid]) if wid in clients else 0.0
        _master_accept(rt, b"".join(encode(r) for r in extra), shift)
        w["recovered_from_file"] = len(extra)


def _worker_indexes(environment: Any) -> dict[str, int]:
    """Master: Locust's worker index of each client id."""
    return dict(getattr(environment.runner, "worker_indexes", {}) or {})


def _clock_fields(environment: Any, rt: Runtime, wid: str) -> dict[str, Any]:
    """results.json clock fields of worker `wid` (None where nothing was measured)."""
    book = getattr(environment, CLOCKS, None)
    clients = {f"w{index}": client_id for client_id, index in _worker_indexes(environment).items()}
    if isinstance(book, ClockBook) and wid in clients:
        return book.of(clients[wid]).describe(rt.t0_utc)
    return ClockBook().of(wid).describe(rt.t0_utc)


def client_block(rt: Runtime, records: list[dict[str, Any]], doc_load: dict[str, Any]) -> dict[str, Any]:
    """Client CPU self-calibration and warnings (saturation, rate shortfall, dispatch lag)."""
    summaries = (
        [w for w in rt.workers.values() if "cpu_s" in w] if rt.role == Role.MASTER else [rt.cpu_summary()]
    )
    cpu = sum(w["cpu_s"] for w in summaries)
    chunks = sum(w.get("chunks", 0) for w in summaries)
    per_core = [100.0 * w["cpu_s"] / w["wall_s"] for w in summaries if w.get("wall_s")]
    warnings: list[str] = []
    saturated = any(p > SATURATED_CPU_PERCENT for p in per_core)
    if saturated:
        warnings.append(
            f"load generator saturated: a worker used {max(per_core):.0f}% of a core "
            f"(> {SATURATED_CPU_PERCENT:.0f}%); latencies include client queueing; add --processes"
        )
    offered, achieved = doc_load.get("offered_rps"), doc_load.get("achieved_rps") or 0.0
    window = float(doc_load.get("measured_s") or 0.0)
    expected = (offered or 0.0) * window  # Poisson counts: allow 3 standard deviations before warning
    if offered and achieved < 0.9 * offered and achieved * window < expected - 3 * math.sqrt(expected) - 1:
        warnings.append(
            f"achieved {achieved:.2f} req/s is below the offered {offered:.2f} req/s; "
            "the server or the client (pool size --users) could not keep up"
        )
    lags = sorted(r["dispatch_lag_ms"] for r in records if r.get("dispatch_lag_ms") is not None)
    if lags and lags[min(len(lags) - 1, math.ceil(0.99 * len(lags)) - 1)] > LAG_WARN_MS:
        warnings.append(
            f"dispatch lag p99 above {LAG_WARN_MS:.0f} ms: requests left later than scheduled; "
            "raise the user pool (--users) or add --processes"
        )
    for w in rt.workers.values():
        if w.get("lost"):
            warnings.append(
                f"worker {w['id']} sent no final report (lost or stopped early); "
                f"kept {w.get('requests', 0)} of its records"
            )
    pauses = [w["gc_max_pause_ms"] for w in summaries if "gc_max_pause_ms" in w]
    return {
        "gc_max_pause_ms": max(pauses) if pauses else None,
        "cpu_s": round(cpu, 4),
        "cpu_percent": round(max(per_core), 2) if per_core else None,
        "cpu_ms_per_1000_chunks": round(cpu * 1e3 / (chunks / 1000), 3) if chunks else None,
        "chunks": chunks,
        "saturated": saturated,
        "warnings": warnings,
    }


def results_document(rt: Runtime, environment: Any) -> dict[str, Any]:
    """The results.json document of a finished (or interrupted) run."""
    assert rt.sink is not None
    s: Settings = rt.settings
    records = rt.sink.records
    finished = time.time()
    run_time_opt = getattr(environment.parsed_options, "run_time", None)
    natural_end = run_time_opt and finished - rt.t0_utc >= float(run_time_opt) - 1
    stopped_by = None if rt.interrupted else rt.stopped_by or ("run_time" if natural_end else None)
    load = {
        "mode": "open" if s.open_loop else "closed",
        "users": s.users,
        "rate_rps": s.rate or None,
        "arrival": s.arrival if s.open_loop else None,
        "shape": s.shape,
        "processes": max(len(rt.workers), 1) if rt.role == Role.MASTER else 1,
        "run_time_s": s.stop_after or (float(run_time_opt) if run_time_opt else None),
        "max_requests": s.max_requests or None,
        "offered_rps": _offered(s) if s.open_loop else None,
    }
    if s.workload.trace is not None:  # the trace's mean rate over its replay (the shape plays no part)
        load.update(rate_rps=None, arrival="trace", offered_rps=round(s.workload.trace.mean_rps, 3))
    workers = (
        [
            {
                "id": w["id"],
                "requests": w.get("requests", 0),
                "lost": bool(w.get("lost")),
                **_clock_fields(environment, rt, str(w["id"])),
            }
            for w in sorted(rt.workers.values(), key=lambda w: str(w["id"]))
        ]
        if rt.role == Role.MASTER
        else [{"id": rt.worker_id, "requests": len(records), "lost": False, **_clock_fields(environment, rt, "")}]
    )
    doc = build_results(
        records,
        slos=s.slos,
        run={
            "id": uuid.uuid4().hex[:12],
            "started_utc": _utc(rt.t0_utc),
            "finished_utc": _utc(finished),
            "duration_s": round(finished - rt.t0_utc, 3),
            "warmup_s": s.warmup,
            "interrupted": stopped_by is None,
            "stopped_by": stopped_by or "interrupt",
            "reproduce": s.reproduce,
        },
        target={"base_url": s.host, "model": s.model, "profile": s.profile, "scenario": s.scenario},
        load=load,
        workload={**s.workload.describe(s.body.include_usage), "extra_body": s.body.extra},
        client={},
        workers=workers,
        tool={"name": "maascheck", "version": __version__},
    )
    doc["client"] = client_block(
        rt,
        [r for r in records if not r.get("warmup")],
        {**doc["load"], "measured_s": doc["run"]["measured_s"]},
    )
    if s.workload.trace is not None:
        doc["trace"] = trace_block(s.workload.trace, records)
    _add_brakes(doc, rt)
    _add_validity(doc, rt, records)
    if rt.preflight is not None:
        doc["preflight"] = rt.preflight
    return doc


def _add_brakes(doc: dict[str, Any], rt: Runtime) -> None:
    """results.json `brakes`; a tripped breaker fails the verdict with its reason."""
    parts = (
        [w["brakes"] for w in rt.workers.values() if isinstance(w.get("brakes"), dict)]
        if rt.role == Role.MASTER
        else [rt.brakes.summary()]
    )
    brakes = merge_summaries(rt.brakes.settings, parts)
    if rt.brake_reason and not brakes["tripped"]:
        brakes.update(tripped=True, reason=rt.brake_reason)
    doc["brakes"] = brakes
    if brakes["tripped"]:
        verdict = doc["verdict"]
        verdict["passed"] = False
        verdict["exit_code"] = 1
        verdict["reasons"] = [*verdict.get("reasons", []), str(brakes["reason"])]


def _add_validity(doc: dict[str, Any], rt: Runtime, records: list[dict[str, Any]]) -> None:
    """results.json `validity` from every worker's self-check; an invalid run fails unless allowed."""
    summaries = list(rt.workers.values()) if rt.role == Role.MASTER else [rt.cpu_summary()]
    figures = [
        {**clean_figures(w["selfcheck"]), "id": str(w["id"])} for w in summaries if isinstance(w.get("selfcheck"), dict)
    ]
    bounds = rt.settings.validity
    checks = run_checks(records=records, workers=figures, open_loop=rt.settings.open_loop, bounds=bounds)
    doc["validity"] = {**validity_block(checks, allowed=bounds.allow_invalid), "workers": figures}
    doc["verdict"] = apply_to_verdict(doc["verdict"], doc["validity"])


def _offered(s: Settings) -> float:
    """Mean offered arrivals/s over the measured part of the run."""
    span = s.stop_after or 60.0
    ts = [s.warmup + (span - s.warmup) * (i + 0.5) / 100 for i in range(100)]
    return round(sum(s.level(t) for t in ts) / len(ts), 3)


def _utc(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")


def _dumps(doc: dict[str, Any]) -> str:
    import json

    return json.dumps(doc, indent=2) + "\n"


__all__ = ["client_block", "register", "results_document", "runtime_of"]
