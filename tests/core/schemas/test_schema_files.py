"""The schema files themselves: valid draft 2020-12, `$id` matches the file, every `$ref` resolves offline."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urljoin

import pytest
from jsonschema import Draft202012Validator

from maascheck.core import schema_registry as schemas
from maascheck.core.errors import ConfigError
from maascheck.core.paths import SCHEMAS_DIR
from maascheck.core.profiles import load_profile

NAMES = schemas.available()
REQUIRED = {
    "chat-request", "chat-completion", "chat-completion-chunk", "completion-request", "completion",
    "completion-chunk", "models-list", "model", "error", "usage", "content-part", "tool-call", "reasoning",
    "profile", "deviations", "conformance-results",
}
# schemas/load-results.json belongs to the load tester; its shape is tested there.
OWNED = sorted(set(NAMES) - {"load-results"})


def _refs(node: Any, base: str) -> Iterator[tuple[str, str]]:
    """Every ($ref value, absolute URI) pair in a schema document."""
    if isinstance(node, dict):
        base = urljoin(base, node["$id"]) if isinstance(node.get("$id"), str) else base
        ref = node.get("$ref")
        if isinstance(ref, str):
            yield ref, urljoin(base, ref)
        for key, value in node.items():
            if key not in ("const", "enum", "default", "examples"):
                yield from _refs(value, base)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item, base)


def test_every_required_document_type_has_a_schema() -> None:
    assert set(NAMES) >= REQUIRED, f"missing schema files: {sorted(REQUIRED - set(NAMES))}"


@pytest.mark.parametrize("name", NAMES)
def test_schema_is_valid_draft_2020_12(name: str) -> None:
    schema = schemas.load(name)
    assert schema.get("$schema") == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)


@pytest.mark.parametrize("name", NAMES)
def test_id_mirrors_the_file_path(name: str) -> None:
    assert schemas.load(name)["$id"] == f"{schemas.BASE_URI}{name}.json"


@pytest.mark.parametrize("name", NAMES)
def test_every_ref_is_relative_and_resolves_locally(name: str) -> None:
    schema = schemas.load(name)
    resolver = schemas.registry().resolver(base_uri=schema["$id"])
    refs = list(_refs(schema, schema["$id"]))
    for ref, uri in refs:
        assert not ref.startswith(("http:", "https:")), f"{name}: $ref {ref!r} is absolute; make it relative"
        assert uri.startswith(schemas.BASE_URI), f"{name}: $ref {ref!r} leaves the local registry ({uri})"
        resolved = resolver.lookup(uri)
        assert isinstance(resolved.contents, (dict, bool)), f"{name}: $ref {ref!r} resolved to {resolved!r}"


@pytest.mark.parametrize("name", OWNED)
def test_schema_files_parse_as_plain_json(name: str) -> None:
    text = (SCHEMAS_DIR / f"{name}.json").read_text(encoding="utf-8")
    assert json.loads(text) == schemas.load(name)


def test_response_schemas_tolerate_extension_fields() -> None:
    """No response schema closes its objects: vendor fields are legal (spec pitfall P5)."""
    for name in ("chat-completion", "chat-completion-chunk", "completion", "completion-chunk", "usage",
                 "models-list", "model", "error"):
        assert '"additionalProperties": false' not in json.dumps(schemas.load(name)), name


def test_unknown_schema_name_is_a_config_error_listing_valid_names() -> None:
    with pytest.raises(ConfigError, match="chat-completion"):
        schemas.load("chat-completions")


def test_errors_put_the_best_match_first_with_a_json_path() -> None:
    chunk = {"id": "x", "object": "chat.completion.chunk", "created": 1, "model": "m",
             "choices": [{"index": 0, "delta": {}}], "usage": {"prompt_tokens": 1}}
    found = schemas.errors("chat-completion-chunk", chunk)
    assert found[0] == "$.usage: 'completion_tokens' is a required property"
    assert "$.choices[0]: 'finish_reason' is a required property" in found
    assert len(found) == 2


def test_errors_is_empty_for_a_valid_instance() -> None:
    assert schemas.errors("usage", {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}) == []


def test_validator_is_cached_and_checks_formats() -> None:
    assert schemas.validator("content-part") is schemas.validator("content-part.json")
    bad = {"type": "image_url", "image_url": {"url": "not a uri"}}
    assert schemas.errors("content-part", bad) == ["$.image_url.url: 'not a uri' is not a 'uri'"]


def test_fragment_names_validate_against_a_definition() -> None:
    assert schemas.is_valid("tool-call.json#/$defs/chunk", {"index": 0})
    assert not schemas.is_valid("tool-call.json#/$defs/chunk", {"id": "call_1"})


def test_long_messages_are_shortened() -> None:
    found = schemas.errors("chat-request", {"model": "m", "messages": "x" * 5000})
    assert found and all(len(line) < 400 for line in found)


# openai profile range -> (request schema, JSON pointer to the bounded node, bound keywords)
RANGE_NODES = {
    "temperature": ("chat-request", "/properties/temperature", ("minimum", "maximum")),
    "top_p": ("chat-request", "/properties/top_p", ("minimum", "maximum")),
    "presence_penalty": ("chat-request", "/properties/presence_penalty", ("minimum", "maximum")),
    "frequency_penalty": ("chat-request", "/properties/frequency_penalty", ("minimum", "maximum")),
    "n": ("chat-request", "/properties/n", ("minimum", "maximum")),
    "max_tokens": ("chat-request", "/properties/max_tokens", ("minimum", "maximum")),
    "max_completion_tokens": ("chat-request", "/properties/max_completion_tokens", ("minimum", "maximum")),
    "top_logprobs": ("chat-request", "/properties/top_logprobs", ("minimum", "maximum")),
    "seed": ("common", "/$defs/seed", ("minimum", "maximum")),
    "stop_count": ("common", "/$defs/stop/anyOf/1", ("minItems", "maxItems")),
    "completion_logprobs": ("completion-request", "/properties/logprobs", ("minimum", "maximum")),
}


@pytest.mark.parametrize("param", sorted(RANGE_NODES))
def test_request_schema_bounds_equal_the_openai_profile_ranges(param: str) -> None:
    """Request schemas are Hypothesis sources: their bounds are the openai profile's ranges."""
    rng = load_profile("openai").ranges[param]
    name, pointer, (low, high) = RANGE_NODES[param]
    node: Any = schemas.load(name)
    for part in pointer.strip("/").split("/"):
        node = node[int(part)] if isinstance(node, list) else node[part]
    assert (node.get(low), node.get(high)) == (rng.min, rng.max)
    assert not rng.min_open and not rng.max_open


def test_every_openai_range_is_mirrored_in_a_request_schema() -> None:
    assert set(load_profile("openai").ranges) == set(RANGE_NODES)
