"""Trace replay: parsing and bounds, prefix sharing from hash_ids, speed and window arithmetic, real replays.

The real runs are `maascheck load` subprocesses against the simulator on 127.0.0.1 (a thread of the
test process, `tests/simulator.py`). The acceptance run replays the shipped 2,000-request trace at its
recorded rate and reads dispatch lag p99 from results.json.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from maascheck.core import schema_registry as schemas
from maascheck.core.errors import ConfigError
from maascheck.load.run.options import LOAD_OPTIONS
from maascheck.load.run.recorder import read_jsonl
from maascheck.load.run.trace_replay import NS, START_S, TraceFeed, trace_block
from maascheck.load.workload import synthetic_trace, trace
from maascheck.load.workload.trace import PromptText, TracePlan, TraceRecord, load_trace, parse_window
from maascheck.load.workload.workloads import _WORDS, build_workload
from maascheck.sim.config import DEFAULT_API_KEY
from tests.simulator import running_simulator

KEY_ENV = "MAASCHECK_TEST_SIM_KEY"
ACCEPTANCE_LAG_P99_MS = 5.0


def write(tmp_path: Path, *lines: str) -> str:
    path = tmp_path / "t.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


# --- parsing ---------------------------------------------------------------------------------------


def test_mooncake_lines_and_aliases_become_records_in_time_order(tmp_path: Path) -> None:
    """Every accepted field spelling is read; times are made relative to the earliest; unknown fields ignored."""
    path = write(
        tmp_path,
        '{"timestamp": 3000, "input_length": 10, "output_length": 2, "hash_ids": [4, 5]}',
        "",
        '{"timestamp_ms": 1000.5, "input_tokens": 7, "output_tokens": 3, "type": "text"}',
        '{"arrival_time_s": 2, "input_length": 8, "output_tokens": 1, "chat_id": 9}',
    )
    t = load_trace(path)
    assert [(r.line, r.t_ms, r.input_tokens, r.output_tokens, r.hash_ids) for r in t.records] == [
        (3, 0.0, 7, 3, ()),
        (4, 999.5, 8, 1, ()),
        (1, 1999.5, 10, 2, (4, 5)),
    ]
    assert t.duration_s == pytest.approx(1.9995) and t.block_tokens == 512


def test_bailian_timestamps_are_seconds_and_blocks_16_tokens(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '{"chat_id": 1, "timestamp": 61.5, "input_length": 20, "output_length": 2, "hash_ids": [7, 8]}',
        '{"chat_id": 2, "timestamp": 60.0, "input_length": 5, "output_length": 2}',
    )
    t = load_trace(path, "bailian")
    assert [r.t_ms for r in t.records] == [0.0, 1500.0] and t.block_tokens == 16


BAD_LINES = [
    ("{not json", "not JSON"),
    ("[1, 2]", "is not an object"),
    ('{"input_length": 5, "output_length": 1}', "no arrival time"),
    ('{"timestamp": 1, "timestamp_ms": 1, "input_length": 5, "output_length": 1}', "both given"),
    ('{"timestamp": -1, "input_length": 5, "output_length": 1}', "is not a number >= 0"),
    ('{"timestamp": "5", "input_length": 5, "output_length": 1}', "is not a number >= 0"),
    ('{"timestamp": true, "input_length": 5, "output_length": 1}', "is not a number >= 0"),
    ('{"timestamp": NaN, "input_length": 5, "output_length": 1}', "is not a number >= 0"),
    ('{"timestamp": 1, "output_length": 1}', "no input_length"),
    ('{"timestamp": 1, "input_length": 5, "input_tokens": 5, "output_length": 1}', "both given"),
    ('{"timestamp": 1, "input_length": 0, "output_length": 1}', "input_length 0 is not a whole number"),
    ('{"timestamp": 1, "input_length": 1.5, "output_length": 1}', "input_length 1.5 is not a whole number"),
    ('{"timestamp": 1, "input_length": 1000001, "output_length": 1}', "not a whole number 1..1000000"),
    ('{"timestamp": 1, "input_length": 5}', "no output_length"),
    ('{"timestamp": 1, "input_length": 5, "output_tokens": false}', "output_tokens false is not"),
    ('{"timestamp": 1, "input_length": 5, "output_length": 1, "hash_ids": 3}', "hash_ids is not a list"),
    ('{"timestamp": 1, "input_length": 5, "output_length": 1, "hash_ids": [1, -2]}', "hash_ids item -2"),
    ('{"timestamp": 1, "input_length": 5, "output_length": 1, "hash_ids": ["a"]}', 'hash_ids item "a"'),
]


@pytest.mark.parametrize(("line", "why"), BAD_LINES, ids=[b[1] for b in BAD_LINES])
def test_a_bad_line_is_a_config_error_naming_file_line_valid_and_example(tmp_path: Path, line: str, why: str) -> None:
    path = write(tmp_path, '{"timestamp": 0, "input_length": 5, "output_length": 1}', line)
    with pytest.raises(ConfigError) as err:
        load_trace(path)
    text = str(err.value)
    assert f"{path}:2: " in text and why in text and "valid: " in text and trace.EXAMPLE in text


def test_bounds_and_unreadable_files_are_config_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    good = '{"timestamp": 0, "input_length": 5, "output_length": 1}'
    with pytest.raises(ConfigError, match="no records"):
        load_trace(write(tmp_path, "", " "))
    with pytest.raises(ConfigError, match=r"cannot read trace .*synthetic-2000"):
        load_trace(str(tmp_path / "missing.jsonl"))
    path = write(tmp_path, good, good, good)
    monkeypatch.setattr(trace, "MAX_TRACE_LINES", 2)
    with pytest.raises(ConfigError, match=r"t\.jsonl:3: more than 2 lines"):
        load_trace(path)
    monkeypatch.setattr(trace, "MAX_LINE_BYTES", 20)
    with pytest.raises(ConfigError, match=r"t\.jsonl:1: a line of \d+ bytes"):
        load_trace(path)
    monkeypatch.setattr(trace, "MAX_TRACE_BYTES", 50)
    with pytest.raises(ConfigError, match=r"bytes is above the 50 byte bound"):
        load_trace(path)


def test_the_shipped_trace_is_found_by_name_and_is_its_generator_output() -> None:
    """synthetic-2000.jsonl is what `synthetic_trace` makes: 2,000 records, bursty, 20..40 requests/s."""
    assert synthetic_trace.PATH.read_text(encoding="utf-8") == "\n".join(synthetic_trace.synthetic_lines()) + "\n"
    t = load_trace("synthetic-2000")
    plan = TracePlan(t)
    assert len(t.records) == 2000 and 20 <= plan.mean_rps <= 40
    per_second = [0] * (int(t.duration_s) + 1)
    for r in t.records:
        per_second[int(r.t_ms // 1000)] += 1
    assert max(per_second) >= 2 * plan.mean_rps > 2 * min(per_second)  # bursts and calm spells
    assert all(r.output_tokens <= 48 for r in t.records)


# --- prompts ---------------------------------------------------------------------------------------


def _common_words(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a.split(" "), b.split(" "), strict=False):
        if x != y:
            break
        n += 1
    return n


def test_shared_leading_hash_ids_share_exactly_their_blocks() -> None:
    text = PromptText(512, seed=0, words=_WORDS)
    a = text.text(TraceRecord(1, 0, 1400, 1, (1, 2, 3)))
    b = text.text(TraceRecord(2, 0, 1300, 1, (1, 2, 9)))
    c = text.text(TraceRecord(3, 0, 1400, 1, (5, 2, 3)))
    assert len(a.split(" ")) == 1400 and len(b.split(" ")) == 1300  # the last block is cut to input_length
    assert _common_words(a, b) == 1024  # blocks 1 and 2
    assert _common_words(a, c) == 0  # a different first block: no common prefix
    assert text.text(TraceRecord(1, 0, 1400, 1, (1, 2, 3))) == a  # deterministic
    assert PromptText(512, seed=1, words=_WORDS).text(TraceRecord(1, 0, 1400, 1, (1, 2, 3))) != a


def test_a_prompt_longer_than_its_blocks_is_padded_with_words_of_its_own() -> None:
    text = PromptText(16, seed=0, words=_WORDS)
    a, b = text.text(TraceRecord(1, 0, 40, 1, (7,))), text.text(TraceRecord(2, 0, 40, 1, (7,)))
    assert len(a.split(" ")) == len(b.split(" ")) == 40 and _common_words(a, b) == 16


def test_records_without_hash_ids_get_unique_prompts_of_their_length() -> None:
    text = PromptText(512, seed=0, words=_WORDS)
    a, b = text.text(TraceRecord(1, 0, 300, 1)), text.text(TraceRecord(2, 0, 300, 1))
    assert len(a.split(" ")) == len(b.split(" ")) == 300 and _common_words(a, b) == 0
    assert text.text(TraceRecord(9, 0, 1, 1)) == "[r9]"


def test_a_trace_workload_prompt_carries_the_record_lengths() -> None:
    w = build_workload("trace:synthetic-2000", "fixed:1", None, seed=3)
    assert w.trace is not None and w.kind == "trace"
    prompt = w.trace_prompt()
    for i in (0, 1, 1999):
        r = w.trace.records[i]
        p = prompt(i)
        assert (p.max_tokens, p.input_words, len(p.text.split(" "))) == (
            r.output_tokens,
            r.input_tokens,
            r.input_tokens,
        )
    assert w.describe(True)["trace"]["records"] == 2000


# --- speed and window ------------------------------------------------------------------------------


def _trace(*times_ms: float) -> trace.Trace:
    return trace.Trace("x.jsonl", "mooncake", tuple(TraceRecord(i + 1, t, 5, 1) for i, t in enumerate(times_ms)))


def test_window_and_speed_set_which_records_leave_and_when() -> None:
    t = _trace(0, 500, 1000, 2500, 3000, 4000)
    plan = TracePlan(t, speed=2.0, window=(1.0, 3.0))
    assert [r.t_ms for r in plan.records] == [1000, 2500]  # start included, end excluded
    assert [plan.offset_s(r) for r in plan.records] == [0.0, 0.75]
    assert plan.span_s == 0.75 and plan.mean_rps == pytest.approx(2 / 0.75)
    whole = TracePlan(t, speed=0.5)
    assert whole.span_s == 8.0 and len(whole.records) == 6
    assert TracePlan(t, window=(2.0, None)).offset_s(t.records[-1]) == 2.0
    with pytest.raises(ConfigError, match=r"--trace-window 4.5s:5s: no record .* spans 0s\.\.4s"):
        TracePlan(t, window=(4.5, 5.0))


def test_trace_window_text() -> None:
    assert parse_window("60s:300s") == (60.0, 300.0)
    assert parse_window("1m:") == (60.0, None) and parse_window(":90") == (0.0, 90.0)
    for bad in ("60s", "5s:2s", "a:b", "3s:3s"):
        with pytest.raises(ValueError):
            parse_window(bad)


def _resolve(**raw: Any) -> Any:
    return LOAD_OPTIONS.resolve({"base_url": "http://127.0.0.1:9", "model": "m", **raw}, environ={})


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"trace_window": "5s:2s", "workload": "trace:x"}, "--trace-window '5s:2s': expected START:END"),
        ({"trace_speed": "0", "workload": "trace:x"}, "--trace-speed '0': expected a number > 0"),
        ({"trace_format": "azure", "workload": "trace:x"}, "one of mooncake, bailian"),
        ({"trace_speed": "2"}, "--trace-speed apply to a trace workload only"),
        ({"rate": "5", "workload": "trace:x"}, "give --trace-speed instead of --rate"),
        ({"shape": "ramp", "workload": "trace:x"}, "--shape step/ramp do not apply"),
        ({"output_tokens": "fixed:8", "workload": "trace:x"}, "lengths: --output-tokens do not apply"),
    ],
)
def test_bad_trace_options_are_config_errors_with_an_example(raw: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        _resolve(**raw)
    assert message in str(err.value) and "e.g. " in str(err.value)


def test_the_cli_takes_a_trace_pool_as_pool_not_users() -> None:
    from maascheck.load.run.cli import CLI_OPTIONS

    raw = {"base_url": "http://127.0.0.1:9", "model": "m", "workload": "trace:x", "users": "8"}
    with pytest.raises(ConfigError, match=r"give its user pool as --pool, not --users; e.g. --pool 64"):
        CLI_OPTIONS.resolve(raw, environ={})


def test_each_worker_takes_every_nth_record_at_its_time() -> None:
    t = _trace(0, 100, 200, 300, 400)
    plan = TracePlan(t, speed=4.0)
    feeds = [TraceFeed(plan, lambda i: i, t0_ns=10 * NS, index=i, workers=2) for i in (0, 1)]  # type: ignore[arg-type,return-value]
    got = [[], []]  # type: list[list[tuple[int, Any]]]
    for k, feed in enumerate(feeds):
        while (item := feed.next()) is not None:
            got[k].append(item)
        assert feed.exhausted
    zero = 10 * NS + round(START_S * NS)
    assert got[0] == [(zero, 0), (zero + 50_000_000, 2), (zero + 100_000_000, 4)]
    assert got[1] == [(zero + 25_000_000, 1), (zero + 75_000_000, 3)]


def test_trace_block_dispatch_lag_figures() -> None:
    plan = TracePlan(_trace(0, 100, 200))
    records = [{"dispatch_lag_ms": v} for v in (1.0, 3.0)] + [{"dispatch_lag_ms": None}]
    block = trace_block(plan, records)
    assert block["dispatch_lag_ms"] == {"count": 2, "p50": 2.0, "p99": 2.98, "max": 3.0}
    assert block["requests_sent"] == 3 and block["complete"] and block["window_records"] == 3
    assert trace_block(plan, records[:1])["complete"] is False


# --- real replays ----------------------------------------------------------------------------------

NOISE_PROBE = """
import json, sys, time
from maascheck.load.run.pacing import wait_until
end, late = time.monotonic() + float(sys.argv[1]), []
while time.monotonic() < end:
    due = time.perf_counter_ns() + 31_000_000
    wait_until(due)
    late.append((time.perf_counter_ns() - due) / 1e6)
late.sort()
print(json.dumps({"p50": late[len(late) // 2], "p99": late[int(len(late) * 0.99)], "count": len(late)}))
"""


def replay(url: str, out: Path, *extra: str, timeout: float = 170) -> tuple[dict[str, Any], list[dict[str, Any]], str]:
    """Run `maascheck load` on a trace; results.json (schema-checked), its records and the console output."""
    argv = [
        sys.executable, "-m", "maascheck.cli", "load", "--base-url", url, "--model", "sim-chat",
        "--report-dir", str(out), "--api-key-env", KEY_ENV, *extra,
    ]  # fmt: skip
    proc = subprocess.run(
        argv, capture_output=True, text=True, timeout=timeout, env={**os.environ, KEY_ENV: DEFAULT_API_KEY}
    )
    assert (out / "results.json").exists(), proc.stderr[-3000:]
    doc = json.loads((out / "results.json").read_text())
    assert schemas.errors("load-results", doc) == []
    return doc, list(read_jsonl(out / "requests.jsonl")), proc.stdout


def _intended(plan: TracePlan) -> list[float]:
    return sorted(START_S + plan.offset_s(r) for r in plan.records)


@pytest.mark.timeout(90)
def test_a_window_at_double_speed_replays_its_records_at_their_times(tmp_path: Path) -> None:
    """Window 10s:14s at speed 2: the window's records, each intended at START_S + (t - 10 s) / 2."""
    plan = TracePlan(load_trace("synthetic-2000"), speed=2.0, window=(10.0, 14.0))
    with running_simulator() as url:
        doc, records, out = replay(
            url, tmp_path, "--workload", "trace:synthetic-2000", "--trace-speed", "2", "--trace-window", "10s:14s"
        )
    tr = doc["trace"]
    assert tr["window_records"] == len(plan.records) == tr["requests_sent"] == len(records) and tr["complete"]
    assert doc["run"]["stopped_by"] == "trace_end" and doc["run"]["duration_s"] < 30
    assert [round(r["intended_s"], 6) for r in sorted(records, key=lambda r: r["intended_s"])] == [
        round(x, 6) for x in _intended(plan)
    ]
    assert all(r["outcome"] == "ok" for r in records)
    assert doc["load"]["arrival"] == "trace" and doc["load"]["offered_rps"] == pytest.approx(plan.mean_rps, rel=1e-3)
    assert "## Trace replay" in (tmp_path / "report.md").read_text()
    assert f"trace: {len(records)} of {len(records)} records sent at speed 2," in out


@pytest.mark.timeout(120)
def test_two_processes_replay_interleaved_shares_of_the_window(tmp_path: Path) -> None:
    """--processes 2: worker i sends records i, i+2, ... at their times; together exactly the window."""
    plan = TracePlan(load_trace("synthetic-2000"), window=(20.0, 23.0))
    with running_simulator() as url:
        doc, records, _ = replay(
            url, tmp_path, "--workload", "trace:synthetic-2000", "--trace-window", "20s:23s", "--processes", "2"
        )
    assert doc["run"]["stopped_by"] == "trace_end" and doc["trace"]["requests_sent"] == len(plan.records)
    half = len(plan.records) // 2
    assert sorted(w["requests"] for w in doc["workers"]) == [half, len(plan.records) - half]
    for i in (0, 1):  # on the master's clock each worker's share is shifted by the gap between the zeros
        got = sorted(r["intended_s"] for r in records if r["worker"] == f"w{i}")
        want = sorted(START_S + plan.offset_s(r) for r in plan.records[i::2])
        shifts = [g - w for g, w in zip(got, want, strict=True)]
        assert max(shifts) - min(shifts) < 1e-5 and abs(shifts[0]) < 1.0, shifts[:3]


@pytest.mark.timeout(90)
def test_a_pool_too_small_for_the_trace_shows_as_dispatch_lag(tmp_path: Path) -> None:
    """2 users against 0.2 s requests cannot keep a 30 req/s trace: lag p99 far above the bound, warned."""
    with running_simulator(decode_step_ms=20.0) as url:
        doc, records, _ = replay(
            url, tmp_path, "--workload", "trace:synthetic-2000", "--pool", "2", "--max-requests", "30"
        )
    lag = doc["trace"]["dispatch_lag_ms"]
    assert doc["run"]["stopped_by"] == "max_requests" and doc["trace"]["requests_sent"] == 30
    assert (
        not doc["trace"]["complete"] and lag["p99"] > 100 and lag["max"] == max(r["dispatch_lag_ms"] for r in records)
    )
    assert any("dispatch lag p99" in w for w in doc["client"]["warnings"])


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_the_shipped_trace_replays_at_its_recorded_rate_with_dispatch_lag_p99_within_5_ms(tmp_path: Path) -> None:
    """Acceptance: 2,000 requests at the recorded rate, dispatch lag p99 <= 5 ms (results.json `trace`).

    An idle process waiting the same way (`pacing.wait_until`, ~32 times a second) runs alongside and
    its p99 lateness is added to the bound: on a quiet machine it is ~0.1 ms, so the bound is the
    acceptance figure; on a shared CI box the OS scheduler's own latency is not charged to the replay.
    """
    plan = TracePlan(load_trace("synthetic-2000"))
    with running_simulator(max_batch=256) as url:
        probe = subprocess.Popen(
            [sys.executable, "-c", NOISE_PROBE, str(START_S + plan.span_s)], stdout=subprocess.PIPE, text=True
        )
        doc, records, _ = replay(url, tmp_path, "--workload", "trace:synthetic-2000")
        noise = json.loads(probe.communicate(timeout=30)[0])
    tr = doc["trace"]
    assert tr["requests_sent"] == 2000 and tr["complete"] and doc["run"]["stopped_by"] == "trace_end"
    assert doc["requests"]["ok"] == 2000
    assert [round(r["intended_s"], 6) for r in sorted(records, key=lambda r: r["intended_s"])] == [
        round(x, 6) for x in _intended(plan)
    ]
    lag = tr["dispatch_lag_ms"]
    print(f"dispatch lag ms {lag}; machine wake-up lateness ms {noise}")  # shown with pytest -s
    assert lag["count"] == 2000
    assert lag["p99"] <= ACCEPTANCE_LAG_P99_MS + noise["p99"], (lag, noise)
    assert doc["tokens"]["prompt_cache_hit_rate"] > 0.05  # shared hash ids reach the server as shared prefixes
