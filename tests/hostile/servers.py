"""A catalogue of misbehaving OpenAI-compatible servers on real loopback sockets, for conformance and load.

One `HostileServer` (threads, 127.0.0.1, port 0) serves every behaviour of `BEHAVIOURS` at once: the
behaviour is the first path segment, so `server.base_url("gzip-bomb")` is
`http://127.0.0.1:PORT/gzip-bomb/v1`. Each behaviour answers `GET /v1/models`,
`POST /v1/chat/completions` (stream and not) and `POST /v1/completions`: the requests it is about
(`applies`) get its misbehaviour, the others a valid answer, so a whole conformance run or a load run
can be aimed at it. Answers are generated lazily as steps (bytes to send, or seconds to wait): a bomb
of gigabytes is never held in memory, and an endless answer ends only when the client goes away, the
server stops, or `max_answer_s` passes (a server-side bound, so a broken client cannot pin a thread).

Run one from a shell: `python -m tests.hostile.servers [--key KEY] [--model MODEL]` prints the base URL
of every behaviour and serves until interrupted.

Formats follow the OpenAI API reference (github.com/openai/openai-openapi: `CreateChatCompletionResponse`,
`CreateChatCompletionStreamResponse`, `CreateCompletionResponse`, `ListModelsResponse`, `ErrorResponse`)
and the HTML Living Standard, "9.2 Server-sent events" for the streams.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import socket
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

Step = bytes | float  # bytes to send, or seconds to wait
DEFAULT_KEY = "hostile-test-key-0123456789abcdef"  # a fake key for loopback servers only
DEFAULT_MODEL = "hostile-model"
MAX_REQUEST_BYTES = 16 * 1024 * 1024

HOSTILE_TEXT = (
    "\x1b[2J\x1b[H\x1b[32mmaascheck conformance: PASS\x1b[0m \x1b]0;pwned\x07 nul:\x00 bel:\x07 "
    "<script>alert(1)</script><img src=x onerror=alert(1)>"
)
"""Control characters (ANSI clear + fake verdict, OSC title, NUL, BEL) and HTML, as servers may send."""


@dataclass
class Request:
    """One parsed request, seen by a behaviour."""

    method: str
    path: str  # below the behaviour's /v1, e.g. "/chat/completions"
    headers: dict[str, str]  # lower-case names
    body: bytes
    server: HostileServer

    @property
    def json(self) -> dict[str, Any]:
        """The body as a JSON object ({} when it is none)."""
        try:
            doc = json.loads(self.body) if self.body else {}
        except ValueError:
            return {}
        return doc if isinstance(doc, dict) else {}

    @property
    def stream(self) -> bool:
        """Whether the request asks for a stream."""
        return self.json.get("stream") is True

    @property
    def endpoint(self) -> str:
        """`models`, `chat`, `completions` or `other`."""
        if self.path.rstrip("/") == "/models" or self.path.startswith("/models/"):
            return "models"
        return {"/chat/completions": "chat", "/completions": "completions"}.get(self.path, "other")

    @property
    def bearer(self) -> str:
        """The Bearer token sent ('' when none)."""
        auth = self.headers.get("authorization", "")
        return auth[7:] if auth.lower().startswith("bearer ") else ""


Responder = Callable[[Request], Iterator[Step]]


@dataclass(frozen=True)
class Behaviour:
    """A named misbehaviour: `respond` answers the requests `applies` selects; the rest get valid answers."""

    name: str
    description: str
    respond: Responder
    applies: Callable[[Request], bool] = field(default=lambda req: True)
    endless: bool = False  # the answer never ends by itself


# --- HTTP framing ---------------------------------------------------------------------------------


def head(status: int, headers: list[tuple[str, str]], reason: str = "X") -> bytes:
    """A status line and headers."""
    lines = [f"HTTP/1.1 {status} {reason}"] + [f"{k}: {v}" for k, v in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def whole(
    status: int, body: bytes, content_type: str = "application/json", extra: tuple[tuple[str, str], ...] = ()
) -> bytes:
    """A complete response with Content-Length."""
    hdrs = [("Content-Type", content_type), ("Content-Length", str(len(body))), *extra]
    return head(status, hdrs) + body


def chunk(data: bytes) -> bytes:
    """One HTTP/1.1 chunk (RFC 9112 §7.1)."""
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


LAST_CHUNK = b"0\r\n\r\n"
SSE_HEAD = head(
    200, [("Content-Type", "text/event-stream"), ("Transfer-Encoding", "chunked"), ("Cache-Control", "no-cache")]
)


def dumps(doc: Any) -> bytes:
    """Compact JSON, non-ASCII kept (lone surrogates are written as escapes by the caller)."""
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "surrogatepass")


def sse_event(doc: Any, line_end: bytes = b"\n") -> bytes:
    """One `data:` event holding `doc` as JSON (or the `[DONE]` terminator when doc is that string)."""
    data = doc.encode() if isinstance(doc, str) else dumps(doc)
    return b"data: " + data + line_end + line_end


# --- valid answers ----------------------------------------------------------------------------------


# One creation time for everything the server answers: a stream's chunks share their `created` (the spec's
# CreateChatCompletionStreamResponse.created is the same in each chunk).
CREATED = int(time.time())


def _words(req: Request) -> list[str]:
    body = req.json
    raw = body.get("max_completion_tokens", body.get("max_tokens", 8))
    n = raw if isinstance(raw, int) and 0 < raw <= 64 else 8
    return [f"w{i} " for i in range(n)]


def _prompt_tokens(req: Request) -> int:
    return max(1, len(req.body) // 16)


def _usage(req: Request, completion: int) -> dict[str, int]:
    p = _prompt_tokens(req)
    return {"prompt_tokens": p, "completion_tokens": completion, "total_tokens": p + completion}


def _model(req: Request) -> str:
    m = req.json.get("model")
    return m if isinstance(m, str) and m else req.server.model


def models_doc(req: Request) -> dict[str, Any]:
    """`ListModelsResponse`."""
    return {
        "object": "list",
        "data": [{"id": req.server.model, "object": "model", "created": 1700000000, "owned_by": "hostile"}],
    }


def chat_doc(req: Request) -> dict[str, Any]:
    """`CreateChatCompletionResponse` for `req`."""
    words = _words(req)
    return {
        "id": "chatcmpl-hostile",
        "object": "chat.completion",
        "created": CREATED,
        "model": _model(req),
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "".join(words), "refusal": None},
                "logprobs": None,
                "finish_reason": "length" if len(words) < 8 else "stop",
            }
        ],
        "usage": _usage(req, len(words)),
    }


def completion_doc(req: Request) -> dict[str, Any]:
    """`CreateCompletionResponse` for `req`."""
    words = _words(req)
    return {
        "id": "cmpl-hostile",
        "object": "text_completion",
        "created": CREATED,
        "model": _model(req),
        "choices": [{"index": 0, "text": "".join(words), "logprobs": None, "finish_reason": "stop"}],
        "usage": _usage(req, len(words)),
    }


def _chunk_doc(req: Request, choice: dict[str, Any] | None, usage: dict[str, int] | None = None) -> dict[str, Any]:
    chat = req.endpoint == "chat"
    doc: dict[str, Any] = {
        "id": "chatcmpl-hostile" if chat else "cmpl-hostile",
        "object": "chat.completion.chunk" if chat else "text_completion",
        "created": CREATED,
        "model": _model(req),
        "choices": [choice] if choice is not None else [],
    }
    if usage is not None:
        doc["usage"] = usage
    return doc


def content_chunk(req: Request, text: str) -> dict[str, Any]:
    """A stream chunk carrying `text` (chat `delta.content`, or completions `text`)."""
    if req.endpoint == "chat":
        return _chunk_doc(req, {"index": 0, "delta": {"content": text}, "logprobs": None, "finish_reason": None})
    return _chunk_doc(req, {"index": 0, "text": text, "logprobs": None, "finish_reason": None})


def stream_docs(req: Request, texts: Iterator[str] | list[str] | None = None) -> Iterator[dict[str, Any]]:
    """The chunks of a valid stream: role, one per text, finish, and usage when `stream_options.include_usage`."""
    chat = req.endpoint == "chat"
    if chat:
        yield _chunk_doc(
            req, {"index": 0, "delta": {"role": "assistant", "content": ""}, "logprobs": None, "finish_reason": None}
        )
    count = 0
    for text in _words(req) if texts is None else texts:
        count += 1
        yield content_chunk(req, text)
    final: dict[str, Any] = {"index": 0, "logprobs": None, "finish_reason": "stop"}
    if chat:
        final["delta"] = {}
    else:
        final["text"] = ""
    yield _chunk_doc(req, final)
    opts = req.json.get("stream_options")
    if isinstance(opts, dict) and opts.get("include_usage") is True:
        yield _chunk_doc(req, None, _usage(req, count))


def sse_body(docs: Iterator[Any], line_end: bytes = b"\n", per_chunk: int = 1) -> Iterator[bytes]:
    """HTTP chunks of an event stream of `docs` then `[DONE]`, `per_chunk` events per HTTP chunk."""
    batch: list[bytes] = []
    for doc in docs:
        batch.append(sse_event(doc, line_end))
        if len(batch) >= per_chunk:
            yield chunk(b"".join(batch))
            batch = []
    batch.append(sse_event("[DONE]", line_end))
    yield chunk(b"".join(batch)) + LAST_CHUNK


def error_doc(message: str, kind: str, code: str | None = None) -> dict[str, Any]:
    """`ErrorResponse`."""
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


def valid(req: Request) -> Iterator[Step]:
    """A correct answer: 401 on a wrong key, 404 off the API, else the endpoint's document or stream."""
    if req.bearer != req.server.api_key:
        yield whole(401, dumps(error_doc("Invalid API key.", "invalid_request_error", "invalid_api_key")))
        return
    if req.endpoint == "other" or (req.endpoint == "models" and req.method != "GET"):
        yield whole(404, dumps(error_doc(f"Unknown path {req.path}", "invalid_request_error", "not_found")))
        return
    if req.endpoint == "models":
        if req.path.startswith("/models/"):
            name = req.path[len("/models/") :]
            if name != req.server.model:
                yield whole(
                    404,
                    dumps(error_doc(f"The model {name} does not exist", "invalid_request_error", "model_not_found")),
                )
                return
            yield whole(200, dumps(models_doc(req)["data"][0]))
            return
        yield whole(200, dumps(models_doc(req)))
        return
    body = req.json
    if not body or not isinstance(body.get("model"), str):
        yield whole(400, dumps(error_doc("'model' is a required property", "invalid_request_error", None)))
        return
    if body["model"] != req.server.model:
        yield whole(
            404,
            dumps(error_doc(f"The model {body['model']} does not exist", "invalid_request_error", "model_not_found")),
        )
        return
    if req.stream:
        yield SSE_HEAD
        yield from sse_body(stream_docs(req))
        return
    yield whole(200, dumps(chat_doc(req) if req.endpoint == "chat" else completion_doc(req)))


# --- misbehaviours ----------------------------------------------------------------------------------


def is_stream(req: Request) -> bool:
    """The behaviour applies to streamed completions only."""
    return req.stream and req.endpoint in ("chat", "completions")


def is_completion(req: Request) -> bool:
    """The behaviour applies to chat and text completions, streamed or not."""
    return req.endpoint in ("chat", "completions")


def _forever(step: bytes, every_s: float) -> Iterator[Step]:
    while True:
        yield step
        yield every_s


def silent(req: Request) -> Iterator[Step]:
    """Accepts the connection, reads the request, never answers."""
    while True:
        yield 1.0


def drip_head(req: Request) -> Iterator[Step]:
    """A response head one byte every 50 ms that never ends (header lines forever)."""
    start = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
    for b in start:
        yield bytes([b])
        yield 0.05
    i = 0
    while True:
        for b in f"X-Pad-{i}: y\r\n".encode():
            yield bytes([b])
            yield 0.05
        i += 1


def continue_forever(req: Request) -> Iterator[Step]:
    """`100 Continue` interim answers (RFC 9110 §15.2.1) every 100 ms, never a final one."""
    yield from _forever(b"HTTP/1.1 100 Continue\r\n\r\n", 0.1)


def drip_body(req: Request) -> Iterator[Step]:
    """A valid head, then the body one byte every 100 ms, forever (leading JSON whitespace or SSE comments)."""
    if is_stream(req):
        yield SSE_HEAD
        pattern = b": drip\n"
    else:
        yield head(200, [("Content-Type", "application/json"), ("Transfer-Encoding", "chunked")])
        pattern = b" "
    while True:
        for b in pattern:
            yield chunk(bytes([b]))
            yield 0.1


def endless_content(req: Request) -> Iterator[Step]:
    """Valid content chunks forever, about 10,000 per second, never a finish or `[DONE]`."""
    yield SSE_HEAD
    if req.endpoint == "chat":
        yield chunk(sse_event(next(stream_docs(req, []))))  # the role chunk
    piece = b"".join(sse_event(content_chunk(req, "tok ")) for _ in range(100))
    while True:
        yield chunk(piece)
        yield 0.01


def ping_forever(req: Request) -> Iterator[Step]:
    """Only `: ping` comments, every 50 ms, forever (the stream never carries an event)."""
    yield SSE_HEAD
    yield from _forever(chunk(b": ping\n\n"), 0.05)


GZIP_INFLATED = 8 * 1024**3  # bytes the bomb inflates to
_SPACES = b" " * (1 << 20)


def _gzip_bomb_body() -> Iterator[bytes]:
    """A gzip member (RFC 1952) of GZIP_INFLATED spaces, compressed once per MiB block and repeated.

    After a full flush the deflate state is reset, so every further MiB of spaces compresses to the
    same bytes: the body costs ~1 KiB of memory and almost no CPU. The trailer's CRC is computed only
    if a client ever reads to the end.
    """
    comp = zlib.compressobj(9, zlib.DEFLATED, 31)
    first = comp.compress(_SPACES) + comp.flush(zlib.Z_FULL_FLUSH)
    block = comp.compress(_SPACES) + comp.flush(zlib.Z_FULL_FLUSH)
    yield first
    blocks = GZIP_INFLATED >> 20
    for _ in range(blocks - 1):
        yield block
    crc = 0
    for _ in range(blocks):
        crc = zlib.crc32(_SPACES, crc)
    yield b"\x03\x00" + crc.to_bytes(4, "little") + (GZIP_INFLATED & 0xFFFFFFFF).to_bytes(4, "little")


def gzip_bomb(req: Request) -> Iterator[Step]:
    """`Content-Encoding: gzip` (RFC 9110 §8.4.1) whose body inflates to 8 GiB of spaces."""
    ctype = "text/event-stream" if is_stream(req) else "application/json"
    yield head(200, [("Content-Type", ctype), ("Content-Encoding", "gzip"), ("Transfer-Encoding", "chunked")])
    batch: list[bytes] = []
    for piece in _gzip_bomb_body():
        batch.append(piece)
        if len(batch) >= 64:
            yield chunk(b"".join(batch))
            batch = []
    yield chunk(b"".join(batch)) + LAST_CHUNK


LONG_LINE = 200 * 1024 * 1024


def long_line(req: Request) -> Iterator[Step]:
    """One SSE line of 200 MiB (`data: xxxx…`) without a newline until its end, streamed in 64 KiB chunks."""
    yield SSE_HEAD
    yield chunk(b"data: ")
    piece = chunk(b"x" * 65536)
    for _ in range(LONG_LINE // 65536):
        yield piece
    yield chunk(b"\n\n" + sse_event("[DONE]")) + LAST_CHUNK


TINY_CHUNKS = 100_000


def tiny_chunks(req: Request) -> Iterator[Step]:
    """A valid stream of 100,000 one-token content chunks, each in its own HTTP chunk, sent flat out."""
    yield SSE_HEAD
    docs = list(stream_docs(req, ["t "]))  # role (chat), one content chunk, finish, usage
    at = 1 if req.endpoint == "chat" else 0
    for doc in docs[:at]:
        yield chunk(sse_event(doc))
    one = chunk(sse_event(docs[at]))
    for _ in range(TINY_CHUNKS // 500):
        yield one * 500
    usage = docs[-1].get("usage")
    if isinstance(usage, dict):
        usage["completion_tokens"] = TINY_CHUNKS
        usage["total_tokens"] = usage["prompt_tokens"] + TINY_CHUNKS
    yield b"".join(chunk(sse_event(doc)) for doc in docs[at + 1 :]) + chunk(sse_event("[DONE]")) + LAST_CHUNK


BIG_STREAM = 13 * 1024 * 1024


def big_valid_stream(req: Request) -> Iterator[Step]:
    """A valid stream of 13 MiB: 4 KiB of text per chunk, then finish, usage and `[DONE]`."""
    text = "abcdefgh " * 455  # ~4 KiB of text per event
    n = BIG_STREAM // (len(text) + 200)
    yield SSE_HEAD
    yield from sse_body(stream_docs(req, (text for _ in range(n))), per_chunk=16)


def bare_cr(req: Request) -> Iterator[Step]:
    """A valid stream whose lines end with a bare CR (legal: HTML Living Standard §9.2.5)."""
    yield SSE_HEAD
    yield from sse_body(stream_docs(req), line_end=b"\r")


NEST = 100_000


def _nested_value() -> bytes:
    return b"[" * NEST + b"]" * NEST


def deep_json(req: Request) -> Iterator[Step]:
    """Documents whose JSON nests 100,000 levels deep (in `content`, a chunk's `delta.content`, `/models` `data`)."""
    deep = _nested_value()
    if req.endpoint == "models":
        yield whole(200, b'{"object":"list","data":' + deep + b"}")
        return
    marker = "\x00NEST\x00"
    if req.stream:
        yield SSE_HEAD
        for doc in stream_docs(req, [marker, marker]):
            yield chunk(sse_event(doc).replace(dumps(marker), deep))
        yield chunk(sse_event("[DONE]")) + LAST_CHUNK
        return
    doc = chat_doc(req) if req.endpoint == "chat" else completion_doc(req)
    choice = doc["choices"][0]
    if "message" in choice:
        choice["message"]["content"] = marker
    else:
        choice["text"] = marker
    yield whole(200, dumps(doc).replace(dumps(marker), deep))


def _rewrite(docs_of: Callable[[_Wrapped], Iterator[dict[str, Any]]], text_of: Callable[[bytes], bytes]) -> Responder:
    """A valid answer whose JSON documents are mutated (`docs_of`) and re-written as text (`text_of`)."""

    def respond(req: Request) -> Iterator[Step]:
        if req.endpoint == "models":
            docs = list(docs_of(_Wrapped(req, models_doc(req))))
            yield whole(200, text_of(dumps(docs[0])))
            return
        if req.stream:
            yield SSE_HEAD
            for doc in stream_docs(req):
                for out in docs_of(_Wrapped(req, doc)):
                    yield chunk(b"data: " + text_of(dumps(out)) + b"\n\n")
            yield chunk(sse_event("[DONE]")) + LAST_CHUNK
            return
        doc = chat_doc(req) if req.endpoint == "chat" else completion_doc(req)
        yield whole(200, text_of(dumps(next(docs_of(_Wrapped(req, doc))))))

    return respond


@dataclass
class _Wrapped:
    """A request and one valid document of its answer, for a mutation."""

    req: Request
    doc: dict[str, Any]


def _mutate(fn: Callable[[dict[str, Any]], None]) -> Callable[[_Wrapped], Iterator[dict[str, Any]]]:
    def docs_of(w: _Wrapped) -> Iterator[dict[str, Any]]:
        fn(w.doc)
        yield w.doc

    return docs_of


def _same(text: bytes) -> bytes:
    return text


def _each_choice(doc: dict[str, Any], fn: Callable[[dict[str, Any]], None]) -> None:
    for choice in doc.get("choices", []) if isinstance(doc.get("choices"), list) else []:
        fn(choice)


def _choices_string(doc: dict[str, Any]) -> None:
    if "choices" in doc:
        doc["choices"] = "not a list"
    elif "data" in doc:
        doc["data"] = "not a list"


def _usage_list(doc: dict[str, Any]) -> None:
    if "choices" in doc:
        doc["usage"] = [1, 2, 3]


def _delta_number(doc: dict[str, Any]) -> None:
    def fn(choice: dict[str, Any]) -> None:
        for key in ("delta", "message"):
            if key in choice:
                choice[key] = 42
        if "text" in choice:
            choice["text"] = 42

    _each_choice(doc, fn)


def _finish_object(doc: dict[str, Any]) -> None:
    _each_choice(doc, lambda c: c.__setitem__("finish_reason", {"why": "stop"}))


def _lone_surrogate(text: bytes) -> bytes:
    """Every string value "w0 " etc. gets a JSON-escaped lone high surrogate, and so do ids."""
    return (
        text.replace(b'"w', b'"\\ud800w')
        .replace(b'"chatcmpl-', b'"\\udfffchatcmpl-')
        .replace(b'"cmpl-', b'"\\udfffcmpl-')
        .replace(b'"id":"hostile', b'"id":"\\ud800hostile')
        .replace(b'"t ', b'"\\ud800t ')
    )


def _invalid_utf8(text: bytes) -> bytes:
    return text.replace(b'"w', b'"\xff\xfe\xed\xa0\x80w').replace(b'"id":"hostile', b'"id":"\xffhostile')


def _huge_created(text: bytes) -> bytes:
    import re

    return re.sub(rb'"created":\d+', b'"created":1e400', text)


def _echo_key(masked: bool) -> Responder:
    def respond(req: Request) -> Iterator[Step]:
        key = req.bearer
        shown = f"****{key[4:-4]}****" if masked and len(key) > 8 else key
        message = f"Incorrect API key provided: {shown}. You can find your API key at https://example.invalid/keys."
        yield whole(401, dumps(error_doc(message, "invalid_request_error", "invalid_api_key")))

    return respond


def control_chars(req: Request) -> Iterator[Step]:
    """Every answer is a 400 whose error message (and `type`, `param`) carry control characters and HTML."""
    doc = error_doc(HOSTILE_TEXT, "invalid_request_error\x1b[31m", "bad\x07")
    doc["error"]["param"] = "<script>alert(2)</script>"
    yield whole(400, dumps(doc), extra=(("X-Note", "\x1b]0;pwned\x07"),))


def _status(code: int, retry_after: str | None, message: str) -> bytes:
    extra = (("Retry-After", retry_after),) if retry_after is not None else ()
    kind = "rate_limit_exceeded" if code == 429 else "server_error"
    return whole(code, dumps(error_doc(message, kind, kind)), extra=extra)


def rate_limited(req: Request) -> Iterator[Step]:
    """Every answer is a 429 with `Retry-After: 1` (RFC 9110 §10.2.3)."""
    yield _status(429, "1", "Rate limit reached; retry after 1 s.")


def _transient(code: int) -> Responder:
    def respond(req: Request) -> Iterator[Step]:
        if req.server.first_time(req):
            yield _status(code, "1", f"Transient {code}; retry after 1 s.")
            return
        yield from valid(req)

    return respond


def half_503(req: Request) -> Iterator[Step]:
    """Every second request (server-wide count) is a 503 without Retry-After; the others are valid."""
    if req.server.count() % 2 == 0:
        yield _status(503, None, "Service temporarily unavailable.")
        return
    yield from valid(req)


def redirect_307(req: Request) -> Iterator[Step]:
    """Every answer is a 307 to the same path under `/elsewhere` on the same server (RFC 9110 §15.4.8)."""
    location = f"http://127.0.0.1:{req.server.port}/elsewhere/v1{req.path}"
    yield whole(307, b"", extra=(("Location", location),))


def cut(req: Request) -> Iterator[Step]:
    """Streams close after two events without a last chunk; other bodies close halfway through their Content-Length."""
    if req.stream:
        yield SSE_HEAD
        for i, doc in enumerate(stream_docs(req)):
            if i == 2:
                return
            yield chunk(sse_event(doc))
        return
    body = dumps(chat_doc(req) if req.endpoint == "chat" else completion_doc(req))
    yield whole(200, body)[: -len(body) // 2]


BEHAVIOURS: dict[str, Behaviour] = {
    b.name: b
    for b in [
        Behaviour("valid", "a plain well-formed server (no parameter validation, tools or vision)", valid),
        Behaviour("elsewhere", "a correct server, the target of `redirect-307`", valid),
        Behaviour("silent", silent.__doc__ or "", silent, endless=True),
        Behaviour("drip-head", drip_head.__doc__ or "", drip_head, endless=True),
        Behaviour("continue-forever", continue_forever.__doc__ or "", continue_forever, endless=True),
        Behaviour("drip-body", drip_body.__doc__ or "", drip_body, endless=True),
        Behaviour("endless-content", endless_content.__doc__ or "", endless_content, is_stream, endless=True),
        Behaviour("ping-forever", ping_forever.__doc__ or "", ping_forever, is_stream, endless=True),
        Behaviour("gzip-bomb", gzip_bomb.__doc__ or "", gzip_bomb),
        Behaviour("long-line", long_line.__doc__ or "", long_line, is_stream),
        Behaviour("tiny-chunks", tiny_chunks.__doc__ or "", tiny_chunks, is_stream),
        Behaviour("deep-json", deep_json.__doc__ or "", deep_json),
        Behaviour(
            "lone-surrogate",
            'JSON strings (content, ids) carry escaped lone surrogates ("\\ud800", "\\udfff")',
            _rewrite(_mutate(lambda d: None), _lone_surrogate),
        ),
        Behaviour(
            "invalid-utf8",
            "JSON strings (content, ids) carry invalid UTF-8 bytes (0xFF, 0xFE, CESU-8 surrogates)",
            _rewrite(_mutate(lambda d: None), _invalid_utf8),
        ),
        Behaviour(
            "choices-string", "`choices` (and `/models` `data`) is a string", _rewrite(_mutate(_choices_string), _same)
        ),
        Behaviour("usage-list", "`usage` is a list", _rewrite(_mutate(_usage_list), _same), is_completion),
        Behaviour(
            "delta-number",
            "`delta`, `message` and `text` are numbers",
            _rewrite(_mutate(_delta_number), _same),
            is_completion,
        ),
        Behaviour(
            "finish-reason-object",
            "`finish_reason` is an object",
            _rewrite(_mutate(_finish_object), _same),
            is_completion,
        ),
        Behaviour(
            "created-1e400",
            "`created` is the number 1e400 (beyond any float)",
            _rewrite(_mutate(lambda d: None), _huge_created),
        ),
        Behaviour("big-valid-stream", big_valid_stream.__doc__ or "", big_valid_stream, is_stream),
        Behaviour("bare-cr", bare_cr.__doc__ or "", bare_cr, is_stream),
        Behaviour("redirect-307", redirect_307.__doc__ or "", redirect_307),
        Behaviour("control-chars", control_chars.__doc__ or "", control_chars),
        Behaviour("echo-key", "every answer is a 401 whose message echoes the Bearer token whole", _echo_key(False)),
        Behaviour(
            "echo-key-masked",
            "every answer is a 401 echoing the Bearer token with only its first and last 4 characters masked",
            _echo_key(True),
        ),
        Behaviour("rate-limited", rate_limited.__doc__ or "", rate_limited),
        Behaviour(
            "transient-429",
            "the first request of each (path, body) is a 429 with Retry-After: 1; a repeat is valid",
            _transient(429),
        ),
        Behaviour(
            "transient-503",
            "the first request of each (path, body) is a 503 with Retry-After: 1; a repeat is valid",
            _transient(503),
        ),
        Behaviour("half-503", half_503.__doc__ or "", half_503),
        Behaviour("cut", cut.__doc__ or "", cut, is_completion),
    ]
}


# --- the server -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Seen:
    """A request the server received: which behaviour, method, path, and the Bearer token sent."""

    behaviour: str
    method: str
    path: str
    bearer: str


class HostileServer:
    """Serves every behaviour of `BEHAVIOURS` on one loopback port, each under `/<name>/v1`.

    A path without a known behaviour prefix (e.g. `/v1/models`) gets `default`. `seen` keeps the
    last 10,000 requests (behaviour, method, path, token) for tests that check where a key went.
    """

    def __init__(
        self,
        default: str = "valid",
        *,
        api_key: str = DEFAULT_KEY,
        model: str = DEFAULT_MODEL,
        max_answer_s: float = 600.0,
    ) -> None:
        if default not in BEHAVIOURS:
            raise ValueError(f"unknown behaviour {default!r}; known: {', '.join(BEHAVIOURS)}")
        self.default, self.api_key, self.model, self.max_answer_s = default, api_key, model, max_answer_s
        self.seen: list[Seen] = []
        self._lock = threading.Lock()
        self._firsts: set[str] = set()
        self._count = 0
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(128)
        self._sock.settimeout(0.2)
        self.port: int = self._sock.getsockname()[1]
        self._stop = threading.Event()
        self._conns: set[socket.socket] = set()
        self._thread = threading.Thread(target=self._accept, name="hostile-accept", daemon=True)

    def base_url(self, behaviour: str | None = None) -> str:
        """The base URL (ending in /v1) of `behaviour` (default: the server's default)."""
        name = behaviour or self.default
        if name not in BEHAVIOURS:
            raise ValueError(f"unknown behaviour {name!r}; known: {', '.join(BEHAVIOURS)}")
        return f"http://127.0.0.1:{self.port}/{name}/v1"

    def start(self) -> HostileServer:
        """Start accepting connections."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop accepting, end every answer in progress, close every connection."""
        self._stop.set()
        self._thread.join(timeout=5)
        self._sock.close()
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def __enter__(self) -> HostileServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def first_time(self, req: Request) -> bool:
        """Whether this (behaviour, path, body) is new to the server (and remember it)."""
        digest = hashlib.sha256(req.path.encode() + b"\0" + req.body).hexdigest()
        with self._lock:
            if digest in self._firsts:
                return False
            self._firsts.add(digest)
            return True

    def count(self) -> int:
        """The number of requests answered so far, this one included (server-wide)."""
        with self._lock:
            self._count += 1
            return self._count

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except (TimeoutError, OSError):
                continue
            with self._lock:
                self._conns.add(conn)
            threading.Thread(target=self._serve, args=(conn,), name="hostile-conn", daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(30)
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        buf = b""
        try:
            while not self._stop.is_set():
                parsed = _read_request(conn, buf)
                if parsed is None:
                    return
                (method, target, headers, body), buf = parsed
                name, path = self._route(target)
                req = Request(method, path, headers, body, self)
                with self._lock:
                    self.seen.append(Seen(name, method, path, req.bearer))
                    del self.seen[:-10_000]
                behaviour = BEHAVIOURS[name]
                answer = behaviour.respond(req) if behaviour.applies(req) else valid(req)
                if (
                    not self._send(conn, answer)
                    or name not in ("valid", "elsewhere")
                    or headers.get("connection") == "close"
                ):
                    return
        except OSError:
            return
        finally:
            with self._lock:
                self._conns.discard(conn)
            conn.close()

    def _route(self, target: str) -> tuple[str, str]:
        path = target.split("?", 1)[0]
        first, _, rest = path.lstrip("/").partition("/")
        name = first if first in BEHAVIOURS else self.default
        rest = rest if first in BEHAVIOURS else path.lstrip("/")
        return name, ("/" + rest).removeprefix("/v1") or "/"

    def _send(self, conn: socket.socket, answer: Iterator[Step]) -> bool:
        """Send the answer's steps; False when the client went away, the server stopped or time ran out."""
        deadline = time.monotonic() + self.max_answer_s
        for step in answer:
            if self._stop.is_set() or time.monotonic() > deadline:
                return False
            if isinstance(step, float):
                if self._stop.wait(step):
                    return False
                continue
            if step:
                conn.sendall(step)
        return True


def _read_request(conn: socket.socket, buf: bytes) -> tuple[tuple[str, str, dict[str, str], bytes], bytes] | None:
    """One request (method, target, headers, body) and the bytes after it; None at EOF or on garbage."""
    while b"\r\n\r\n" not in buf:
        if len(buf) > 65536:
            return None
        data = conn.recv(65536)
        if not data:
            return None
        buf += data
    raw_head, _, rest = buf.partition(b"\r\n\r\n")
    lines = raw_head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) < 2:
        return None
    headers: dict[str, str] = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    try:
        length = int(headers.get("content-length", "0"))
    except ValueError:
        return None
    if length > MAX_REQUEST_BYTES:
        return None
    while len(rest) < length:
        data = conn.recv(65536)
        if not data:
            return None
        rest += data
    return (parts[0], parts[1], headers, rest[:length]), rest[length:]


def main() -> None:
    """Serve every behaviour until interrupted; print their base URLs."""
    import argparse

    parser = argparse.ArgumentParser(description="misbehaving OpenAI-compatible servers on loopback")
    parser.add_argument("--key", default=DEFAULT_KEY, help="the API key the valid answers accept")
    parser.add_argument("--model", default=DEFAULT_MODEL, help="the one model served")
    args = parser.parse_args()
    with HostileServer(api_key=args.key, model=args.model) as server:
        for name, behaviour in BEHAVIOURS.items():
            print(f"{server.base_url(name)}  {behaviour.description.splitlines()[0]}", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
