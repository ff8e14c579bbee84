"""Request validation: a request body -> a normalised `GenRequest`, or an `ApiError` (OpenAI envelope).

Every check has a stable name that a fault's `skip_validation` can switch off: "auth", "json",
"required", "types", "model", "role", "content_part", "image", "image_input" (an image sent to a model
that is not a vision model), "stream_options", "path", "unknown" (unrecognised top-level parameter),
"tools", "tool_choice", "logprobs", "response_format" (json_schema name and schema), and the name of
each profile range ("temperature", "top_p", "n", "max_tokens", "stop_count", "completion_logprobs", ...).
Sources: the OpenAI spec (github.com/openai/openai-openapi) CreateChatCompletionRequest and
CreateCompletionRequest; ranges come from the active profile.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from maascheck.core.profiles import Range
from maascheck.sim.images import check_image_url
from maascheck.sim.persona import Persona
from maascheck.sim.tokens import IMAGE_TOKENS, MESSAGE_OVERHEAD_TOKENS, REPLY_PRIMING_TOKENS, count_tokens

CHAT_PARAMS = frozenset(
    [
        "model",
        "messages",
        "temperature",
        "top_p",
        "n",
        "stream",
        "stream_options",
        "stop",
        "max_tokens",
        "max_completion_tokens",
        "presence_penalty",
        "frequency_penalty",
        "logit_bias",
        "logprobs",
        "top_logprobs",
        "user",
        "seed",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "response_format",
        "functions",
        "function_call",
        "service_tier",
        "store",
        "metadata",
        "reasoning_effort",
        "modalities",
        "audio",
        "prediction",
        "web_search_options",
        "verbosity",
        "prompt_cache_key",
        "safety_identifier",
    ]
)
COMPLETION_PARAMS = frozenset(
    [
        "model",
        "prompt",
        "best_of",
        "echo",
        "frequency_penalty",
        "logit_bias",
        "logprobs",
        "max_tokens",
        "n",
        "presence_penalty",
        "seed",
        "stop",
        "stream",
        "stream_options",
        "suffix",
        "temperature",
        "top_p",
        "user",
    ]
)
VENDOR_TYPES: dict[str, str] = {
    "repetition_penalty": "number",
    "stop_token_ids": "int_list",
    "top_k": "integer",
    "min_p": "number",
    "ignore_eos": "boolean",
    "skip_special_tokens": "boolean",
    "include_stop_str_in_output": "boolean",
    "enable_thinking": "boolean",
    "prompt": "any",
}
"""Vendor extensions the simulator understands; accepted only when `features.vendor_params` lists them."""

_FUNCTION_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_PART_TYPES = frozenset({"text", "image_url"})
_TOOL_CHOICES = frozenset({"none", "auto", "required"})


class ApiError(Exception):
    """A request the simulator rejects, rendered as an OpenAI error envelope (ErrorResponse l.38286)."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        type_: str = "invalid_request_error",
        headers: tuple[tuple[str, str], ...] = (),
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.code = code
        self.type = type_
        self.headers = headers

    def body(self) -> dict[str, Any]:
        """The error envelope `{"error": {message, type, param, code}}`."""
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}


@dataclass
class GenRequest:
    """A validated generation request, normalised for the generator and renderer."""

    endpoint: str  # "chat" | "completions"
    model: str
    model_role: str
    stream: bool
    include_usage: bool = False
    n: int = 1
    max_tokens: int | None = None
    stop: list[str] = field(default_factory=list)
    seed: int | None = None
    temperature: float | None = None
    logprobs: bool = False
    top_logprobs: int = 0
    legacy_logprobs: int | None = None
    echo: bool = False
    tools: list[dict[str, Any]] = field(default_factory=list)
    tool_choice: Any = None
    parallel_tool_calls: bool = True  # CreateChatCompletionRequest.parallel_tool_calls (default true)
    after_tool_result: bool = False  # the last message is a `tool` result: the model answers in text
    json_output: bool = False
    json_schema: dict[str, Any] | None = None  # response_format json_schema: the answer is an instance of it
    ignore_eos: bool = False
    prompt_tokens: int = 0
    prompts: list[str] = field(default_factory=lambda: [""])
    prompt_key: Any = None
    last_user_text: str = ""
    cache_text: str = ""


class Checker:
    """Raises ApiError for failed checks, except those named in `skip` (then validation carries on)."""

    def __init__(self, persona: Persona, skip: frozenset[str]) -> None:
        self.persona = persona
        self.skip = skip

    def fail(
        self,
        check: str,
        message: str,
        param: str | None = None,
        *,
        status: int = 400,
        code: str | None = None,
    ) -> None:
        """Reject the request unless `check` is skipped."""
        if check not in self.skip:
            raise ApiError(status, message, param=param, code=code)

    def typed(self, body: dict[str, Any], name: str, kind: str, where: str = "") -> Any:
        """body[name] when it has JSON type `kind` (None counts as absent), else a "types" failure."""
        value = body.get(name)
        if value is None:
            return None
        if _is_kind(value, kind):
            return value
        label = where or name
        self.fail(
            "types",
            f"Invalid type for '{label}': expected {_KIND_TEXT[kind]}, but got "
            f"{_json_type(value)} ({_short(value)}).",
            label,
            code="invalid_type",
        )
        return None

    def in_range(self, range_name: str, value: Any, param: str) -> None:
        """Check `value` against the profile range `range_name` (if the profile documents one)."""
        rng: Range | None = self.persona.ranges.get(range_name)
        if rng is None or value is None:
            return
        if not rng.contains(value):
            kind = "an integer" if rng.kind == "integer" else "a number"
            interval = rng.describe()
            if range_name == "stop_count":
                message = f"Invalid '{param}': {value} stop sequences given; expected a count in {interval}"
            else:
                message = f"Invalid value for '{param}': expected {kind} in {interval}, got {_short(value)}"
            source = f" (documented by {rng.source})" if rng.source else ""
            self.fail(range_name, message + source + ".", param, code="invalid_value")


_KIND_TEXT = {
    "string": "a string",
    "number": "a number",
    "integer": "an integer",
    "boolean": "a boolean",
    "array": "an array",
    "object": "an object",
    "int_list": "an array of integers",
    "any": "any value",
}


def _is_kind(value: Any, kind: str) -> bool:
    if kind == "any":
        return True
    if kind == "string":
        return isinstance(value, str)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if kind == "array":
        return isinstance(value, list)
    if kind == "object":
        return isinstance(value, dict)
    if kind == "int_list":
        return isinstance(value, list) and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    return False


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if value is None:
        return "null"
    names: dict[type, str] = {str: "string", list: "array", dict: "object"}
    return names.get(type(value), type(value).__name__)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def validate(endpoint: str, body: dict[str, Any], persona: Persona, skip: frozenset[str]) -> GenRequest:
    """Validate a chat ("chat") or legacy ("completions") request body; raise ApiError when bad."""
    c = Checker(persona, skip)
    known = CHAT_PARAMS if endpoint == "chat" else COMPLETION_PARAMS
    for key in body:
        if key in known:
            continue
        if key in persona.vendor_params:
            kind = VENDOR_TYPES.get(key, "any")
            c.typed(body, key, kind)
            c.in_range(key, body.get(key), key)
            continue
        if persona.reject_unknown:
            c.fail("unknown", f"Unrecognized request argument supplied: {key}", key, code="unknown_parameter")

    model = c.typed(body, "model", "string")
    if model is None:
        c.fail("required", "You must provide a model parameter.", "model", code="missing_required_parameter")
        model = next(iter(persona.model_roles), "unknown")
    role = persona.model_role(model)
    if role is None:
        c.fail(
            "model",
            f"The model '{model}' does not exist or you do not have access to it. "
            f"Served models: {', '.join(persona.model_roles)}.",
            "model",
            status=404,
            code="model_not_found",
        )
        role = "chat"

    req = GenRequest(endpoint=endpoint, model=model, model_role=role, stream=persona.default_stream)
    _common(c, body, req)
    if endpoint == "chat":
        _chat(c, body, req)
    else:
        _legacy(c, body, req)
    return req


def _common(c: Checker, body: dict[str, Any], req: GenRequest) -> None:
    stream = c.typed(body, "stream", "boolean")
    if stream is not None:
        req.stream = stream
    opts = body.get("stream_options")
    if opts is not None:
        if not isinstance(opts, dict):
            c.fail(
                "types",
                f"Invalid type for 'stream_options': expected an object, but got {_json_type(opts)}.",
                "stream_options",
                code="invalid_type",
            )
            opts = {}
        if not req.stream:
            c.fail(
                "stream_options",
                "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
                "stream_options",
                code="invalid_value",
            )
        usage = c.typed(opts, "include_usage", "boolean", "stream_options.include_usage")
        req.include_usage = bool(usage) and req.stream
    for name in ("temperature", "top_p", "presence_penalty", "frequency_penalty"):
        c.in_range(name, c.typed(body, name, "number"), name)
    req.temperature = c.typed(body, "temperature", "number")
    n = c.typed(body, "n", "integer")
    c.in_range("n", n, "n")
    req.n = max(1, min(int(n), 128)) if n is not None else 1
    seed = c.typed(body, "seed", "integer")
    c.in_range("seed", seed, "seed")
    req.seed = seed
    _stop(c, body, req)
    c.typed(body, "user", "string")
    c.typed(body, "logit_bias", "object")
    if "ignore_eos" in c.persona.vendor_params:
        req.ignore_eos = bool(body.get("ignore_eos"))


def _stop(c: Checker, body: dict[str, Any], req: GenRequest) -> None:
    stop = body.get("stop")
    if stop is None:
        return
    if isinstance(stop, str):
        req.stop = [stop] if stop else []
        return
    if not isinstance(stop, list) or not all(isinstance(s, str) for s in stop):
        c.fail(
            "types",
            f"Invalid type for 'stop': expected a string or an array of strings, got {_short(stop)}.",
            "stop",
            code="invalid_type",
        )
        return
    c.in_range("stop_count", len(stop), "stop")
    req.stop = [s for s in stop if s]


def _max_tokens(c: Checker, body: dict[str, Any], names: tuple[str, ...]) -> int | None:
    chosen: int | None = None
    for name in names:
        value = c.typed(body, name, "integer")
        c.in_range(name, value, name)
        if value is not None:
            chosen = value
    return None if chosen is None else max(0, chosen)


def _chat(c: Checker, body: dict[str, Any], req: GenRequest) -> None:
    req.max_tokens = _max_tokens(c, body, ("max_tokens", "max_completion_tokens"))
    logprobs = c.typed(body, "logprobs", "boolean")
    req.logprobs = bool(logprobs)
    top = c.typed(body, "top_logprobs", "integer")
    c.in_range("top_logprobs", top, "top_logprobs")
    if top is not None and not req.logprobs:
        c.fail(
            "logprobs",
            "Invalid value for 'top_logprobs': 'logprobs' must be set to true when 'top_logprobs' is used.",
            "top_logprobs",
            code="invalid_value",
        )
    req.top_logprobs = max(0, min(int(top or 0), 20))
    _messages(c, body, req)
    _tools(c, body, req)
    fmt = c.typed(body, "response_format", "object")
    if fmt is not None:
        kind = fmt.get("type")
        if kind not in {"text", "json_object", "json_schema"}:
            c.fail(
                "types",
                f"Invalid value for 'response_format.type': expected 'text', 'json_object' or "
                f"'json_schema', got {_short(kind)}.",
                "response_format.type",
                code="invalid_value",
            )
        req.json_output = kind in {"json_object", "json_schema"}
        if kind == "json_schema":
            req.json_schema = _json_schema(c, fmt)


def _json_schema(c: Checker, fmt: dict[str, Any]) -> dict[str, Any] | None:
    """`response_format.json_schema.schema` when it is a valid JSON Schema, else a "response_format" failure.

    Spec: ResponseFormatJsonSchema.json_schema (name required, ^[a-zA-Z0-9_-]{1,64}$; schema a JSON
    Schema object). OpenAI answers an invalid schema with 400 "Invalid schema for response_format".
    """
    spec = fmt.get("json_schema")
    name = spec.get("name") if isinstance(spec, dict) else None
    if not isinstance(name, str) or not _FUNCTION_NAME.match(name):
        c.fail(
            "response_format",
            f"Invalid 'response_format.json_schema.name': {_short(name)}; expected a string matching "
            "'^[a-zA-Z0-9_-]{1,64}$'.",
            "response_format.json_schema.name",
            code="invalid_value",
        )
        return None
    schema = spec.get("schema") if isinstance(spec, dict) else None
    if schema is None:
        return None
    problem = "expected an object" if not isinstance(schema, dict) else _schema_problem(schema)
    if problem is not None:
        c.fail(
            "response_format",
            f"Invalid schema for response_format '{name}': {problem}.",
            "response_format.json_schema.schema",
            code="invalid_json_schema",
        )
        return None
    return schema if isinstance(schema, dict) else None


def _schema_problem(schema: dict[str, Any]) -> str | None:
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError

    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "(root)"
        return f"at {where}: {exc.message[:200]}"
    return None


def _messages(c: Checker, body: dict[str, Any], req: GenRequest) -> None:
    messages = body.get("messages")
    if messages is None:
        c.fail(
            "required",
            "Missing required parameter: 'messages'.",
            "messages",
            code="missing_required_parameter",
        )
        messages = []
    if not isinstance(messages, list):
        c.fail(
            "types",
            f"Invalid type for 'messages': expected an array, but got {_json_type(messages)}.",
            "messages",
            code="invalid_type",
        )
        messages = []
    if not messages:
        c.fail(
            "types",
            "Invalid 'messages': empty array. Expected an array with minimum length 1.",
            "messages",
            code="empty_array",
        )
    tokens = REPLY_PRIMING_TOKENS
    texts: list[str] = []
    for i, msg in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(msg, dict):
            c.fail(
                "types",
                f"Invalid type for '{where}': expected an object, but got {_json_type(msg)}.",
                where,
                code="invalid_type",
            )
            continue
        role = msg.get("role")
        if role is None:
            c.fail(
                "required",
                f"Missing required parameter: '{where}.role'.",
                f"{where}.role",
                code="missing_required_parameter",
            )
        elif not isinstance(role, str) or role not in c.persona.roles:
            c.fail(
                "role",
                f"Invalid value for '{where}.role': {_short(role)}. Supported values are: "
                f"{', '.join(repr(r) for r in sorted(c.persona.roles))}.",
                f"{where}.role",
                code="invalid_value",
            )
        text, extra = _content(c, msg, str(role), where, req.model_role)
        tokens += MESSAGE_OVERHEAD_TOKENS + count_tokens(text) + extra
        texts.append(f"{role}: {text}")
        if role == "user":
            req.last_user_text = text
    req.prompt_tokens = tokens
    req.cache_text = "\n".join(texts)
    req.prompt_key = messages


def _content(c: Checker, msg: dict[str, Any], role: str, where: str, model_role: str) -> tuple[str, int]:
    """The text of one message's content and the extra (image) tokens it carries.

    Only a vision model takes images: another model refuses an image part with 400, as vLLM does for a
    text-only model.
    """
    content = msg.get("content")
    if content is None:
        if role == "assistant":  # content may be null, e.g. next to tool_calls (spec a.1)
            return "", 0
        c.fail(
            "required",
            f"Missing required parameter: '{where}.content'.",
            f"{where}.content",
            code="missing_required_parameter",
        )
        return "", 0
    if role == "tool" and "tool_call_id" not in msg:
        c.fail(
            "required",
            f"Missing required parameter: '{where}.tool_call_id'.",
            f"{where}.tool_call_id",
            code="missing_required_parameter",
        )
    if isinstance(content, str):
        return content, 0
    if not isinstance(content, list):
        c.fail(
            "types",
            f"Invalid type for '{where}.content': expected a string or an array of content parts, "
            f"but got {_json_type(content)}.",
            f"{where}.content",
            code="invalid_type",
        )
        return "", 0
    if not content:
        c.fail(
            "types",
            f"Invalid '{where}.content': empty array. Expected an array with minimum length 1.",
            f"{where}.content",
            code="empty_array",
        )
    texts: list[str] = []
    extra = 0
    for j, part in enumerate(content):
        pwhere = f"{where}.content[{j}]"
        kind = part.get("type") if isinstance(part, dict) else None
        if not isinstance(part, dict) or kind not in _PART_TYPES:
            c.fail(
                "content_part",
                f"Invalid value for '{pwhere}.type': {_short(kind)}. Supported values are: "
                "'text' and 'image_url'.",
                f"{pwhere}.type",
                code="invalid_value",
            )
            continue
        if kind == "text":
            text = part.get("text")
            if not isinstance(text, str):
                c.fail(
                    "content_part",
                    f"Invalid '{pwhere}.text': expected a string, got {_short(text)}.",
                    f"{pwhere}.text",
                    code="invalid_value",
                )
                continue
            texts.append(text)
            continue
        if role not in {"user"}:
            c.fail(
                "content_part",
                f"Invalid '{pwhere}': image_url parts are only allowed in user messages, "
                f"not in role {role!r}.",
                f"{pwhere}.type",
                code="invalid_value",
            )
        if model_role != "vision":
            c.fail(
                "image_input",
                f"Invalid '{pwhere}': this model does not accept image input; send images to a vision model.",
                f"{pwhere}.type",
                code="image_input_not_supported",
            )
        image = part.get("image_url")
        url = image.get("url") if isinstance(image, dict) else None
        if not isinstance(url, str):
            c.fail(
                "content_part",
                f"Invalid '{pwhere}.image_url': expected an object with a string 'url', got {_short(image)}.",
                f"{pwhere}.image_url.url",
                code="invalid_value",
            )
            continue
        problem = check_image_url(url, c.persona.image_schemes)
        if problem:
            c.fail(
                "image",
                f"Invalid '{pwhere}.image_url.url': {problem}.",
                f"{pwhere}.image_url.url",
                code="invalid_image_url",
            )
        extra += IMAGE_TOKENS
    return " ".join(texts), extra


def _tools(c: Checker, body: dict[str, Any], req: GenRequest) -> None:
    tools = c.typed(body, "tools", "array") or []
    names: list[str] = []
    for i, tool in enumerate(tools):
        where = f"tools[{i}]"
        fn = tool.get("function") if isinstance(tool, dict) else None
        name = fn.get("name") if isinstance(fn, dict) else None
        if not isinstance(tool, dict) or tool.get("type") != "function" or not isinstance(name, str):
            c.fail(
                "tools",
                f"Invalid '{where}': expected {{'type': 'function', 'function': {{'name': ...}}}}, "
                f"got {_short(tool)}.",
                where,
                code="invalid_value",
            )
            continue
        if not _FUNCTION_NAME.match(name):
            c.fail(
                "tools",
                f"Invalid '{where}.function.name': {name!r} does not match '^[a-zA-Z0-9_-]{{1,64}}$'.",
                f"{where}.function.name",
                code="invalid_value",
            )
        names.append(name)
        req.tools.append(tool)
    parallel = c.typed(body, "parallel_tool_calls", "boolean")
    req.parallel_tool_calls = parallel is not False
    messages = body.get("messages")
    last = messages[-1] if isinstance(messages, list) and messages else None
    req.after_tool_result = isinstance(last, dict) and last.get("role") == "tool"
    choice = body.get("tool_choice")
    if choice is None:
        return
    if isinstance(choice, str):
        if choice not in _TOOL_CHOICES:
            c.fail(
                "tool_choice",
                f"Invalid value for 'tool_choice': {choice!r}. Supported values are: 'none', "
                "'auto' and 'required' or a named function.",
                "tool_choice",
                code="invalid_value",
            )
        elif choice == "required" and not names:
            c.fail(
                "tool_choice",
                "Invalid value for 'tool_choice': 'required' needs at least one tool in 'tools'.",
                "tool_choice",
                code="invalid_value",
            )
        req.tool_choice = choice
        return
    fn = choice.get("function") if isinstance(choice, dict) else None
    name = fn.get("name") if isinstance(fn, dict) else None
    if not isinstance(name, str) or name not in names:
        c.fail(
            "tool_choice",
            f"Invalid value for 'tool_choice': {_short(choice)} does not name a function "
            f"declared in 'tools' ({', '.join(names) or 'none declared'}).",
            "tool_choice",
            code="invalid_value",
        )
        return
    req.tool_choice = choice


def _legacy(c: Checker, body: dict[str, Any], req: GenRequest) -> None:
    req.max_tokens = _max_tokens(c, body, ("max_tokens",))
    if req.max_tokens is None:
        req.max_tokens = c.persona.completions_max_tokens
    logprobs = c.typed(body, "logprobs", "integer")
    c.in_range("completion_logprobs", logprobs, "logprobs")
    req.legacy_logprobs = None if logprobs is None else max(0, min(int(logprobs), 20))
    req.echo = bool(c.typed(body, "echo", "boolean"))
    c.typed(body, "suffix", "string")
    best_of = c.typed(body, "best_of", "integer")
    c.in_range("best_of", best_of, "best_of")
    prompt = body.get("prompt")
    if prompt is None:
        c.fail(
            "required", "Missing required parameter: 'prompt'.", "prompt", code="missing_required_parameter"
        )
        prompt = ""
    prompts: list[str]
    token_counts: list[int]
    if isinstance(prompt, str):
        prompts, token_counts = [prompt], [count_tokens(prompt)]
    elif isinstance(prompt, list) and prompt and all(isinstance(p, str) for p in prompt):
        prompts, token_counts = list(prompt), [count_tokens(p) for p in prompt]
    elif isinstance(prompt, list) and prompt and all(_is_kind(p, "integer") for p in prompt):
        prompts, token_counts = [" ".join(str(t) for t in prompt)], [len(prompt)]
    elif isinstance(prompt, list) and prompt and all(_is_kind(p, "int_list") and p for p in prompt):
        prompts, token_counts = [" ".join(str(t) for t in p) for p in prompt], [len(p) for p in prompt]
    else:
        c.fail(
            "types",
            "Invalid type for 'prompt': expected a string, an array of strings, an array of "
            f"integers or an array of integer arrays, got {_short(prompt)}.",
            "prompt",
            code="invalid_type",
        )
        prompts, token_counts = [""], [0]
    req.prompts = prompts
    req.prompt_tokens = sum(token_counts)
    req.cache_text = prompts[0]
    req.last_user_text = prompts[-1]
    req.prompt_key = prompt
