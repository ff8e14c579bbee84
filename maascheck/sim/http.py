"""HTTP/1.1 on bytes: an incremental request parser and response framing (RFC 9112).

Supports Content-Length and chunked request bodies, `Expect: 100-continue`, keep-alive and
pipelining; limits header size (431) and body size (413). Responses are either complete
(Content-Length) or chunked (streams).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

MAX_HEADER_BYTES = 64 * 1024
REASONS = {
    100: "Continue",
    200: "OK",
    201: "Created",
    204: "No Content",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    429: "Too Many Requests",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
    505: "HTTP Version Not Supported",
}
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
LAST_FRAME = b"0\r\n\r\n"


class HttpError(Exception):
    """A request that cannot be parsed; the connection answers `status` and closes."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class Request:
    """One parsed HTTP request."""

    method: str
    target: str
    path: str
    query: str
    version: str
    headers: dict[str, str]  # lower-cased names; repeated headers joined with ", "
    body: bytes
    keep_alive: bool
    received_ns: int  # perf_counter_ns when the last byte of the request was read


class RequestParser:
    """Feed bytes, get complete requests; raises HttpError on malformed input or exceeded limits."""

    def __init__(self, max_body: int) -> None:
        self.max_body = max_body
        self.buf = bytearray()
        self._head: Request | None = None
        self._remaining = 0
        self._chunked = False
        self._body = bytearray()
        self.want_continue = False  # set when the client waits for "100 Continue"

    @property
    def idle(self) -> bool:
        """No partial request is buffered."""
        return self._head is None and not self.buf

    @property
    def in_headers(self) -> bool:
        """A request has started but its headers are incomplete."""
        return self._head is None and bool(self.buf)

    def feed(self, data: bytes) -> list[Request]:
        """Consume `data`; return the requests it completed, in order."""
        self.buf += data
        out: list[Request] = []
        while True:
            if self._head is None and not self._parse_head():
                return out
            done = self._parse_chunked() if self._chunked else self._parse_sized()
            if not done:
                return out
            head = self._head
            assert head is not None
            head.body = bytes(self._body)
            head.received_ns = time.perf_counter_ns()
            out.append(head)
            self._head, self._body, self._chunked, self._remaining = None, bytearray(), False, 0

    def _parse_head(self) -> bool:
        while self.buf[:2] == b"\r\n":  # tolerate stray CRLF between requests (RFC 9112 §2.2)
            del self.buf[:2]
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            if len(self.buf) > MAX_HEADER_BYTES:
                raise HttpError(431, f"request headers exceed {MAX_HEADER_BYTES} bytes")
            return False
        if end > MAX_HEADER_BYTES:
            raise HttpError(431, f"request headers exceed {MAX_HEADER_BYTES} bytes")
        try:
            text = bytes(self.buf[:end]).decode("latin-1")
        except UnicodeDecodeError as exc:  # pragma: no cover - latin-1 decodes every byte
            raise HttpError(400, "undecodable request head") from exc
        del self.buf[: end + 4]
        lines = text.split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3 or not parts[0].isalpha() or not parts[2].startswith("HTTP/1."):
            if len(parts) == 3 and parts[2].startswith("HTTP/"):
                raise HttpError(505, f"unsupported HTTP version {parts[2]!r}; this server speaks HTTP/1.1")
            raise HttpError(
                400, f"malformed request line {lines[0][:80]!r}; expected 'METHOD /path HTTP/1.1'"
            )
        method, target, version = parts
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if not sep or not name or name != name.strip():
                raise HttpError(400, f"malformed header line {line[:80]!r}; expected 'Name: value'")
            key = name.lower()
            value = value.strip()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        path, _, query = target.partition("?")
        conn = headers.get("connection", "").lower()
        keep = "close" not in conn if version == "HTTP/1.1" else "keep-alive" in conn
        self._head = Request(method, target, path, query, version, headers, b"", keep, 0)
        if "chunked" in headers.get("transfer-encoding", "").lower():
            self._chunked = True
        else:
            raw_len = headers.get("content-length", "0")
            if not raw_len.isdigit():
                raise HttpError(400, f"invalid Content-Length {raw_len!r}; expected a non-negative integer")
            self._remaining = int(raw_len)
            if self._remaining > self.max_body:
                raise HttpError(
                    413, f"request body of {self._remaining} bytes exceeds the limit of {self.max_body} bytes"
                )
        self.want_continue = headers.get("expect", "").lower() == "100-continue"
        return True

    def _parse_sized(self) -> bool:
        take = min(self._remaining, len(self.buf))
        if take:
            self._body += self.buf[:take]
            del self.buf[:take]
            self._remaining -= take
        return self._remaining == 0

    def _parse_chunked(self) -> bool:
        while True:
            if self._remaining > 0:
                if len(self.buf) < self._remaining + 2:
                    return False
                self._body += self.buf[: self._remaining]
                del self.buf[: self._remaining + 2]
                self._remaining = 0
                if len(self._body) > self.max_body:
                    raise HttpError(413, f"request body exceeds the limit of {self.max_body} bytes")
            end = self.buf.find(b"\r\n")
            if end < 0:
                return False
            size_text = bytes(self.buf[:end]).split(b";")[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError as exc:
                raise HttpError(400, f"malformed chunk size {size_text[:20]!r}") from exc
            if size == 0:
                trailer_end = self.buf.find(b"\r\n\r\n", end)
                if self.buf[end : end + 4] == b"\r\n\r\n":
                    del self.buf[: end + 4]
                    return True
                if trailer_end < 0:
                    return False
                del self.buf[: trailer_end + 4]
                return True
            del self.buf[: end + 2]
            self._remaining = size


def response_head(status: int, headers: list[tuple[str, str]]) -> bytes:
    """The status line and headers of a response."""
    lines = [f"HTTP/1.1 {status} {REASONS.get(status, 'Status')}"]
    lines += [f"{k}: {v}" for k, v in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def frame(payload: bytes) -> bytes:
    """One chunked-transfer frame around `payload` (empty payloads are skipped: they would end the body)."""
    if not payload:
        return b""
    return b"%x\r\n%b\r\n" % (len(payload), payload)
