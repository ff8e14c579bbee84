"""Multi-turn sessions: the spec, the sticky history, the sessions block and real runs against the simulator."""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx
import pytest

from maascheck.core import schema_registry as schemas
from maascheck.core.errors import ConfigError
from maascheck.core.options import Values
from maascheck.load.measure.events import Chunk
from maascheck.load.measure.reader import fmt
from maascheck.load.measure.sessions import sessions_block
from maascheck.load.report.markdown import md_escape
from maascheck.load.run.options import LOAD_OPTIONS
from maascheck.load.run.recorder import read_jsonl
from maascheck.load.workload.sessions import (
    MAX_REPLY_CHARS,
    MAX_TURNS,
    SYSTEM_PROMPT,
    SessionSource,
    parse_sessions,
    reply_text,
)
from maascheck.load.workload.workloads import Prompt, build_workload
from maascheck.sim import cli as sim_cli
from maascheck.sim.config import DEFAULT_API_KEY
from maascheck.sim.engine import CACHE_BLOCK_TOKENS
from maascheck.sim.tokens import MESSAGE_OVERHEAD_TOKENS, REPLY_PRIMING_TOKENS, count_tokens
from tests.simulator import running_simulator

MAASCHECK = [sys.executable, "-m", "maascheck.cli", "load"]


# --- the spec -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "turns", "think"),
    [
        ("sessions:turns=4", ("fixed", (4.0,)), ("fixed", (0.0,))),
        ("sessions:turns=4,think=uniform:0.5:2", ("fixed", (4.0,)), ("uniform", (0.5, 2.0))),
        ("sessions:think=1.5,turns=uniform:2:6", ("uniform", (2.0, 6.0)), ("fixed", (1.5,))),
        ("sessions:turns=normal:4:1,think=exp:0.2", ("normal", (4.0, 1.0)), ("exp", (0.2,))),
        (f"sessions:turns=fixed:{MAX_TURNS},think=fixed:0", ("fixed", (float(MAX_TURNS),)), ("fixed", (0.0,))),
    ],
)
def test_valid_specs(spec: str, turns: tuple[str, tuple[float, ...]], think: tuple[str, tuple[float, ...]]) -> None:
    parsed = parse_sessions(spec)
    assert (parsed.turns.kind, parsed.turns.params) == turns
    assert (parsed.think.kind, parsed.think.params) == think
    workload = build_workload(spec, "fixed:8", None)
    assert workload.kind == "sessions" and workload.sessions == parsed
    assert workload.describe(True)["sessions"]["spec"] == spec


@pytest.mark.parametrize(
    ("spec", "why"),
    [
        ("sessions", "turns is required"),
        ("sessions:", "turns is required"),
        ("sessions:turns", "expected key=value"),
        ("sessions:turns=", "expected key=value"),
        ("sessions:turns=4,", "expected key=value"),
        ("sessions:turns=0", "1..64"),
        (f"sessions:turns={MAX_TURNS + 1}", "1..64"),
        ("sessions:turns=uniform:2:100", "1..64"),
        ("sessions:turns=many", "turns 'many': not a count distribution"),
        ("sessions:turns=uniform:5:2", "not a count distribution"),
        ("sessions:turns=file:/nonexistent/turns.txt", "not a count distribution"),
        ("sessions:turns=4,turns=5", "given twice"),
        ("sessions:turns=4,wait=1", "unknown key 'wait'"),
        ("sessions:think=1", "turns is required"),
        ("sessions:turns=4,think=uniform:2:1", "LO > HI"),
        ("sessions:turns=4,think=gamma:1", "unknown distribution 'gamma'"),
        ("sessions:turns=4,think=-1", "in [0, 600]"),
        ("sessions:turns=4,think=601", "in [0, 600]"),
        ("sessions:turns=4,think=nan", "in [0, 600]"),
        ("sessions:turns=4,think=fixed:1:2", "takes 1 number"),
        ("sessions:turns=4,think=uniform:1", "takes 2 number"),
        ("sessions:turns=4,think=fixed:soon", "bad numbers"),
    ],
)
def test_invalid_specs_say_what_is_valid(spec: str, why: str) -> None:
    with pytest.raises(ConfigError) as err:
        build_workload(spec, "fixed:8", None)
    text = str(err.value)
    assert why in text and "valid: sessions:turns=DIST" in text and "e.g. --workload sessions:turns=4" in text


def _load_values(*argv: str) -> Values:
    parser = argparse.ArgumentParser()
    LOAD_OPTIONS.add_to_argparse(parser)
    args = parser.parse_args(["--base-url", "http://127.0.0.1:9/v1", "--model", "m", *argv])
    return LOAD_OPTIONS.resolve(LOAD_OPTIONS.raw_from(args), {})


def test_sessions_need_a_chat_scenario_and_a_closed_loop() -> None:
    assert _load_values("--workload", "sessions:turns=2", "--scenario", "reasoning").scenario == "reasoning"
    with pytest.raises(ConfigError, match=r"needs a chat scenario .* got --scenario completions; e\.g\."):
        _load_values("--workload", "sessions:turns=2", "--scenario", "completions")
    with pytest.raises(ConfigError, match=r"runs closed loop .* drop --rate"):
        _load_values("--workload", "sessions:turns=2", "--rate", "5")
    assert _load_values("--scenario", "completions", "--rate", "5").rate == 5  # other workloads unaffected


# --- the history ----------------------------------------------------------------------------------------------


def _prompts() -> Any:
    n = iter(range(1000))
    return lambda: Prompt(f"question {next(n)}", 7, 2)


def test_history_grows_by_the_received_reply_and_a_new_user_message() -> None:
    src = SessionSource(parse_sessions("sessions:turns=3,think=fixed:0.25"), _prompts(), stream_id=5)
    t1 = src.next_turn()
    assert (t1.session, t1.turn, t1.turns, t1.cacheable_tokens) == ("5.1", 1, 3, 0)
    assert t1.messages == [
        {"role": "system", "content": SYSTEM_PROMPT.format(sid="5.1")},
        {"role": "user", "content": "question 0"},
    ]
    assert t1.prompt.max_tokens == 7
    assert src.finish_turn(t1, ok=True, reply="first reply", prompt_tokens=20) == 0.25
    t2 = src.next_turn()
    assert t2.messages[:2] == t1.messages  # the previous request is a prefix of this one
    assert t2.messages[2:] == [
        {"role": "assistant", "content": "first reply"},
        {"role": "user", "content": "question 1"},
    ]
    assert (t2.turn, t2.cacheable_tokens) == (2, 20)
    assert src.finish_turn(t2, ok=True, reply="second", prompt_tokens=None) == 0.25
    t3 = src.next_turn()
    assert t3.messages[:4] == t2.messages and len(t3.messages) == 6
    assert t3.cacheable_tokens is None  # the previous turn reported no usage
    assert src.finish_turn(t3, ok=True, reply="third", prompt_tokens=40) is None  # last turn: no think
    assert (src.started, src.completed) == (1, 1)
    t4 = src.next_turn()
    assert (t4.session, t4.turn, len(t4.messages)) == ("5.2", 1, 2)
    assert t4.messages[0]["content"] != t1.messages[0]["content"]  # no accidental cross-session prefix


def test_sessions_are_sticky_to_their_source_and_end_at_a_failed_turn() -> None:
    spec = parse_sessions("sessions:turns=4")
    a, b = SessionSource(spec, _prompts(), 1), SessionSource(spec, _prompts(), 2)
    ta, tb = a.next_turn(), b.next_turn()
    a.finish_turn(ta, ok=True, reply="for a", prompt_tokens=10)
    b.finish_turn(tb, ok=True, reply="for b", prompt_tokens=11)
    ta2, tb2 = a.next_turn(), b.next_turn()
    assert ta2.session == "1.1" and tb2.session == "2.1"
    assert ta2.messages[2]["content"] == "for a" and tb2.messages[2]["content"] == "for b"
    assert a.finish_turn(ta2, ok=False, reply="partial", prompt_tokens=30) is None
    ta3 = a.next_turn()
    assert (ta3.session, ta3.turn, len(ta3.messages)) == ("1.2", 1, 2)
    assert (a.started, a.completed) == (2, 0)
    b.finish_turn(tb2, ok=True, reply="b again", prompt_tokens=25)
    tb3 = b.next_turn()  # b's conversation went on untouched by a's failure
    assert (tb3.session, tb3.turn, tb3.messages[4]["content"]) == ("2.1", 3, "b again")


def test_history_is_bounded() -> None:
    src = SessionSource(parse_sessions("sessions:turns=normal:500:1"), _prompts(), 1)
    turn = src.next_turn()
    assert turn.turns == MAX_TURNS  # draws are clipped
    for _ in range(MAX_TURNS - 1):
        assert src.finish_turn(turn, ok=True, reply="x" * (MAX_REPLY_CHARS + 50), prompt_tokens=1) is not None
        turn = src.next_turn()
    assert len(turn.messages) == 2 * MAX_TURNS
    assert max(len(m["content"]) for m in turn.messages) == MAX_REPLY_CHARS
    assert src.finish_turn(turn, ok=True, reply="", prompt_tokens=1) is None


def test_reply_text_is_the_received_content_only() -> None:
    chunks = [
        Chunk(1, "data"),  # role-only
        Chunk(2, "data", reasoning=True, text="thinking"),
        Chunk(3, "data", content=True, text="Hello"),
        Chunk(4, "data", content=True, text=" world"),
        Chunk(5, "done"),
    ]
    assert reply_text(chunks) == "Hello world"
    big = [Chunk(i, "data", content=True, text="y" * 1000) for i in range(200)]
    assert len(reply_text(big)) == MAX_REPLY_CHARS


# --- the sessions block ---------------------------------------------------------------------------------------


def _rec(session: str, turn: int, of: int, **kw: Any) -> dict[str, Any]:
    base = {"worker": "w0", "session": session, "turn": turn, "session_turns": of, "outcome": "ok", "ttft_ms": 10.0}
    return {**base, "cached_tokens": 0, "cacheable_tokens": 0 if turn == 1 else 100, **kw}


def test_sessions_block_figures() -> None:
    records = [
        _rec("1.1", 1, 2, ttft_ms=50.0, cached_tokens=16),  # turn 1 reads do not count
        _rec("1.1", 2, 2, ttft_ms=20.0, cached_tokens=96, cacheable_tokens=100),
        _rec("2.1", 1, 3, ttft_ms=70.0),
        _rec("2.1", 2, 3, ttft_ms=30.0, cached_tokens=48, cacheable_tokens=60),
        _rec("2.1", 3, 3, outcome="http_error", ttft_ms=None, cached_tokens=None),
        _rec("3.1", 2, 2, cached_tokens=None),  # no cache figure reported: left out; started in warm-up
        {"worker": "w0", "outcome": "ok", "ttft_ms": 1.0},  # not a session request
    ]
    block = sessions_block(records)
    assert block is not None
    assert (block["started"], block["completed"], block["turns"], block["ok_turns"]) == (2, 1, 6, 5)
    assert block["ttft_ms_first_turn"]["p50"] == 60.0 and block["ttft_ms_first_turn"]["count"] == 2
    assert block["ttft_ms_later_turns"]["count"] == 3 and block["ttft_ms_by_turn"]["2"]["p50"] == 20.0
    assert (block["cached_tokens"], block["cacheable_tokens"], block["cache_turns"]) == (144, 160, 2)
    assert block["session_cache_hit_rate"] == 0.9
    assert sessions_block([{"outcome": "ok", "ttft_ms": 1.0}]) is None
    other_worker = [_rec("1.1", 1, 1), {**_rec("1.1", 1, 1), "worker": "w1"}]
    two = sessions_block(other_worker)
    assert two is not None and two["started"] == 2  # session ids are per worker


# --- the simulator switch -------------------------------------------------------------------------------------


def test_sim_flag_turns_the_prefix_cache_off() -> None:
    parser = argparse.ArgumentParser()
    sim_cli.configure(parser)
    assert sim_cli.config_from_args(parser.parse_args([])).prefix_cache is True
    assert sim_cli.config_from_args(parser.parse_args(["--no-prefix-cache"])).prefix_cache is False
    messages = [{"role": "system", "content": " ".join(["word"] * 40)}, {"role": "user", "content": "hi"}]
    body = {"model": "sim-chat", "messages": messages, "max_tokens": 2}
    seen = []
    for on in (True, False):
        with running_simulator(prefix_cache=on) as url:
            auth = {"Authorization": f"Bearer {DEFAULT_API_KEY}"}
            for _ in range(2):
                usage = httpx.post(url + "/chat/completions", json=body, headers=auth, timeout=10).json()["usage"]
            seen.append(usage["prompt_tokens_details"]["cached_tokens"])
    assert seen[0] >= 32 and seen[1] == 0


# --- real runs ------------------------------------------------------------------------------------------------

INPUT_WORDS = 24
OUTPUT_TOKENS = 20
PREFILL_MS = 0.5
"""Prefill cost per uncached prompt token: turn 4's ~210-token prompt costs ~100 ms uncached, ~10 ms cached."""
TTFT_RATIO = 1.5
"""Later-turn over turn-1 TTFT p50: about 1 with the cache (steps batch other users' prefill), about 3 without."""


def _later_over_first(block: dict[str, Any]) -> float:
    return float(block["ttft_ms_later_turns"]["p50"] / block["ttft_ms_first_turn"]["p50"])


def _run(url: str, out: Path, *extra: str) -> tuple[int, dict[str, Any], list[dict[str, Any]]]:
    argv = [
        *MAASCHECK, "--base-url", url, "--model", "sim-chat", "--report-dir", str(out), "--users", "4",
        "--run-time", "4s", "--workload", "sessions:turns=4,think=uniform:0.02:0.08",
        "--input-tokens", f"fixed:{INPUT_WORDS}", "--output-tokens", f"fixed:{OUTPUT_TOKENS}", *extra,
    ]  # fmt: skip
    env = {**os.environ, "OPENAI_API_KEY": DEFAULT_API_KEY}
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120, env=env)
    doc = json.loads((out / "results.json").read_text()) if (out / "results.json").exists() else {}
    assert doc, proc.stderr[-2000:]
    assert schemas.errors("load-results", doc) == []
    return proc.returncode, doc, [r for r in read_jsonl(out / "requests.jsonl") if not r.get("warmup")]


def _expected_cached(record: dict[str, Any]) -> int:
    """What the simulator's cache rules give turn k: the full 16-token blocks of turn k-1's cache text.

    The simulator hashes the blocks of "role: text" lines (2 tokens of role and colon per message, where
    prompt_tokens counts MESSAGE_OVERHEAD_TOKENS per message plus REPLY_PRIMING_TOKENS) and never caches
    the last token of a prompt.
    """
    previous_messages = 2 * (record["turn"] - 1)
    shared = record["cacheable_tokens"] - REPLY_PRIMING_TOKENS - previous_messages * (MESSAGE_OVERHEAD_TOKENS - 2)
    blocks = shared // CACHE_BLOCK_TOKENS * CACHE_BLOCK_TOKENS
    return min(blocks, (record["input_tokens"] - 1) // CACHE_BLOCK_TOKENS * CACHE_BLOCK_TOKENS)


@pytest.mark.slow
@pytest.mark.timeout(150)
def test_sessions_run_cache_on_matches_the_simulator_rules(tmp_path: Path) -> None:
    with running_simulator(prefill_ms_per_token=PREFILL_MS) as url:
        code, doc, records = _run(url, tmp_path)
    assert code == 0, doc["verdict"]
    block = doc["sessions"]
    turns = [r for r in records if r.get("session") is not None]
    assert len(turns) == len(records) == block["turns"] and block["completed"] >= 4, block
    # sticky sessions: each one's turns are 1..k in send order, each prompt = the previous one + its reply + a question
    by_session: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for r in turns:
        by_session[(r["worker"], r["session"])].append(r)
    question = None
    for (_, sid), rs in by_session.items():
        rs.sort(key=lambda r: r["start_s"])
        if rs[0]["turn"] != 1:
            continue
        assert [r["turn"] for r in rs] == list(range(1, len(rs) + 1)), rs
        system = count_tokens(SYSTEM_PROMPT.format(sid=sid)) + MESSAGE_OVERHEAD_TOKENS
        q = rs[0]["input_tokens"] - REPLY_PRIMING_TOKENS - system - MESSAGE_OVERHEAD_TOKENS
        assert question in (None, q) and q >= INPUT_WORDS, (question, q, rs[0])
        question = q
        for prev, cur in itertools.pairwise(rs):
            assert cur["cacheable_tokens"] == prev["input_tokens"] and prev["outcome"] == "ok", (prev, cur)
            if cur["outcome"] != "ok":  # cut off by the end of the run
                continue
            grown = prev["output_tokens"] + 2 * MESSAGE_OVERHEAD_TOKENS + q  # the received reply and a new question
            assert cur["input_tokens"] == prev["input_tokens"] + grown, (prev, cur)
    later = [r for r in turns if r["turn"] >= 2 and r["outcome"] == "ok"]
    expected = sum(map(_expected_cached, later)) / sum(r["cacheable_tokens"] for r in later)
    measured = block["session_cache_hit_rate"]
    assert 0.5 < expected < 1 and abs(measured - expected) <= 0.05 * expected, (measured, expected)
    assert block["cache_turns"] == len(later) and block["ttft_ms_later_turns"]["count"] == len(later)
    assert _later_over_first(block) < TTFT_RATIO, block["ttft_ms_by_turn"]  # the history is read from the cache
    report = (tmp_path / "report.md").read_text()
    assert "## Sessions" in report and f"| {md_escape('session_cache_hit_rate')} | {fmt(measured)} |" in report
    assert "Sessions" in (tmp_path / "report.html").read_text()


@pytest.mark.slow
@pytest.mark.timeout(150)
def test_sessions_run_cache_off_reads_nothing(tmp_path: Path) -> None:
    with running_simulator(prefix_cache=False, prefill_ms_per_token=PREFILL_MS) as url:
        code, doc, _ = _run(url, tmp_path)
    block = doc["sessions"]
    assert code == 0 and block["cache_turns"] > 0 and block["cacheable_tokens"] > 0
    assert block["session_cache_hit_rate"] < 0.01
    # every prompt token is prefilled: later turns (longer histories) wait for more prefill than turn 1
    by_turn = block["ttft_ms_by_turn"]
    assert by_turn["4"]["p50"] > by_turn["2"]["p50"] > by_turn["1"]["p50"]
    assert _later_over_first(block) > TTFT_RATIO, block["ttft_ms_by_turn"]
