"""Route faults: each breaks exactly one ROUTE rule (conformance/rules/routes.py)."""

from __future__ import annotations

import json

from maascheck.sim.faults import Fault, RequestView, Response, register
from maascheck.sim.faults._util import error_response

POST_ENDPOINTS = frozenset({"chat", "completions"})
HTML_404 = b"<!DOCTYPE html><html><head><title>404 Not Found</title></head><body><h1>Not Found</h1></body></html>"


def _unknown(view: RequestView) -> bool:
    return view.endpoint == "other"


def _wrong_method(view: RequestView) -> bool:
    return view.endpoint in POST_ENDPOINTS and view.method != "POST"


def _unknown_served(view: RequestView) -> Response | None:
    return Response(200, b'{"object": "list", "data": []}') if _unknown(view) else None


def _wrong_method_500(view: RequestView) -> Response | None:
    return error_response(500, "Internal server error: no request body") if _wrong_method(view) else None


def _html_404(view: RequestView) -> Response | None:
    return Response(404, HTML_404, [("Content-Type", "text/html; charset=utf-8")]) if _unknown(view) else None


def _detail_json(view: RequestView) -> Response | None:
    if _unknown(view):
        return Response(404, json.dumps({"detail": "Not Found"}).encode())
    if _wrong_method(view):
        return Response(405, json.dumps({"detail": "Method Not Allowed"}).encode())
    return None


def _wrong_method_404(view: RequestView) -> Response | None:
    if _wrong_method(view):
        return error_response(404, f"Invalid URL ({view.method} /v1{view.path})")
    return None


for _fault in (
    Fault(
        "unknown-path-served",
        "a path no API serves is answered 200 with an empty list",
        breaks=("ROUTE-001",),
        on_request=_unknown_served,
    ),
    Fault(
        "wrong-method-500",
        "GET on a POST endpoint is answered 500",
        breaks=("ROUTE-002",),
        on_request=_wrong_method_500,
    ),
    Fault(
        "unknown-path-html",
        "an unknown path is answered with an HTML 404 page",
        breaks=("ROUTE-003",),
        on_request=_html_404,
    ),
    Fault(
        "route-detail-json",
        'unknown paths and wrong methods are answered {"detail": ...} (FastAPI\'s default), not an envelope',
        breaks=("ROUTE-003",),
        on_request=_detail_json,
    ),
    Fault(
        "wrong-method-404",
        "legal: GET on a POST endpoint is answered 404 'Invalid URL' with an error envelope, as OpenAI does",
        on_request=_wrong_method_404,
    ),
):
    register(_fault)
