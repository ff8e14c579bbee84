"""Persona: how the simulator presents one provider profile on the wire (ids, null fields, usage shape).

Keys read from a profile's `persona` object (all optional; defaults give a faithful OpenAI):
`id_style` ("chatcmpl" -> `<id_prefix><hex>`, "uuid" -> bare UUID as in seed 001), `id_prefix`,
`system_fingerprint` (string or null; key omitted when absent), `chunk_null_fields` (seed 002 style
explicit nulls), `role_chunk_content` ("" or null), `usage_prompt_details` (bool),
`usage_completion_details` ("object" | "null" | "absent"), `model_object_extra` (extra fields on each
`/models` entry; the string "$id" is replaced by the model id, e.g. seed 003's `root`),
`unknown_params` ("reject" like OpenAI, or "ignore" like vLLM-based servers; default "reject" when
`features.strict_response_fields` is true, else "ignore"). With `id_style` "uuid" the id is
`<id_prefix><uuid>` where `id_prefix` defaults to "" (seed 001: bare UUID; seed 002: "chatcmpl-" + UUID).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from maascheck.core.profiles import Profile, Range, load_profile

_ABSENT = object()


@dataclass(frozen=True)
class Persona:
    """The presentation settings derived from one profile."""

    profile: Profile
    base_path: str
    default_stream: bool
    id_style: str
    id_prefix: str
    fingerprint: Any  # str, None (send null) or _ABSENT (omit the key)
    chunk_null_fields: bool
    role_chunk_content: str | None
    usage_prompt_details: bool
    usage_completion_details: str
    strict_fields: bool
    model_roles: dict[str, str]
    vendor_params: frozenset[str]
    ranges: dict[str, Range]
    roles: frozenset[str]
    image_schemes: frozenset[str]
    completions_enabled: bool
    models_enabled: bool
    completions_max_tokens: int
    reject_unknown: bool
    model_object_extra: dict[str, Any] = field(default_factory=dict)

    @property
    def has_fingerprint(self) -> bool:
        """Whether bodies carry a `system_fingerprint` key."""
        return self.fingerprint is not _ABSENT

    def model_role(self, model: str) -> str | None:
        """The role ("chat", "vision", "reasoning", "completions") of a served model, None if unknown."""
        return self.model_roles.get(model)


def persona_from_profile(profile: Profile) -> Persona:
    """Build the persona of `profile`."""
    p = profile.persona
    roles: dict[str, str] = {}
    for model_id in profile.model_ids:
        roles[model_id] = "chat"
    for role in ("completions", "chat", "vision", "reasoning"):  # later roles win: reasoning beats chat
        model = profile.models.get(role)
        if model:
            roles[model] = role
    details = str(p.get("usage_completion_details", "object"))
    if details not in {"object", "null", "absent"}:
        details = "object"
    role_content = p.get("role_chunk_content", "")
    schemes = profile.feature("image_url_schemes", ["https", "http", "data"])
    strict = bool(profile.feature("strict_response_fields", False))
    return Persona(
        profile=profile,
        base_path=profile.base_path,
        default_stream=bool(profile.defaults.get("stream", profile.feature("stream_default", False))),
        id_style=str(p.get("id_style", "chatcmpl")),
        id_prefix=str(p.get("id_prefix", "" if p.get("id_style") == "uuid" else "chatcmpl-")),
        fingerprint=_ABSENT if p.get("system_fingerprint") is False else p.get("system_fingerprint", _ABSENT),
        chunk_null_fields=bool(p.get("chunk_null_fields", False)),
        role_chunk_content=None if role_content is None else str(role_content),
        usage_prompt_details=bool(p.get("usage_prompt_details", profile.feature("cached_tokens", False))),
        usage_completion_details=details,
        strict_fields=strict,
        model_roles=roles,
        vendor_params=frozenset(profile.feature("vendor_params", []) or []),
        ranges=dict(profile.ranges),
        roles=frozenset(profile.roles),
        image_schemes=frozenset(str(s) for s in (schemes or [])),
        completions_enabled=bool(profile.endpoints.get("completions", True)),
        models_enabled=bool(profile.endpoints.get("models", True)),
        completions_max_tokens=int(profile.defaults.get("completions_max_tokens", 16)),
        reject_unknown=str(p.get("unknown_params", "reject" if strict else "ignore")) == "reject",
        model_object_extra=dict(p.get("model_object_extra", {}) or {}),
    )


def load_persona(name: str) -> Persona:
    """Load profile `name` and derive its persona (ConfigError for an unknown profile)."""
    return persona_from_profile(load_profile(name))
