"""The seeds' documented examples (tests/fixtures/seeds/) against the schemas and their profiles.

Each fixture is cut byte for byte from a seed; `expected.json` lists the exact defects a client meets
with it (not valid JSON, placeholder model, bare stream lines...). The test asserts exactly those
defects occur, so a corrected document, or a schema change that hides a defect, makes it fail.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from maascheck.core import schema_registry as schemas
from maascheck.core.profiles import load_profile
from tests.core.schemas.seed_examples import Example, defects_of

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "seeds"
MANIFEST: dict[str, Any] = json.loads((FIXTURES / "expected.json").read_text(encoding="utf-8"))
SEEDS_DIR = Path(os.environ.get("MAASCHECK_SEEDS_DIR", "/work/shared/seeds"))

EXAMPLES = [
    Example(
        file=FIXTURES / name,
        seed=entry["seed"],
        schema=entry["schema"],
        format=entry["format"],
        defects=tuple(entry["defects"]),
    )
    for name, entry in MANIFEST["examples"].items()
]


def test_every_fixture_file_is_listed_in_the_manifest() -> None:
    on_disk = {p.name for p in FIXTURES.iterdir() if p.name != "expected.json"}
    assert on_disk == set(MANIFEST["examples"])


def test_every_seed_has_examples_and_a_profile() -> None:
    assert {e.seed for e in EXAMPLES} == set(MANIFEST["profiles"])


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda e: e.file.name)
def test_documented_example_has_exactly_the_recorded_defects(example: Example) -> None:
    profile = load_profile(MANIFEST["profiles"][example.seed])
    assert defects_of(example, profile) == list(example.defects)


@pytest.mark.skipif(not SEEDS_DIR.is_dir(), reason=f"seeds not in {SEEDS_DIR} (set MAASCHECK_SEEDS_DIR)")
@pytest.mark.parametrize("example", EXAMPLES, ids=lambda e: e.file.name)
def test_fixture_is_a_verbatim_excerpt_of_its_seed(example: Example) -> None:
    seed_text = (SEEDS_DIR / example.seed).read_text(encoding="utf-8")
    assert example.file.read_text(encoding="utf-8") in seed_text


def test_bailian_stream_lines_each_validate_as_a_chunk() -> None:
    """seeds/002's stream is bare JSON lines; every line on its own is a valid chunk, the last one usage."""
    lines = (FIXTURES / "002-stream-response.jsonl").read_text(encoding="utf-8").splitlines()
    chunks = [json.loads(line) for line in lines]
    assert len(chunks) == 10
    assert all(schemas.errors("chat-completion-chunk", c) == [] for c in chunks)
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["total_tokens"] == 39
    assert [c["choices"][0]["finish_reason"] for c in chunks[:-1]].count("stop") == 1
