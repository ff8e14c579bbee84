"""Checks a documented seed example the way a client would meet it, and names every defect found.

Used by test_seed_examples.py. A defect is one line of text; the expected defects of each fixture
are data (tests/fixtures/seeds/expected.json), so fixing a document changes what the test reports.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from maascheck.core import schema_registry as schemas
from maascheck.core.profiles import Profile

_TRAILING_COMMA = re.compile(r",(\s*[}\]])")
_PLACEHOLDER = re.compile(r"^[<{].*[>}]$")


@dataclass(frozen=True)
class Example:
    """One fixture file and how to read it (an entry of expected.json)."""

    file: Path
    seed: str
    schema: str
    format: str  # json | python-literal | json-member | stream-lines
    defects: tuple[str, ...]


def _trailing_commas(text: str) -> list[str]:
    """`trailing comma after <the line before it>` for every `,` directly before `}` or `]`."""
    out = []
    for match in _TRAILING_COMMA.finditer(text):
        line_start = text.rfind("\n", 0, match.start()) + 1
        out.append(f"not valid JSON: trailing comma after {text[line_start:match.start()].strip()}")
    return out


def _parse_json(text: str, defects: list[str]) -> Any:
    """The parsed document; a trailing comma is reported and repaired so later checks still run."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        commas = _trailing_commas(text)
        if not commas:
            defects.append(f"not valid JSON: {exc}")
            return None
        defects.extend(commas)
        return json.loads(_TRAILING_COMMA.sub(r"\1", text))


def _check_model(doc: Any, profile: Profile, defects: list[str]) -> None:
    model = doc.get("model") if isinstance(doc, dict) else None
    if not isinstance(model, str):
        return
    if _PLACEHOLDER.match(model):
        defects.append(f"model {model!r} is a placeholder, not a model id")
    elif model not in profile.model_ids:
        defects.append(f"model {model!r} is not a documented model id of profile {profile.name} "
                       f"({', '.join(profile.model_ids)})")


def _check_request_fields(doc: Any, schema: str, profile: Profile, defects: list[str]) -> None:
    if not isinstance(doc, dict) or not schema.endswith("request"):
        return
    known = set(schemas.load(schema)["properties"]) | set(profile.feature("vendor_params", []))
    for key in doc:
        if key not in known:
            defects.append(f"field {key!r} is neither an OpenAI parameter nor a documented vendor parameter")


def _check_ranges(doc: Any, schema: str, profile: Profile, defects: list[str]) -> None:
    if not isinstance(doc, dict) or not schema.endswith("request"):
        return
    for key, value in doc.items():
        rng = profile.ranges.get(key)
        numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
        if rng and numeric and not rng.contains(value):
            defects.append(f"{key} {value!r} is outside the profile's range {rng.describe()} ({rng.source})")


def _check_document(
    doc: Any, example: Example, profile: Profile, defects: list[str], where: str = ""
) -> None:
    defects.extend(f"{where}{line}" for line in schemas.errors(example.schema, doc))
    _check_request_fields(doc, example.schema, profile, defects)
    _check_ranges(doc, example.schema, profile, defects)


def _check_stream(text: str, example: Example, profile: Profile, defects: list[str]) -> None:
    lines = [line for line in text.splitlines() if line.strip()]
    if not any(line.startswith("data:") for line in lines):
        defects.append("bare JSON lines without a `data:` prefix (not an SSE stream)")
    if not lines or lines[-1].strip() != "data: [DONE]":
        defects.append("no terminating `data: [DONE]`")
    models: list[Any] = []
    for number, line in enumerate(text.splitlines(), start=1):
        payload = line.removeprefix("data:").strip()
        if not payload or payload == "[DONE]":
            continue
        try:
            chunk = json.loads(payload)
        except json.JSONDecodeError:
            defects.append(f"line {number} is not JSON: {payload!r}")
            continue
        _check_document(chunk, example, profile, defects, where=f"line {number}: ")
        if isinstance(chunk, dict) and chunk.get("model") not in models:
            models.append(chunk.get("model"))
    for model in models:
        _check_model({"model": model}, profile, defects)


def defects_of(example: Example, profile: Profile) -> list[str]:
    """Every defect of the example, in document order."""
    text = example.file.read_text(encoding="utf-8")
    defects: list[str] = []
    if example.format == "stream-lines":
        _check_stream(text, example, profile, defects)
        return defects
    if example.format == "python-literal":
        doc = ast.literal_eval(text)
    elif example.format == "json-member":
        doc = _parse_json("{" + text + "}", defects)
        doc = next(iter(doc.values())) if isinstance(doc, dict) and len(doc) == 1 else doc
    else:
        doc = _parse_json(text, defects)
    if doc is not None:
        _check_document(doc, example, profile, defects)
        _check_model(doc, profile, defects)
    return defects
