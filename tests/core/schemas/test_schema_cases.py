"""Schema cases as data (tests/core/schemas/cases/*.json): each instance is valid or invalid as stated."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from maascheck.core import schema_registry as schemas

HERE = Path(__file__).parent
CASE_FILES = sorted((HERE / "cases").glob("*.json"))
CASE_META = json.loads((HERE / "case.schema.json").read_text(encoding="utf-8"))


def _load(path: Path) -> list[dict[str, Any]]:
    data = json.loads(path.read_text(encoding="utf-8"))
    assert isinstance(data, list)
    return data


CASES = [(path.stem, case) for path in CASE_FILES for case in _load(path)]


@pytest.mark.parametrize("path", CASE_FILES, ids=lambda p: p.stem)
def test_case_file_matches_the_case_meta_schema(path: Path) -> None:
    meta = Draft202012Validator(CASE_META)
    problems = [f"{e.json_path}: {e.message}" for e in meta.iter_errors(_load(path))]
    assert problems == []


@pytest.mark.parametrize("path", CASE_FILES, ids=lambda p: p.stem)
def test_case_file_targets_its_own_schema(path: Path) -> None:
    for case in _load(path):
        assert case["schema"].split("#")[0].removesuffix(".json") == path.stem, case["description"]


def test_descriptions_are_unique_per_file() -> None:
    for path in CASE_FILES:
        descriptions = [case["description"] for case in _load(path)]
        duplicates = sorted({d for d in descriptions if descriptions.count(d) > 1})
        assert duplicates == [], f"{path.name}: duplicate descriptions {duplicates}"


@pytest.mark.parametrize("name", sorted(set(schemas.available()) - {"load-results"}))
def test_every_schema_has_valid_and_invalid_cases(name: str) -> None:
    outcomes = {case["valid"] for stem, case in CASES if stem == name}
    assert outcomes == {True, False}, f"tests/core/schemas/cases/{name}.json needs valid and invalid cases"


@pytest.mark.parametrize(("stem", "case"), CASES, ids=[f"{s}: {c['description']}" for s, c in CASES])
def test_case(stem: str, case: dict[str, Any]) -> None:
    found = schemas.errors(case["schema"], case["data"])
    if case["valid"]:
        assert found == [], f"{stem}: {case['description']}: unexpected errors {found}"
    else:
        assert found, f"{stem}: {case['description']}: the instance validated, expected an error"
        assert found[0].startswith(f"{case['where']}: "), (
            f"{stem}: {case['description']}: first error is {found[0]!r}, expected one at {case['where']}"
        )
