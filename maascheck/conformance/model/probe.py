"""A probe: one request the suite makes, declared as data next to the rules that read it.

Probes are registered in the area modules of `maascheck.conformance.rules` with `probe(...)`. The runner
makes each needed probe once (independent probes concurrently, `depends` first) and hands the
recorded `Exchange` to every rule that names it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from maascheck.conformance.model.exchange import Exchange
    from maascheck.core.profiles import Profile


@dataclass
class ProbeEnv:
    """What a probe's body builder can see."""

    profile: Profile
    options: Any  # the run options: model, vision_model, reasoning_model, image_url, seed...
    exchange: Callable[[str], Exchange]  # exchanges of the probes named in `depends`


@dataclass(frozen=True)
class Probe:
    """One request: method, path below the base URL, body builder, auth mode."""

    name: str
    method: str
    path: str  # below the base URL, e.g. "/chat/completions"
    body: Callable[[ProbeEnv], dict[str, Any] | bytes | None] | None = None
    auth: str = "valid"  # "valid" | "none" | "wrong"
    requires: tuple[str, ...] = ()  # profile features needed; otherwise the probe is not made
    depends: tuple[str, ...] = ()
    headers: tuple[tuple[str, str], ...] = ()
    sdk: Callable[[ProbeEnv], Any] | None = None  # for client-compatibility probes: runs the openai SDK


PROBES: dict[str, Probe] = {}


def probe(p: Probe) -> Probe:
    """Register probe `p` (names are unique)."""
    if p.name in PROBES:
        raise ValueError(f"probe {p.name!r} registered twice")
    PROBES[p.name] = p
    return p


@dataclass
class SDKProbeEnv(ProbeEnv):
    """A probe environment for `Probe.sdk`: also holds an `openai.OpenAI` client whose requests are recorded."""

    client: Any = None
