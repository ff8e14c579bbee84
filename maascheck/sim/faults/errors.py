"""Faults of validation and error responses, each breaking one ERR rule (conformance/rules/errors.py)."""

from __future__ import annotations

import json
from typing import Any

from maascheck.sim.faults import Fault, RequestView, Response, register

_AUTH_CODES = {"missing_api_key", "invalid_api_key"}
_MARK = "x-maascheck-fault-client-error"  # set on the request view by on_status, read by on_headers


def _envelope(message: str, type_: str = "server_error") -> bytes:
    return json.dumps({"error": {"message": message, "type": type_, "param": None, "code": None}}).encode()


def _is_validation_error(body: dict[str, Any]) -> bool:
    error = body.get("error")
    return isinstance(error, dict) and error.get("code") not in _AUTH_CODES


def _malformed_500(view: RequestView) -> Response | None:
    body = view.body.strip()
    if view.endpoint in {"chat", "completions"} and body.startswith(b"{") and not body.endswith(b"}"):
        return Response(500, _envelope("Internal Server Error: Expecting value"))
    return None


def _default_messages(view: RequestView) -> RequestView | None:
    if view.endpoint == "chat" and view.json is not None and "messages" not in view.json:
        view.json = {**view.json, "messages": [{"role": "user", "content": "Hello"}]}
        return view
    return None


def _string_messages(view: RequestView) -> RequestView | None:
    if view.endpoint == "chat" and view.json is not None and isinstance(view.json.get("messages"), str):
        view.json = {**view.json, "messages": [{"role": "user", "content": view.json["messages"]}]}
        return view
    return None


def _detail(body: dict[str, Any], view: RequestView) -> dict[str, Any]:
    if view.endpoint in {"chat", "completions"} and _is_validation_error(body):
        return {"detail": body["error"]["message"]}
    return body


def _mark_client_error(status: int, view: RequestView) -> int:
    if 400 <= status < 500 and status != 401:
        view.headers[_MARK] = "1"
    return status


def _text_plain(headers: list[tuple[str, str]], view: RequestView) -> list[tuple[str, str]]:
    if view.headers.get(_MARK) != "1":
        return headers
    return [(k, "text/plain; charset=utf-8" if k.lower() == "content-type" else v) for k, v in headers]


def _param_null(body: dict[str, Any], view: RequestView) -> dict[str, Any]:
    if _is_validation_error(body):
        return {**body, "error": {**body["error"], "param": None}}
    return body


def _code_integer(body: dict[str, Any], view: RequestView) -> dict[str, Any]:
    if _is_validation_error(body):
        return {**body, "error": {**body["error"], "code": 400}}
    return body


def _error_in_ok(body: dict[str, Any], view: RequestView) -> dict[str, Any]:
    if view.endpoint == "chat" and "choices" in body and "error" not in body:
        return {
            **body,
            "error": {"message": "partial failure: moderation unavailable", "type": "server_error"},
        }
    return body


def _unknown_model_400(status: int, view: RequestView) -> int:
    return 400 if status == 404 and view.endpoint in {"chat", "completions"} else status


for _fault in (
    Fault(
        "malformed-json-500",
        "a truncated JSON body crashes the handler: 500 instead of 400",
        breaks=("ERR-001",),
        on_request=_malformed_500,
    ),
    Fault(
        "missing-messages-accepted",
        "a chat request without `messages` is served as a greeting",
        breaks=("ERR-002",),
        on_request=_default_messages,
    ),
    Fault(
        "wrong-type-accepted",
        "`messages` given as a string is coerced into one user message",
        breaks=("ERR-003",),
        on_request=_string_messages,
    ),
    Fault(
        "unknown-model-accepted",
        "an unknown model name is served by the default model",
        breaks=("ERR-004",),
        skip_validation=frozenset({"model"}),
    ),
    Fault(
        "bad-role-accepted",
        "a message with an unknown role is served",
        breaks=("ERR-005",),
        skip_validation=frozenset({"role"}),
    ),
    Fault(
        "bad-content-part-accepted",
        "a content part of an unknown type is dropped and the request served",
        breaks=("ERR-006",),
        skip_validation=frozenset({"content_part"}),
    ),
    Fault(
        "error-detail-envelope",
        'validation errors come as FastAPI\'s `{"detail": "..."}` body',
        breaks=("ERR-007", "ROUTE-003"),  # the unknown-path and wrong-method refusals are errors too
        on_body=_detail,
    ),
    Fault(
        "error-text-plain",
        "client-error responses declare Content-Type text/plain (JSON body kept)",
        breaks=("ERR-008", "ROUTE-003"),  # the unknown-path and wrong-method refusals are client errors too
        on_status=_mark_client_error,
        on_headers=_text_plain,
    ),
    Fault(
        "error-param-null",
        "error objects never name the offending parameter (`param: null`)",
        breaks=("ERR-009",),
        on_body=_param_null,
    ),
    Fault(
        "error-code-integer",
        "error objects carry an integer `code: 400`, as vLLM does",
        breaks=("ERR-011",),
        on_body=_code_integer,
    ),
    Fault(
        "error-in-ok-body",
        "successful chat completions also carry an `error` object",
        breaks=("ERR-010",),
        on_body=_error_in_ok,
    ),
    Fault(
        "unknown-model-400",
        "legal: an unknown model is refused with 400 instead of OpenAI's 404",
        on_status=_unknown_model_400,
    ),
):
    register(_fault)
