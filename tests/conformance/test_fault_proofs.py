"""Every rule can fail: for each simulator fault, the suite fails exactly the rules the fault `breaks`.

This is the one fault-proof harness. A fault runs under the profile it names (`Fault.profile`,
`openai` unless its rules apply only where a profile documents vendor parameters); the simulator
presents that same profile, whose fault-free baseline must pass every rule the fault breaks. Legal
variations (empty `breaks`) fail no rule; without faults no rule fails under any profile and a full
run stays within the request budget. Suite runs are made once per session, two at a time in worker
processes.
"""

from __future__ import annotations

import pytest

from maascheck.conformance import rules
from maascheck.conformance.model.rule import RULES, Level
from maascheck.core.profiles import available_profiles
from maascheck.sim.faults import all_faults
from tests.conformance.proofs import Proof, pool, run_many

# ~200 suite runs (every fault, every profile), two at a time: ~7 min on a quiet 2-core machine.
pytestmark = [pytest.mark.timeout(1800), pytest.mark.slow]
rules.load_all()
FAULTS = all_faults()
BREAKING = sorted(n for n, f in FAULTS.items() if f.breaks)
LEGAL = sorted(n for n, f in FAULTS.items() if f.legal)  # load faults (load_kinds) break shares of streams
PROFILES = ["openai", *sorted(p for p in available_profiles() if p != "openai")]
MAX_BASELINE_REQUESTS = 150


def baseline_label(profile: str) -> str:
    """The label of the fault-free run under `profile`."""
    return f"(no fault)@{profile}"


@pytest.fixture(scope="session")
def proofs(request: pytest.FixtureRequest) -> dict[str, Proof]:
    """Baselines under every profile, then the run of every selected fault under its profile."""
    wanted: set[str] = set()
    for item in request.session.items:
        params = getattr(item, "callspec", None)
        if params is not None and "fault_name" in params.params:
            wanted.add(params.params["fault_name"])
    with pool() as executor:
        out = run_many({baseline_label(p): ((), p, p) for p in PROFILES}, executor)
        jobs = {fault: ((fault,), FAULTS[fault].profile, FAULTS[fault].profile) for fault in wanted}
        return out | run_many(jobs, executor)


def _diff(proof: Proof, expected: set[str], baseline: set[str]) -> str:
    failed = proof.failed - baseline
    missing, extra = sorted(expected - proof.failed), sorted(failed - expected)
    lines = [f"{proof.label}: expected failures {sorted(expected)}, received {sorted(failed)}"]
    if baseline:
        lines.append(f"  (failing without the fault too, ignored: {sorted(baseline)})")
    lines += [
        f"  not failed (fault does not break it): {r} -> {proof.outcomes.get(r, 'not run')}" for r in missing
    ]
    lines += [f"  failed unexpectedly: {r}: {proof.messages.get(r, '')}" for r in extra]
    lines += [f"  rule error: {r}: {msg.splitlines()[0] if msg else ''}" for r, msg in proof.errors.items()]
    return "\n".join(lines)


def test_every_rule_has_a_breaking_fault() -> None:
    """Client-matrix rules (area `clients`) run only with --clients: their faults are proven by the pinned
    break table instead (tests/conformance/clients/test_break_table.py)."""
    broken = {rule_id for f in FAULTS.values() for rule_id in f.breaks}
    missing = sorted({r for r, rule in RULES.items() if rule.area != "clients"} - broken)
    assert not missing, f"rules no fault breaks (add a fault in maascheck/sim/faults/<area>.py): {missing}"


def test_faults_break_only_registered_rules() -> None:
    unknown = {n: sorted(set(f.breaks) - set(RULES)) for n, f in FAULTS.items() if set(f.breaks) - set(RULES)}
    assert not unknown, f"faults name rules that are not registered: {unknown}"


def test_baseline_passes_every_must_rule_within_budget(proofs: dict[str, Proof]) -> None:
    proof = proofs[baseline_label("openai")]
    must_failed = sorted(r for r in proof.failed if RULES[r].level is Level.MUST)
    assert not must_failed and not proof.errors, _diff(proof, set(), set())
    assert proof.requests <= MAX_BASELINE_REQUESTS, f"a full run made {proof.requests} requests"
    assert not proof.leaked_key and not proof.schema_errors, proof.schema_errors


@pytest.mark.parametrize("profile", PROFILES)
def test_no_rule_fails_on_the_faithful_simulator(profile: str, proofs: dict[str, Proof]) -> None:
    proof = proofs[baseline_label(profile)]
    assert not proof.failed and not proof.errors, _diff(proof, set(), set())


@pytest.mark.parametrize("fault_name", BREAKING)
def test_the_faults_profile_judges_every_rule_it_breaks(fault_name: str, proofs: dict[str, Proof]) -> None:
    fault = FAULTS[fault_name]
    assert fault.profile in PROFILES, f"{fault_name} names an unknown profile {fault.profile!r}"
    judged = {r: proofs[baseline_label(fault.profile)].outcomes.get(r) for r in fault.breaks}
    assert set(judged.values()) == {"passed"}, f"{fault_name} under {fault.profile}: baseline judged {judged}"


@pytest.mark.parametrize("fault_name", BREAKING)
def test_fault_fails_exactly_its_rules(fault_name: str, proofs: dict[str, Proof]) -> None:
    proof = proofs[fault_name]
    baseline = proofs[baseline_label(FAULTS[fault_name].profile)].failed
    expected = set(FAULTS[fault_name].breaks)
    assert proof.failed - baseline == expected and not proof.errors, _diff(proof, expected, baseline)
    assert not proof.leaked_key and not proof.schema_errors


@pytest.mark.parametrize("fault_name", LEGAL)
def test_legal_variation_fails_no_rule(fault_name: str, proofs: dict[str, Proof]) -> None:
    proof = proofs[fault_name]
    assert not proof.failed and not proof.errors, _diff(proof, set(), set())
