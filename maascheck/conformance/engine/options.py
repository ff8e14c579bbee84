"""The options of one conformance run, shared by the CLI, the pytest plugin and `run_suite`.

Probes and rules see these as `env.options` / `ctx.options`: `model`, `vision_model`,
`reasoning_model` (None when the run did not name them and `profile_model` gives none), `image_url`,
`seed`. The API key is held here for the client only; it is excluded from `repr` and from
`reproduce_line`.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from maascheck.core.secrets import DEFAULT_KEY_ENV

if TYPE_CHECKING:
    from maascheck.core.profiles import Profile

DEFAULT_MAX_REQUESTS = 250
# A 1x1 PNG as a data URL: vision probes need no network access to fetch an image.
DEFAULT_IMAGE_URL = (
    "data:image/png;base64,"
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


def profile_model(profile: Profile, chat_model: str, role: str) -> str | None:
    """The profile's `role` model (vision, reasoning), if the run's chat model is one the profile names.

    A profile's model names belong to the deployment it describes (the openai profile's are the
    simulator's `sim-*`). Against another deployment they would ask for a model that is not
    served, and a server that answers any name with its one model would be judged as a vision or
    reasoning model it is not; so they apply only when `chat_model` is among the profile's models.
    """
    model = profile.models.get(role)
    known = set(profile.model_ids) | {m for m in profile.models.values() if m}
    return model if model and chat_model in known else None


@dataclass
class RunOptions:
    """What to test and how: target models, budget, strictness, timeouts."""

    model: str
    base_url: str = ""
    profile: str = "openai"
    vision_model: str | None = None
    reasoning_model: str | None = None
    seed: int = 0
    max_requests: int | None = DEFAULT_MAX_REQUESTS
    strict: bool = False
    api_key_env: str = DEFAULT_KEY_ENV
    api_key: str | None = field(default=None, repr=False)
    stall_timeout: float = 20.0
    connect_timeout: float = 10.0
    headers_timeout: float = 60.0
    total_timeout: float = 180.0
    concurrency: int = 8
    image_url: str = DEFAULT_IMAGE_URL
    report_dir: str | None = None

    def reproduce_line(self) -> str:
        """The `maascheck conformance` command that repeats this run (the key is named, never shown)."""
        parts = ["maascheck", "conformance", "--base-url", self.base_url, "--model", self.model]
        parts += ["--profile", self.profile, "--seed", str(self.seed)]
        if self.vision_model:
            parts += ["--vision-model", self.vision_model]
        if self.reasoning_model:
            parts += ["--reasoning-model", self.reasoning_model]
        if self.max_requests is not None:
            parts += ["--max-requests", str(self.max_requests)]
        if self.strict:
            parts.append("--strict")
        if self.api_key_env != DEFAULT_KEY_ENV:
            parts += ["--api-key-env", self.api_key_env]
        if self.stall_timeout != 20.0:
            parts += ["--stall-timeout", f"{self.stall_timeout:g}"]
        return " ".join(shlex.quote(p) for p in parts)
