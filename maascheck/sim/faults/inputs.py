"""Input faults: each breaks exactly one INPUT rule (conformance/rules/inputs.py).

The image fault turns the simulator's own refusal of an image sent to a model that is not a vision
model (400 `image_input_not_supported`) into a 500, as a server that crashes decoding it would.
"""

from __future__ import annotations

from typing import Any

from maascheck.sim.faults import Fault, RequestView, Response, register
from maascheck.sim.faults._util import error_response, from_suite, request_json

IMAGE_REFUSED = "image_input_not_supported"


class _ImageRefusalAs500:
    """on_body marks the refusal of an image to a text model; on_status then answers it 500."""

    def __init__(self) -> None:
        self.marked: set[int] = set()

    def body(self, body: dict[str, Any], view: RequestView) -> dict[str, Any]:
        err = body.get("error")
        if from_suite(view) and isinstance(err, dict) and err.get("code") == IMAGE_REFUSED:
            self.marked.add(id(view))
            body = {"error": {**err, "message": "Internal Server Error", "type": "server_error", "code": None}}
        return body

    def status(self, status: int, view: RequestView) -> int:
        if id(view) in self.marked:
            self.marked.discard(id(view))
            return 500
        return status


def _parts(view: RequestView) -> list[dict[str, Any]]:
    msgs = request_json(view).get("messages") if view.endpoint == "chat" and from_suite(view) else None
    out: list[dict[str, Any]] = []
    for m in msgs if isinstance(msgs, list) else []:
        content = m.get("content") if isinstance(m, dict) else None
        out += [p for p in content if isinstance(p, dict)] if isinstance(content, list) else []
    return out


def _audio_500(view: RequestView) -> Response | None:
    if any(p.get("type") == "input_audio" for p in _parts(view)):
        return error_response(500, "Internal Server Error: cannot decode content part")
    return None


def _unknown_parameter(view: RequestView) -> bool:
    return any(key.startswith("maascheck_") for key in request_json(view))


def _refuse_unknown_parameter(view: RequestView) -> Response | None:
    if view.endpoint == "chat" and _unknown_parameter(view):
        return error_response(400, "Unrecognized request argument supplied: maascheck_unknown_parameter")
    return None


def _unknown_parameter_broken_stream(view: RequestView) -> Response | None:
    if view.endpoint == "chat" and from_suite(view) and view.stream and _unknown_parameter(view):
        return Response(200, b'data: {"choices": []', [("Content-Type", "text/event-stream")])
    return None


_image = _ImageRefusalAs500()
for _fault in (
    Fault(
        "image-to-text-model-500",
        "an image sent to a model that is not a vision model is answered 500, not refused",
        breaks=("INPUT-001",),
        on_body=_image.body,
        on_status=_image.status,
    ),
    Fault(
        "audio-part-500",
        "an input_audio content part is answered 500",
        breaks=("INPUT-002",),
        on_request=_audio_500,
    ),
    Fault(
        "unknown-parameter-broken-stream",
        "a streamed request with an unknown parameter gets 200 and half an event, then the end of the body",
        breaks=("INPUT-003",),
        on_request=_unknown_parameter_broken_stream,
    ),
    Fault(
        "image-to-text-model-accepted",
        "legal: every model accepts images (the chat model answers them 200)",
        skip_validation=frozenset({"image_input"}),
    ),
    Fault(
        "unknown-parameter-rejected",
        "legal: an unknown parameter is refused with 400 unknown_parameter, as OpenAI does",
        on_request=_refuse_unknown_parameter,
    ),
):
    register(_fault)
