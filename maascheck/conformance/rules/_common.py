"""What the rule areas share: probe bodies and models, acceptance and guards, schema checks, reading streams.

The model a probe uses, the acceptance check of an exchange (`accepted`, `stream_accepted`) and the
guard of the rules that only read a successful one (`body_of`, `chunks_of`), schema checks that
leave fields owned by a more specific rule to that rule, and the readers of a chat stream's chunks.
This module registers no rule and no probe. Spec: the OpenAI spec's CreateChatCompletionResponse
and CreateChatCompletionStreamResponse.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from maascheck.conformance.engine.options import profile_model
from maascheck.conformance.model.exchange import Exchange, SSEEvent, owner_of
from maascheck.conformance.model.probe import ProbeEnv
from maascheck.conformance.model.rule import NotApplicable, RuleContext, Violation
from maascheck.core import schema_registry as schemas
from maascheck.core.profiles import Profile

SPEC_RESPONSE = "OpenAI spec CreateChatCompletionResponse"
PROMPT = "Say this is a test!"  # the example prompt of 常见模型 API 文档
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
    """The suite's plain chat request (常见模型 API 文档 prompt, small max_tokens, explicit `stream`) plus `extra`."""
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
        why = f"not usable JSON ({ex.json_problem[:300]})" if ex.json_problem else "not a JSON object"
        problem = f"the 200 body is {why}: {ex.body[:200]!r}"
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

SPEC_CHUNK = "OpenAI spec CreateChatCompletionStreamResponse"

# Every chat stream the suite makes, and every stream (chat and legacy completions).
CHAT_STREAMS = (
    "chat-stream",
    "chat-stream-usage",
    "chat-n2-stream",
    "finish-length-stream",
    "tools-stream",
    "reasoning-stream",
)
ALL_STREAMS = (*CHAT_STREAMS, "completions-stream")


# -- reading a stream ----------------------------------------------------------------------------


def before_done(ex: Exchange) -> list[SSEEvent]:
    """The events before the first `data: [DONE]` (all events when there is none)."""
    out = []
    for ev in ex.events:
        if ev.is_done:
            break
        out.append(ev)
    return out


def error_event(ex: Exchange) -> SSEEvent | None:
    """The first event whose JSON is an object with a truthy `error` (what openai-python raises on)."""
    return next((ev for ev in ex.events if isinstance(ev.json, dict) and ev.json.get("error")), None)


def chunk_objects(ex: Exchange) -> list[dict[str, Any]]:
    """The JSON object payloads before [DONE]."""
    return [ev.json for ev in before_done(ex) if isinstance(ev.json, dict)]


def chunks_of(ex: Exchange) -> list[dict[str, Any]]:
    """The chunks of a complete, successful stream; NotApplicable when the root cause lies elsewhere."""
    problem = failure(ex)
    if problem is not None:
        owner = owner_of(ex)
        raise NotApplicable(f"probe {ex.probe} did not complete ({problem[:200]}); {owner} reports it")
    err = error_event(ex)
    if err is not None:
        raise NotApplicable(f"probe {ex.probe} streamed an error event; STREAM-006 reports it")
    chunks = chunk_objects(ex)
    if not chunks:
        raise NotApplicable(f"probe {ex.probe} streamed no JSON chunks; STREAM-002/STREAM-014 report it")
    return chunks


def stream_chunks(ctx: RuleContext, names: tuple[str, ...]) -> list[tuple[Exchange, list[dict[str, Any]]]]:
    """(exchange, chunks) of every complete, successful stream among `names`; NotApplicable when none."""
    out = []
    for ex in first_made(ctx, names):
        try:
            out.append((ex, chunks_of(ex)))
        except NotApplicable:
            continue
    if not out:
        raise NotApplicable(f"no complete successful stream among {', '.join(names)}")
    return out


def stream_accepted(ex: Exchange, what: str) -> list[dict[str, Any]]:
    """The chunks of `ex` for the rule that owns its acceptance: a Violation when it was not answered 200.

    Transport failures after the headers and in-stream errors stay NotApplicable: STREAM-004/005/006
    report them.
    """
    if ex.status is None or (ex.status != 200 and not ex.error):
        received = failure(ex) or f"HTTP {ex.status}"
        raise Violation(
            f"{what} was not answered 200 ({SPEC_CHUNK}); received {received}",
            expected="HTTP 200 with an event stream",
            received=received,
            where=f"{ex.method} {ex.url}",
            exchange=ex,
        )
    return chunks_of(ex)


def choices_by_index(chunks: list[dict[str, Any]]) -> dict[int, list[tuple[int, dict[str, Any]]]]:
    """Each integer choice index -> its (chunk position, choice object) entries in stream order."""
    out: dict[int, list[tuple[int, dict[str, Any]]]] = {}
    for pos, chunk in enumerate(chunks):
        choices = chunk.get("choices")
        for choice in choices if isinstance(choices, list) else []:
            if isinstance(choice, dict) and type(choice.get("index")) is int:
                out.setdefault(choice["index"], []).append((pos, choice))
    return out


def choice_indexes(chunks: list[dict[str, Any]]) -> list[int]:
    """The choice indexes a stream carried, ascending."""
    return sorted(choices_by_index(chunks))


def delta_of(choice: dict[str, Any]) -> dict[str, Any]:
    """A stream choice's `delta` ({} when absent or not an object)."""
    delta = choice.get("delta")
    return delta if isinstance(delta, dict) else {}


def delta_output(delta: dict[str, Any]) -> bool:
    """Whether a delta carries output: content, reasoning or tool-call text."""
    for key in ("content", "reasoning_content", "reasoning", "refusal"):
        if isinstance(delta.get(key), str) and delta[key]:
            return True
    return bool(delta.get("tool_calls"))


def is_event_stream(ex: Exchange) -> bool:
    """Whether the body is framed as an event stream (declared so, or events were parsed from it)."""
    return ex.is_sse or bool(ex.events)


def finish_reasons(chunks: list[dict[str, Any]], index: int = 0) -> list[Any]:
    """The non-null finish_reason values choice `index` carried, in order."""
    return [
        c.get("finish_reason")
        for _, c in choices_by_index(chunks).get(index, [])
        if c.get("finish_reason") is not None
    ]
