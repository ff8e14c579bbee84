"""Parameter faults: each makes exactly one PARAM rule fail (conformance/rules/params.py).

Each mimics a real server's mistake at a range boundary: a range left unchecked, a 500 instead of
a 400, a narrower range than documented, lax booleans, a silent cap, an off-by-one at the
smallest limit, an ignored seed. Those that rewrite a request act only on values the spec range
keeps valid, so the range rules still see out-of-range values refused.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from typing import Any

from maascheck.sim.faults import Fault, RequestView, Response, register

INT64 = 2**63
INT32 = 2**31
RANGE_PARAMS = frozenset(
    {
        "temperature",
        "top_p",
        "presence_penalty",
        "frequency_penalty",
        "n",
        "max_tokens",
        "max_completion_tokens",
        "stop",
        "top_logprobs",
        "seed",
        "logprobs",
        "repetition_penalty",
    }
)
"""The parameters the PARAM range rules explore (their errors are the ones PARAM-020 reads)."""


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _error(status: int, message: str, param: str | None, type_: str = "invalid_request_error") -> Response:
    body = {"error": {"message": message, "type": type_, "param": param, "code": None}}
    return Response(status, json.dumps(body).encode("utf-8"))


def _rewrite(view: RequestView, **changes: Any) -> RequestView:
    """`view` with its JSON body changed (a value of None deletes the key)."""
    assert view.json is not None
    body = {k: v for k, v in view.json.items() if k not in changes}
    body |= {k: v for k, v in changes.items() if v is not None}
    return replace(view, json=body, body=json.dumps(body).encode("utf-8"))


def _field(view: RequestView, name: str) -> Any:
    return view.json.get(name) if view.json is not None and view.endpoint in ("chat", "completions") else None


def _top_p_500(view: RequestView) -> Response | None:
    value = _field(view, "top_p")
    if value is None or (_number(value) and 0 <= value <= 1):
        return None
    return _error(500, "Internal server error: sampler setup failed", None, "server_error")


def _frequency_negative(view: RequestView) -> Response | None:
    value = _field(view, "frequency_penalty")
    if _number(value) and value < 0:
        return _error(400, "frequency_penalty must be between 0 and 2", "frequency_penalty")
    return None


def _mct_fraction_500(view: RequestView) -> Response | None:
    value = _field(view, "max_completion_tokens")
    if isinstance(value, float) and not value.is_integer():
        return _error(500, "Internal server error: int() of a float", None, "server_error")
    return None


def _top_logprobs_cap(view: RequestView) -> Response | None:
    value = _field(view, "top_logprobs")
    if _integer(value) and value > 10:
        return _error(400, "top_logprobs must be at most 10", "top_logprobs")
    return None


def _lax_logprobs(view: RequestView) -> RequestView | None:
    value = _field(view, "logprobs")
    if view.endpoint != "chat" or value is None or isinstance(value, bool):
        return None
    return _rewrite(view, logprobs=bool(value))


def _seed_int32(view: RequestView) -> Response | None:
    value = _field(view, "seed")
    if _integer(value) and not -INT32 <= value < INT32:
        return _error(400, "seed must fit in a signed 32-bit integer", "seed")
    return None


def _clamp_completion_logprobs(view: RequestView) -> RequestView | None:
    value = _field(view, "logprobs")
    if view.endpoint != "completions" or not _integer(value) or 0 <= value <= 5:
        return None
    return _rewrite(view, logprobs=min(max(value, 0), 5))


def _closed_repetition_penalty(view: RequestView) -> RequestView | None:
    value = _field(view, "repetition_penalty")
    if _number(value) and value in (1.0, 2.0):
        return _rewrite(view, repetition_penalty=None)  # treated as the closed interval: bounds accepted
    return None


def _strip_param(body: dict[str, Any], view: RequestView) -> dict[str, Any]:
    err = body.get("error")
    if (
        not isinstance(err, dict)
        or err.get("code") != "invalid_value"
        or err.get("param") not in RANGE_PARAMS
    ):
        return body
    name = re.compile(rf"(?<![A-Za-z0-9_])'?{re.escape(str(err['param']))}'?(?![A-Za-z0-9_])")
    message = name.sub("a parameter", str(err.get("message", "")))
    return {**body, "error": {**err, "param": None, "message": message}}


def _cap_n(view: RequestView) -> RequestView | None:
    value = _field(view, "n")
    if _integer(value) and 8 < value <= 128:
        return _rewrite(view, n=8)
    return None


def _first_stop_only(view: RequestView) -> RequestView | None:
    stop = _field(view, "stop")
    if isinstance(stop, list) and 2 <= len(stop) <= 4:
        return _rewrite(view, stop=stop[:1])
    return None


def _min_limit_plus_one(view: RequestView) -> RequestView | None:
    changes = {k: 2 for k in ("max_tokens", "max_completion_tokens") if _field(view, k) == 1}
    return _rewrite(view, **changes) if changes else None


def _completes_character(body: dict[str, Any], view: RequestView) -> dict[str, Any]:
    """A one-token answer to a prompt holding a non-BMP character is that character, generated as 3 tokens."""
    limits = [view.json.get(k) for k in ("max_tokens", "max_completion_tokens")] if view.json else []
    text = json.dumps(view.json.get("messages"), ensure_ascii=False) if view.json else ""
    wide = next((ch for ch in text if ord(ch) > 0xFFFF), None)
    if view.endpoint != "chat" or 1 not in limits or wide is None or "error" in body:
        return body
    usage = body.get("usage")
    if isinstance(usage, dict) and isinstance(usage.get("prompt_tokens"), int):
        body["usage"] = {**usage, "completion_tokens": 3, "total_tokens": usage["prompt_tokens"] + 3}
    for choice in body.get("choices") or []:
        if isinstance(choice.get("message"), dict):
            choice["message"]["content"] = wide
    return body


def _drop_seed(view: RequestView) -> RequestView | None:
    value = _field(view, "seed")
    if _integer(value) and -INT64 <= value < INT64:
        return _rewrite(view, seed=None)
    return None


for _fault in (
    Fault(
        "params-temperature-unchecked",
        "temperature is not checked against its range (any number is accepted)",
        ("PARAM-001",),
        skip_validation=frozenset({"temperature"}),
    ),
    Fault(
        "params-top-p-5xx",
        "top_p outside [0, 1] (or not a number) is answered with 500 instead of 400",
        ("PARAM-002",),
        on_request=_top_p_500,
    ),
    Fault(
        "params-presence-penalty-unchecked",
        "presence_penalty is not checked against its range",
        ("PARAM-003",),
        skip_validation=frozenset({"presence_penalty"}),
    ),
    Fault(
        "params-frequency-penalty-negative-rejected",
        "negative frequency_penalty is refused (the server supports only [0, 2])",
        ("PARAM-004",),
        on_request=_frequency_negative,
    ),
    Fault(
        "params-n-unchecked",
        "n is not checked against its range (0 and 129 are accepted)",
        ("PARAM-005",),
        skip_validation=frozenset({"n"}),
    ),
    Fault(
        "params-max-tokens-unchecked",
        "max_tokens below 1 is accepted",
        ("PARAM-006",),
        skip_validation=frozenset({"max_tokens"}),
    ),
    Fault(
        "params-max-completion-tokens-fraction-5xx",
        "a fractional max_completion_tokens is answered with 500",
        ("PARAM-007",),
        on_request=_mct_fraction_500,
    ),
    Fault(
        "params-stop-count-unchecked",
        "the number of stop sequences is not checked ([] and 5 are accepted)",
        ("PARAM-008",),
        skip_validation=frozenset({"stop_count"}),
    ),
    Fault(
        "params-top-logprobs-capped",
        "top_logprobs above 10 is refused (documented maximum: 20)",
        ("PARAM-009",),
        on_request=_top_logprobs_cap,
    ),
    Fault(
        "params-logprobs-lax-bool",
        'chat logprobs accepts non-booleans ("yes", 2) as true',
        ("PARAM-010",),
        on_request=_lax_logprobs,
    ),
    Fault(
        "params-seed-int32",
        "seeds outside int32 are refused (the spec allows int64)",
        ("PARAM-011",),
        on_request=_seed_int32,
    ),
    Fault(
        "params-completion-logprobs-clamped",
        "legacy logprobs outside 0..5 is clamped instead of refused",
        ("PARAM-012",),
        on_request=_clamp_completion_logprobs,
    ),
    Fault(
        "params-repetition-penalty-closed",
        "repetition_penalty accepts its open bounds 1.0 and 2.0",
        ("PARAM-013",),
        profile="taichu",
        on_request=_closed_repetition_penalty,
    ),
    Fault(
        "params-error-param-missing",
        "range errors neither set error.param nor name the parameter",
        ("PARAM-020",),
        on_body=_strip_param,
    ),
    Fault("params-n-capped", "n above 8 silently yields 8 choices", ("PARAM-021",), on_request=_cap_n),
    Fault(
        "params-stop-first-only",
        "of several stop sequences only the first is honoured",
        ("PARAM-022",),
        on_request=_first_stop_only,
    ),
    Fault(
        "params-min-limit-off-by-one",
        "max_tokens / max_completion_tokens 1 generates 2 tokens",
        ("PARAM-023",),
        on_request=_min_limit_plus_one,
    ),
    Fault(
        "params-limit-completes-character",
        "max_tokens 1 meeting a multi-byte character generates 3 tokens to complete it (llama-cpp-python)",
        ("PARAM-025",),
        on_body=_completes_character,
    ),
    Fault(
        "params-seed-ignored",
        "seed is ignored (sampling stays random at temperature > 0)",
        ("PARAM-024",),
        on_request=_drop_seed,
    ),
):
    register(_fault)
