"""HTTP/1.1 for both load clients: the request bytes, the response head (1xx answers skipped) and chunked bodies.

Follows RFC 9112: a status line and header fields end at an empty line (a bare LF is accepted as a
line end, §2.2); interim 1xx answers precede the final one (RFC 9110 §15.2) and are skipped, within
the head bounds; a chunked body is a series of hex size lines, data and CRLFs, ended by a zero-size
chunk (RFC 9112 §7.1). Every malformed byte raises `ProtocolError`, every bound passed
`BoundExceeded` (`maascheck.load.client.limits`). No content coding is decoded: the request asks for
none, so a `Content-Encoding` other than identity is refused (a compression bomb is never inflated).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from maascheck.core.errors import ConfigError
from maascheck.load.client.limits import BoundExceeded, Limits, ProtocolError

_HEAD_END = re.compile(rb"\r?\n\r?\n")
_HEX = frozenset(b"0123456789abcdefABCDEF")
_MAX_SIZE_LINE = 1024


@dataclass(frozen=True)
class Endpoint:
    """Where requests go: scheme, host, port and the base path (e.g. ``/v1``)."""

    scheme: str
    host: str
    port: int
    base_path: str

    @classmethod
    def parse(cls, base_url: str) -> Endpoint:
        """Parse a base URL such as ``http://127.0.0.1:8000/v1``."""
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(
                f"base URL must be http:// or https:// with a host, got {base_url!r}; "
                "example: --base-url http://127.0.0.1:8000/v1"
            )
        port = parts.port or (443 if parts.scheme == "https" else 80)
        return cls(parts.scheme, parts.hostname, port, parts.path.rstrip("/"))


def header_block(endpoint: Endpoint, headers: dict[str, str]) -> bytes:
    """The fixed header lines of every request to `endpoint` (Host without the scheme's default port)."""
    default_port = 443 if endpoint.scheme == "https" else 80
    host = endpoint.host if endpoint.port == default_port else f"{endpoint.host}:{endpoint.port}"
    fixed = {
        "Host": host,
        "Accept": "text/event-stream",
        "Accept-Encoding": "identity",
        "Content-Type": "application/json",
    }
    fixed.update(headers)
    return "".join(f"{k}: {v}\r\n" for k, v in fixed.items()).encode("latin-1")


def post_request(endpoint: Endpoint, head: bytes, path: str, body: bytes) -> bytes:
    """The bytes of a POST of `body` to base path + `path`, `head` being `header_block`'s lines."""
    return (
        f"POST {endpoint.base_path}{path} HTTP/1.1\r\n".encode("latin-1")
        + head
        + b"Content-Length: %d\r\n\r\n" % len(body)
        + body
    )


def describe(exc: BaseException) -> str:
    """An exception as one line: its type and, when it has one, its message."""
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def connect_failure(exc: OSError, limits: Limits) -> tuple[Literal["connect_timeout", "connect_error"], str]:
    """The transport kind and evidence of a failed connect (or send): a timeout is a bound of its own."""
    if isinstance(exc, TimeoutError):
        return "connect_timeout", f"no connection within connect_s={limits.connect_s:g} ({describe(exc)})"
    return "connect_error", describe(exc)


@dataclass(frozen=True, slots=True)
class ResponseHead:
    """A final response head: how its body is delimited and whether the connection may be reused."""

    status: int
    headers: dict[str, str]  # lower-case names; a repeated field keeps its last value
    keep_alive: bool
    chunked: bool
    content_length: int | None  # None: chunked, or delimited by the connection's close
    coding: str | None = None  # a content or transfer coding other than identity/chunked, as sent

    def refuse_coding(self) -> None:
        """Raise `encoding_refused` when the body is encoded: it is never decoded (no bomb inflates)."""
        if self.coding is not None:
            raise BoundExceeded(
                "encoding_refused",
                f"the body is encoded ({self.coding[:40]!r}) though the request asked for identity; "
                "encoded bodies are not decoded (bound: identity only)",
            )


def parse_head(head: bytes) -> ResponseHead:
    """Parse a status line and header fields (without the empty line that ends them)."""
    lines = head.decode("latin-1").split("\n")
    status_line = lines[0].rstrip("\r")
    version, _, rest = status_line.partition(" ")
    code = rest[:3]
    if version not in ("HTTP/1.1", "HTTP/1.0") or len(code) != 3 or not code.isdigit() or rest[3:4] not in ("", " "):
        raise ProtocolError(f"not an HTTP/1.1 status line: {status_line[:80]!r}")
    headers: dict[str, str] = {}
    lengths: set[str] = set()
    for line in lines[1:]:
        name, sep, value = line.rstrip("\r").partition(":")
        if not sep or not name or name != name.strip():
            raise ProtocolError(f"malformed header line: {line[:80]!r}")
        key, value = name.lower(), value.strip(" \t")
        if key == "content-length":
            lengths.add(value)
        headers[key] = value
    status = int(code)
    codings = [c.strip().lower() for c in headers.get("transfer-encoding", "").split(",") if c.strip()]
    chunked = bool(codings) and codings[-1] == "chunked"
    content_coding = headers.get("content-encoding", "").strip().lower()
    coding = None
    if any(c != "chunked" for c in codings):
        coding = headers["transfer-encoding"]
    elif content_coding not in ("", "identity"):
        coding = headers["content-encoding"]
    length: int | None = None
    if lengths and not chunked:
        value = lengths.pop()
        if lengths or not value.isdigit() or len(value) > 18:
            raise ProtocolError(f"invalid Content-Length: {headers['content-length'][:40]!r}")
        length = int(value)
    keep = version == "HTTP/1.1" and "close" not in headers.get("connection", "").lower()
    return ResponseHead(status, headers, keep and (chunked or length is not None), chunked, length, coding)


class HeadReader:
    """Collects response bytes until the final head: 1xx answers are skipped, all heads count against the cap."""

    __slots__ = ("_buf", "_seen", "interim", "max_bytes", "rest")

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._buf = b""
        self._seen = 0  # head bytes of skipped 1xx answers
        self.interim = 0  # 1xx answers skipped
        self.rest = b""  # body bytes that came with the final head

    def feed(self, data: bytes) -> ResponseHead | None:
        """Add bytes; the final head once complete (then `rest` holds the bytes after it), else None."""
        buf = self._buf + data if self._buf else data
        while True:
            if self._buf == b"" and buf[:1] in (b"\r", b"\n"):  # the CRLF after a previous body, if late
                buf = buf.lstrip(b"\r\n")
            match = _HEAD_END.search(buf)
            if match is None:
                self._buf = buf
                if self._seen + len(buf) > self.max_bytes:
                    raise self._too_large()
                return None
            self._seen += match.end()
            if self._seen > self.max_bytes:
                raise self._too_large()
            head = parse_head(buf[: match.start()])
            buf = buf[match.end() :]
            if 100 <= head.status < 200 and head.status != 101:
                self.interim += 1
                self._buf = b""
                continue
            self.rest, self._buf = buf, b""
            return head

    def _too_large(self) -> BoundExceeded:
        return BoundExceeded(
            "head_too_large",
            f"the response head passed max_head_bytes={self.max_bytes} "
            f"({self.interim} interim 1xx answers before it)",
        )


class ChunkedDecoder:
    """Incremental `Transfer-Encoding: chunked` decoding: wire pieces in, body pieces out, each with its time.

    Trailer fields after the last chunk are not read: the reactor's next head skips a late CRLF, the
    greenlet client reads them (`trailer_done`).
    """

    __slots__ = ("_carry", "_left", "done", "rest")

    def __init__(self) -> None:
        self._carry = b""  # a size line or CRLF cut across two pieces
        self._left = -1  # data bytes still to come; -1: a size line is next; -2: the CRLF after data
        self.done = False  # the zero-size chunk was read
        self.rest = b""  # wire bytes after the zero-size chunk's line

    def feed(self, data: bytes, t: int, out: list[bytes], out_t: list[int]) -> int:
        """Decode `data` (arrived at `t`) into `out`/`out_t`; returns the body bytes added."""
        raw = self._carry + data if self._carry else data
        self._carry = b""
        left, pos, n, added = self._left, 0, len(raw), 0
        while pos < n:
            if left == -1:
                eol = raw.find(b"\n", pos)
                if eol < 0:
                    if n - pos > _MAX_SIZE_LINE:
                        raise ProtocolError(f"chunk-size line longer than {_MAX_SIZE_LINE} bytes")
                    self._carry = raw[pos:]
                    break
                size = _chunk_size(raw[pos:eol])
                pos = eol + 1
                if size == 0:
                    self.done, self.rest, self._left = True, raw[pos:], -1
                    return added
                left = size
            elif left == -2:
                if n - pos < 2:
                    self._carry = raw[pos:]
                    break
                if raw[pos : pos + 2] != b"\r\n":
                    raise ProtocolError(f"chunk data not followed by CRLF: {raw[pos : pos + 8]!r}")
                pos += 2
                left = -1
            else:
                take = left if left < n - pos else n - pos
                out.append(raw[pos : pos + take])
                out_t.append(t)
                added += take
                pos += take
                left = left - take or -2
        self._left = left
        return added


def trailer_done(rest: bytes) -> bool:
    """Whether the bytes after the zero-size chunk hold the whole (usually empty) trailer section."""
    return rest.startswith((b"\r\n", b"\n")) or _HEAD_END.search(rest) is not None


def _chunk_size(line: bytes) -> int:
    digits = line.split(b";", 1)[0].strip(b" \t\r")
    if not digits or len(digits) > 15 or not _HEX.issuperset(digits):
        raise ProtocolError(f"invalid chunk-size line: {line[:40]!r}")
    return int(digits, 16)
