"""Tool calls: a forced tool_choice yields a well-formed call to a declared function, streamed or not.

Spec: ChatCompletionMessageToolCall (OpenAI spec), ChatCompletionMessageToolCallChunk
, ChatCompletionNamedToolChoice
(openai-python indexes `tool_calls[chunk.index]`).
"""

from __future__ import annotations

import json
from typing import Any

from maascheck.conformance.model.exchange import Exchange
from maascheck.conformance.model.probe import Probe, ProbeEnv, probe
from maascheck.conformance.model.rule import ClientBreak, Impact, Level, NotApplicable, RuleContext, Violation, rule
from maascheck.conformance.rules._clients import OPENAI_PYTHON, STATUS_ERROR
from maascheck.conformance.rules._common import (
    accepted,
    body_of,
    chat_body,
    choices_of,
    chunks_of,
    each,
    first_made,
    made,
    message_of,
    stream_accepted,
    user,
)

SPEC_CALL = "OpenAI spec ChatCompletionMessageToolCall"
SPEC_FRAGMENT = "OpenAI spec ChatCompletionMessageToolCallChunk"


def _function(name: str, description: str) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": description,
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string", "description": "City name, e.g. Paris"}},
                "required": ["city"],
            },
        },
    }


TOOLS = [
    _function("get_weather", "Get the current weather in a city."),
    _function("get_time", "Get the current local time in a city."),
]
DECLARED = tuple(t["function"]["name"] for t in TOOLS)
FORCED = "get_weather"
TOOL_TOKENS = 32  # enough for {"city": "Paris"} from any model


def tools_body(env: ProbeEnv, **extra: Any) -> dict[str, Any]:
    """A chat request that declares two functions and forces one with a named tool_choice."""
    return chat_body(
        env,
        messages=user("What is the weather like in Paris today?"),
        tools=TOOLS,
        tool_choice={"type": "function", "function": {"name": FORCED}},
        max_tokens=TOOL_TOKENS,
        **extra,
    )


def calls_of(body: dict[str, Any]) -> list[Any]:
    """The first choice's `message.tool_calls` ([] when absent or not a list)."""
    choices = choices_of(body)
    calls = message_of(choices[0]).get("tool_calls") if choices else None
    return calls if isinstance(calls, list) else []


def fragments_of(chunks: list[dict[str, Any]]) -> list[tuple[int, Any]]:
    """(chunk position, fragment) for every entry of every `delta.tool_calls` list, in stream order."""
    out = []
    for pos, chunk in enumerate(chunks):
        choices = chunk.get("choices")
        for choice in choices if isinstance(choices, list) else []:
            delta = choice.get("delta") if isinstance(choice, dict) else None
            calls = delta.get("tool_calls") if isinstance(delta, dict) else None
            out += [(pos, frag) for frag in calls] if isinstance(calls, list) else []
    return out


def indexed(fragments: list[tuple[int, Any]]) -> dict[int, list[dict[str, Any]]]:
    """Fragments grouped by their integer `index`; NotApplicable when one has none (TOOL-005 reports it)."""
    out: dict[int, list[dict[str, Any]]] = {}
    for _, frag in fragments:
        index = frag.get("index") if isinstance(frag, dict) else None
        if type(index) is not int:
            raise NotApplicable("a tool-call fragment has no integer index; TOOL-005 reports it")
        out.setdefault(index, []).append(frag)
    if not out:
        raise NotApplicable("the stream carried no tool-call fragment; TOOL-001 reports it")
    return out


def json_object_error(text: str) -> str | None:
    """Why `text` is not the JSON text of an object (None when it is)."""
    try:
        parsed = json.loads(text)
    except ValueError as exc:
        return str(exc)
    return None if isinstance(parsed, dict) else f"a JSON {type(parsed).__name__}, not an object"


def _fn(obj: Any) -> dict[str, Any]:
    fn = obj.get("function") if isinstance(obj, dict) else None
    return fn if isinstance(fn, dict) else {}


probe(Probe("tools", "POST", "/chat/completions", body=lambda env: tools_body(env), requires=("tools",)))
probe(
    Probe(
        "tools-stream",
        "POST",
        "/chat/completions",
        body=lambda env: tools_body(env, stream=True),
        requires=("tools",),
    )
)


@rule(
    "TOOL-001",
    Level.MUST,
    "A forced tool_choice yields a tool call, streamed or not",
    source="OpenAI spec ChatCompletionNamedToolChoice ('forces the model to call that "
    "function'); 预置多模态大模型服务接口说明 (role tool, finish_reason tool_calls)",
    probes=("tools", "tools-stream"),
    requires=("tools",),
    impact=Impact.SPEC,
)
def tool_called(ctx: RuleContext) -> None:
    """With `tool_choice: {type: function, function: {name}}` the answer carries at least one tool call."""
    for ex in made(ctx, ("tools", "tools-stream")):
        if ex.probe == "tools":
            found = bool(calls_of(accepted(ex, "the forced tool_choice request", SPEC_CALL)))
        else:
            try:
                found = bool(fragments_of(stream_accepted(ex, "the streaming forced tool_choice request")))
            except NotApplicable:
                continue
        if not found:
            raise Violation(
                f"probe {ex.probe}: tool_choice forced function {FORCED!r} but the answer has no tool call "
                "(ChatCompletionNamedToolChoice)",
                expected=f"a tool call to {FORCED}",
                received="no tool_calls",
                exchange=ex,
            )


@rule(
    "TOOL-002",
    Level.MUST,
    'A tool call has an id, type "function", a function name and string arguments',
    source=f"{SPEC_CALL} required [id, type, function]; function required [name, arguments]",
    probes=("tools",),
    requires=("tools",),
    impact=Impact.SPEC,
)
def tool_call_shape(ctx: RuleContext) -> None:
    """Each tool call has a non-empty `id`, `type: function`, and string `function.name` and `arguments`.

    `arguments` is a JSON *string*, not an object.
    """
    ex = ctx.exchange("tools")
    for i, call in enumerate(calls_of(body_of(ex))):
        fn = _fn(call)
        problems = []
        if not isinstance(call, dict) or not isinstance(call.get("id"), str) or not call.get("id"):
            problems.append("id is not a non-empty string")
        if not isinstance(call, dict) or call.get("type") != "function":
            problems.append(
                f"type is {call.get('type') if isinstance(call, dict) else call!r}, not 'function'"
            )
        if not isinstance(fn.get("name"), str):
            problems.append("function.name is not a string")
        if not isinstance(fn.get("arguments"), str):
            problems.append(f"function.arguments is {type(fn.get('arguments')).__name__}, not a string")
        if problems:
            raise Violation(
                f"tool_calls[{i}]: {'; '.join(problems)} ({SPEC_CALL})",
                expected="{id: str, type: 'function', function: {name: str, arguments: str}}",
                received=call,
                where=f"$.choices[0].message.tool_calls[{i}]",
                exchange=ex,
            )


@rule(
    "TOOL-003",
    Level.MUST,
    "A tool call names a function the request declared",
    source=f"{SPEC_CALL} function.name; ChatCompletionNamedToolChoice",
    probes=("tools", "tools-stream"),
    requires=("tools",),
    impact=Impact.SPEC,
)
def tool_call_name(ctx: RuleContext) -> None:
    """Every called function name (message or first stream fragment) is one of the request's `tools`."""
    each(first_made(ctx, ("tools", "tools-stream")), _judge_names)


def _judge_names(ex: Exchange) -> None:
    if ex.probe == "tools":
        names = [_fn(c).get("name") for c in calls_of(body_of(ex))]
    else:
        names = [_fn(f).get("name") for _, f in fragments_of(chunks_of(ex)) if _fn(f).get("name") is not None]
    wrong = [n for n in names if isinstance(n, str) and n not in DECLARED]
    if wrong:
        raise Violation(
            f"probe {ex.probe}: the answer calls {wrong[0]!r}, which the request did not declare "
            f"(declared: {', '.join(DECLARED)})",
            expected=list(DECLARED),
            received=wrong,
            where="tool_calls[].function.name",
            exchange=ex,
        )


@rule(
    "TOOL-004",
    Level.SHOULD,
    "A tool call's arguments parse as a JSON object",
    source=f"{SPEC_CALL} function.arguments ('in JSON format'; the spec warns models may emit invalid JSON)",
    probes=("tools",),
    requires=("tools",),
    impact=Impact.SPEC,
)
def tool_arguments_json(ctx: RuleContext) -> None:
    """`function.arguments` of each call is the JSON text of an object."""
    ex = ctx.exchange("tools")
    for i, call in enumerate(calls_of(body_of(ex))):
        args = _fn(call).get("arguments")
        if not isinstance(args, str):
            continue  # TOOL-002 reports it
        error = json_object_error(args)
        if error is not None:
            raise Violation(
                f"tool_calls[{i}].function.arguments is not a JSON object ({error}): {args[:200]!r}",
                expected="a JSON object text",
                received=args[:300],
                where=f"$.choices[0].message.tool_calls[{i}].function.arguments",
                exchange=ex,
            )


@rule(
    "TOOL-005",
    Level.MUST,
    "Every streamed tool-call fragment carries an integer index",
    source=f"{SPEC_FRAGMENT} required [index]; openai-python ChatCompletionStreamState (indexes tool_calls[index])",
    probes=("tools-stream",),
    requires=("tools",),
    impact=Impact.SPEC,
)
def tool_fragment_index(ctx: RuleContext) -> None:
    """Each `delta.tool_calls[]` entry has an integer `index` >= 0."""
    ex = ctx.exchange("tools-stream")
    for pos, frag in fragments_of(chunks_of(ex)):
        index = frag.get("index") if isinstance(frag, dict) else None
        if type(index) is not int or index < 0:
            raise Violation(
                f"chunk {pos}: a tool-call fragment has index {index!r}, expected an integer >= 0 "
                f"({SPEC_FRAGMENT}); "
                "openai-python fails with TypeError without it",
                expected="index: int >= 0",
                received=frag,
                where=f"chunk {pos} delta.tool_calls",
                exchange=ex,
            )


@rule(
    "TOOL-006",
    Level.SHOULD,
    "Streamed tool-call arguments concatenate to a JSON object",
    source=f"{SPEC_FRAGMENT} function.arguments (arguments streamed as string fragments)",
    probes=("tools-stream",),
    requires=("tools",),
    impact=Impact.SPEC,
)
def tool_fragments_join(ctx: RuleContext) -> None:
    """For each tool-call index, the `function.arguments` fragments joined in order parse as a JSON object."""
    ex = ctx.exchange("tools-stream")
    for index, frags in sorted(indexed(fragments_of(chunks_of(ex))).items()):
        text = "".join(a for a in (_fn(f).get("arguments") for f in frags) if isinstance(a, str))
        if json_object_error(text) is not None:
            raise Violation(
                f"tool call {index}: the streamed arguments joined are {text[:200]!r}, not a JSON object",
                expected="a JSON object text",
                received=text[:300],
                where=f"tool_calls index {index}",
                exchange=ex,
            )


@rule(
    "TOOL-007",
    Level.SHOULD,
    "The first streamed fragment of a tool call carries its id, type and name",
    source="OpenAI streams a call's id, type and function.name in its first fragment; "
    f"{SPEC_FRAGMENT}",
    probes=("tools-stream",),
    requires=("tools",),
    impact=Impact.SPEC,
)
def tool_fragment_head(ctx: RuleContext) -> None:
    """The first fragment for each index has a non-empty string `id`, `type: function` and `function.name`."""
    ex = ctx.exchange("tools-stream")
    for index, frags in sorted(indexed(fragments_of(chunks_of(ex))).items()):
        head = frags[0]
        if not (
            isinstance(head.get("id"), str)
            and head["id"]
            and head.get("type") == "function"
            and isinstance(_fn(head).get("name"), str)
            and _fn(head)["name"]
        ):
            raise Violation(
                f"tool call {index}: its first fragment {head} lacks id, type 'function' or function.name; "
                "clients that accumulate fragments key the call on them",
                expected="{index, id, type: 'function', function: {name, arguments}}",
                received=head,
                where=f"first fragment of tool call {index}",
                exchange=ex,
            )


# -- tool_choice modes, parallel calls and the second turn (issue 10.1) ------------------------------

SPEC_CHOICE = "OpenAI spec (github.com/openai/openai-openapi) ChatCompletionToolChoiceOption"
SPEC_PARALLEL = "OpenAI spec (github.com/openai/openai-openapi) ParallelToolCalls (default true)"
SPEC_TURN = (
    "OpenAI spec (github.com/openai/openai-openapi) ChatCompletionRequestAssistantMessage.tool_calls, "
    "ChatCompletionRequestToolMessage (role tool, tool_call_id, content)"
)
WEATHER_QUESTION = "What is the weather like in Paris today? Use get_weather if you need it."
PARALLEL_QUESTION = "Call get_weather for Paris and get_time for Tokyo, both at once."
SECOND_TURN_CALL = "call_maascheck_weather_1"
ACCUMULATES = ClientBreak(
    OPENAI_PYTHON,
    "the stream accumulator (ChatCompletionStreamState) merges fragments by index: two calls on one index "
    "become one call with concatenated arguments",
)


def _choice_body(env: ProbeEnv, question: str, choice: Any, **extra: Any) -> dict[str, Any]:
    return chat_body(env, messages=user(question), tools=TOOLS, tool_choice=choice, max_tokens=TOOL_TOKENS, **extra)


def second_turn_body(env: ProbeEnv) -> dict[str, Any]:
    """The turn after a tool call: the assistant's tool_calls message, then the tool's result."""
    call = {
        "id": SECOND_TURN_CALL,
        "type": "function",
        "function": {"name": FORCED, "arguments": json.dumps({"city": "Paris"})},
    }
    messages = [
        *user("What is the weather like in Paris today?"),
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": SECOND_TURN_CALL, "content": json.dumps({"celsius": 18, "sky": "clear"})},
    ]
    return chat_body(env, messages=messages, tools=TOOLS, max_tokens=TOOL_TOKENS)


probe(
    Probe(
        "tools-none",
        "POST",
        "/chat/completions",
        body=lambda env: _choice_body(env, WEATHER_QUESTION, "none"),
        requires=("tools",),
    )
)
probe(
    Probe(
        "tools-required",
        "POST",
        "/chat/completions",
        body=lambda env: _choice_body(env, "Tell me about Paris.", "required"),
        requires=("tools",),
    )
)
probe(
    Probe(
        "tools-parallel-stream",
        "POST",
        "/chat/completions",
        body=lambda env: _choice_body(env, PARALLEL_QUESTION, "auto", parallel_tool_calls=True, stream=True),
        requires=("tools",),
    )
)
probe(Probe("tools-second-turn", "POST", "/chat/completions", body=second_turn_body, requires=("tools",)))
TOOL_CHOICE_PROBES = ("tools-none", "tools-required", "tools-parallel-stream", "tools-second-turn")


@rule(
    "TOOL-008",
    Level.MUST,
    'tool_choice "none" yields an answer without tool calls',
    source=f"{SPEC_CHOICE} ('none means the model will not call any tool and instead generates a message')",
    probes=("tools-none",),
    requires=("tools",),
    impact=Impact.SPEC,
)
def tool_choice_none(ctx: RuleContext) -> None:
    """Asked about the weather with get_weather declared but `tool_choice: "none"`, the message has no tool call."""
    ex = ctx.exchange("tools-none")
    calls = calls_of(accepted(ex, 'the tool_choice "none" request', SPEC_CHOICE))
    if calls:
        raise Violation(
            f'tool_choice "none" was answered with {len(calls)} tool call(s) ({SPEC_CHOICE})',
            expected="no tool_calls, a text message",
            received=calls,
            where="$.choices[0].message.tool_calls",
            exchange=ex,
        )


@rule(
    "TOOL-009",
    Level.MUST,
    'tool_choice "required" yields at least one tool call',
    source=f"{SPEC_CHOICE} ('required means the model must call one or more tools')",
    probes=("tools-required",),
    requires=("tools",),
    impact=Impact.SPEC,
)
def tool_choice_required(ctx: RuleContext) -> None:
    """With `tool_choice: "required"` and a question no tool is named in, the answer still calls a declared tool."""
    ex = ctx.exchange("tools-required")
    if not calls_of(accepted(ex, 'the tool_choice "required" request', SPEC_CHOICE)):
        raise Violation(
            f'tool_choice "required" was answered without a tool call ({SPEC_CHOICE})',
            expected="at least one tool call",
            received=message_of(choices_of(body_of(ex))[0]) if choices_of(body_of(ex)) else None,
            where="$.choices[0].message",
            exchange=ex,
        )


@rule(
    "TOOL-010",
    Level.MUST,
    'A streamed tool_choice "auto" request with parallel_tool_calls is answered with a stream',
    source=f"{SPEC_CHOICE} ('auto means the model can pick'); {SPEC_PARALLEL}",
    probes=("tools-parallel-stream",),
    requires=("tools",),
    impact=Impact.CLIENT,
    breaks=[STATUS_ERROR],
)
def tool_choice_auto(ctx: RuleContext) -> None:
    """`tool_choice: "auto"`, `parallel_tool_calls: true`, `stream: true` gets 200 and chunks (calls or text)."""
    stream_accepted(ctx.exchange("tools-parallel-stream"), 'the streamed tool_choice "auto" request')


@rule(
    "TOOL-011",
    Level.MUST,
    "Parallel tool calls in a stream have distinct indexes and distinct ids",
    source=f"{SPEC_FRAGMENT} index, id; {SPEC_PARALLEL}",
    probes=("tools-parallel-stream",),
    requires=("tools",),
    impact=Impact.CLIENT,
    breaks=[ACCUMULATES],
)
def parallel_calls(ctx: RuleContext) -> None:
    """When the answer calls two or more tools, each call's fragments share one index and each call one id.

    Calls are told apart by their first fragment (the one with `id` and `function.name`); a model that
    makes a single call leaves nothing to judge.
    """
    ex = ctx.exchange("tools-parallel-stream")
    heads = [(pos, f) for pos, f in fragments_of(chunks_of(ex)) if isinstance(f, dict) and f.get("id")]
    if len(heads) < 2:
        raise NotApplicable(f"the answer made {len(heads)} tool call(s); parallel calls cannot be judged")
    indexes = [f.get("index") for _, f in heads]
    if not all(type(i) is int for i in indexes):
        raise NotApplicable("a tool-call fragment has no integer index; TOOL-005 reports it")
    ids = [f.get("id") for _, f in heads]
    for what, plural, values in (("index", "indexes", indexes), ("id", "ids", ids)):
        if len(set(map(repr, values))) != len(values):
            raise Violation(
                f"{len(heads)} parallel tool calls carry the {plural} {values}: two calls share one {what}, so a "
                f"client that accumulates fragments merges them ({SPEC_FRAGMENT})",
                expected=f"a distinct {what} per call",
                received=[f for _, f in heads],
                where=f"chunks {', '.join(str(pos) for pos, _ in heads)} delta.tool_calls",
                exchange=ex,
            )


@rule(
    "TOOL-012",
    Level.MUST,
    "The turn after a tool call (assistant tool_calls, then a tool message) is answered",
    source=SPEC_TURN,
    probes=("tools-second-turn",),
    requires=("tools",),
    impact=Impact.CLIENT,
    breaks=[STATUS_ERROR],
)
def second_turn(ctx: RuleContext) -> None:
    """Every agent loop sends the tool's result back: 200 with a message that has text or a further tool call."""
    ex = ctx.exchange("tools-second-turn")
    choices = choices_of(accepted(ex, "the request carrying a tool result", SPEC_TURN))
    msg = message_of(choices[0]) if choices else {}
    content = msg.get("content")
    if not (isinstance(content, str) and content.strip()) and not calls_of({"choices": choices}):
        raise Violation(
            f"the turn after the tool result was answered without text or a tool call ({SPEC_TURN})",
            expected="message.content text (or a further tool call)",
            received=msg or None,
            where="$.choices[0].message",
            exchange=ex,
        )
