"""Faults of `GET /models`, each breaking one MODELS rule (conformance/rules/models.py), one legal."""

from __future__ import annotations

import json
from typing import Any

from maascheck.sim.faults import Fault, RequestView, Response, register


def _is_models_list(body: dict[str, Any], view: RequestView) -> bool:
    return view.endpoint == "models" and isinstance(body.get("data"), list) and "error" not in body


def _not_found(view: RequestView) -> Response | None:
    if view.endpoint != "models":
        return None
    envelope = {
        "error": {"message": "Not Found", "type": "invalid_request_error", "param": None, "code": None}
    }
    return Response(404, json.dumps(envelope).encode())


def _wrong_object(body: dict[str, Any], view: RequestView) -> dict[str, Any]:
    return {**body, "object": "models"} if _is_models_list(body, view) else body


def _incomplete_entries(body: dict[str, Any], view: RequestView) -> dict[str, Any]:
    if not _is_models_list(body, view):
        return body
    entries = [
        {k: v for k, v in e.items() if k != "owned_by"} | {"created": "2024-01-01"} for e in body["data"]
    ]
    return {**body, "data": entries}


def _renamed(body: dict[str, Any], view: RequestView) -> dict[str, Any]:
    if not _is_models_list(body, view):
        return body
    return {**body, "data": [{**e, "id": f"{e['id']}-latest"} for e in body["data"]]}


def _text_plain(headers: list[tuple[str, str]], view: RequestView) -> list[tuple[str, str]]:
    if view.endpoint != "models" or "x-stainless-lang" in view.headers:
        return headers
    return [(k, "text/plain; charset=utf-8" if k.lower() == "content-type" else v) for k, v in headers]


def _extension_fields(body: dict[str, Any], view: RequestView) -> dict[str, Any]:
    if not _is_models_list(body, view):
        return body
    extra: dict[str, Any] = {"permission": [], "parent": None}
    return {**body, "data": [{**e, **extra, "root": e["id"]} for e in body["data"]]}


for _fault in (
    Fault(
        "models-not-found",
        "GET /models answers 404 (the endpoint is not implemented, as on many MaaS gateways)",
        breaks=("MODELS-001", "SDK-004"),
        on_request=_not_found,
    ),
    Fault(
        "models-wrong-object",
        'the model list says `object: "models"` instead of "list"',
        breaks=("MODELS-002",),
        on_body=_wrong_object,
    ),
    Fault(
        "models-entry-incomplete",
        "model entries lack `owned_by` and give `created` as a date string",
        breaks=("MODELS-003",),
        on_body=_incomplete_entries,
    ),
    Fault(
        "models-ids-renamed",
        "the list names every model `<id>-latest`, so the served model is not listed",
        breaks=("MODELS-004",),
        on_body=_renamed,
    ),
    Fault(
        "models-text-plain",
        "GET /models declares Content-Type text/plain (requests without the SDK's headers)",
        breaks=("MODELS-005",),
        on_headers=_text_plain,
    ),
    Fault(
        "models-extension-fields",
        "legal: model entries carry extra fields (permission, root, parent; seeds/003)",
        on_body=_extension_fields,
    ),
):
    register(_fault)
