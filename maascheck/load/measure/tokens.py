"""Optional tokenizer for per-chunk token counts (`--tokenizer NAME`, needs the `tokenizers` package)."""

from __future__ import annotations

import importlib
from collections.abc import Callable

from maascheck.core.errors import ConfigError


def load_counter(name: str) -> Callable[[str], int] | None:
    """A text -> token count function for HF tokenizer `name`; None when no name is given."""
    if not name:
        return None
    try:
        module = importlib.import_module("tokenizers")
    except ImportError:
        raise ConfigError(
            f"--tokenizer {name!r} needs the `tokenizers` package, which is not installed; "
            "install it (pip install tokenizers) or drop --tokenizer (counts then come from usage or chunks)"
        ) from None
    try:
        tok = module.Tokenizer.from_pretrained(name)
    except Exception as exc:  # the library raises its own exception types
        raise ConfigError(
            f"--tokenizer {name!r}: cannot load it ({exc}); give a Hugging Face tokenizer name"
        ) from None

    def count(text: str) -> int:
        return len(tok.encode(text, add_special_tokens=False).ids)

    return count
