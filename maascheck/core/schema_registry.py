"""JSON Schemas of the documents maascheck reads and writes, loaded from `schemas/` (draft 2020-12).

Every schema has `$id` `https://maascheck.dev/schemas/<file>` and refers to its siblings with
relative `$ref`s; they resolve through a local `referencing.Registry`, never over the network.
A name is a file stem or file name, optionally with a JSON-pointer fragment:
`"chat-completion"`, `"usage.json"`, `"tool-call.json#/$defs/chunk"`.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from functools import cache
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker, ValidationError
from jsonschema.exceptions import best_match
from jsonschema.protocols import Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from maascheck.core.errors import ConfigError
from maascheck.core.paths import SCHEMAS_DIR

BASE_URI = "https://maascheck.dev/schemas/"
_MAX_MESSAGE = 300
# An RFC 3986 scheme, a colon, then only URI characters (unreserved, reserved, %): braces, spaces
# and raw non-ASCII fail, so a placeholder like `{base64_image}` is not a URI. jsonschema checks
# "uri" and "date-time" only with optional packages (rfc3987, rfc3339-validator); these need none.
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+$")

FORMAT_CHECKER = FormatChecker()


@FORMAT_CHECKER.checks("uri")
def _is_uri(value: object) -> bool:
    """Whether `value` (when a string) is an absolute URI: `scheme:` then RFC 3986 characters only."""
    return not isinstance(value, str) or bool(_URI.match(value))


@FORMAT_CHECKER.checks("date-time", raises=ValueError)
def _is_date_time(value: object) -> bool:
    """Whether `value` (when a string) is an RFC 3339 date-time with an offset, e.g. 2025-01-01T00:00:00Z."""
    if not isinstance(value, str):
        return True
    if "T" not in value.upper():
        return False
    return datetime.fromisoformat(value).tzinfo is not None


def available() -> list[str]:
    """Stems of the schema files in `schemas/`, e.g. `chat-completion`."""
    return sorted(p.stem for p in SCHEMAS_DIR.glob("*.json"))


def _split(name: str) -> tuple[str, str]:
    file, _, fragment = name.partition("#")
    if not file.endswith(".json"):
        file += ".json"
    return file, fragment


@cache
def load(name: str) -> dict[str, Any]:
    """The parsed schema file `name` (a stem or a file name; a fragment is ignored)."""
    file, _ = _split(name)
    path = SCHEMAS_DIR / file
    if not path.is_file():
        raise ConfigError(
            f"unknown schema {name!r}: no file {path}; valid: {', '.join(available())}, "
            "e.g. 'chat-completion' or 'tool-call.json#/$defs/chunk'"
        )
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a schema must be a JSON object")
    return data


@cache
def registry() -> Registry[Any]:
    """A registry holding every schema file under its `$id`, so `$ref`s resolve offline."""
    resources = []
    for stem in available():
        schema = load(stem)
        resources.append((str(schema.get("$id", BASE_URI + stem + ".json")), schema))
    return Registry().with_resources(
        (uri, Resource.from_contents(contents, default_specification=DRAFT202012))
        for uri, contents in resources
    )


def validator(name: str) -> Validator:
    """A cached draft 2020-12 validator for `name`, format checking on (uri, date, uuid...)."""
    return _validator(*_split(name))


@cache
def _validator(file: str, fragment: str) -> Validator:
    schema: dict[str, Any] = load(file)
    if fragment:
        schema = {"$ref": f"{schema.get('$id', BASE_URI + file)}#{fragment}"}
    return Draft202012Validator(schema, registry=registry(), format_checker=FORMAT_CHECKER)


def _shorten(text: str) -> str:
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 1] + "…"


def _specific(error: ValidationError) -> ValidationError:
    """The most telling cause of an anyOf/oneOf failure: the branch whose type matched the instance.

    `X | null` unions fail as "not valid under any of the given schemas"; the branch errors
    other than the type mismatches say what is actually wrong.
    """
    while error.validator in ("anyOf", "oneOf") and error.context:
        causes = [e for e in error.context if not (e.validator == "type" and not e.relative_path)]
        if not causes:
            break
        error = best_match(causes)
    return error


def describe(error: ValidationError) -> str:
    """One error as `<JSON path>: <message>`, e.g. `$.choices[0].finish_reason: 'x' is not one of [...]`."""
    error = _specific(error)
    return f"{error.json_path}: {_shorten(error.message)}"


def errors(name: str, instance: Any) -> list[str]:
    """Why `instance` does not validate against schema `name`: the best match first, then the rest by path.

    Empty when the instance is valid.
    """
    found = list(validator(name).iter_errors(instance))
    if not found:
        return []
    best = best_match(found)
    rest = sorted((e for e in found if e is not best), key=lambda e: (e.json_path, e.message))
    return [describe(best), *(describe(e) for e in rest)]


def is_valid(name: str, instance: Any) -> bool:
    """Whether `instance` validates against schema `name`."""
    return bool(validator(name).is_valid(instance))
