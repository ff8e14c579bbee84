"""Messages: the conversation shapes every chat client sends are accepted, streamed or not.

`system` and `developer` instructions, a multi-turn history and content as an array of text parts
(`content: [{"type": "text", "text": ...}]`, what LangChain and the OpenAI Agents SDK send) are all
in the spec's `ChatCompletionRequestMessage`. llama-cpp-python 0.3 answers the text-parts array with
500, and, streamed, a 200 with an empty body and no `data: [DONE]`.
Spec: ChatCompletionRequestSystemMessage, ChatCompletionRequestDeveloperMessage,
ChatCompletionRequestUserMessage.content, ChatCompletionRequestAssistantMessage (github.com/openai/openai-openapi).
"""

from __future__ import annotations

from typing import Any

from maascheck.conformance.model.exchange import Exchange
from maascheck.conformance.model.probe import Probe, ProbeEnv, probe
from maascheck.conformance.model.rule import (
    ClientBreak,
    Defect,
    Impact,
    Level,
    NotApplicable,
    RuleContext,
    Violation,
    rule,
)
from maascheck.conformance.rules._clients import OPENAI_PYTHON, STATUS_ERROR
from maascheck.conformance.rules._common import accepted, chat_body, choices_of, failure
from maascheck.conformance.rules.checks import body_excerpt

SPEC = "OpenAI spec (github.com/openai/openai-openapi)"
MESSAGE_TOKENS = 4  # every probe here only needs an answer, not a long one
INSTRUCTION = "You are a terse assistant. Answer in one short sentence."
QUESTION = "Name a colour."
EMPTY_STREAM = ClientBreak(
    OPENAI_PYTHON, "iterating a 200 stream without events yields no chunk: the answer is silently empty"
)


def _with(env: ProbeEnv, messages: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return chat_body(env, messages=messages, max_tokens=MESSAGE_TOKENS, **extra)


def _instructed(role: str) -> Any:
    return lambda env: _with(env, [{"role": role, "content": INSTRUCTION}, {"role": "user", "content": QUESTION}])


def _history(env: ProbeEnv) -> dict[str, Any]:
    return _with(
        env,
        [
            {"role": "user", "content": "My name is Ada."},
            {"role": "assistant", "content": "Nice to meet you, Ada."},
            {"role": "user", "content": "What is my name?"},
        ],
    )


TEXT_PARTS = [{"type": "text", "text": "Say this"}, {"type": "text", "text": " is a test!"}]


def _parts(env: ProbeEnv, **extra: Any) -> dict[str, Any]:
    return _with(env, [{"role": "user", "content": TEXT_PARTS}], **extra)


probe(Probe("msg-system", "POST", "/chat/completions", body=_instructed("system")))
probe(Probe("msg-developer", "POST", "/chat/completions", body=_instructed("developer")))
probe(Probe("msg-history", "POST", "/chat/completions", body=_history))
probe(Probe("msg-text-parts", "POST", "/chat/completions", body=_parts))
probe(Probe("msg-text-parts-stream", "POST", "/chat/completions", body=lambda env: _parts(env, stream=True)))

MESSAGE_PROBES = ("msg-system", "msg-developer", "msg-history", "msg-text-parts")


def plain_answered(ctx: RuleContext) -> None:
    """NotApplicable unless the plain chat request was answered 200 with a choice (CHAT-001 owns that)."""
    ex = ctx.exchange("chat")
    if failure(ex) is not None or not isinstance(ex.json, dict) or not choices_of(ex.json):
        raise NotApplicable("the plain chat request failed too; CHAT-001 reports it")


def plain_streamed(ctx: RuleContext) -> None:
    """NotApplicable unless the plain chat stream was complete (the STREAM rules own its framing)."""
    ex = ctx.exchange("chat-stream")
    if stream_problem(ex) is not None:
        raise NotApplicable("the plain chat stream is broken too; the STREAM rules report it")


def stream_problem(ex: Exchange) -> str | None:
    """Why `ex` is not a 200 stream of chunks with choices ending in `data: [DONE]` (None when it is)."""
    problem = failure(ex)
    chunks = [e.json for e in ex.data_events if isinstance(e.json, dict)]
    if problem is None and not any(choices_of(c) for c in chunks):
        problem = f"no chunk with a choice among {len(ex.events)} events {body_excerpt(ex)}"
    if problem is None and not any(e.is_done for e in ex.events):
        problem = f"{len(chunks)} chunks and no data: [DONE]"
    return problem


def answered(ex: Exchange, what: str, source: str) -> None:
    """A Violation unless `ex` is a 200 chat completion with at least one choice."""
    body = accepted(ex, what, source)
    if not choices_of(body):
        raise Violation(
            f"{what} was answered 200 without any choice ({source})",
            expected="choices: [{index, message, finish_reason}]",
            received=body.get("choices"),
            where="$.choices",
            exchange=ex,
        )


def _role(ctx: RuleContext, probe_name: str, role: str, source: str) -> None:
    plain_answered(ctx)
    ex = ctx.exchange(probe_name)
    what = f"a chat request with a {role!r} message before the user message"
    if role in ctx.profile.roles:
        answered(ex, what, source)
        return
    if ex.error or ex.status is None or not 400 <= ex.status < 500:
        raise Violation(
            f"{what}: profile {ctx.profile.name!r} documents no {role!r} role, so a 4xx refusal is expected; "
            f"received {ex.error_kind or ex.status} {body_excerpt(ex)}",
            expected=f"HTTP 4xx (roles documented: {', '.join(ctx.profile.roles)})",
            received=ex.error_kind or ex.status,
            where=f"{ex.method} {ex.url}",
            exchange=ex,
        )


@rule(
    "MSG-001",
    Level.MUST,
    "A system message before the user message is accepted",
    source=f"{SPEC} ChatCompletionRequestSystemMessage (role: system); a profile's `roles` when it omits system",
    probes=("msg-system", "chat"),
    impact=Impact.CLIENT,
    breaks=[STATUS_ERROR],
)
def system_role(ctx: RuleContext) -> None:
    """`[{role: system}, {role: user}]` is answered 200 with a choice (a 4xx where the profile has no system role)."""
    _role(ctx, "msg-system", "system", f"{SPEC} ChatCompletionRequestSystemMessage")


@rule(
    "MSG-002",
    Level.MUST,
    "A developer message before the user message is accepted, or refused with 4xx where undocumented",
    source=f"{SPEC} ChatCompletionRequestDeveloperMessage (role: developer, replaces system for o1 and newer); "
    "a profile's `roles`",
    probes=("msg-developer", "chat"),
    impact=Impact.CLIENT,
    breaks=[STATUS_ERROR],
)
def developer_role(ctx: RuleContext) -> None:
    """The official SDKs and the Agents SDK send `developer`; a server that does not know it refuses with 4xx."""
    _role(ctx, "msg-developer", "developer", f"{SPEC} ChatCompletionRequestDeveloperMessage")


@rule(
    "MSG-003",
    Level.MUST,
    "A multi-turn history (user, assistant, user) is accepted",
    source=f"{SPEC} CreateChatCompletionRequest.messages, ChatCompletionRequestAssistantMessage",
    probes=("msg-history", "chat"),
    impact=Impact.CLIENT,
    breaks=[STATUS_ERROR],
)
def history(ctx: RuleContext) -> None:
    """Every chat client resends the conversation so far: an assistant turn between user turns is answered."""
    plain_answered(ctx)
    answered(ctx.exchange("msg-history"), "a chat request with a user/assistant/user history", SPEC)


@rule(
    "MSG-004",
    Level.MUST,
    "User content as an array of text parts is accepted",
    source=f"{SPEC} ChatCompletionRequestUserMessage.content (string or array of "
    "ChatCompletionRequestMessageContentPartText)",
    probes=("msg-text-parts", "chat"),
    impact=Impact.CLIENT,
    breaks=[STATUS_ERROR],
)
def text_parts(ctx: RuleContext) -> None:
    """`content: [{"type": "text", "text": ...}, ...]` is answered 200 with a choice, on every chat model."""
    plain_answered(ctx)
    answered(ctx.exchange("msg-text-parts"), "a chat request whose content is an array of text parts", SPEC)


@rule(
    "MSG-005",
    Level.MUST,
    "Streamed, user content as an array of text parts yields a complete event stream",
    source=f"{SPEC} ChatCompletionRequestUserMessage.content; CreateChatCompletionStreamResponse "
    "(stream terminated by data: [DONE])",
    probes=("msg-text-parts-stream", "chat-stream"),
    impact=Impact.CLIENT,
    breaks=[STATUS_ERROR, EMPTY_STREAM],
    defect=Defect.TRUNCATION,
)
def text_parts_stream(ctx: RuleContext) -> None:
    """The streamed text-parts request gets 200, a JSON chunk with a choice, then `data: [DONE]`.

    Judged where the same request with string content streams completely (the STREAM rules judge that one).
    """
    plain_streamed(ctx)
    ex = ctx.exchange("msg-text-parts-stream")
    problem = stream_problem(ex)
    if problem is not None:
        raise Violation(
            f"the streamed chat request with text content parts did not stream an answer: {problem} ({SPEC})",
            expected="HTTP 200, chunks with choices, then data: [DONE]",
            received=problem,
            where=f"{ex.method} {ex.url}",
            exchange=ex,
        )
