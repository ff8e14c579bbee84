"""Parameter ranges: values inside are accepted, values outside refused with 4xx, honoured values take effect.

Each range rule sends the boundary cases of one parameter (conformance/boundaries.py: the values
straddling each bound, a type confusion, an overflow) plus a Hypothesis draw, and classifies each
answer as accepted, rejected properly (4xx), rejected wrongly (5xx, transport failure, an error
in a 200) or inconclusive (408/429). Ranges come from the ACTIVE profile, so the same rule judges
seed 001's open top_p (0.0, 1.0) and the spec's closed [0, 1] differently. Effect rules judge the
values at the edges (n at its maximum, the last of the most stop sequences, the smallest token
limit, a repeated seed); the basic-request effects belong to the CHAT-/FINISH-/USAGE- rules.
Sources: OpenAI spec CreateChatCompletionRequest and CreateCompletionRequest; the seed providers'
documented ranges via the profiles' `ranges`.
"""

from __future__ import annotations

import json
import math
import re
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from maascheck.conformance.model.exchange import Exchange
from maascheck.conformance.model.probe import Probe, ProbeEnv, probe
from maascheck.conformance.model.rule import Defect, Impact, Level, NotApplicable, RuleContext, Violation, rule
from maascheck.conformance.rules._common import message_of, model_for
from maascheck.conformance.rules.boundaries import (
    BoundaryCase,
    boolean_cases,
    boundary_cases,
    draws,
    explore,
    interval,
    reject_case,
)
from maascheck.core.profiles import Profile, Range

PROMPT = "Say hi."
DRAWS_PER_RULE = 1
"""Hypothesis draws per range rule on top of its essential boundary cases (each is a paid request)."""
N_CAP = 128
"""The largest `n` the n-at-maximum probe asks for (the spec's maximum; caps a profile's larger one)."""
STOP_CAP = 16
"""The most stop sequences the stop probe sends (the spec allows 4)."""
EFFECT_TOKENS = 32
"""max_tokens of the stop and seed probes: text enough to cut a stop sequence from, even after reasoning."""
SPEC_A1 = "OpenAI spec CreateChatCompletionRequest"
SPEC_A5 = "OpenAI spec CreateCompletionRequest"


# -- classification ----------------------------------------------------------------------------------


class Outcome(StrEnum):
    """How the endpoint answered one value."""

    ACCEPTED = "accepted"
    REJECTED = "rejected properly"
    REJECTED_WRONGLY = "rejected wrongly"
    INCONCLUSIVE = "inconclusive"


@dataclass(frozen=True)
class Judgement:
    """One sent value, how the endpoint answered it and whether that matches the profile's range."""

    case: BoundaryCase
    outcome: Outcome
    detail: str  # the answer, stated: "HTTP 400 (param 'temperature')", "transport failure (timeout): ..."
    exchange: Exchange

    @property
    def correct(self) -> bool | None:
        """Whether the answer matches the expectation (None when it cannot say, e.g. a 429)."""
        if self.outcome is Outcome.INCONCLUSIVE:
            return None
        wanted = Outcome.ACCEPTED if self.case.expected_inside else Outcome.REJECTED
        return self.outcome is wanted


def error_fields(ex: Exchange) -> tuple[Any, Any]:
    """`(error.param, error.message)` of an OpenAI error envelope, (None, None) without one."""
    body = ex.json
    err = body.get("error") if isinstance(body, dict) else None
    if not isinstance(err, dict):
        return None, None
    return err.get("param"), err.get("message")


def _short(value: Any, limit: int = 90) -> str:
    """`value` on one line, cut to `limit` characters."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def classify(case: BoundaryCase, ex: Exchange) -> Judgement:
    """Classify the answer to one value: 2xx accepted, 4xx rejected properly, 5xx/transport rejected wrongly.

    408 and 429 say nothing about the value (inconclusive); 401/403/404 refuse the request for
    another reason (auth, routing, model) and count as wrong; so does a 2xx carrying an error object.
    """
    if ex.status is None:
        return Judgement(
            case, Outcome.REJECTED_WRONGLY, f"transport failure ({ex.error_kind}): {ex.error}", ex
        )
    param, message = error_fields(ex)
    said = (
        ""
        if param is None and message is None
        else f" (param {json.dumps(param)}, message {_short(message)})"
    )
    if 200 <= ex.status < 300:
        body = ex.json
        if isinstance(body, dict) and "error" in body and "choices" not in body:
            return Judgement(
                case, Outcome.REJECTED_WRONGLY, f"HTTP {ex.status} carrying an error object{said}", ex
            )
        return Judgement(case, Outcome.ACCEPTED, f"HTTP {ex.status} (accepted)", ex)
    if ex.status in (408, 429):
        return Judgement(case, Outcome.INCONCLUSIVE, f"HTTP {ex.status}{said}", ex)
    if ex.status in (401, 403, 404):
        return Judgement(
            case,
            Outcome.REJECTED_WRONGLY,
            f"HTTP {ex.status}: refused for a reason other than the value{said}",
            ex,
        )
    if 400 <= ex.status < 500:
        return Judgement(case, Outcome.REJECTED, f"HTTP {ex.status}{said}", ex)
    return Judgement(case, Outcome.REJECTED_WRONGLY, f"HTTP {ex.status}{said}", ex)


def names_param(ex: Exchange, name: str) -> bool:
    """Whether the error names parameter `name` in `error.param` or `error.message` (as a word)."""
    pattern = re.compile(rf"(?<![A-Za-z0-9_]){re.escape(name)}(?![A-Za-z0-9_])")
    param, message = error_fields(ex)
    if param is None and message is None:  # no envelope: any mention in the body counts
        body = ex.json
        text = (
            json.dumps(body, ensure_ascii=False) if body is not None else ex.body.decode("utf-8", "replace")
        )
        return bool(pattern.search(text))
    return any(isinstance(v, str) and pattern.search(v) for v in (param, message))


def shown(value: Any) -> str:
    """A sent value as it appeared on the wire (infinity is sent as the JSON number 1e999)."""
    if isinstance(value, float) and math.isinf(value):
        return "1e999" if value > 0 else "-1e999"
    return json.dumps(value)


def sent_value(j: Judgement, param: str | None) -> str:
    """The value as the request carried it in `param`; a count case (stop) is sent as that many strings."""
    sent = j.exchange.request_json
    v = sent.get(param) if isinstance(sent, dict) and param else None
    if isinstance(v, list) and isinstance(j.case.value, int) and len(v) == j.case.value:
        return f"[{len(v)} strings]"
    return shown(j.case.value)


def table(judgements: Iterable[Judgement], param: str | None = None) -> str:
    """The wrongly judged values as a fixed-width table: value, why, expected, received."""
    rows = [("value", "case", "expected", "received")]
    for j in judgements:
        expected = "accepted (2xx)" if j.case.expected_inside else "rejected with 4xx (400 preferred)"
        said = j.detail if j.outcome in (Outcome.ACCEPTED, Outcome.REJECTED) else f"{j.outcome}: {j.detail}"
        rows.append((_short(sent_value(j, param), 28), j.case.why, expected, said))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    return "\n".join("  " + "  ".join(r[i].ljust(widths[i]) for i in range(3)) + "  " + r[3] for r in rows)


# -- requests ------------------------------------------------------------------------------------------

_INF = "__maascheck_inf__"


def wire_body(body: dict[str, Any]) -> dict[str, Any] | bytes:
    """`body` to send: as is, or as bytes with infinities written 1e999 (valid JSON that overflows)."""

    def mark(v: Any) -> Any:
        if isinstance(v, float) and math.isinf(v):
            return _INF if v > 0 else "-" + _INF
        return v

    if not any(isinstance(v, float) and math.isinf(v) for v in body.values()):
        return body
    text = json.dumps({k: mark(v) for k, v in body.items()}, ensure_ascii=False)
    text = text.replace(f'"-{_INF}"', "-1e999").replace(f'"{_INF}"', "1e999")
    return text.encode("utf-8")


def base_body(model: str, endpoint: str, **extra: Any) -> dict[str, Any]:
    """A cheap request: one short user message (or prompt), max_tokens 1, no stream, plus `extra`."""
    body: dict[str, Any] = {"model": model}
    if endpoint == "chat":
        body["messages"] = [{"role": "user", "content": PROMPT}]
    else:
        body["prompt"] = PROMPT
    body |= {"max_tokens": 1, "stream": False}
    body.update(extra)
    return body


def _stop_value(case: BoundaryCase) -> Any:
    """A stop count as that many distinct sequences no output contains; other cases are sent as they are."""
    if case.kind in ("bound", "neighbour", "draw") and isinstance(case.value, int):
        return [f"@@maascheck-stop-{i}@@" for i in range(case.value)]
    return case.value


@dataclass(frozen=True)
class ParamSpec:
    """One parameter a range rule explores: its profile range, its request field and its endpoint."""

    rule_id: str
    range_name: str  # key in profile.ranges
    param: str  # the request field (and the name an error should give)
    source: str
    endpoint: str = "chat"
    requires: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)  # fields the value needs (logprobs: true)
    floor: float | None = None  # values below it cannot be expressed (a count)
    encode: Callable[[BoundaryCase], Any] = lambda case: case.value
    type_cases: tuple[BoundaryCase, ...] | None = None  # replaces the generic type confusion
    boolean: bool = False  # a JSON boolean, not a range
    vendor: bool = False  # a vendor extension: judged only when features.vendor_params lists it

    @property
    def path(self) -> str:
        """The endpoint path below the base URL."""
        return "/chat/completions" if self.endpoint == "chat" else "/completions"

    def body(self, model: str, case: BoundaryCase) -> dict[str, Any] | bytes:
        """The request that sends `case.value` for this parameter."""
        body = base_body(model, self.endpoint, **self.extra)
        if self.param == "max_completion_tokens":
            del body["max_tokens"]  # one token limit at a time
        body[self.param] = self.encode(case)
        return wire_body(body)

    def cases(self, rng: Range | None) -> list[BoundaryCase]:
        """The essential cases this rule sends (before the Hypothesis draws)."""
        if self.boolean or rng is None:
            return boolean_cases()
        out = [c for c in boundary_cases(rng, floor=self.floor) if c.essential]
        if self.type_cases is not None:
            out = [c for c in out if c.kind not in ("type", "non-finite")] + list(self.type_cases)
        return out


SPECS: tuple[ParamSpec, ...] = (
    ParamSpec(
        "PARAM-001",
        "temperature",
        "temperature",
        f"{SPEC_A1} temperature minimum 0, maximum 2; 预置多模态大模型服务接口说明 [0.01, 1.00] closed; "
        "openapi.hhaice.com 0-2",
    ),
    ParamSpec(
        "PARAM-002",
        "top_p",
        "top_p",
        f"{SPEC_A1} top_p minimum 0, maximum 1 (inclusive); 预置多模态大模型服务接口说明 (0.0, 1.0) open",
    ),
    ParamSpec(
        "PARAM-003",
        "presence_penalty",
        "presence_penalty",
        f"{SPEC_A1} presence_penalty minimum -2, maximum 2; openapi.hhaice.com [-2.0, 2.0]",
    ),
    ParamSpec(
        "PARAM-004",
        "frequency_penalty",
        "frequency_penalty",
        f"{SPEC_A1} frequency_penalty minimum -2, maximum 2; openapi.hhaice.com [-2.0, 2.0]",
    ),
    ParamSpec("PARAM-005", "n", "n", f"{SPEC_A1} n integer minimum 1, maximum 128"),
    ParamSpec(
        "PARAM-006",
        "max_tokens",
        "max_tokens",
        f"{SPEC_A1} max_tokens integer (no schema bound; values below 1 cannot produce output)",
    ),
    ParamSpec(
        "PARAM-007",
        "max_completion_tokens",
        "max_completion_tokens",
        f"{SPEC_A1} max_completion_tokens integer (no schema bound; values below 1 cannot produce output)",
    ),
    ParamSpec(
        "PARAM-008",
        "stop_count",
        "stop",
        f"{SPEC_A1} stop: StopConfiguration, a string or an array of 1 to 4 strings",
        floor=0,
        encode=_stop_value,
        type_cases=(
            BoundaryCase(7, False, "a number where the spec types a string or array of strings", "type"),
        ),
    ),
    ParamSpec(
        "PARAM-009",
        "top_logprobs",
        "top_logprobs",
        f"{SPEC_A1} top_logprobs integer minimum 0, maximum 20",
        requires=("logprobs",),
        extra={"logprobs": True},
    ),
    ParamSpec(
        "PARAM-010",
        "logprobs",
        "logprobs",
        f"{SPEC_A1} logprobs: boolean, nullable",
        requires=("logprobs",),
        boolean=True,
    ),
    ParamSpec("PARAM-011", "seed", "seed", f"{SPEC_A1} seed integer, int64 bounds"),
    ParamSpec(
        "PARAM-012",
        "completion_logprobs",
        "logprobs",
        f"{SPEC_A5} logprobs integer minimum 0, maximum 5",
        endpoint="completions",
        requires=("completions",),
    ),
    ParamSpec(
        "PARAM-013",
        "repetition_penalty",
        "repetition_penalty",
        "预置多模态大模型服务接口说明 repetition_penalty (1.0, 2.0) open, step 0.1 "
        "(vendor extension; profiles listing it)",
        vendor=True,
    ),
)
SPEC_BY_RANGE = {s.range_name: s for s in SPECS}

# Out-of-range requests shared by a range rule and PARAM-020 (one exchange serves both).
REJECT_PROBES = {
    name: f"params-reject-{name.replace('_', '-')}" for name in ("temperature", "top_p", "n", "max_tokens")
}


def profile_range(profile: Profile, spec: ParamSpec) -> Range:
    """The profile's range for `spec`, or NotApplicable saying the profile documents none."""
    if spec.vendor and spec.param not in profile.feature("vendor_params", []):
        raise NotApplicable(
            f"profile {profile.name!r} does not list the vendor parameter {spec.param!r} "
            f"(features.vendor_params: {profile.feature('vendor_params', [])})"
        )
    rng = profile.ranges.get(spec.range_name)
    if rng is None:
        raise NotApplicable(
            f"profile {profile.name!r} documents no range for {spec.param!r} (ranges.{spec.range_name})"
        )
    return rng


def _reject_body(spec: ParamSpec) -> Callable[[ProbeEnv], dict[str, Any] | bytes]:
    def build(env: ProbeEnv) -> dict[str, Any] | bytes:
        case = reject_case(profile_range(env.profile, spec), floor=spec.floor)
        if case is None:
            raise NotApplicable(f"the range of {spec.param!r} has no finite bound to step outside of")
        return spec.body(model_for(env.profile, env.options), case)

    return build


for _name, _probe_name in REJECT_PROBES.items():
    _spec = SPEC_BY_RANGE[_name]
    probe(Probe(_probe_name, "POST", _spec.path, body=_reject_body(_spec)))


# -- range rules -------------------------------------------------------------------------------------


def _send(ctx: RuleContext, spec: ParamSpec, rng: Range | None, case: BoundaryCase) -> Exchange:
    shared = REJECT_PROBES.get(spec.range_name)
    if shared and rng is not None:
        reject = reject_case(rng, floor=spec.floor)
        if reject is not None and reject.value == case.value and type(reject.value) is type(case.value):
            return ctx.exchange(shared)
    model = model_for(ctx.profile, ctx.options)
    return ctx.send(
        "POST", spec.path, spec.body(model, case), label=f"{spec.rule_id} {spec.param}={shown(case.value)}"
    )


def check_range(ctx: RuleContext, spec: ParamSpec) -> None:
    """Send every essential boundary case and the Hypothesis draws; fail on any wrongly answered value."""
    rng = None if spec.boolean else profile_range(ctx.profile, spec)
    cases = spec.cases(rng)
    strategy = draws(rng, floor=spec.floor) if rng is not None else None
    run_seed = (int(getattr(ctx.options, "seed", 0) or 0) + zlib.crc32(spec.rule_id.encode())) % 2**32
    plan = explore(cases, strategy, run_seed=run_seed, count=DRAWS_PER_RULE)
    judgements: list[Judgement] = []
    stopped: str | None = None
    for case in plan:
        try:
            ex = _send(ctx, spec, rng, case)
        except NotApplicable as exc:  # the request budget is spent
            stopped = f"{exc} after {len(judgements)} of {len(plan)} values"
            break
        judgements.append(classify(case, ex))
    documented = f"range {interval(rng)}" if rng is not None else "values true and false"
    valid = f"every {rng.kind} in {interval(rng)}" if rng is not None else "true and false"
    if rng is not None and spec.range_name.endswith("_count"):
        valid = f"{interval(rng)} {spec.param} strings (an array of that many)"
    wrong = [j for j in judgements if j.correct is False]
    if wrong:
        ctx.used[:] = [j.exchange for j in wrong]  # evidence: the exchanges that show the wrong answers
        note = f"\n(exploration stopped early: {stopped})" if stopped else ""
        raise Violation(
            f"{spec.param}: {len(wrong)} of {len(judgements)} values answered wrongly for the documented "
            f"{documented} (profile {ctx.profile.name!r}; {rng.source if rng else spec.source}):\n"
            f"{table(wrong, spec.param)}\nFix: accept {valid}; answer 400 with error.param {spec.param!r} for "
            f"any other value (out of range or of another JSON type).{note}",
            expected=[
                {
                    "value": sent_value(j, spec.param),
                    "case": j.case.why,
                    "expected": "accepted" if j.case.expected_inside else "rejected with 4xx",
                }
                for j in wrong
            ],
            received=[
                {"value": sent_value(j, spec.param), "outcome": str(j.outcome), "detail": j.detail} for j in wrong
            ],
            where=f"POST {spec.path} body.{spec.param}",
        )
    if stopped:
        raise NotApplicable(f"{spec.param}: {stopped}; no wrong answer among those sent")
    unsure = [j for j in judgements if j.correct is None]
    if unsure:
        raise NotApplicable(
            f"{spec.param}: {len(unsure)} values could not be judged "
            f"({', '.join(f'{shown(j.case.value)}: {j.detail}' for j in unsure)})"
        )


def _range_rule(spec: ParamSpec) -> None:
    documented = "true and false are" if spec.boolean else "values inside the profile's range are"
    rejected = "non-boolean values" if spec.boolean else "values outside it"
    title = f"`{spec.param}`: {documented} accepted and {rejected} are refused with 4xx (never 5xx)"
    if spec.endpoint == "completions":
        title = "legacy completions " + title

    def check(ctx: RuleContext) -> None:
        check_range(ctx, spec)

    check.__name__ = f"param_{spec.range_name}"
    check.__doc__ = (
        f"Boundary cases of {spec.param!r} ({spec.endpoint}) from the active profile's "
        f"ranges.{spec.range_name}, plus a Hypothesis draw; each answer is classified."
    )
    shared = REJECT_PROBES.get(spec.range_name)
    rule(
        spec.rule_id,
        Level.MUST,
        title,
        source=spec.source,
        probes=(shared,) if shared else (),
        impact=Impact.SPEC,
        requires=spec.requires,
    )(check)


for _spec in SPECS:
    _range_rule(_spec)


@rule(
    "PARAM-020",
    Level.SHOULD,
    "A 4xx for an out-of-range value names the parameter in error.param or the message",
    source=f"{SPEC_A1}; OpenAI spec Error.param (string|null)",
    probes=tuple(REJECT_PROBES.values()),
    impact=Impact.HYGIENE,
)
def rejection_names_param(ctx: RuleContext) -> None:
    """The out-of-range requests the range rules share (temperature, top_p, n, max_tokens just outside)."""
    judged: list[tuple[str, Exchange]] = []
    for name, probe_name in REJECT_PROBES.items():
        try:
            ex = ctx.exchange(probe_name)
        except NotApplicable:
            continue
        if ex.status is not None and 400 <= ex.status < 500 and ex.status not in (401, 403, 404, 408, 429):
            judged.append((SPEC_BY_RANGE[name].param, ex))
    if not judged:
        raise NotApplicable("no out-of-range probe was refused with 4xx; PARAM-001/002/005/006 judge that")
    silent = [(param, ex) for param, ex in judged if not names_param(ex, param)]
    if silent:
        ctx.used[:] = [ex for _, ex in silent]
        lines = [
            f"  {param}: HTTP {ex.status}, param {json.dumps(error_fields(ex)[0])}, message "
            f"{_short(error_fields(ex)[1])}"
            for param, ex in silent
        ]
        raise Violation(
            f"{len(silent)} of {len(judged)} rejections do not name the parameter:\n"
            + "\n".join(lines)
            + "\nFix: set error.param to the parameter (as OpenAI does) or name it in error.message.",
            expected=[param for param, _ in silent],
            received=[{"param": error_fields(ex)[0], "message": error_fields(ex)[1]} for _, ex in silent],
            where="error.param / error.message",
        )


# -- effect rules: the values at the edges act -----------------------------------------------------------


def choices_of(ex: Exchange) -> list[dict[str, Any]]:
    """The `choices` of a JSON chat completion ([] when absent)."""
    body = ex.json
    choices = body.get("choices") if isinstance(body, dict) else None
    return [c for c in choices if isinstance(c, dict)] if isinstance(choices, list) else []


def content_of(choice: dict[str, Any]) -> str | None:
    """`choice.message.content` when it is a string."""
    msg = choice.get("message")
    content = msg.get("content") if isinstance(msg, dict) else None
    return content if isinstance(content, str) else None


def _output(choice: dict[str, Any]) -> list[Any]:
    """What a choice produced: reasoning (vendor `reasoning_content`), content and tool calls."""
    msg = choice.get("message")
    msg = msg if isinstance(msg, dict) else {}
    return [msg.get("reasoning_content"), msg.get("content"), msg.get("tool_calls")]


def accepted_or_skip(ex: Exchange, judged_by: str) -> None:
    """NotApplicable unless `ex` was accepted: refusals are the range rules' to judge."""
    if ex.status is None or not 200 <= ex.status < 300 or not choices_of(ex):
        got = ex.status if ex.status is not None else ex.error_kind
        raise NotApplicable(
            f"{ex.probe} was not answered with a chat completion ({got}); {judged_by} judges that"
        )


def top_n(rng: Range) -> int:
    """The n the n-at-maximum probe asks for: the documented maximum, capped at N_CAP."""
    return int(min(rng.max, N_CAP)) if rng.max is not None else N_CAP


def _n_max_body(env: ProbeEnv) -> dict[str, Any]:
    rng = profile_range(env.profile, SPEC_BY_RANGE["n"])
    return base_body(model_for(env.profile, env.options), "chat", n=top_n(rng))


probe(Probe("params-n-max", "POST", "/chat/completions", body=_n_max_body, requires=("n",)))


def n_problem(ex: Exchange, n: int) -> str | None:
    """Why the answer to a request with `n` does not hold n choices indexed 0..n-1 (None when it does)."""
    indexes = sorted(i for i in (c.get("index") for c in choices_of(ex)) if isinstance(i, int))
    if len(choices_of(ex)) != n:
        return f"{len(choices_of(ex))} choices for n={n}"
    if indexes != list(range(n)):
        return f"choice indexes are not 0..{n - 1}"
    return None


@rule(
    "PARAM-021",
    Level.MUST,
    "`n` at the top of its range (128 in the spec) yields exactly n choices",
    source=f"{SPEC_A1} n maximum 128; CreateChatCompletionResponse.choices",
    probes=("params-n-max",),
    requires=("n",),
    impact=Impact.SPEC,
)
def n_at_max(ctx: RuleContext) -> None:
    """A server that silently caps n passes a basic n=2 request but fails here."""
    ex = ctx.exchange("params-n-max")
    accepted_or_skip(ex, "PARAM-005")
    n = int(ex.request_json["n"])
    problem = n_problem(ex, n)
    if problem:
        raise Violation(
            f"n={n} was accepted but ignored: {problem}. Fix: return n choices or refuse "
            f"n above the supported maximum with 400 (and document that maximum).",
            expected=f"{n} choices indexed 0..{n - 1}",
            received=problem,
            where="choices",
            exchange=ex,
        )


def _determinism(env: ProbeEnv) -> dict[str, Any]:
    """temperature 0 when the profile allows it: the reference and the stop request then share their text."""
    rng = env.profile.ranges.get("temperature")
    return {"temperature": 0} if rng is None or rng.contains(0) else {}


def _stop_reference(env: ProbeEnv) -> dict[str, Any]:
    extra = _determinism(env) | {"max_tokens": EFFECT_TOKENS}
    return base_body(model_for(env.profile, env.options), "chat", **extra)


def choose_stop(content: str) -> str | None:
    """A stop sequence from the middle of `content` that does not occur at its very start."""
    words = [m for m in re.finditer(r"[A-Za-z]{3,}", content) if content.find(m.group()) > 0]
    if words:
        return words[len(words) // 2].group()
    middle = len(content) // 2
    piece = content[middle : middle + 2]
    return piece if len(piece) == 2 and not piece.isspace() and content.find(piece) > 0 else None


def _stop_max(env: ProbeEnv) -> dict[str, Any]:
    rng = profile_range(env.profile, SPEC_BY_RANGE["stop_count"])
    reference = env.exchange("params-stop-reference")
    choices = choices_of(reference)
    content = content_of(choices[0]) if choices else None
    stop = choose_stop(content or "")
    if stop is None:
        raise NotApplicable(
            f"the reference request (params-stop-reference) gave no text to take a stop sequence from "
            f"(HTTP {reference.status}, error {reference.error_kind})"
        )
    count = int(min(rng.max, STOP_CAP)) if rng.max is not None else 4
    stops = [f"@@maascheck-stop-{i}@@" for i in range(count - 1)] + [stop]
    extra = _determinism(env) | {"max_tokens": EFFECT_TOKENS, "stop": stops}
    return base_body(model_for(env.profile, env.options), "chat", **extra)


probe(Probe("params-stop-reference", "POST", "/chat/completions", body=_stop_reference, requires=("stop",)))
probe(
    Probe(
        "params-stop-max",
        "POST",
        "/chat/completions",
        body=_stop_max,
        requires=("stop",),
        depends=("params-stop-reference",),
    )
)


def stop_problem(reference: str, stop: str, choice: dict[str, Any]) -> str | None:
    """Why `choice` does not honour `stop` given the `reference` text without it (None when it does).

    NotApplicable when the output left the reference before the stop point (nothing to judge).
    """
    content = content_of(choice) or ""
    if stop in content:
        return f"the output contains the stop sequence {stop!r}: {_short(content)}"
    expected = reference[: reference.find(stop)]
    if content.strip() != expected.strip():
        raise NotApplicable(
            f"the output diverged from the reference before the stop point "
            f"({_short(content)} vs {_short(expected)}): the model is not deterministic here"
        )
    if choice.get("finish_reason") != "stop":
        return (
            f"finish_reason is {choice.get('finish_reason')!r} although the output ended at the stop sequence"
        )
    return None


@rule(
    "PARAM-022",
    Level.MUST,
    "With the most stop sequences allowed (4 in the spec), a match on the last one ends the output before it",
    source=f"{SPEC_A1} stop (StopConfiguration, maxItems 4): 'The returned text will not contain the "
    "stop sequence'",
    probes=("params-stop-reference", "params-stop-max"),
    requires=("stop",),
    impact=Impact.SPEC,
)
def stop_at_max(ctx: RuleContext) -> None:
    """The stop sequence is a word of a first (temperature 0) answer, sent last among decoys."""
    reference = ctx.exchange("params-stop-reference")
    ex = ctx.exchange("params-stop-max")
    accepted_or_skip(ex, "PARAM-008")
    stops = ex.request_json["stop"]
    ref_choices = choices_of(reference)
    problem = stop_problem(content_of(ref_choices[0]) or "", stops[-1], choices_of(ex)[0])
    if problem:
        raise Violation(
            f"stop was accepted but ignored: {problem} (stop list of {len(stops)}, the match is "
            f"the last). Fix: end the output before the earliest match of any listed sequence and "
            f"report finish_reason 'stop'.",
            expected="text before the stop sequence, finish_reason stop",
            received=problem,
            where="choices[0]",
            exchange=ex,
        )


def lowest_temperature(profile: Profile) -> float:
    """The lowest temperature the profile allows: its minimum, 0 when unbounded, one step above an open minimum.

    At 0 (greedy decoding) an answer is reproducible; at a sampled temperature a one-token limit
    may meet a token that is the first byte of a multi-byte character, which llama-cpp-python
    completes with more tokens (docs/real-server.md), so the outcome would vary from run to run.
    """
    rng = profile.ranges.get("temperature")
    if rng is None or rng.min is None:
        return 0.0
    return float(rng.min) + (rng.step or 0.01) if rng.min_open else float(rng.min)


def _min_limit(name: str) -> Callable[[ProbeEnv], dict[str, Any]]:
    def build(env: ProbeEnv) -> dict[str, Any]:
        rng = profile_range(env.profile, SPEC_BY_RANGE[name])
        body = base_body(model_for(env.profile, env.options), "chat", temperature=lowest_temperature(env.profile))
        del body["max_tokens"]
        body[name] = max(1, int(rng.min)) if rng.min is not None else 1
        return body

    return build


MIN_LIMIT_PROBES = {
    "max_tokens": "params-max-tokens-min",
    "max_completion_tokens": "params-max-completion-tokens-min",
}
probe(Probe("params-max-tokens-min", "POST", "/chat/completions", body=_min_limit("max_tokens")))
probe(
    Probe(
        "params-max-completion-tokens-min",
        "POST",
        "/chat/completions",
        body=_min_limit("max_completion_tokens"),
        requires=("max_completion_tokens",),
    )
)


def limit_problem(ex: Exchange, name: str) -> str | None:
    """Why the answer exceeds the token limit `name` it was sent with (None when within it)."""
    limit = int(ex.request_json[name])
    body = ex.json
    usage = body.get("usage") if isinstance(body, dict) else None
    used = usage.get("completion_tokens") if isinstance(usage, dict) else None
    if not isinstance(used, int):
        raise NotApplicable(f"{ex.probe}: no usage.completion_tokens to compare with {name}={limit}")
    if used > limit:
        reasons = [c.get("finish_reason") for c in choices_of(ex)]
        return f"{name}={limit} but usage.completion_tokens={used} (finish_reason {reasons})"
    return None


@rule(
    "PARAM-023",
    Level.MUST,
    "At the bottom of its range (1), a token limit caps usage.completion_tokens",
    source=f"{SPEC_A1} max_tokens, max_completion_tokens; 预置多模态大模型服务接口说明 finish_reason length "
    "(max_tokens)",
    probes=tuple(MIN_LIMIT_PROBES.values()),
    impact=Impact.SPEC,
    defect=Defect.ARITHMETIC,
)
def limit_at_min(ctx: RuleContext) -> None:
    """max_tokens and max_completion_tokens at their documented minimum, each in its own request.

    Sent at the profile's lowest temperature (`lowest_temperature`), so the outcome is reproducible.
    """
    problems: list[tuple[str, Exchange]] = []
    judged = 0
    for name, probe_name in MIN_LIMIT_PROBES.items():
        try:
            ex = ctx.exchange(probe_name)
            accepted_or_skip(ex, "PARAM-006/007")
            problem = limit_problem(ex, name)
        except NotApplicable:
            continue
        judged += 1
        if problem:
            problems.append((problem, ex))
    if not judged:
        raise NotApplicable("no token-limit probe was accepted with usage; PARAM-006/007 judge acceptance")
    if problems:
        ctx.used[:] = [ex for _, ex in problems]
        raise Violation(
            "the smallest token limit was accepted but ignored: "
            + "; ".join(p for p, _ in problems)
            + ". Fix: stop generating at the limit and report finish_reason 'length'.",
            expected="usage.completion_tokens <= the limit",
            received=[p for p, _ in problems],
            where="usage.completion_tokens",
        )


def _seeded(env: ProbeEnv) -> dict[str, Any]:
    rng = env.profile.ranges.get("temperature")
    temperature = 1.0 if rng is None or rng.contains(1.0) else round(((rng.min or 0) + (rng.max or 2)) / 2, 2)
    seed = int(getattr(env.options, "seed", 0) or 0)
    extra = {"temperature": temperature, "seed": seed, "max_tokens": EFFECT_TOKENS}
    return base_body(model_for(env.profile, env.options), "chat", **extra)


probe(Probe("params-seed-a", "POST", "/chat/completions", body=_seeded, requires=("seed",)))
probe(Probe("params-seed-b", "POST", "/chat/completions", body=_seeded, requires=("seed",)))


@rule(
    "PARAM-024",
    Level.SHOULD,
    "The same seed twice at temperature > 0 gives the same output (best effort)",
    source=f"{SPEC_A1} seed: 'repeated requests with the same seed and parameters should return the same "
    "result' (best effort, beta)",
    probes=("params-seed-a", "params-seed-b"),
    requires=("seed",),
    impact=Impact.SPEC,
)
def seed_repeats(ctx: RuleContext) -> None:
    """Two identical seeded requests; the spec only promises best effort, hence SHOULD."""
    a, b = ctx.exchange("params-seed-a"), ctx.exchange("params-seed-b")
    accepted_or_skip(a, "PARAM-011")
    accepted_or_skip(b, "PARAM-011")
    first = [_output(c) for c in choices_of(a)]
    second = [_output(c) for c in choices_of(b)]
    if first != second:
        seed = a.request_json["seed"]
        i = next((i for i, (x, y) in enumerate(zip(first, second, strict=False)) if x != y), 0)
        one, two = (first[i] if i < len(first) else None), (second[i] if i < len(second) else None)
        raise Violation(
            f"seed={seed} at temperature {a.request_json['temperature']} twice gave different outputs "
            f"(choice {i}: {_short(one)} vs {_short(two)}). Fix: seed the sampler from the request's seed.",
            expected=first,
            received=second,
            where=f"choices[{i}].message (reasoning_content, content, tool_calls)",
        )


# A character outside the BMP: four UTF-8 bytes, more than one byte-level BPE token in most tokenizers.
MULTIBYTE_PROMPT = "Write the star emoji 🌟 and nothing else."


def _min_limit_multibyte(env: ProbeEnv) -> dict[str, Any]:
    body = _min_limit("max_tokens")(env)
    body["messages"] = [{"role": "user", "content": MULTIBYTE_PROMPT}]
    return body


probe(Probe("params-max-tokens-min-multibyte", "POST", "/chat/completions", body=_min_limit_multibyte))


@rule(
    "PARAM-025",
    Level.MUST,
    "A token limit of 1 holds when the first token is part of a multi-byte character",
    source=f"{SPEC_A1} max_tokens: 'the maximum number of tokens that can be generated'",
    probes=("params-max-tokens-min", "params-max-tokens-min-multibyte"),
    impact=Impact.SPEC,
)
def limit_at_min_multibyte(ctx: RuleContext) -> None:
    """The smallest max_tokens, at the lowest temperature, asked for an emoji (4 UTF-8 bytes).

    A byte-level tokenizer may need several tokens for one character; the limit still counts
    tokens, so a server may stop inside the character (and drop or replace its bytes) but must not
    generate past the limit to complete it. Judged only when the plain one-token limit held
    (PARAM-023 judges that one).
    """
    plain = ctx.exchange("params-max-tokens-min")
    accepted_or_skip(plain, "PARAM-006")
    if limit_problem(plain, "max_tokens"):
        raise NotApplicable("the plain one-token limit does not hold either; PARAM-023 judges that")
    ex = ctx.exchange("params-max-tokens-min-multibyte")
    accepted_or_skip(ex, "PARAM-006")
    problem = limit_problem(ex, "max_tokens")
    if problem:
        texts = [_short(json.dumps(message_of(c).get("content"), ensure_ascii=False)) for c in choices_of(ex)]
        raise Violation(
            f"asked for an emoji at temperature {ex.request_json.get('temperature')}, {problem}; output "
            f"{', '.join(texts)}: the server generated past the limit to complete a multi-byte character "
            "(the same request without an emoji stays within 1). Fix: stop at the limit even inside a "
            "character (send the bytes decoded so far, or none) and report finish_reason 'length'.",
            expected="usage.completion_tokens <= 1",
            received=problem,
            where="usage.completion_tokens",
            exchange=ex,
        )
