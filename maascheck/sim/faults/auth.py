"""Faults of API-key checking, each breaking one AUTH rule (conformance/rules/auth.py), one legal."""

from __future__ import annotations

import json

from maascheck.sim.faults import Fault, RequestView, Response, register

_AUTH_CODES = {"missing_api_key", "invalid_api_key"}


def _missing_403(status: int, view: RequestView) -> int:
    return 403 if status == 401 and "authorization" not in view.headers else status


def _presence_only(view: RequestView) -> Response | None:
    """Auth is switched off by `skip_validation`; only requests with no Authorization header are refused."""
    if "authorization" in view.headers:
        return None
    envelope = {
        "error": {
            "message": "Missing API key.",
            "type": "invalid_request_error",
            "param": None,
            "code": "missing_api_key",
        }
    }
    return Response(401, json.dumps(envelope).encode())


def _plain_401(raw: bytes, view: RequestView) -> bytes:
    try:
        doc = json.loads(raw)
    except ValueError:
        return raw
    error = doc.get("error") if isinstance(doc, dict) else None
    if isinstance(error, dict) and error.get("code") in _AUTH_CODES:
        return b"Unauthorized"
    return raw


def _www_authenticate(headers: list[tuple[str, str]], view: RequestView) -> list[tuple[str, str]]:
    return [*headers, ("WWW-Authenticate", 'Bearer realm="maascheck-sim"')]


for _fault in (
    Fault(
        "auth-missing-key-403",
        "a request without a key is answered 403 instead of 401",
        breaks=("AUTH-001",),
        on_status=_missing_403,
    ),
    Fault(
        "auth-presence-only",
        "the key is only checked for presence: any bearer token is accepted",
        breaks=("AUTH-002",),
        skip_validation=frozenset({"auth"}),
        on_request=_presence_only,
    ),
    Fault(
        "auth-401-plain-text",
        "401 responses carry the plain text `Unauthorized` instead of an error envelope",
        breaks=("AUTH-003",),
        on_body_bytes=_plain_401,
    ),
    Fault(
        "auth-www-authenticate",
        "legal: every response carries a WWW-Authenticate header (RFC 6750)",
        on_headers=_www_authenticate,
    ),
):
    register(_fault)
