"""Rules and probes by area; importing this package registers them all."""

import importlib
import pkgutil


def load_all() -> None:
    """Import every area module so its rules and probes register."""
    for info in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{info.name}")
