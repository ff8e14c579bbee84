"""The pinned clients of the matrix (`pins.json`) and where each one's environment lives in the cache."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from maascheck.conformance.model.rule import Level
from maascheck.core.errors import ConfigError
from maascheck.core.paths import cache_dir

HERE = Path(__file__).parent
PINS_FILE = HERE / "pins.json"
ADAPTERS_DIR = HERE / "adapters"
NODE_ENV = "node"  # both Node clients share one node_modules


@dataclass(frozen=True)
class Client:
    """One real client library, pinned, and the adapter script that drives it."""

    name: str  # the name results.json and --clients use: "openai-python"
    id: str  # the rule-ID part: CLIENT-<id>-<SCENARIO>
    title: str
    ecosystem: str  # "python" | "node"
    packages: tuple[tuple[str, str], ...]  # (package, pinned version)
    adapter: str  # file name under adapters/
    promise: str  # the document that promises this client works, or why it is judged anyway
    level: Level

    @property
    def version(self) -> str:
        """The pinned version of the client's own package (its first package)."""
        return self.packages[0][1]

    @property
    def adapter_path(self) -> Path:
        """The adapter script shipped in the package."""
        return ADAPTERS_DIR / self.adapter

    @property
    def env_dir(self) -> Path:
        """This client's environment in the cache: a venv per Python client, one shared node folder."""
        return clients_cache() / env_key(self)

    @property
    def install_hint(self) -> str:
        """The command that installs this client."""
        return f"maascheck clients install --clients {self.name}"


def clients_cache() -> Path:
    """`<cache>/clients`: the client environments ($MAASCHECK_CACHE_DIR, else ~/.cache/maascheck)."""
    return cache_dir() / "clients"


def env_key(client: Client) -> str:
    """The environment folder's name: ecosystem + a hash of the pins it holds (a new pin, a new folder)."""
    members = [c for c in CLIENTS if c.ecosystem == "node"] if client.ecosystem == "node" else [client]
    pins = sorted(p for c in members for p in c.packages)
    digest = hashlib.sha256(json.dumps(pins).encode()).hexdigest()[:10]
    return f"{NODE_ENV}-{digest}" if client.ecosystem == "node" else f"py-{client.name}-{digest}"


def _load() -> tuple[Client, ...]:
    data = json.loads(PINS_FILE.read_text(encoding="utf-8"))
    return tuple(
        Client(
            name=c["name"],
            id=c["id"],
            title=c["title"],
            ecosystem=c["ecosystem"],
            packages=tuple(c["packages"].items()),
            adapter=c["adapter"],
            promise=c["promise"],
            level=Level(c["level"]),
        )
        for c in data["clients"]
    )


CLIENTS: tuple[Client, ...] = _load()
BY_NAME: dict[str, Client] = {c.name: c for c in CLIENTS}


def select(spec: str) -> tuple[Client, ...]:
    """The clients `spec` names: `all`, or names separated by commas; ConfigError for an unknown name."""
    if spec.strip() == "all":
        return CLIENTS
    names = [n.strip() for n in spec.split(",") if n.strip()]
    unknown = [n for n in names if n not in BY_NAME]
    if unknown or not names:
        raise ConfigError(
            f"--clients {spec!r}: unknown client {', '.join(unknown) or '(none given)'}; "
            f"valid: all, or a comma-separated list of {', '.join(BY_NAME)}; "
            "e.g. --clients openai-python,langchain-openai"
        )
    return tuple(BY_NAME[n] for n in names)
