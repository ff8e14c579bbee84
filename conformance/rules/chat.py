"""Non-streaming chat completions: status, schema, object name, choice indexes, role, strict-spec keys, `n`.

Also holds what every area of the suite's chat probes shares: the model a probe uses, the
acceptance check of an exchange (`accepted`) and the guard of the rules that only read a
successful one (`body_of`), and schema checks that leave fields owned by a more specific rule
to that rule. Spec: CreateChatCompletionResponse (openai-openapi.yaml l.33507).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from conformance.exchange import Exchange
from conformance.options import profile_model
from conformance.probe import Probe, ProbeEnv, probe
from conformance.rule import Level, NotApplicable, RuleContext, Violation, rule
from maascheck import schemas
from maascheck.profiles import Profile

SPEC_RESPONSE = "openai-openapi.yaml CreateChatCompletionResponse l.33507"
PROMPT = "Say this is a test!"  # the example prompt of seeds/000
MAX_TOKENS = 16

# Every non-streaming chat probe of this suite whose 200 body is a chat.completion.
NON_STREAM_CHAT = (
    "chat",
    "chat-n2",
    "finish-length",
    "finish-length-mct",
    "finish-baseline",
    "finish-stop",
    "tools",
    "vision-data",
    "vision-url",
    "reasoning",
)


# -- what the probes share -----------------------------------------------------------------------


def model_for(profile: Profile, options: Any, role: str = "chat") -> str:
    """The model a probe of `role` (chat, vision, reasoning) uses: the run's choice, else the profile's."""
    chat = getattr(options, "model", None)
    if role == "chat":
        model = chat or profile.models.get("chat")
    else:
        model = getattr(options, f"{role}_model", None) or profile_model(profile, str(chat or ""), role)
    if not model:
        documented = profile.models.get(role)
        why = (
            f"profile {profile.name!r} names {documented!r}, a model of the deployment it describes, and the "
            f"run's chat model {chat!r} is not one of its models"
            if documented
            else f"profile {profile.name!r} has no models.{role}"
        )
        raise NotApplicable(f"no {role} model: the run names none and {why} (pass --{role}-model NAME)")
    return str(model)


def user(text: str) -> list[dict[str, Any]]:
    """A one-message conversation."""
    return [{"role": "user", "content": text}]


def chat_body(env: ProbeEnv, **extra: Any) -> dict[str, Any]:
    """The suite's plain chat request (seeds/000 prompt, small max_tokens, explicit `stream`) plus `extra`."""
    body: dict[str, Any] = {
        "model": model_for(env.profile, env.options),
        "messages": user(PROMPT),
        "max_tokens": MAX_TOKENS,
        "stream": False,
    }
    body.update(extra)
    return body


def made(ctx: RuleContext, names: Iterable[str]) -> list[Exchange]:
    """The exchanges of `names` that were made (probes the profile or the budget ruled out are left out)."""
    out = []
    for name in names:
        try:
            out.append(ctx.exchange(name))
        except NotApplicable:
            continue
    return out


def first_made(ctx: RuleContext, names: Iterable[str]) -> list[Exchange]:
    """Like `made`, but NotApplicable when none of `names` was made, saying why for each."""
    found: list[Exchange] = []
    reasons: list[str] = []
    for name in names:
        try:
            found.append(ctx.exchange(name))
        except NotApplicable as exc:
            reasons.append(f"{name}: {exc}")
    if not found:
        raise NotApplicable("no probe was made (" + "; ".join(reasons) + ")")
    return found


def each(exchanges: Iterable[Exchange], judge: Callable[[Exchange], None]) -> None:
    """Judge every exchange; NotApplicable only when no exchange could be judged (reasons joined)."""
    reasons: list[str] = []
    judged = False
    for ex in exchanges:
        try:
            judge(ex)
            judged = True
        except NotApplicable as exc:
            reasons.append(str(exc))
    if not judged:
        raise NotApplicable("; ".join(reasons) or "no exchange to judge")


def failure(ex: Exchange) -> str | None:
    """Why `ex` is not a successful exchange (transport failure or non-200 status), None when it is."""
    if ex.error:
        return f"transport failure ({ex.error_kind}): {ex.error}"
    if ex.status != 200:
        return f"HTTP {ex.status}: {ex.body[:300].decode('utf-8', 'replace')}"
    return None


def accepted(ex: Exchange, what: str, source: str) -> dict[str, Any]:
    """The JSON object body of `ex`; a Violation when the request was not answered 200 with one.

    Only the rule that owns a probe's acceptance calls this; the others use `body_of`.
    """
    problem = failure(ex)
    if problem is None and not isinstance(ex.json, dict):
        problem = f"the 200 body is not a JSON object: {ex.body[:200]!r}"
    if problem is not None:
        raise Violation(
            f"{what} was not answered 200 with a JSON object ({source}); received {problem}",
            expected="HTTP 200 with a JSON object body",
            received=problem,
            where=f"{ex.method} {ex.url}",
            exchange=ex,
        )
    body: dict[str, Any] = ex.json
    return body


def body_of(ex: Exchange) -> dict[str, Any]:
    """The JSON object body of a successful `ex`, else NotApplicable (its acceptance rule reports it)."""
    problem = failure(ex)
    if problem is None and not isinstance(ex.json, dict):
        problem = "the body is not a JSON object"
    if problem is not None:
        raise NotApplicable(
            f"probe {ex.probe} did not succeed ({problem[:200]}); its acceptance rule reports it"
        )
    body: dict[str, Any] = ex.json
    return body


def bodies(ctx: RuleContext, names: Iterable[str]) -> list[tuple[Exchange, dict[str, Any]]]:
    """(exchange, JSON body) of each successful exchange among `names`; NotApplicable when there is none."""
    out = []
    for ex in first_made(ctx, names):
        try:
            out.append((ex, body_of(ex)))
        except NotApplicable:
            continue
    if not out:
        raise NotApplicable(f"no successful exchange among {', '.join(names)}")
    return out


def choices_of(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The choice objects of a response body (non-objects left out)."""
    choices = body.get("choices")
    return [c for c in choices if isinstance(c, dict)] if isinstance(choices, list) else []


def message_of(choice: dict[str, Any]) -> dict[str, Any]:
    """A choice's `message` object ({} when absent or not an object)."""
    msg = choice.get("message")
    return msg if isinstance(msg, dict) else {}


def requested_n(ex: Exchange) -> int:
    """The `n` the request asked for (1 when absent)."""
    req = ex.request_json if isinstance(ex.request_json, dict) else {}
    n = req.get("n")
    return n if isinstance(n, int) and n > 0 else 1


def same_indexes(indexes: Sequence[Any], n: int) -> bool:
    """Whether `indexes` are exactly the integers 0..n-1, each once, in any order."""
    return all(type(i) is int for i in indexes) and sorted(indexes) == list(range(n))


def schema_problems(
    name: str, instance: Any, owned_elsewhere: Sequence[Callable[[tuple[Any, ...]], bool]] = ()
) -> list[str]:
    """Why `instance` does not validate against schema `name`, leaving out errors at paths other rules own."""
    found = []
    for err in schemas.validator(name).iter_errors(instance):
        path = tuple(err.absolute_path)
        paths = [path]
        if err.validator == "required" and isinstance(
            err.instance, dict
        ):  # judge a missing key at its own path
            required = err.validator_value if isinstance(err.validator_value, list) else []
            paths = [(*path, key) for key in required if key not in err.instance] or paths
        if all(any(owned(p) for owned in owned_elsewhere) for p in paths):
            continue
        found.append(schemas.describe(err))
    return sorted(found)


def at(*pattern: Any) -> Callable[[tuple[Any, ...]], bool]:
    """A path predicate: the path starts with `pattern`, where `None` matches any one key or index."""

    def match(path: tuple[Any, ...]) -> bool:
        return len(path) >= len(pattern) and all(
            p is None or p == k for p, k in zip(pattern, path, strict=False)
        )

    return match


# Paths a more specific rule owns, so the schema rule does not report them twice.
CHAT_OWNED = (
    at("object"),
    at("choices", None, "index"),
    at("choices", None, "message", "role"),
    at("choices", None, "message", "tool_calls"),
)


# -- probes --------------------------------------------------------------------------------------

probe(Probe("chat", "POST", "/chat/completions", body=lambda env: chat_body(env)))
probe(Probe("chat-n2", "POST", "/chat/completions", body=lambda env: chat_body(env, n=2), requires=("n",)))
probe(
    Probe(
        "chat-n2-stream",
        "POST",
        "/chat/completions",
        body=lambda env: chat_body(env, n=2, stream=True),
        requires=("n",),
    )
)


# -- rules ---------------------------------------------------------------------------------------


@rule(
    "CHAT-001",
    Level.MUST,
    "A valid non-streaming chat request is answered 200 with a JSON object",
    source=f"{SPEC_RESPONSE} (200 application/json); seeds/000 non-stream example",
    probes=("chat",),
)
def chat_accepted(ctx: RuleContext) -> None:
    """The suite's plain chat request (seeds/000 prompt, `stream: false`) gets a JSON chat completion."""
    accepted(ctx.exchange("chat"), "the plain chat request", SPEC_RESPONSE)


@rule(
    "CHAT-002",
    Level.MUST,
    "A chat completion validates against the chat.completion schema",
    source=f"{SPEC_RESPONSE}; schemas/chat-completion.json",
    probes=NON_STREAM_CHAT,
)
def chat_schema(ctx: RuleContext) -> None:
    """Every successful non-streaming chat body validates against `schemas/chat-completion.json`.

    `object`, choice indexes, the message role and tool calls are judged by CHAT-003/004/005 and
    TOOL-002, so their errors are left to those rules.
    """
    for ex, body in bodies(ctx, NON_STREAM_CHAT):
        problems = schema_problems("chat-completion", body, CHAT_OWNED)
        if problems:
            raise Violation(
                f"probe {ex.probe}: the chat completion does not validate against "
                "schemas/chat-completion.json "
                f"({SPEC_RESPONSE}): {problems[0]}",
                expected="a body valid against schemas/chat-completion.json",
                received=problems,
                exchange=ex,
            )


@rule(
    "CHAT-003",
    Level.MUST,
    'A chat completion\'s object is "chat.completion"',
    source=f"{SPEC_RESPONSE} object enum [chat.completion]",
    probes=NON_STREAM_CHAT,
)
def chat_object(ctx: RuleContext) -> None:
    """`object` is exactly `chat.completion` (not the stream chunk's name)."""
    for ex, body in bodies(ctx, NON_STREAM_CHAT):
        if body.get("object") != "chat.completion":
            raise Violation(
                f"probe {ex.probe}: object is {body.get('object')!r}, expected 'chat.completion' "
                f"({SPEC_RESPONSE})",
                expected="chat.completion",
                received=body.get("object"),
                where="$.object",
                exchange=ex,
            )


@rule(
    "CHAT-004",
    Level.MUST,
    "A chat completion has choices with indexes 0..len-1, each once",
    source=f"{SPEC_RESPONSE} choices[].index",
    probes=NON_STREAM_CHAT,
)
def chat_indexes(ctx: RuleContext) -> None:
    """`choices` is a non-empty array whose integer `index` values are 0..len-1, each once."""
    for ex, body in bodies(ctx, NON_STREAM_CHAT):
        choices = body.get("choices")
        if not isinstance(choices, list) or not choices:
            raise Violation(
                f"probe {ex.probe}: choices is {choices!r}, expected a non-empty array ({SPEC_RESPONSE})",
                expected="a non-empty array",
                received=choices,
                where="$.choices",
                exchange=ex,
            )
        indexes = [c.get("index") if isinstance(c, dict) else None for c in choices]
        if not same_indexes(indexes, len(choices)):
            raise Violation(
                f"probe {ex.probe}: choice indexes are {indexes}, expected {list(range(len(choices)))} "
                f"({SPEC_RESPONSE} choices[].index)",
                expected=list(range(len(choices))),
                received=indexes,
                where="$.choices[*].index",
                exchange=ex,
            )


@rule(
    "CHAT-005",
    Level.MUST,
    'A chat completion\'s message role is "assistant"',
    source="openai-openapi.yaml ChatCompletionResponseMessage l.31629 role enum [assistant]",
    probes=NON_STREAM_CHAT,
)
def chat_role(ctx: RuleContext) -> None:
    """Every `choices[].message.role` is `assistant`."""
    for ex, body in bodies(ctx, NON_STREAM_CHAT):
        for i, choice in enumerate(choices_of(body)):
            role = message_of(choice).get("role")
            if role != "assistant":
                raise Violation(
                    f"probe {ex.probe}: choices[{i}].message.role is {role!r}, expected 'assistant' "
                    "(ChatCompletionResponseMessage l.31629)",
                    expected="assistant",
                    received=role,
                    where=f"$.choices[{i}].message.role",
                    exchange=ex,
                )


@rule(
    "CHAT-006",
    Level.MUST,
    "Every chat choice carries the logprobs key (null when not requested)",
    source=f"{SPEC_RESPONSE} choices[].required includes logprobs",
    probes=NON_STREAM_CHAT,
    requires=("strict_response_fields",),
)
def chat_logprobs_key(ctx: RuleContext) -> None:
    """The spec requires `choices[].logprobs` (value may be null); many servers and the seeds omit it."""
    for ex, body in bodies(ctx, NON_STREAM_CHAT):
        for i, choice in enumerate(choices_of(body)):
            if "logprobs" not in choice:
                raise Violation(
                    f"probe {ex.probe}: choices[{i}] has no 'logprobs' key; the spec requires it, null when "
                    f"logprobs were not requested ({SPEC_RESPONSE})",
                    expected="a logprobs key (null allowed)",
                    received=sorted(choice),
                    where=f"$.choices[{i}]",
                    exchange=ex,
                )


@rule(
    "CHAT-007",
    Level.MUST,
    "Every chat message carries the refusal key (null when there is none)",
    source="openai-openapi.yaml ChatCompletionResponseMessage l.31629 required [role, content, refusal]",
    probes=NON_STREAM_CHAT,
    requires=("strict_response_fields",),
)
def chat_refusal_key(ctx: RuleContext) -> None:
    """The spec requires `message.refusal` (string or null); the seeds' examples omit it."""
    for ex, body in bodies(ctx, NON_STREAM_CHAT):
        for i, choice in enumerate(choices_of(body)):
            msg = message_of(choice)
            if msg and "refusal" not in msg:
                raise Violation(
                    f"probe {ex.probe}: choices[{i}].message has no 'refusal' key; the spec requires it, "
                    "null when the model did not refuse (ChatCompletionResponseMessage l.31629)",
                    expected="a refusal key (null allowed)",
                    received=sorted(msg),
                    where=f"$.choices[{i}].message",
                    exchange=ex,
                )


@rule(
    "CHAT-008",
    Level.MUST,
    "n=2 yields two choices",
    source="openai-openapi.yaml CreateChatCompletionRequest.n l.33105; seeds/003 response table (choices)",
    probes=("chat-n2",),
    requires=("n",),
)
def chat_n(ctx: RuleContext) -> None:
    """A non-streaming request with `n: 2` returns exactly two choices (CHAT-004 judges their indexes)."""
    ex = ctx.exchange("chat-n2")
    body = accepted(ex, "the n=2 chat request", "CreateChatCompletionRequest.n")
    count = len(body["choices"]) if isinstance(body.get("choices"), list) else None
    if count != 2:
        raise Violation(
            f"n=2 returned {count} choices, expected 2 "
            "(CreateChatCompletionRequest.n: 'How many chat completion choices to generate')",
            expected=2,
            received=count,
            where="$.choices",
            exchange=ex,
        )


@rule(
    "CHAT-009",
    Level.MUST,
    "n=2 in a stream yields chunks for choices 0 and 1",
    source="openai-openapi.yaml CreateChatCompletionStreamResponse l.33665 choices ('more than one "
    "elements if n is greater than 1')",
    probes=("chat-n2-stream",),
    requires=("n",),
)
def chat_n_stream(ctx: RuleContext) -> None:
    """A streaming request with `n: 2` streams chunks for choice index 0 and index 1, and no other index."""
    from conformance.rules.stream import choice_indexes, stream_accepted  # stream builds on this module

    ex = ctx.exchange("chat-n2-stream")
    chunks = stream_accepted(ex, "the n=2 streaming chat request")
    seen = choice_indexes(chunks)
    if not same_indexes(seen, 2):
        raise Violation(
            f"n=2 streamed choices with indexes {seen}, expected [0, 1] (CreateChatCompletionStreamResponse "
            "choices l.33665)",
            expected=[0, 1],
            received=seen,
            where="$.choices[*].index over all chunks",
            exchange=ex,
        )
