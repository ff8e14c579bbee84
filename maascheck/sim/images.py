"""Image URL checks for `image_url` content parts: URLs are validated syntactically, never fetched.

Spec: ChatCompletionRequestMessageContentPartImage (openai-openapi l.31443) — "Either a URL of the
image or the base64 encoded image data". Seeds 001/002 use https URLs, seeds 000/002 base64 data URLs.
"""

from __future__ import annotations

import base64
import binascii
import re
from urllib.parse import urlsplit

_DATA_URL = re.compile(r"^data:image/(png|jpeg|jpg|webp|gif);base64,(.*)$", re.DOTALL)
_MAGIC: tuple[tuple[str, bytes, int], ...] = (
    ("png", b"\x89PNG\r\n\x1a\n", 0),
    ("jpeg", b"\xff\xd8\xff", 0),
    ("gif", b"GIF87a", 0),
    ("gif", b"GIF89a", 0),
    ("webp", b"WEBP", 8),
)


def sniff(data: bytes) -> str | None:
    """The image format whose magic number starts `data` (png, jpeg, gif, webp), else None."""
    for name, magic, offset in _MAGIC:
        if data[offset : offset + len(magic)] == magic and (name != "webp" or data[:4] == b"RIFF"):
            return name
    return None


def check_image_url(url: str, schemes: frozenset[str]) -> str | None:
    """None when `url` is acceptable, else a message saying what is wrong with it."""
    if url.startswith("data:"):
        if "data" not in schemes:
            return f"data URLs are not supported here; supported schemes: {', '.join(sorted(schemes))}"
        match = _DATA_URL.match(url)
        if not match:
            return (
                "invalid image data URL; expected data:image/(png|jpeg|webp|gif);base64,<data>, "
                f"received {url[:40]!r}..."
            )
        try:
            raw = base64.b64decode(match.group(2), validate=True)
        except (binascii.Error, ValueError):
            return "invalid image data URL: the base64 payload does not decode"
        if sniff(raw) is None:
            return "invalid image data: the decoded bytes are not a PNG, JPEG, GIF or WebP image"
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return f"invalid image URL {url[:80]!r}"
    if parts.scheme not in {"http", "https"} or parts.scheme not in schemes:
        return f"unsupported image URL scheme {parts.scheme!r}; supported: {', '.join(sorted(schemes))}"
    if not parts.netloc or any(c.isspace() for c in url):
        return f"invalid image URL {url[:80]!r}: expected scheme://host/path without spaces"
    return None
