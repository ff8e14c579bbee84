"""Behaviour rates over trials (opt-in, `--trials N`): how often a deployment does what clients rely on.

The forced tool-call probe and the json_object probe are each sent N more times; every answer is
judged on its own and each rate is reported with its 95% Wilson score interval (Wilson 1927,
"Probable inference, the law of succession, and statistical inference", JASA 22:209-212):

- `tool_call_schema_valid`: a tool call was made and its `arguments` string parses as JSON that
  validates against the declared function's `parameters` schema;
- `forced_tool_honoured`: the named `tool_choice` function was called;
- `json_valid`: the json_object answer's content parses as a JSON object.

A profile may set `trial_thresholds` (metric -> minimum rate). A rate is `below` its threshold when
the whole interval is under it (that fails the run), `met` when the whole interval is at or above it,
and `inconclusive` otherwise (more trials would tell). Trials cost exactly N requests per applicable
probe, stated before they start; they are counted in `requests_made` and not in `--max-requests`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from jsonschema import Draft202012Validator

from maascheck.conformance.model.probe import PROBES, ProbeEnv

if TYPE_CHECKING:
    from maascheck.conformance.engine.runner import Suite
    from maascheck.conformance.model.exchange import Exchange

Z95 = 1.959963984540054


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of `successes` out of `n` (0..1 each); (0, 1) when n is 0."""
    if n <= 0:
        return 0.0, 1.0
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def _first_choice_message(ex: Exchange) -> dict[str, Any] | None:
    body = ex.json if ex.status == 200 else None
    choices = body.get("choices") if isinstance(body, dict) else None
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        return None
    message = choices[0].get("message")
    return message if isinstance(message, dict) else None


def _calls(ex: Exchange) -> list[dict[str, Any]]:
    message = _first_choice_message(ex)
    calls = message.get("tool_calls") if message else None
    return [c for c in calls if isinstance(c, dict)] if isinstance(calls, list) else []


def _function(call: dict[str, Any]) -> dict[str, Any]:
    fn = call.get("function")
    return fn if isinstance(fn, dict) else {}


def _forced_name(request: dict[str, Any]) -> str | None:
    choice = request.get("tool_choice")
    fn = choice.get("function") if isinstance(choice, dict) else None
    name = fn.get("name") if isinstance(fn, dict) else None
    return name if isinstance(name, str) else None


def forced_tool_honoured(ex: Exchange, request: dict[str, Any]) -> bool:
    """The answer calls the function the named tool_choice forced."""
    forced = _forced_name(request)
    return any(_function(c).get("name") == forced for c in _calls(ex))


def tool_call_schema_valid(ex: Exchange, request: dict[str, Any]) -> bool:
    """A tool call was made; its arguments string is JSON valid against the declared function's parameters."""
    declared = {
        t["function"]["name"]: t["function"].get("parameters", {})
        for t in request.get("tools", [])
        if isinstance(t, dict) and isinstance(t.get("function"), dict)
    }
    calls = _calls(ex)
    if not calls:
        return False
    for call in calls:
        fn = _function(call)
        schema, arguments = declared.get(str(fn.get("name"))), fn.get("arguments")
        if schema is None or not isinstance(arguments, str):
            return False
        try:
            value = json.loads(arguments)
        except ValueError:
            return False
        if not Draft202012Validator(schema).is_valid(value):
            return False
    return True


def json_valid(ex: Exchange, request: dict[str, Any]) -> bool:
    """The json_object answer's content parses as a JSON object."""
    message = _first_choice_message(ex)
    content = message.get("content") if message else None
    if not isinstance(content, str):
        return False
    try:
        return isinstance(json.loads(content), dict)
    except ValueError:
        return False


@dataclass(frozen=True)
class Metric:
    """One rate: which probe is repeated and how one answer is judged."""

    name: str
    probe: str
    judge: Callable[[Exchange, dict[str, Any]], bool]


METRICS = (
    Metric("tool_call_schema_valid", "tools", tool_call_schema_valid),
    Metric("forced_tool_honoured", "tools", forced_tool_honoured),
    Metric("json_valid", "so-json-object", json_valid),
)
TRIAL_PROBES = tuple(dict.fromkeys(m.probe for m in METRICS))


def applicable_probes(suite: Suite) -> tuple[list[str], dict[str, str]]:
    """The probes trials can repeat under this profile, and why the others cannot."""
    ok, why = [], {}
    for name in TRIAL_PROBES:
        missing = [f for f in PROBES[name].requires if not suite.profile.feature(f)]
        if missing:
            why[name] = f"profile {suite.profile.name!r} does not document: {', '.join(missing)}"
        else:
            ok.append(name)
    return ok, why


def plan_line(trials: int, probes: list[str]) -> str:
    """The statement made before trials start: how many requests they will make."""
    return (
        f"trials: {trials} x {len(probes)} probe{'s' if len(probes) != 1 else ''} ({', '.join(probes) or 'none'}) "
        f"= {trials * len(probes)} requests, on top of the suite's"
    )


def _verdict(low: float, high: float, threshold: float | None) -> str | None:
    if threshold is None:
        return None
    if high < threshold:
        return "below"
    return "met" if low >= threshold else "inconclusive"


def run_trials(suite: Suite, trials: int) -> dict[str, Any]:
    """Send each applicable trial probe `trials` times (concurrently, bounded) and rate every metric."""
    probes, why = applicable_probes(suite)
    suite.progress(plan_line(trials, probes))
    env = ProbeEnv(suite.profile, suite.options, suite.exchange)
    thresholds = suite.profile.raw.get("trial_thresholds") or {}
    answers: dict[str, list[Exchange]] = {}
    requests: dict[str, dict[str, Any]] = {}
    with ThreadPoolExecutor(max_workers=max(1, suite.options.concurrency)) as pool:
        for name in probes:
            p = PROBES[name]
            body = p.body(env) if p.body is not None else None
            requests[name] = body if isinstance(body, dict) else {}
            futures = [
                pool.submit(suite.recorder.record, f"trial {name} #{i + 1}", p.method, p.path, body, auth=p.auth)
                for i in range(trials)
            ]
            answers[name] = [f.result() for f in futures]
    suite.trial_requests += sum(len(v) for v in answers.values())
    rates = []
    for m in METRICS:
        threshold = thresholds.get(m.name)
        if m.probe not in answers:
            rates.append(
                {
                    "name": m.name,
                    "probe": m.probe,
                    "skipped": why.get(m.probe, "not run"),
                    "successes": 0,
                    "trials": 0,
                    "rate": None,
                    "ci95": None,
                    "threshold": threshold,
                    "verdict": None,
                }
            )
            continue
        got = answers[m.probe]
        successes = sum(1 for ex in got if m.judge(ex, requests[m.probe]))
        low, high = wilson(successes, len(got))
        rates.append(
            {
                "name": m.name,
                "probe": m.probe,
                "skipped": None,
                "successes": successes,
                "trials": len(got),
                "rate": round(successes / len(got), 4) if got else None,
                "ci95": [round(low, 4), round(high, 4)],
                "threshold": threshold,
                "verdict": _verdict(low, high, threshold),
            }
        )
    return {"trials": trials, "requests": sum(len(v) for v in answers.values()), "rates": rates}
