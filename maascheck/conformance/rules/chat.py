"""Non-streaming chat completions: status, schema, object name, choice indexes, role, strict-spec keys, `n`.

What every area's probes share lives in `conformance/rules/_common.py`.
Spec: CreateChatCompletionResponse (OpenAI spec).
"""

from __future__ import annotations

from maascheck.conformance.model.probe import Probe, probe
from maascheck.conformance.model.rule import Impact, Level, RuleContext, Violation, rule
from maascheck.conformance.rules._clients import NOT_JSON_BODY, STATUS_ERROR
from maascheck.conformance.rules._common import (
    NON_STREAM_CHAT,
    SPEC_RESPONSE,
    accepted,
    at,
    bodies,
    chat_body,
    choice_indexes,
    choices_of,
    message_of,
    same_indexes,
    schema_problems,
    stream_accepted,
)

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
    source=f"{SPEC_RESPONSE} (200 application/json); 常见模型 API 文档 non-stream example",
    probes=("chat",),
    impact=Impact.CLIENT,
    breaks=[STATUS_ERROR, NOT_JSON_BODY],
)
def chat_accepted(ctx: RuleContext) -> None:
    """The suite's plain chat request (常见模型 API 文档 prompt, `stream: false`) gets a JSON chat completion."""
    accepted(ctx.exchange("chat"), "the plain chat request", SPEC_RESPONSE)


@rule(
    "CHAT-002",
    Level.MUST,
    "A chat completion validates against the chat.completion schema",
    source=f"{SPEC_RESPONSE}; schemas/chat-completion.json",
    probes=NON_STREAM_CHAT,
    impact=Impact.SPEC,
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
    impact=Impact.SPEC,
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
    impact=Impact.SPEC,
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
    source="OpenAI spec ChatCompletionResponseMessage role enum [assistant]",
    probes=NON_STREAM_CHAT,
    impact=Impact.SPEC,
)
def chat_role(ctx: RuleContext) -> None:
    """Every `choices[].message.role` is `assistant`."""
    for ex, body in bodies(ctx, NON_STREAM_CHAT):
        for i, choice in enumerate(choices_of(body)):
            role = message_of(choice).get("role")
            if role != "assistant":
                raise Violation(
                    f"probe {ex.probe}: choices[{i}].message.role is {role!r}, expected 'assistant' "
                    "(ChatCompletionResponseMessage)",
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
    impact=Impact.SPEC,
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
    source="OpenAI spec ChatCompletionResponseMessage required [role, content, refusal]",
    probes=NON_STREAM_CHAT,
    requires=("strict_response_fields",),
    impact=Impact.SPEC,
)
def chat_refusal_key(ctx: RuleContext) -> None:
    """The spec requires `message.refusal` (string or null); the seeds' examples omit it."""
    for ex, body in bodies(ctx, NON_STREAM_CHAT):
        for i, choice in enumerate(choices_of(body)):
            msg = message_of(choice)
            if msg and "refusal" not in msg:
                raise Violation(
                    f"probe {ex.probe}: choices[{i}].message has no 'refusal' key; the spec requires it, "
                    "null when the model did not refuse (ChatCompletionResponseMessage)",
                    expected="a refusal key (null allowed)",
                    received=sorted(msg),
                    where=f"$.choices[{i}].message",
                    exchange=ex,
                )


@rule(
    "CHAT-008",
    Level.MUST,
    "n=2 yields two choices",
    source="OpenAI spec CreateChatCompletionRequest.n; openapi.hhaice.com response table (choices)",
    probes=("chat-n2",),
    requires=("n",),
    impact=Impact.SPEC,
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
    source="OpenAI spec CreateChatCompletionStreamResponse choices ('more than one "
    "elements if n is greater than 1')",
    probes=("chat-n2-stream",),
    requires=("n",),
    impact=Impact.SPEC,
)
def chat_n_stream(ctx: RuleContext) -> None:
    """A streaming request with `n: 2` streams chunks for choice index 0 and index 1, and no other index."""
    ex = ctx.exchange("chat-n2-stream")
    chunks = stream_accepted(ex, "the n=2 streaming chat request")
    seen = choice_indexes(chunks)
    if not same_indexes(seen, 2):
        raise Violation(
            f"n=2 streamed choices with indexes {seen}, expected [0, 1] (CreateChatCompletionStreamResponse "
            "choices)",
            expected=[0, 1],
            received=seen,
            where="$.choices[*].index over all chunks",
            exchange=ex,
        )
