"""Provider profiles: each file matches schemas/profile.json, resolves, and states what its seed documents.

Cases are data in tests/core/profiles/cases/: `ranges.json` (intervals, defaults, steps and sample values
per documented parameter), `promises.json` (resolved values with the seed text they come from) and
`findings.json` (documentation inconsistencies each profile must carry).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from maascheck.core import schema_registry as schemas
from maascheck.core.paths import DEVIATIONS_DIR, PROFILES_DIR
from maascheck.core.profiles import Profile, available_profiles, load_profile
from maascheck.core.sources import REFERENCES

CASES = Path(__file__).parent / "cases"
SEEDS_DIR = Path(os.environ.get("MAASCHECK_SEEDS_DIR", "/work/shared/seeds"))
SEED_PROFILES = {
    "maas-openmodels": "000_d534f15b4e42a5ff.txt",
    "taichu": "001_f7c14cc5613aa069.txt",
    "bailian": "002_85825452f4b659a7.txt",
    "hhaice": "003_e9c2456577f4a5a7.txt",
}
# Each seed profile cites its provider's documentation by the document's own title (or URL, for the
# one page without a title): names a user can look up, listed in maascheck.core.sources.REFERENCES.
SEED_TITLES = {
    "maas-openmodels": "常见模型 API 文档",
    "taichu": "预置多模态大模型服务接口说明",
    "bailian": "百炼openAi文档",
    "hhaice": "openapi.hhaice.com",
}
needs_seeds = pytest.mark.skipif(
    not SEEDS_DIR.is_dir(), reason=f"seeds not in {SEEDS_DIR} (set MAASCHECK_SEEDS_DIR)"
)


def _cases(name: str) -> list[dict[str, Any]]:
    data = json.loads((CASES / name).read_text(encoding="utf-8"))
    assert isinstance(data, list)
    return data


def _seed_text(profile: str) -> str:
    return (SEEDS_DIR / SEED_PROFILES[profile]).read_text(encoding="utf-8")


def _resolve_path(profile: Profile, dotted: str) -> Any:
    node: Any = profile.raw
    for part in dotted.split("."):
        assert isinstance(node, dict) and part in node, f"{profile.name}: no key {dotted!r}"
        node = node[part]
    return node


RANGES = _cases("ranges.json")
PROMISES = _cases("promises.json")
FINDINGS = _cases("findings.json")


@pytest.mark.parametrize("name", available_profiles())
def test_profile_file_matches_the_profile_schema(name: str) -> None:
    raw = json.loads((PROFILES_DIR / f"{name}.json").read_text(encoding="utf-8"))
    assert schemas.errors("profile", raw) == []


@pytest.mark.parametrize("path", sorted(DEVIATIONS_DIR.glob("*.json")), ids=lambda p: p.stem)
def test_deviations_file_matches_the_deviations_schema(path: Path) -> None:
    assert schemas.errors("deviations", json.loads(path.read_text(encoding="utf-8"))) == []


@pytest.mark.parametrize("name", available_profiles())
def test_profile_resolves_and_names_its_own_models(name: str) -> None:
    profile = load_profile(name)
    assert profile.name == name
    for task, model in profile.models.items():
        assert model is None or model in profile.model_ids, f"{name}: models.{task}={model!r} not listed"


@pytest.mark.parametrize("name", sorted(SEED_PROFILES))
def test_seed_profile_extends_openai_and_cites_its_seed(name: str) -> None:
    raw = json.loads((PROFILES_DIR / f"{name}.json").read_text(encoding="utf-8"))
    assert raw["extends"] == "openai"
    assert load_profile(name).source == SEED_TITLES[name]
    assert SEED_TITLES[name] in {r.name for r in REFERENCES}


@pytest.mark.parametrize("name", sorted(SEED_PROFILES))
def test_every_finding_cites_the_profile_seed(name: str) -> None:
    profile = load_profile(name)
    assert profile.findings, f"{name}: a seed profile carries the document's inconsistencies"
    ids = [f["id"] for f in profile.findings]
    assert len(ids) == len(set(ids)), f"{name}: duplicate finding ids"
    for finding in profile.findings:
        assert finding["source"].startswith(SEED_TITLES[name]), finding["id"]


@pytest.mark.parametrize("name", available_profiles())
def test_comments_refer_to_keys_of_the_profile(name: str) -> None:
    profile = load_profile(name)
    for dotted in profile.raw.get("comments", {}):
        _resolve_path(profile, dotted)


@pytest.mark.parametrize("name", available_profiles())
def test_defaults_outside_their_range_are_findings(name: str) -> None:
    """A documented default outside its own documented range must be surfaced as a finding."""
    profile = load_profile(name)
    for param, rng in profile.ranges.items():
        if rng.default is None or rng.contains(rng.default):
            continue
        assert any(param in f["text"] for f in profile.findings), (
            f"{name}: {param} default {rng.default} lies outside {rng.describe()} and no finding says so"
        )


@pytest.mark.parametrize("case", RANGES, ids=lambda c: f"{c['profile']}.{c['param']}")
def test_range_matches_the_seed(case: dict[str, Any]) -> None:
    profile = load_profile(case["profile"])
    if case["interval"] is None:
        assert case["param"] not in profile.ranges, f"{case['profile']} does not document {case['param']}"
        return
    rng = profile.ranges[case["param"]]
    assert (rng.describe(), rng.kind, rng.default, rng.step) == (
        case["interval"], case["kind"], case["default"], case["step"]
    )
    assert [v for v in case["inside"] if not rng.contains(v)] == []
    assert [v for v in case["outside"] if rng.contains(v)] == []


@pytest.mark.parametrize("case", PROMISES, ids=lambda c: f"{c['profile']}.{c['path']}")
def test_profile_states_what_the_seed_documents(case: dict[str, Any]) -> None:
    value = _resolve_path(load_profile(case["profile"]), case["path"])
    assert value == case["value"]


@pytest.mark.parametrize("case", FINDINGS, ids=lambda c: c["id"])
def test_documented_inconsistency_is_a_finding(case: dict[str, Any]) -> None:
    findings = {f["id"]: f for f in load_profile(case["profile"]).findings}
    assert case["id"] in findings
    missing = [m for m in case["mentions"] if m not in findings[case["id"]]["text"]]
    assert missing == [], f"{case['id']} text does not mention {missing}"


@needs_seeds
@pytest.mark.parametrize("case", RANGES + PROMISES, ids=lambda c: f"{c['profile']}: {c['quote'][:30]}")
def test_quoted_seed_text_exists(case: dict[str, Any]) -> None:
    assert case["quote"] in _seed_text(case["profile"])
