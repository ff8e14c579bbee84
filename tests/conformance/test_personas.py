"""The strict `openai` profile against each seed persona fails exactly on the documented differences
(persona_differences.json); each persona passes under its own profile."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from maascheck.conformance import rules
from maascheck.conformance.model.rule import RULES
from maascheck.core.profiles import available_profiles
from tests.conformance.proofs import Proof, run_many

pytestmark = [pytest.mark.timeout(600), pytest.mark.slow]
rules.load_all()
DATA: dict[str, Any] = json.loads(
    (Path(__file__).parent / "persona_differences.json").read_text(encoding="utf-8")
)
PERSONAS = sorted(DATA["personas"])


@pytest.fixture(scope="module")
def persona_runs() -> dict[str, Proof]:
    """Each present persona under the openai profile and under its own."""
    present = [p for p in PERSONAS if p in available_profiles()]
    jobs = {f"{p}@openai": ((), p, "openai") for p in present} | {f"{p}@{p}": ((), p, p) for p in present}
    return run_many(jobs)


def _skip_absent(persona: str) -> None:
    if persona not in available_profiles():
        pytest.skip(f"profile {persona!r} does not exist yet")


def test_differences_name_registered_rules() -> None:
    unknown = {p: sorted(set(d["differences"]) - set(RULES)) for p, d in DATA["personas"].items()}
    assert not any(unknown.values()), f"persona_differences.json names unregistered rules: {unknown}"


@pytest.mark.parametrize("persona", PERSONAS)
def test_openai_profile_fails_exactly_the_documented_differences(
    persona: str, persona_runs: dict[str, Proof]
) -> None:
    _skip_absent(persona)
    proof = persona_runs[f"{persona}@openai"]
    expected = set(DATA["personas"][persona]["differences"])
    missing, extra = sorted(expected - proof.failed), sorted(proof.failed - expected)
    detail = [f"  documented but not failed: {r} -> {proof.outcomes.get(r)}" for r in missing]
    detail += [f"  failed, not documented: {r}: {proof.messages.get(r, '')[:200]}" for r in extra]
    detail += [f"  rule error: {r}: {m.splitlines()[0] if m else ''}" for r, m in proof.errors.items()]
    assert not missing and not extra and not proof.errors, f"persona {persona}:\n" + "\n".join(detail)
    assert not proof.schema_errors, proof.schema_errors


@pytest.mark.parametrize("persona", PERSONAS)
def test_persona_passes_under_its_own_profile(persona: str, persona_runs: dict[str, Proof]) -> None:
    _skip_absent(persona)
    proof = persona_runs[f"{persona}@{persona}"]
    failing = {r: proof.messages.get(r, "") for r, o in proof.outcomes.items() if o in ("failed", "xpassed")}
    assert proof.exit_code == 0 and not proof.errors, (
        f"persona {persona} under its own profile: {failing} {proof.errors}"
    )
