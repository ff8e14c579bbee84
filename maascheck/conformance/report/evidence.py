"""Renders a recorded exchange as redacted evidence (plain JSON data) and a curl line that reproduces it.

The API key never appears: headers and bodies pass through `maascheck.core.secrets.Redactor`, and the curl
line reads the key from the environment variable the run used (`$OPENAI_API_KEY` by default).
"""

from __future__ import annotations

import shlex
from typing import Any

from maascheck.conformance.model.exchange import Exchange
from maascheck.conformance.transport.recorder import WRONG_KEY
from maascheck.core.secrets import DEFAULT_KEY_ENV, Redactor

EVIDENCE_BODY_CAP = 64 * 1024
EVIDENCE_EVENTS_CAP = 200


def _text(raw: bytes | None, redactor: Redactor, cap: int = EVIDENCE_BODY_CAP) -> str | None:
    if raw is None:
        return None
    text = raw[:cap].decode("utf-8", errors="replace")
    if len(raw) > cap:
        text += f"\n[... {len(raw) - cap} more bytes not shown]"
    return redactor.text(text)


def curl_line(ex: Exchange, key_env: str = DEFAULT_KEY_ENV, redactor: Redactor | None = None) -> str:
    """A shell command that repeats the request; the key is referenced as `$KEY_ENV`, never inlined."""
    red = redactor or Redactor()
    parts = ["curl", "-sS"]
    if ex.request_json is not None and isinstance(ex.request_json, dict) and ex.request_json.get("stream"):
        parts.append("-N")
    if ex.method != "GET" or ex.request_body is not None:
        parts += ["-X", ex.method]
    cmd = " ".join(parts) + " " + shlex.quote(red.text(ex.url))
    for name, value in ex.request_headers:
        if name.lower() == "authorization":
            if WRONG_KEY in value:
                cmd += " -H " + shlex.quote(f"{name}: {value}")
            else:
                cmd += f' -H "{name}: Bearer ${key_env}"'
        elif name.lower() != "accept":
            ((_, shown),) = red.headers([(name, value)])
            cmd += " -H " + shlex.quote(f"{name}: {shown}")
    if ex.request_body is not None:
        cmd += " --data-binary " + shlex.quote(red.text(ex.request_body.decode("utf-8", errors="replace")))
    return cmd


def render_exchange(ex: Exchange, redactor: Redactor, key_env: str = DEFAULT_KEY_ENV) -> dict[str, Any]:
    """The exchange as evidence data (shape of `evidence.exchanges[]` in results.json), redacted."""
    events = [
        {"t_ms": round(e.t_ns / 1e6, 3), "data": redactor.text(e.data[:EVIDENCE_BODY_CAP]), "event": e.event}
        for e in ex.events[:EVIDENCE_EVENTS_CAP]
    ]
    if len(ex.events) > EVIDENCE_EVENTS_CAP:
        last = ex.events[-1]
        events.append(
            {"t_ms": round(last.t_ns / 1e6, 3), "data": redactor.text(last.data), "event": last.event}
        )
    return {
        "probe": ex.probe,
        "request": {
            "method": ex.method,
            "url": redactor.text(ex.url),
            "headers": [list(h) for h in redactor.headers(ex.request_headers)],
            "body": _text(ex.request_body, redactor),
        },
        "response": {
            "status": ex.status,
            "headers": [list(h) for h in redactor.headers(ex.headers)],
            "body": None if ex.status is None and not ex.body else _text(ex.body, redactor),
            "body_truncated": ex.body_truncated,
            "events": events,
        },
        "error": redactor.text(f"{ex.error_kind}: {ex.error}") if ex.error else None,
        "curl": curl_line(ex, key_env, redactor),
    }


def render_attempts(ex: Exchange, redactor: Redactor, key_env: str = DEFAULT_KEY_ENV) -> list[dict[str, Any]]:
    """The exchange as evidence, preceded by the attempt that died on a reused connection when it was retried."""
    rendered = [render_exchange(ex, redactor, key_env)]
    if ex.prior_attempt is not None:
        first = render_exchange(ex.prior_attempt, redactor, key_env)
        first["probe"] += " (attempt 1, retried)"
        rendered.insert(0, first)
    return rendered


def redact_value(value: Any, redactor: Redactor) -> Any:
    """`value` (JSON-like data) with every string passed through the redactor."""
    if isinstance(value, str):
        return redactor.text(value)
    if isinstance(value, dict):
        return {redactor.text(str(k)): redact_value(v, redactor) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_value(v, redactor) for v in value]
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return redactor.text(repr(value))
