"""Default faults: each breaks exactly one DEFAULT rule (conformance/rules/defaults.py)."""

from __future__ import annotations

import json
from dataclasses import replace

from maascheck.sim.faults import Fault, RequestView, register
from maascheck.sim.faults._util import from_suite, request_json


def _stream_by_default(view: RequestView) -> RequestView | None:
    req = request_json(view)
    if view.endpoint != "chat" or not from_suite(view) or not req or "stream" in req:
        return None
    body = {**req, "stream": True}
    return replace(view, json=body, body=json.dumps(body).encode("utf-8"))


for _fault in (
    Fault(
        "default-stream-true",
        "a chat request without `stream` is streamed",
        breaks=("DEFAULT-001",),
        on_request=_stream_by_default,
    ),
):
    register(_fault)
