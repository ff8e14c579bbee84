"""Provider profiles: what a provider documents (paths, defaults, ranges, features, models), as data.

A profile is a JSON file in `maascheck/profiles/`. It may `extend` another profile; the child's
keys are deep-merged over the parent's. `openai` is the strict OpenAI spec and the root of all.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from maascheck.core import schema_registry as schemas
from maascheck.core.errors import ConfigError
from maascheck.core.paths import DEVIATIONS_DIR, PROFILES_DIR


def _number(value: float) -> str:
    """A bound, short and exact: integers in full (int64 seeds), floats as `:g` unless that rounds them."""
    if isinstance(value, int):
        return str(value)
    short = f"{value:g}"
    return short if float(short) == value else repr(value)


@dataclass(frozen=True)
class Range:
    """A documented numeric range; `min_open`/`max_open` mark exclusive bounds, None means unbounded."""

    name: str
    kind: str = "number"  # "number" or "integer"
    min: float | None = None
    max: float | None = None
    min_open: bool = False
    max_open: bool = False
    default: Any = None
    step: float | None = None
    source: str = ""

    def contains(self, value: float) -> bool:
        """Whether `value` lies inside the documented range."""
        if self.kind == "integer" and (not isinstance(value, int) or isinstance(value, bool)):
            return False
        if isinstance(value, float) and not math.isfinite(value):
            return False
        if self.min is not None and (value < self.min or (self.min_open and value == self.min)):
            return False
        return not (self.max is not None and (value > self.max or (self.max_open and value == self.max)))

    def describe(self) -> str:
        """The range in interval notation, e.g. `(0.0, 1.0)` or `[0, 2]`."""
        lo = "(" if self.min_open or self.min is None else "["
        hi = ")" if self.max_open or self.max is None else "]"
        low = "-inf" if self.min is None else _number(self.min)
        high = "+inf" if self.max is None else _number(self.max)
        return f"{lo}{low}, {high}{hi}"


@dataclass(frozen=True)
class Deviation:
    """A known deviation of a named implementation: the rule it fails, and why (a strict xfail)."""

    rule: str
    reason: str
    profile: str | None = None  # only under this profile, when set


@dataclass(frozen=True)
class Profile:
    """One provider's documented promises, resolved through `extends`."""

    name: str
    title: str
    source: str
    base_path: str
    models: dict[str, str | None]
    model_ids: tuple[str, ...]
    endpoints: dict[str, bool]
    defaults: dict[str, Any]
    ranges: dict[str, Range]
    features: dict[str, Any]
    roles: tuple[str, ...]
    finish_reasons: tuple[str, ...]
    persona: dict[str, Any]
    findings: tuple[dict[str, str], ...]
    deviations: tuple[Deviation, ...] = ()
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def feature(self, name: str, default: Any = False) -> Any:
        """The value of feature flag `name` (False when undocumented)."""
        return self.features.get(name, default)


def available_profiles() -> list[str]:
    """Names of the profiles shipped with maascheck."""
    return sorted(p.stem for p in PROFILES_DIR.glob("*.json"))


def _deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: not valid JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a profile must be a JSON object")
    return data


def _resolve_raw(name: str, seen: tuple[str, ...] = ()) -> dict[str, Any]:
    path = Path(name) if name.endswith(".json") else PROFILES_DIR / f"{name}.json"
    if not path.is_file():
        raise ConfigError(
            f"unknown profile {name!r}; valid: {', '.join(available_profiles())} "
            "(or a path to a profile .json file), e.g. --profile openai"
        )
    if name in seen:
        raise ConfigError(f"profile {name!r} extends itself (chain: {' -> '.join((*seen, name))})")
    data = _read_json(path)
    problems = schemas.errors("profile", data)
    if problems:
        raise ConfigError(
            f"profile {path} does not match schemas/profile.json: " + "; ".join(problems[:5])
            + " (compare with maascheck/profiles/openai.json)"
        )
    parent = data.pop("extends", None)
    if parent:
        data = _deep_merge(_resolve_raw(str(parent), (*seen, name)), data)
    data.setdefault("name", path.stem)
    data["name"] = path.stem if not seen else data["name"]
    return data


def _load_deviations(names: list[str]) -> tuple[Deviation, ...]:
    out: list[Deviation] = []
    for dev_name in names:
        path = DEVIATIONS_DIR / f"{dev_name}.json"
        if not path.is_file():
            raise ConfigError(f"profile names deviations file {dev_name!r}, but {path} does not exist")
        for item in _read_json(path).get("deviations", []):
            out.append(Deviation(rule=item["rule"], reason=item["reason"], profile=item.get("profile")))
    return tuple(out)


@cache
def load_profile(name: str) -> Profile:
    """Load, merge and check profile `name` (a shipped name or a path to a .json file)."""
    raw = _resolve_raw(name)
    try:
        ranges = {
            key: Range(name=key, **{k: v for k, v in spec.items() if k != "comment"})
            for key, spec in raw.get("ranges", {}).items()
            if spec is not None
        }
        base_path = str(raw.get("base_path", "/v1")).rstrip("/")
        return Profile(
            name=str(raw["name"]),
            title=str(raw.get("title", raw["name"])),
            source=str(raw.get("source", "")),
            base_path=base_path,
            models=dict(raw.get("models", {})),
            model_ids=tuple(raw.get("model_ids", [])),
            endpoints=dict(raw.get("endpoints", {})),
            defaults=dict(raw.get("defaults", {})),
            ranges=ranges,
            features=dict(raw.get("features", {})),
            roles=tuple(raw.get("roles", ["system", "user", "assistant", "tool"])),
            finish_reasons=tuple(raw.get("finish_reasons", ["stop", "length", "tool_calls", "content_filter"])),
            persona=dict(raw.get("persona", {})),
            findings=tuple(raw.get("findings", [])),
            deviations=_load_deviations(list(raw.get("deviations", []))),
            raw=raw,
        )
    except (KeyError, TypeError) as exc:
        raise ConfigError(f"profile {name!r} is malformed: {exc!r}; see schemas/profile.json") from exc
