"""A loopback server that answers correctly but echoes the API key everywhere and sends hostile text.

It wraps the valid answers of `tests.hostile.servers` (same documents, same authentication) and:
- adds response headers echoing the Bearer token whole (`X-Echo-Authorization`) and with a masked
  middle (`X-Key-Hint: ****<middle>****`);
- answers every error (401, 400, 404, ...) with an `ErrorResponse` whose message echoes the token
  whole, masked, split over two lines and URL-encoded, plus control characters and HTML; an unknown
  path gets that text as a `text/plain` body, raw control bytes included;
- streams a content chunk carrying the hostile text, and every second stream ends with an `error`
  event echoing the token and a raw non-JSON `data:` line (raw ESC bytes, the token) before `[DONE]`.

`Redirector` answers every request with a 307 to another origin (another loopback port) and counts
what arrives there, for tests that check the key never leaves the configured origin.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from urllib.parse import quote

from tests.hostile.servers import (
    HOSTILE_TEXT,
    LAST_CHUNK,
    SSE_HEAD,
    Request,
    Step,
    _read_request,
    chunk,
    content_chunk,
    dumps,
    error_doc,
    sse_event,
    stream_docs,
    valid,
    whole,
)

KEY = "sk-" + "inert/Zq7+Wp3Lx9Ck2Vn6Bm4Hd8Rt1Yg5="  # a fake key for these loopback tests only
MODEL = "hostile-model"


# Beyond the catalogue's text: a one-byte CSI (C1, U+009B) and a right-to-left override (CVE-2021-42574).
MORE_HOSTILE = f"{HOSTILE_TEXT} c1:\x9b2J bidi:\u202eexe.txt\u202c"


def echo_message(token: str) -> str:
    """An error message that echoes `token` in the ways real providers and proxies do, with hostile text."""
    return (
        f"Incorrect API key provided: {token}. Hint: {token[:3]}****{token[7:-4]}****. "
        f"Seen: {token[:13]}\n{token[13:]}. Query: key={quote(token, safe='')}. {MORE_HOSTILE}"
    )


class _Loop:
    """Accepts loopback connections and answers each request with `answer(request)`."""

    def __init__(self) -> None:
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.2)
        self.port: int = self._sock.getsockname()[1]
        self.api_key, self.model = KEY, MODEL
        self.seen: list[Request] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def answer(self, req: Request) -> Iterator[Step]:  # pragma: no cover - overridden
        raise NotImplementedError

    def __enter__(self) -> _Loop:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._sock.close()

    def first_time(self, req: Request) -> bool:
        """Needed by `Request` users of the catalogue: every request counts as new here."""
        return True

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except (TimeoutError, OSError):
                continue
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(30)
        buf = b""
        with contextlib.closing(conn), contextlib.suppress(OSError):
            while not self._stop.is_set():
                parsed = _read_request(conn, buf)
                if parsed is None:
                    return
                (method, target, headers, body), buf = parsed
                path = target.split("?", 1)[0].removeprefix("/v1") or "/"
                req = Request(method, path, headers, body, self)  # type: ignore[arg-type]
                with self._lock:
                    self.seen.append(req)
                for step in self.answer(req):
                    if isinstance(step, bytes):
                        conn.sendall(step)


class LeakyServer(_Loop):
    """Valid answers, with the key echoed in headers and errors and hostile text in streams (see module doc)."""

    def __init__(self) -> None:
        super().__init__()
        self._streams = 0

    @property
    def base_url(self) -> str:
        """The base URL, ending in /v1."""
        return f"http://127.0.0.1:{self.port}/v1"

    def answer(self, req: Request) -> Iterator[Step]:
        token = req.bearer or "(none)"
        echo = f"\r\nX-Echo-Authorization: Bearer {token}\r\nX-Key-Hint: ****{token[4:-4]}****".encode()
        steps = iter(valid(req))
        first = next(steps)
        assert isinstance(first, bytes)
        status = int(first.split(b" ", 2)[1])
        if req.endpoint == "other":
            body = f"no route for {req.path}: {echo_message(token)}".encode()
            yield whole(404, body, "text/plain").replace(b"\r\n", echo + b"\r\n", 1)
            return
        if status >= 400:
            doc = error_doc(echo_message(token), "invalid_request_error", "invalid_api_key")
            yield whole(status, dumps(doc)).replace(b"\r\n", echo + b"\r\n", 1)
            return
        if first != SSE_HEAD:
            yield first.replace(b"\r\n", echo + b"\r\n", 1)
            yield from steps
            return
        with self._lock:
            self._streams += 1
            broken = self._streams % 2 == 0
        yield first.replace(b"\r\n", echo + b"\r\n", 1)
        docs = list(stream_docs(req))
        docs.insert(1, content_chunk(req, f"hello {MORE_HOSTILE} "))
        events = [sse_event(d) for d in docs]
        if broken:
            events.append(b"data: \x1b[2J\x1b[H not json, key=" + token.encode() + b"\n\n")
            events.append(sse_event(error_doc(echo_message(token), "server_error", "upstream")))
        events.append(sse_event("[DONE]"))
        yield chunk(b"".join(events)) + LAST_CHUNK


class Redirector(_Loop):
    """Every request gets a 307 to the same path on `target` (another origin); see `Catcher`."""

    def __init__(self, target: str) -> None:
        super().__init__()
        self.target = target.rstrip("/")

    @property
    def base_url(self) -> str:
        """The base URL, ending in /v1."""
        return f"http://127.0.0.1:{self.port}/v1"

    def answer(self, req: Request) -> Iterator[Step]:
        yield whole(307, b"", extra=(("Location", f"{self.target}/v1{req.path}"),))


class Catcher(_Loop):
    """The other origin: answers validly and keeps every request it receives (`seen`)."""

    @property
    def origin(self) -> str:
        """scheme://host:port."""
        return f"http://127.0.0.1:{self.port}"

    def answer(self, req: Request) -> Iterator[Step]:
        yield from valid(req)
