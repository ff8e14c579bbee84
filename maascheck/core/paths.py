"""Where maascheck's data lives: schemas and profiles ship inside the package; reports go under the cwd.

The wheel carries the repository's `schemas/` as `maascheck/data/schemas` (see pyproject.toml); in a
source checkout, where that copy does not exist, the top-level `schemas/` folder is the same data.
Both are read through `importlib.resources`, so nothing depends on the working directory.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

DATA_DIR = Path(str(files("maascheck") / "data"))
_CHECKOUT_SCHEMAS = DATA_DIR.parents[1] / "schemas"
SCHEMAS_DIR = DATA_DIR / "schemas" if (DATA_DIR / "schemas").is_dir() else _CHECKOUT_SCHEMAS
PROFILES_DIR = DATA_DIR / "profiles"
DEVIATIONS_DIR = PROFILES_DIR / "deviations"


# The documents that make a folder one run's report: a second run must not silently mix with them.
RUN_DOCUMENTS = ("results.json", "requests.jsonl", "sweep.json")


def refuse_shared_report_dir(folder: str | Path, overwrite: bool) -> None:
    """Raise ConfigError when `folder` holds another run's results and `overwrite` is not set (before any request)."""
    from maascheck.core.errors import ConfigError

    path = Path(folder)
    found = [name for name in RUN_DOCUMENTS if (path / name).exists()]
    if found and not overwrite:
        raise ConfigError(
            f"report folder {str(path)!r} holds another run's {', '.join(found)}; valid: a new or empty folder, "
            f"or --overwrite to replace that run's reports; e.g. --report-dir {path.name}-2"
        )


def reports_dir() -> Path:
    """The default report folder: `./reports/` under the current directory (resolved when asked)."""
    return Path.cwd() / "reports"


def cache_dir() -> Path:
    """The per-user cache: $MAASCHECK_CACHE_DIR, else $XDG_CACHE_HOME/maascheck, else ~/.cache/maascheck."""
    import os

    if override := os.environ.get("MAASCHECK_CACHE_DIR"):
        return Path(override).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "maascheck"
