"""Legal variations: transient answers (429 with `Retry-After`, 503 without) that a careful client waits out.

Every other attempt of the same request (method, path, body and credentials) is answered with the
transient status before the simulator sees it: the first attempt gets it, its retry is served, a
deliberate repeat gets it again. RFC 6585 §4 (429), RFC 9110 §15.6.4 (503) and §10.2.3
(`Retry-After`); the error envelope is the OpenAI spec's `ErrorResponse`. No rule may fail because of
them: the conformance recorder retries both before judging (maascheck.conformance.transport.transient).
"""

from __future__ import annotations

import hashlib
import json

from maascheck.sim.faults import Fault, RequestView, Response, register

_MAX_KEYS = 65536  # attempts are counted per distinct request; the table is cleared when it is full
_attempts: dict[tuple[str, bytes], int] = {}


def _every_other(view: RequestView, name: str) -> bool:
    """True on the odd-numbered attempts (1st, 3rd, ...) of this exact request under fault `name`."""
    auth = view.headers.get("authorization", "").encode()
    digest = hashlib.sha256(b"\0".join((view.method.encode(), view.path.encode(), view.body, auth))).digest()
    key = (name, digest)
    if len(_attempts) >= _MAX_KEYS:
        _attempts.clear()
    _attempts[key] = _attempts.get(key, 0) + 1
    return _attempts[key] % 2 == 1


def _envelope(message: str, kind: str, code: str) -> bytes:
    return json.dumps({"error": {"message": message, "type": kind, "param": None, "code": code}}).encode()


def _rate_limited(view: RequestView) -> Response | None:
    if not _every_other(view, "429"):
        return None
    body = _envelope("Rate limit reached for requests; retry after 1 s.", "requests", "rate_limit_exceeded")
    return Response(429, body, [("Content-Type", "application/json"), ("Retry-After", "1")])


def _unavailable(view: RequestView) -> Response | None:
    if not _every_other(view, "503"):
        return None
    body = _envelope("The server is overloaded; try again shortly.", "server_error", "service_unavailable")
    return Response(503, body)


register(
    Fault(
        "legal-transient-429",
        "every other attempt of a request answers 429 with Retry-After: 1 (its retry is served)",
        on_request=_rate_limited,
    )
)
register(
    Fault(
        "legal-transient-503",
        "every other attempt of a request answers 503 without Retry-After (its retry is served)",
        on_request=_unavailable,
    )
)
