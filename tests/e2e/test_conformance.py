"""The whole conformance suite against the real server: every failure is a known, explained deviation.

Known deviations (maascheck/profiles/deviations/llamacpp.json) run as strict xfails, so a fixed
deviation shows up as an XPASS and fails here too. Results: reports/e2e-conformance/.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from maascheck.core.profiles import load_profile
from maascheck.orchestrate.real_server import RealServer

from .conftest import report_dir

pytestmark = pytest.mark.e2e

FAILING = ("failed", "error", "xpassed")


# What the llamacpp profile marks as not offered (n, max_completion_tokens, include_usage; tools; structured
# outputs: llama-cpp-python 0.3.36 knows response_format types text and json_object only, json_schema is a 500
# validation error) and the strict openai profile judges: deviations from the spec too (docs/real-server.md).
NOT_OFFERED = {
    "CHAT-008", "CHAT-009", "PARAM-005", "PARAM-021", "FINISH-002", "USAGE-003", "PARAM-007", "PARAM-023",
    "USAGE-004", "SO-002", "SO-003", "SO-004", "TOOL-009", "TOOL-012",
}  # fmt: skip


# Observed both ways on this server, so neither a strict xfail nor a pass can be asserted: SEED-001 (SHOULD; the
# same seeded temperature-0 request twice gave different texts in one e2e run, the same text in the next: the
# second request may reuse the server's prompt cache, so its logits come from a different batch).
NONDETERMINISTIC = {"SEED-001"}


def run_conformance(
    server: RealServer, env: dict[str, str], profile: str = "llamacpp", name: str = "e2e-conformance"
) -> dict[str, Any]:
    out = report_dir(name)
    argv = [
        sys.executable, "-m", "maascheck", "conformance",
        "--base-url", server.base_url, "--model", server.model, "--profile", profile,
        "--report-dir", str(out),
    ]  # fmt: skip
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=900)
    results = out / "results.json"
    assert results.is_file(), f"no {results}; exit {done.returncode}; stderr:\n{done.stderr[-3000:]}"
    data: dict[str, Any] = json.loads(results.read_text(encoding="utf-8"))
    data["_exit_code"] = done.returncode
    return data


@pytest.fixture(scope="module")
def results(server: RealServer, server_env: dict[str, str]) -> dict[str, Any]:
    return run_conformance(server, server_env)


def test_no_unexplained_failure(results: dict[str, Any]) -> None:
    """Every rule passes, is skipped (feature not offered), or fails as a known deviation."""
    unexplained = [
        f"{r['id']} {r['outcome']}: {(r.get('message') or '')[:400]}"
        for r in results["rules"]
        if r["outcome"] in FAILING and r["id"] not in NONDETERMINISTIC
    ]
    assert not unexplained, "unexplained conformance results:\n" + "\n".join(unexplained)
    assert results["_exit_code"] == 0, f"conformance exited {results['_exit_code']} with no failing rule"


def test_every_known_deviation_is_observed(results: dict[str, Any]) -> None:
    """Each deviation in deviations/llamacpp.json is still seen (xfailed), so the list stays current."""
    outcomes = {r["id"]: r["outcome"] for r in results["rules"]}
    stale = {
        d.rule: outcomes.get(d.rule, "absent")
        for d in load_profile("llamacpp").deviations
        if outcomes.get(d.rule) != "xfailed"
    }
    assert not stale, f"deviations not observed as xfailed (rule: outcome): {stale}"


def test_the_core_of_the_api_passes(results: dict[str, Any]) -> None:
    """The server's streaming, usage and SDK compatibility hold: those rules pass."""
    outcomes = {r["id"]: r["outcome"] for r in results["rules"]}
    core = [f"STREAM-{i:03d}" for i in range(1, 11)] + ["USAGE-001", "SDK-001", "SDK-002", "MODELS-001"]
    not_passed = {rule: outcomes.get(rule) for rule in core if outcomes.get(rule) != "passed"}
    assert not not_passed, f"core rules not passed: {not_passed}"


def test_strict_openai_profile_fails_exactly_the_known_deviations(
    server: RealServer, server_env: dict[str, str]
) -> None:
    """Under the spec-exact profile every failure is a deviation already explained, none a false alarm."""
    data = run_conformance(server, server_env, profile="openai", name="e2e-conformance-openai")
    failing = {r["id"] for r in data["rules"] if r["outcome"] in FAILING} - NONDETERMINISTIC
    known = {d.rule for d in load_profile("llamacpp").deviations} | NOT_OFFERED
    messages = {r["id"]: (r.get("message") or "")[:300] for r in data["rules"]}
    assert failing == known, (
        f"unexplained: {({k: messages[k] for k in sorted(failing - known)})}; "
        f"no longer failing: {sorted(known - failing)}"
    )
