"""Vision faults: each breaks exactly one VISION rule (conformance/rules/vision.py)."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator
from typing import Any

from maascheck.sim.faults import Fault, RequestView, Response, register
from maascheck.sim.faults._util import error_response, from_suite, request_json


def image_urls(view: RequestView) -> Iterator[str]:
    """Every image_url.url in the messages of a suite chat request."""
    if view.endpoint != "chat" or not from_suite(view):
        return
    messages = request_json(view).get("messages")
    for msg in messages if isinstance(messages, list) else []:
        content = msg.get("content") if isinstance(msg, dict) else None
        for part in content if isinstance(content, list) else []:
            image: Any = part.get("image_url") if isinstance(part, dict) else None
            if isinstance(image, dict) and isinstance(image.get("url"), str):
                yield image["url"]


def _decodes(url: str) -> bool:
    try:
        base64.b64decode(url.partition(",")[2], validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


def _reject_data(view: RequestView) -> Response | None:
    if any(u.startswith("data:") and _decodes(u) for u in image_urls(view)):
        return error_response(400, "Invalid image_url: only http(s) URLs are supported", "messages")
    return None


def _reject_remote(view: RequestView) -> Response | None:
    if any(u.startswith(("http://", "https://")) for u in image_urls(view)):
        return error_response(400, "Invalid image_url: images must be sent as base64 data URLs", "messages")
    return None


def _corrupt_500(view: RequestView) -> Response | None:
    if any(u.startswith("data:") and not _decodes(u) for u in image_urls(view)):
        return error_response(500, "Internal server error: binascii.Error: Incorrect padding")
    return None


for _fault in (
    Fault(
        "vision-data-url-rejected",
        "base64 data: image URLs are rejected with 400",
        breaks=("VISION-001",),
        on_request=_reject_data,
    ),
    Fault(
        "vision-remote-url-rejected",
        "http(s) image URLs are rejected with 400",
        breaks=("VISION-002",),
        on_request=_reject_remote,
    ),
    Fault(
        "vision-corrupt-image-500",
        "an image whose base64 does not decode crashes the server (500)",
        breaks=("VISION-003",),
        on_request=_corrupt_500,
    ),
):
    register(_fault)
