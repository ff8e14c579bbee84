"""A loopback server that answers a client's request with a recorded exchange, byte for byte.

Clients get the base URL `http://127.0.0.1:<port>/<scenario>/v1`; a request is matched to an exchange by
scenario (the path prefix), endpoint (the rest of the path) and `stream` (from the request body), through
a `Source` (replay: the suite's recorded probe; live: a fresh request to the target through the suite's
recorder, counted in its budget). The status, content type and body bytes are sent as recorded; an
exchange that ended in a transport failure is sent as far as it came, then the connection is closed.
Only 127.0.0.1 is bound; request bodies are capped.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from maascheck.conformance.model.exchange import Exchange

MAX_REQUEST_BYTES = 1 << 20
# Framing headers are the replay's own; date and server are sent by the replay server itself.
HOP_HEADERS = frozenset(
    {"content-length", "transfer-encoding", "content-encoding", "connection", "keep-alive", "date", "server"}
)


@dataclass(frozen=True)
class ClientRequest:
    """What a client sent to the replay server."""

    scenario: str
    method: str
    endpoint: str  # below /v1, e.g. "/chat/completions"
    body: bytes

    @property
    def json(self) -> Any:
        """The body parsed as JSON (None when it is not JSON)."""
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    @property
    def stream(self) -> bool:
        """Whether the client asked for a stream."""
        return isinstance(self.json, dict) and self.json.get("stream") is True


class NoExchange(Exception):
    """No exchange can answer this request (the reason is sent to the client and kept for the cell)."""


Source = Callable[[ClientRequest], Exchange]


def recorded_source(exchanges: dict[str, Exchange]) -> Source:
    """Replay: answer with the scenario's recorded exchange when endpoint and `stream` match it."""

    def source(req: ClientRequest) -> Exchange:
        ex = exchanges.get(req.scenario)
        if ex is None:
            raise NoExchange(f"no recorded exchange for scenario {req.scenario!r}")
        recorded_stream = isinstance(ex.request_json, dict) and ex.request_json.get("stream") is True
        if not ex.url.endswith(req.endpoint) or recorded_stream != req.stream:
            raise NoExchange(
                f"the client sent {req.method} {req.endpoint} stream={req.stream}; the recorded {ex.probe} "
                f"exchange is {ex.method} {ex.url} stream={recorded_stream}"
            )
        return ex

    return source


@dataclass
class ReplayServer:
    """A threaded loopback HTTP server over a `Source`; `served` keeps (request, exchange or miss) in order."""

    source: Source
    served: list[tuple[ClientRequest, Exchange | str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="maascheck-replay", daemon=True)

    def base_url(self, scenario: str) -> str:
        """The base URL a client uses for `scenario`."""
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/{scenario}/v1"

    def __enter__(self) -> ReplayServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def answer(self, req: ClientRequest) -> Exchange | str:
        """The exchange for `req`, or the reason there is none; kept in `served`."""
        try:
            made: Exchange | str = self.source(req)
        except NoExchange as exc:
            made = str(exc)
        with self._lock:
            self.served.append((req, made))
        return made

    def for_scenario(self, scenario: str) -> list[tuple[ClientRequest, Exchange | str]]:
        """What was served for `scenario`, in order."""
        with self._lock:
            return [(r, m) for r, m in self.served if r.scenario == scenario]


def _handler(server: ReplayServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            return

        def _handle(self) -> None:
            parts = self.path.split("?", 1)[0].split("/", 3)  # "", scenario, "v1", rest
            if len(parts) < 4 or parts[2] != "v1":
                self._send_error(404, f"maascheck replay: no such path {self.path!r}")
                return
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(min(length, MAX_REQUEST_BYTES)) if length else b""
            req = ClientRequest(parts[1], self.command, "/" + parts[3], body)
            made = server.answer(req)
            if isinstance(made, str):
                self._send_error(404, f"maascheck replay: {made}")
                return
            self._send_exchange(made)

        do_GET = do_POST = _handle

        def _send_error(self, status: int, message: str) -> None:
            payload = json.dumps({"error": {"message": message, "type": "invalid_request_error"}}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(payload)
            self.close_connection = True

        def _send_exchange(self, ex: Exchange) -> None:
            self.close_connection = True
            if ex.status is None:  # no response ever came: the client sees the connection close
                return
            self.send_response(ex.status)
            for name, value in ex.headers:
                if name.lower() not in HOP_HEADERS:
                    self.send_header(name, value)
            if ex.error is None:
                self.send_header("Content-Length", str(len(ex.body)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(ex.body)  # a cut exchange: its bytes, then the close

    return Handler
