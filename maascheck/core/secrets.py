"""API keys come from the environment only, and are redacted from everything maascheck writes."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable

from maascheck.core.errors import ConfigError

DEFAULT_KEY_ENV = "OPENAI_API_KEY"
REDACTED = "[REDACTED]"

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Bearer tokens and common key shapes, for text where the exact key is unknown (e.g. a captured request).
_BEARER = re.compile(r"(?i)(bearer\s+)[^\s\"',;]+")
_KEY_SHAPES = re.compile(r"\b(sk-[A-Za-z0-9_\-]{8,})")


def read_api_key(env_name: str = DEFAULT_KEY_ENV, *, required: bool = False) -> str | None:
    """Return the API key held in environment variable `env_name` (None when unset and not required)."""
    if not _ENV_NAME.match(env_name):
        raise ConfigError(
            f"--api-key-env must name an environment variable, got {env_name!r}; "
            "valid: letters, digits and underscores, e.g. --api-key-env MY_PROVIDER_KEY"
        )
    value = os.environ.get(env_name)
    if not value and required:
        raise ConfigError(
            f"no API key: environment variable {env_name} is unset or empty; "
            f"set it (export {env_name}=...) or name another variable with --api-key-env"
        )
    return value or None


class Redactor:
    """Replaces known secrets, and anything shaped like a bearer token or key, with [REDACTED]."""

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        self._secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)

    def add(self, secret: str | None) -> None:
        """Register one more secret to redact."""
        if secret and len(secret) >= 4 and secret not in self._secrets:
            self._secrets.append(secret)
            self._secrets.sort(key=len, reverse=True)

    def text(self, value: str) -> str:
        """Return `value` with every secret and bearer token replaced."""
        for secret in self._secrets:
            value = value.replace(secret, REDACTED)
        value = _BEARER.sub(lambda m: m.group(1) + REDACTED, value)
        return _KEY_SHAPES.sub(REDACTED, value)

    def headers(self, headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
        """Return headers with credential-bearing values redacted."""
        out = []
        for name, value in headers:
            if name.lower() in {"authorization", "api-key", "x-api-key", "proxy-authorization", "cookie"}:
                scheme = value.split(" ", 1)[0] + " " if " " in value else ""
                out.append((name, scheme + REDACTED))
            else:
                out.append((name, self.text(value)))
        return out
