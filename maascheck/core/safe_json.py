"""JSON from an untrusted server: parsed within bounds, or refused with the reason (`UnsafeJSON`, never another error).

Python's `json` accepts what interoperable JSON excludes, and some of it breaks whoever handles the
value next: nesting deep enough to exhaust the recursion limit (RecursionError, not ValueError),
`NaN`/`Infinity` literals (not JSON, RFC 8259 §6), numbers beyond the IEEE 754 double range parsed
as `inf` (RFC 8259 §6; I-JSON, RFC 7493 §2.2), and strings with unpaired surrogates such as
`"\\ud800"` (RFC 8259 §8.2; I-JSON §2.1 forbids them), which cannot be encoded as UTF-8 when written
out. `loads` refuses all of these with a message saying which bound or rule the text broke.
"""

from __future__ import annotations

import json
import math
from typing import Any

MAX_DEPTH = 64
"""Default nesting bound: OpenAI response objects nest fewer than 10 levels (tool arguments are strings)."""


class UnsafeJSON(ValueError):
    """The text is not JSON, or is JSON this tool refuses to handle (the message says which)."""


def _no_constant(name: str) -> Any:
    raise UnsafeJSON(f"{name} is not a JSON value (RFC 8259 §6 has no NaN or Infinity)")


def _float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        shown = text if len(text) <= 40 else text[:37] + "..."
        raise UnsafeJSON(f"number {shown} is beyond the IEEE 754 double range (RFC 8259 §6, RFC 7493 §2.2)")
    return value


def loads(data: bytes | str, *, max_depth: int = MAX_DEPTH) -> Any:
    """The value of `data`, or `UnsafeJSON` saying why not (not JSON, deep nesting, huge numbers, lone surrogates)."""
    try:
        value = json.loads(data, parse_constant=_no_constant, parse_float=_float)
    except UnsafeJSON:
        raise
    except RecursionError:
        raise UnsafeJSON(f"JSON nests deeper than the recursion limit (bound: depth {max_depth})") from None
    except (ValueError, TypeError) as exc:  # JSONDecodeError, UnicodeDecodeError, int digit limit
        raise UnsafeJSON(f"not JSON: {exc}") from None
    check(value, max_depth=max_depth)
    return value


def check(value: Any, *, max_depth: int = MAX_DEPTH) -> None:
    """`UnsafeJSON` when `value` nests deeper than `max_depth` or holds a string that is not valid Unicode."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            _check_text(item)
            continue
        if not isinstance(item, (dict, list)):
            continue
        if depth > max_depth:
            raise UnsafeJSON(f"JSON nests deeper than {max_depth} levels (bound: --max-json-depth {max_depth})")
        if isinstance(item, dict):
            for key, sub in item.items():
                _check_text(key)
                stack.append((sub, depth + 1))
        else:
            stack.extend((sub, depth + 1) for sub in item)


def _check_text(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        bad = text[exc.start : exc.end]
        raise UnsafeJSON(
            f"a string holds the unpaired surrogate {bad.encode('unicode_escape').decode()} at offset {exc.start} "
            "(RFC 8259 §8.2; I-JSON, RFC 7493 §2.1, forbids it)"
        ) from None
