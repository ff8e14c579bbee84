"""Every rule treats the response as untrusted: arbitrary JSON and bytes yield a verdict, never an exception.

Hypothesis builds whole sets of exchanges directly (no sockets): each probe's real request, and as its
response arbitrary JSON, valid documents with one value replaced by arbitrary JSON (wrong types where
rules look), arbitrary bytes, or event streams of any of these; the SDK probes get what the openai SDK
makes of that JSON. Every registered rule then judges them: it may pass, fail (`Violation`) or not
apply (`NotApplicable`); any other exception is a bug in the rule (the runner would report `error`).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from maascheck.conformance import rules as rules_pkg
from maascheck.conformance.engine.options import RunOptions
from maascheck.conformance.model.exchange import Exchange
from maascheck.conformance.model.probe import PROBES, ProbeEnv
from maascheck.conformance.model.rule import RULES, NotApplicable, RuleContext, Violation
from maascheck.conformance.transport.sse import SSEParser
from maascheck.core.profiles import load_profile

rules_pkg.load_all()
PROFILE = load_profile("openai")
OPTIONS = RunOptions(model="sim-chat", base_url="http://127.0.0.1:9/v1", vision_model="sim-vision",
                     reasoning_model="sim-reasoner")

CHAT = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1700000000,
    "model": "sim-chat",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "This is a test.", "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
            "logprobs": None,
            "finish_reason": "stop",
        }
    ],
    "usage": {"prompt_tokens": 5, "completion_tokens": 5, "total_tokens": 10,
              "completion_tokens_details": {"reasoning_tokens": 0}},
}
CHUNK = {
    "id": "chatcmpl-1",
    "object": "chat.completion.chunk",
    "created": 1700000000,
    "model": "sim-chat",
    "choices": [{"index": 0, "delta": {"role": "assistant", "content": "This", "reasoning_content": "r",
                                       "tool_calls": [{"index": 0, "id": "c", "function": {"arguments": "{"}}]},
                 "logprobs": None, "finish_reason": None}],
    "usage": None,
}
COMPLETION = {"id": "cmpl-1", "object": "text_completion", "created": 1700000000, "model": "sim-chat",
              "choices": [{"index": 0, "text": "ok", "logprobs": None, "finish_reason": "stop"}],
              "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}
MODELS = {"object": "list", "data": [{"id": "sim-chat", "object": "model", "created": 1, "owned_by": "x"}]}
ERROR = {"error": {"message": "bad", "type": "invalid_request_error", "param": "x", "code": "c"}}
VALID = [CHAT, CHUNK, COMPLETION, MODELS, ERROR]

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
    | st.sampled_from(["", "stop", "length", "assistant", "chat.completion", "[DONE]", "\x00", "tool_calls"])
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += _paths(v, (*prefix, i))
    return out


@st.composite
def mutated(draw: st.DrawFn) -> Any:
    """A valid document with the value at one path replaced by arbitrary JSON (or that key removed)."""
    doc = json.loads(json.dumps(draw(st.sampled_from(VALID))))
    path = draw(st.sampled_from(_paths(doc)))
    if not path:
        return draw(json_values)
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    if isinstance(parent, dict) and draw(st.booleans()):
        del parent[path[-1]]
    else:
        parent[path[-1]] = draw(json_values)
    return doc


documents = mutated() | json_values | st.sampled_from(VALID)


@st.composite
def response(draw: st.DrawFn) -> dict[str, Any]:
    """One response: status, content type, and a body of JSON, bytes or an event stream."""
    status = draw(st.sampled_from([200, 200, 200, 400, 401, 404, 422, 429, 500]))
    shape = draw(st.sampled_from(["json", "bytes", "sse", "sse-bytes"]))
    if shape == "json":
        return {"status": status, "sse": False, "body": json.dumps(draw(documents)).encode()}
    if shape == "bytes":
        return {"status": status, "sse": draw(st.booleans()), "body": draw(st.binary(max_size=200))}
    if shape == "sse":
        events = draw(st.lists(documents, max_size=5))
        body = b"".join(b"data: " + json.dumps(e).encode() + b"\n\n" for e in events)
        if draw(st.booleans()):
            body += b"data: [DONE]\n\n"
        return {"status": status, "sse": True, "body": body}
    return {"status": status, "sse": True, "body": b"data: " + draw(st.binary(max_size=120)) + b"\n\n"}


def _request(name: str, exchange: Any) -> bytes | None:
    """The probe's real request body; its builder may read other exchanges (NotApplicable propagates)."""
    p = PROBES[name]
    if p.body is None:
        return None
    try:
        body = p.body(ProbeEnv(PROFILE, OPTIONS, exchange))
    except NotApplicable:
        raise
    except Exception as exc:
        pytest.fail(f"probe {name}'s body builder raised {type(exc).__name__}: {exc}")
    if body is None or isinstance(body, bytes):
        return body
    return json.dumps(body).encode()


def _sdk_result(name: str, ex: Exchange) -> Any:
    """What the openai SDK builds from the response (it constructs models leniently, without validation)."""
    from openai._models import construct_type
    from openai.types import Completion, Model
    from openai.types.chat import ChatCompletion, ChatCompletionChunk

    kind: Any = {"sdk-chat": ChatCompletion, "sdk-completions": Completion}.get(name)
    if name == "sdk-stream":
        return [construct_type(type_=ChatCompletionChunk, value=e.json) for e in ex.data_events if e.json is not None]
    if name == "sdk-models":
        data = ex.json.get("data") if isinstance(ex.json, dict) else None
        return [construct_type(type_=Model, value=m) for m in data] if isinstance(data, list) else []
    return construct_type(type_=kind, value=ex.json) if kind is not None else None


def _exchange(name: str, spec: dict[str, Any], exchange: Any) -> Exchange:
    p = PROBES[name]
    ex = Exchange(name, p.method, "http://127.0.0.1:9/v1" + p.path, [], _request(name, exchange))
    ex.status = spec["status"]
    ctype = "text/event-stream" if spec["sse"] else "application/json"
    ex.headers = [("Content-Type", ctype), ("x-request-id", "r")]
    ex.body = spec["body"]
    if spec["sse"]:
        parser = SSEParser()
        ex.events = parser.feed(ex.body, 1_000_000)
        for i, ev in enumerate(ex.events):
            ev.t_ns = 1_000_000 * (i + 1)
        ex.sse_comments, ex.sse_tail = parser.comments, parser.tail
    if p.sdk is not None:
        try:
            ex.sdk_result = _sdk_result(name, ex)
        except Exception as exc:  # the SDK itself refused it: the rule sees the error, as in a real run
            ex.sdk_error = f"{type(exc).__name__}: {exc}"
    return ex


# Rules that draw their own requests with Hypothesis (boundaries.check_range) cannot run inside @given.
DRAWING = frozenset(r.id for r in RULES.values() if "check_range" in r.check.__code__.co_names)


def judge_all(specs: dict[str, dict[str, Any]], default: dict[str, Any], *, drawing: bool = False) -> None:
    """Run every rule over the exchanges; fail on any exception but Violation and NotApplicable."""
    made: dict[str, Exchange] = {}

    def exchange(name: str) -> Exchange:
        if name not in made:
            made[name] = _exchange(name, specs.get(name, default), exchange)
        return made[name]

    def sender(method: str, path: str, body: Any = None, *, label: str, auth: str = "valid") -> Exchange:
        spec = specs.get(label, default)
        raw = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
        ex = Exchange(label, method, "http://127.0.0.1:9/v1" + path, [], raw)
        ex.status, ex.body = spec["status"], spec["body"]
        ex.headers = [("Content-Type", "application/json")]
        return ex

    for rule in RULES.values():
        if (rule.id in DRAWING) != drawing:
            continue
        ctx = RuleContext(PROFILE, OPTIONS, exchange, sender=sender)
        try:
            rule.check(ctx)
        except (Violation, NotApplicable):
            pass
        except Exception as exc:
            pytest.fail(f"{rule.id} raised {type(exc).__name__}: {exc}", pytrace=True)


SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)


@SETTINGS
@given(response())
def test_one_response_everywhere(spec: dict[str, Any]) -> None:
    """Every probe answered with the same arbitrary response."""
    judge_all({}, spec)


@SETTINGS
@given(st.dictionaries(st.sampled_from(sorted(PROBES)), response(), max_size=12), response())
def test_different_responses_per_probe(specs: dict[str, dict[str, Any]], default: dict[str, Any]) -> None:
    """Each probe answered differently (some with valid documents)."""
    judge_all(specs, default)


NASTY = [
    {"status": 200, "sse": False, "body": json.dumps(doc).encode()}
    for doc in ([], "x", 1e300, {"choices": "x"}, {"choices": [1]}, {"error": []}, {"error": {"message": {}}}, CHAT)
] + [
    {"status": 400, "sse": False, "body": b"\xff\xfe"},
    {"status": 400, "sse": False, "body": json.dumps({"error": {"message": 1, "type": [], "code": {}}}).encode()},
    {"status": 200, "sse": True, "body": b'data: {"choices":"x"}\n\ndata: [DONE]\n\n'},
]


@pytest.mark.parametrize("spec", NASTY, ids=range(len(NASTY)))
def test_drawing_rules_on_nasty_answers(spec: dict[str, Any]) -> None:
    """The range rules make their own requests (drawn with Hypothesis): each answered with one nasty response."""
    assert DRAWING
    judge_all({}, spec, drawing=True)
