"""Logprobs and repeatability faults: each breaks exactly one LOGPROBS or SEED rule
(conformance/rules/logprobs.py, conformance/rules/seeds.py)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from maascheck.sim.faults import Fault, RequestView, register
from maascheck.sim.faults._util import chat_body_hook, choices, from_suite, request_json


def _entries_edit(
    edit: Callable[[list[dict[str, Any]]], list[dict[str, Any]] | None],
) -> Callable[[dict[str, Any], dict[str, Any]], None]:
    """An edit of every choice's `logprobs.content` entries (a returned list replaces them)."""

    def apply(body: dict[str, Any], req: dict[str, Any]) -> None:
        for choice in choices(body):
            lp = choice.get("logprobs")
            if isinstance(lp, dict) and isinstance(lp.get("content"), list) and lp["content"]:
                replaced = edit([e for e in lp["content"] if isinstance(e, dict)])
                if replaced is not None:
                    lp["content"] = replaced

    return apply


def _drop_last(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return entries[:-1]


def _positive(entries: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
    entries[0]["logprob"] = 0.25
    return None


def _tops(entries: list[dict[str, Any]]) -> list[list[Any]]:
    return [e["top_logprobs"] for e in entries if isinstance(e.get("top_logprobs"), list)]


def _unsorted(entries: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
    for top in _tops(entries):
        top.reverse()
    return None


def _one_too_many(entries: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
    for top in _tops(entries):
        top.append({"token": " zzz", "logprob": -20.0, "bytes": list(b" zzz")})
    return None


def _chosen_missing(entries: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
    for e in entries:
        top = e.get("top_logprobs")
        if isinstance(top, list):
            for j, alt in enumerate(top):
                if isinstance(alt, dict) and alt.get("token") == e.get("token"):
                    alt["token"] = f"<alt{j}>"
                    alt["bytes"] = list(alt["token"].encode())
    return None


def _greedy_random(view: RequestView) -> RequestView | None:
    req = request_json(view)
    if view.endpoint != "chat" or not from_suite(view) or req.get("temperature") != 0 or "seed" not in req:
        return None
    body = {k: v for k, v in req.items() if k not in ("seed", "temperature")}
    return replace(view, json=body, body=json.dumps(body).encode("utf-8"))


for _fault in (
    Fault(
        "logprobs-entry-missing",
        "chat logprobs.content lacks the last token's entry",
        breaks=("LOGPROBS-001",),
        on_body=chat_body_hook(_entries_edit(_drop_last)),
    ),
    Fault(
        "logprobs-positive",
        "the first token's chat logprob is +0.25 (above 0)",
        breaks=("LOGPROBS-002",),
        on_body=chat_body_hook(_entries_edit(_positive)),
    ),
    Fault(
        "top-logprobs-unsorted",
        "chat top_logprobs are listed least likely first",
        breaks=("LOGPROBS-003",),
        on_body=chat_body_hook(_entries_edit(_unsorted)),
    ),
    Fault(
        "top-logprobs-one-too-many",
        "chat top_logprobs hold one alternative more than requested",
        breaks=("LOGPROBS-003",),
        on_body=chat_body_hook(_entries_edit(_one_too_many)),
    ),
    Fault(
        "top-logprobs-chosen-missing",
        "chat top_logprobs never list the chosen token",
        breaks=("LOGPROBS-004",),
        on_body=chat_body_hook(_entries_edit(_chosen_missing)),
    ),
    Fault(
        "greedy-nondeterministic",
        "temperature 0 with a seed samples at random (seed and temperature are ignored)",
        breaks=("SEED-001",),
        on_request=_greedy_random,
    ),
):
    register(_fault)
