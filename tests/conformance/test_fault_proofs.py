"""Every rule can fail: for each simulator fault, the suite fails exactly the rules the fault `breaks`.

Legal variations (faults with empty `breaks`) fail no rule; without faults every MUST rule passes
within the request budget. All suite runs are made once per session, two at a time in worker processes.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import pytest

from conformance import rules
from conformance.rule import RULES, Level
from maascheck.sim.faults import all_faults
from tests.conformance.proofs import Proof, run

pytestmark = pytest.mark.timeout(600)
rules.load_all()
FAULTS = all_faults()
BREAKING = sorted(n for n, f in FAULTS.items() if f.breaks)
LEGAL = sorted(n for n, f in FAULTS.items() if not f.breaks)
BASELINE = "(no fault)"
MAX_BASELINE_REQUESTS = 150


@pytest.fixture(scope="session")
def proofs(request: pytest.FixtureRequest) -> dict[str, Proof]:
    """The suite run of every selected fault (plus the baseline), made in parallel."""
    wanted = {BASELINE}
    for item in request.session.items:
        params = getattr(item, "callspec", None)
        if params is not None and "fault_name" in params.params:
            wanted.add(params.params["fault_name"])
    labels = sorted(wanted)
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=2, mp_context=ctx) as pool:
        futures = {label: pool.submit(run, label, () if label == BASELINE else (label,)) for label in labels}
        return {label: fut.result() for label, fut in futures.items()}


def _diff(proof: Proof, expected: set[str]) -> str:
    missing, extra = sorted(expected - proof.failed), sorted(proof.failed - expected)
    lines = [f"fault {proof.label}: expected failures {sorted(expected)}, received {sorted(proof.failed)}"]
    lines += [f"  not failed (fault does not break it): {r} -> {proof.outcomes.get(r, 'not run')}" for r in missing]
    lines += [f"  failed unexpectedly: {r}: {proof.messages.get(r, '')}" for r in extra]
    lines += [f"  rule error: {r}: {msg.splitlines()[0] if msg else ''}" for r, msg in proof.errors.items()]
    return "\n".join(lines)


def test_every_rule_has_a_breaking_fault() -> None:
    broken = {rule_id for f in FAULTS.values() for rule_id in f.breaks}
    missing = sorted(set(RULES) - broken)
    assert not missing, f"rules no fault breaks (add a fault in maascheck/sim/faults/<area>.py): {missing}"


def test_faults_break_only_registered_rules() -> None:
    unknown = {n: sorted(set(f.breaks) - set(RULES)) for n, f in FAULTS.items() if set(f.breaks) - set(RULES)}
    assert not unknown, f"faults name rules that are not registered: {unknown}"


def test_baseline_passes_every_must_rule_within_budget(proofs: dict[str, Proof]) -> None:
    proof = proofs[BASELINE]
    must_failed = sorted(r for r in proof.failed if RULES[r].level is Level.MUST)
    assert not must_failed, _diff(proof, set())
    assert not proof.errors, _diff(proof, set())
    assert proof.requests <= MAX_BASELINE_REQUESTS, f"a full run made {proof.requests} requests"
    assert not proof.leaked_key


@pytest.mark.parametrize("fault_name", BREAKING)
def test_fault_fails_exactly_its_rules(fault_name: str, proofs: dict[str, Proof]) -> None:
    proof = proofs[fault_name]
    expected = set(FAULTS[fault_name].breaks)
    assert proof.failed == expected and not proof.errors, _diff(proof, expected)
    assert not proof.leaked_key


@pytest.mark.parametrize("fault_name", LEGAL)
def test_legal_variation_fails_no_rule(fault_name: str, proofs: dict[str, Proof]) -> None:
    proof = proofs[fault_name]
    assert not proof.failed and not proof.errors, _diff(proof, set())


