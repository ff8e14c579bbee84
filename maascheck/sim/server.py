"""SimServer: the simulator's HTTP server on asyncio Protocols (uvloop when available).

Routes below the persona's base path: `GET /models`, `GET /models/{id}`, `POST /chat/completions`,
`POST /completions`. Outside it: `GET /sim/stats` (counters, `?samples=1` adds per-event lateness
when recording) and `POST /sim/stats/reset`. Every error is an OpenAI envelope (ErrorResponse,
spec l.38286); bad input never yields a 5xx.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import random
import re
import socket
import sys
import threading
import time
from collections import deque
from typing import Any, cast

import orjson

from maascheck.sim.config import SimConfig
from maascheck.sim.engine import Engine, PrefixCache
from maascheck.sim.exact import ExactScheduler
from maascheck.sim.faults import RequestView, Response
from maascheck.sim.generate import plan_choices
from maascheck.sim.hooks import FaultSet
from maascheck.sim.http import CONTINUE, HttpError, Request, RequestParser, response_head
from maascheck.sim.jobs import BodyJob, Job, StreamJob
from maascheck.sim.persona import Persona, load_persona
from maascheck.sim.render import Renderer
from maascheck.sim.stats import Stats
from maascheck.sim.validate import ApiError, validate

IDLE_TIMEOUT_S = 300.0
MODEL_CREATED = 1_700_000_000
_TRAILING_COMMA = re.compile(rb",\s*([}\]])")
_ENDPOINT_PATHS = {"/chat/completions": "chat", "/completions": "completions", "/models": "models"}


def new_event_loop() -> asyncio.AbstractEventLoop:
    """A uvloop loop when uvloop is installed, else the default asyncio loop."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency on POSIX
        return asyncio.new_event_loop()
    loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    return loop


class Connection(asyncio.Protocol):
    """One client connection: parses requests, serves them one at a time (pipelined ones wait)."""

    def __init__(self, app: SimServer) -> None:
        self.app = app
        self.transport: asyncio.Transport | None = None
        self.parser = RequestParser(app.config.max_body_bytes)
        self.pending: deque[Request] = deque()
        self.busy = False
        self.keep_alive = True
        self.closed = False
        self.job: Job | None = None
        self._timer: asyncio.TimerHandle | None = None

    # ---- asyncio.Protocol ----------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Register the connection; disable Nagle so each event leaves at once."""
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports are not subclasses
        self._write = self.transport.write
        sock = self.transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.app.connections.add(self)
        self._arm(IDLE_TIMEOUT_S, 0)

    def connection_lost(self, exc: Exception | None) -> None:
        """Forget the connection; a job still running for it is cancelled."""
        self.closed = True
        self.app.connections.discard(self)
        if self._timer is not None:
            self._timer.cancel()
        if self.job is not None:
            self.job.cancelled = True
            self._job_ended()

    def data_received(self, data: bytes) -> None:
        """Parse; answer parse errors and close; queue complete requests."""
        was_idle = self.parser.idle
        try:
            requests = self.parser.feed(data)
        except HttpError as exc:
            self.keep_alive = False
            self.pending.clear()
            if not self.busy:
                err = ApiError(exc.status, exc.message, code="bad_http_request" if exc.status < 413 else None)
                self.respond(exc.status, [("Content-Type", "application/json")], orjson.dumps(err.body()))
            else:
                self.close()
            return
        if self.parser.want_continue and not self.parser.in_headers and not requests:
            self.parser.want_continue = False
            self.write(CONTINUE)
        if was_idle and not self.parser.idle:
            self._arm(self.app.config.header_timeout_s, 408)
        if requests:
            self.pending.extend(requests)
            self._arm(IDLE_TIMEOUT_S, 0) if self.parser.idle else self._arm(
                self.app.config.header_timeout_s, 408
            )
            self._next()

    # ---- Output (used by jobs) -----------------------------------------------------------------------
    def write(self, data: bytes) -> None:
        """Send bytes unless the connection is gone."""
        if not self.closed:
            self._write(data)

    def respond(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        """Send one complete response, then serve the next pipelined request (or close)."""
        if not self.keep_alive:
            headers = [*headers, ("Connection", "close")]
        self.write(response_head(status, [*headers, ("Content-Length", str(len(body)))]) + body)
        self._done()

    def end_stream(self) -> None:
        """A chunked response ended."""
        self._done()

    def close(self) -> None:
        """Close now (pending writes are flushed first)."""
        if not self.closed and self.transport is not None:
            self.closed = True
            self.transport.close()

    # ---- internals -----------------------------------------------------------------------------------
    def _arm(self, seconds: float, status: int) -> None:
        if self._timer is not None:
            self._timer.cancel()
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(seconds, self._timeout, status)

    def _timeout(self, status: int) -> None:
        if self.busy:  # a response is being produced: the stream's own pace rules
            self._arm(IDLE_TIMEOUT_S, 0)
            return
        if status and not self.closed:
            err = ApiError(
                408, "request not completed in time; send headers and body promptly", code="request_timeout"
            )
            self.keep_alive = False
            self.respond(408, [("Content-Type", "application/json")], orjson.dumps(err.body()))
        self.close()

    def _job_ended(self) -> None:
        if isinstance(self.job, StreamJob):
            self.app.stats.active_streams -= 1
        self.job = None

    def _done(self) -> None:
        if self.job is not None:
            self._job_ended()
        self.busy = False
        if not self.keep_alive:
            self.close()
            return
        self._next()

    def _next(self) -> None:
        if self.busy or not self.pending or self.closed:
            return
        req = self.pending.popleft()
        if self.app.exact is not None:  # handling blocks the loop ~0.1-0.3 ms: send what falls due first
            self.app.exact.checkpoint()
        self.busy = True
        self.keep_alive = self.keep_alive and req.keep_alive
        try:
            self.app.handle(self, req)
        except ApiError as exc:
            self.app.send_error(self, None, exc)
        except Exception as exc:  # a fault hook failed: answer 500 naming it, keep serving others
            print(
                f"maascheck-sim: handling {req.method} {req.path} failed: {type(exc).__name__}: {exc}",
                file=sys.stderr,
                flush=True,
            )
            err = ApiError(
                500,
                f"simulator error ({type(exc).__name__}: {exc}); active faults: "
                f"{', '.join(self.app.faults.names) or 'none'}",
                type_="server_error",
            )
            self.keep_alive = False
            if self.job is None:
                self.respond(500, [("Content-Type", "application/json")], orjson.dumps(err.body()))
            else:
                self.close()

    def start_job(self, job: Job) -> None:
        """Attach a job that will end the exchange."""
        self.job = job
        if isinstance(job, StreamJob):
            self.app.stats.active_streams += 1


class SimServer:
    """The simulator: one listening socket, one engine (or exact scheduler), one persona."""

    def __init__(self, config: SimConfig | None = None) -> None:
        self.config = config or SimConfig()
        self.config.validate()
        self.persona: Persona = load_persona(self.config.profile)
        self.faults = FaultSet.from_names(list(self.config.faults))
        self.api_key = self.config.resolved_api_key()
        self.stats = Stats(self.config.record_lateness)
        self.rng = random.Random(self.config.seed)
        self.cache = PrefixCache()
        self.connections: set[Connection] = set()
        self.engine: Engine | None = None
        self.exact: ExactScheduler | None = None
        self._server: asyncio.base_events.Server | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self.port = 0
        models = [*self.persona.profile.model_ids]
        models += [m for m in self.persona.model_roles if m not in models]
        self._models = models

    @property
    def models(self) -> list[str]:
        """The model ids `/models` lists (the persona's models, then its role models)."""
        return list(self._models)

    # ---- lifecycle -----------------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        """`http://HOST:PORT<base_path>` once started."""
        return f"http://{self.config.host}:{self.port}{self.persona.base_path}"

    async def start(self) -> str:
        """Listen (port 0 picks a free port) and start the scheduler; return the base URL."""
        loop = asyncio.get_running_loop()
        if self.config.exact_schedule:
            self.exact = ExactScheduler(self.config.ttft_ms or 0.0, self.config.itl_ms or 0.0, self.stats)
            self.exact.start()
        else:
            self.engine = Engine(self.config, self.stats)
            self.engine.start()
        self._server = await loop.create_server(
            lambda: Connection(self), self.config.host, self.config.port, backlog=4096, reuse_address=True
        )
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self.base_url

    async def aclose(self) -> None:
        """Stop listening, close every connection, stop the scheduler."""
        if self._server is not None:
            self._server.close()
        for conn in list(self.connections):
            if conn.transport is not None:
                conn.transport.abort()
        if self.engine is not None:
            await self.engine.stop()
        if self.exact is not None:
            await self.exact.stop()
        if self._server is not None:
            await self._server.wait_closed()

    def start_in_thread(self) -> str:
        """Serve from a daemon thread with its own event loop; return the base URL once listening."""
        loop = new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(target=loop.run_forever, name="maascheck-sim", daemon=True)
        self._thread.start()
        return asyncio.run_coroutine_threadsafe(self.start(), loop).result(timeout=30)

    def stop(self) -> None:
        """Stop a server started with `start_in_thread` and join its thread."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(self.aclose(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()
        self._loop = self._thread = None

    # ---- request handling ----------------------------------------------------------------------------
    def handle(self, conn: Connection, req: Request) -> None:
        """Route one request and start answering it; ApiErrors become error envelopes."""
        if req.path.startswith("/sim/"):
            self._sim_endpoint(conn, req)
            return
        base = self.persona.base_path
        sub = req.path[len(base) :] if req.path.startswith(base + "/") else None
        endpoint = self._route(sub, req.path)
        view = RequestView(
            req.method,
            sub if sub is not None else req.path,
            req.headers,
            req.body,
            None,
            endpoint if endpoint in {"chat", "completions", "models"} else "other",
        )
        if endpoint == "model":
            view.endpoint = "models"
        try:
            self._dispatch(conn, req, view, endpoint)
        except ApiError as exc:
            self.send_error(conn, view, exc)

    def _dispatch(self, conn: Connection, req: Request, view: RequestView, endpoint: str | None) -> None:
        if endpoint in {"chat", "completions"}:
            view.json = self._parse_json(req.body)
            if view.json is not None and view.json.get("stream") is None and self.persona.default_stream:
                view.json["stream"] = True
        if self.faults.on_request:
            result = self.faults.request(view)
            if isinstance(result, Response):
                conn.respond(result.status, list(result.headers), result.body)
                return
            view = result
        if endpoint is None:
            raise ApiError(
                404,
                f"Invalid URL ({req.method} {req.path}): no such endpoint; served below "
                f"{self.persona.base_path}: GET /models, POST /chat/completions"
                + (", POST /completions" if self.persona.completions_enabled else ""),
                code="unknown_url",
            )
        allowed = "GET" if endpoint in {"models", "model"} else "POST"
        if req.method != allowed:
            raise ApiError(
                405,
                f"Method {req.method} not allowed for {req.path}; use {allowed}.",
                code="method_not_allowed",
                headers=(("Allow", allowed),),
            )
        self._check_auth(view)
        if endpoint == "models":
            self._send_json(
                conn, view, 200, {"object": "list", "data": [self._model(m) for m in self._models]}
            )
        elif endpoint == "model":
            model_id = view.path[len("/models/") :]
            if model_id not in self._models:
                raise ApiError(
                    404, f"The model '{model_id}' does not exist.", param="model", code="model_not_found"
                )
            self._send_json(conn, view, 200, self._model(model_id))
        else:
            self._generate(conn, view, endpoint, req.received_ns)

    def _route(self, sub: str | None, path: str) -> str | None:
        if sub is None and "path" in self.faults.skip:
            sub = next((p for p in _ENDPOINT_PATHS if path.endswith(p)), None)
        if sub is None:
            return None
        if sub == "/completions" and not self.persona.completions_enabled:
            return None
        if sub.startswith("/models/") and len(sub) > len("/models/") and self.persona.models_enabled:
            return "model"
        if sub == "/models" and not self.persona.models_enabled:
            return None
        return _ENDPOINT_PATHS.get(sub)

    def _parse_json(self, body: bytes) -> dict[str, Any] | None:
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError:
            return None
        return data if isinstance(data, dict) else None

    def _check_auth(self, view: RequestView) -> None:
        if "auth" in self.faults.skip:
            return
        header = view.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if not header:
            raise ApiError(
                401,
                "You didn't provide an API key. Provide it in the Authorization header "
                "(Authorization: Bearer YOUR_KEY).",
                code="missing_api_key",
            )
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            token.strip().encode(), self.api_key.encode()
        ):
            raise ApiError(
                401,
                "Incorrect API key provided. Send 'Authorization: Bearer <key>' with the key "
                "the simulator was started with (MAASCHECK_SIM_KEY, default 'maascheck-sim-key').",
                code="invalid_api_key",
            )

    def _model(self, model_id: str) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": model_id,
            "object": "model",
            "created": MODEL_CREATED,
            "owned_by": str(self.persona.profile.persona.get("owned_by", "maascheck-sim")),
        }
        for key, value in self.persona.model_object_extra.items():
            out[key] = model_id if value == "$id" else value
        return out

    def _generate(self, conn: Connection, view: RequestView, endpoint: str, received_ns: int) -> None:
        body = view.json
        if body is None:
            parsed: Any = None
            with contextlib.suppress(orjson.JSONDecodeError):
                parsed = orjson.loads(view.body)
            if "json" not in self.faults.skip:
                if parsed is None:
                    raise ApiError(
                        400,
                        "We could not parse the JSON body of your request: expected a JSON "
                        "object (Content-Type: application/json).",
                        code="invalid_json",
                    )
                raise ApiError(
                    400,
                    f"The request body must be a JSON object, got {type(parsed).__name__}.",
                    code="invalid_json",
                )
            with contextlib.suppress(orjson.JSONDecodeError):
                parsed = orjson.loads(_TRAILING_COMMA.sub(rb"\1", view.body))
            body = parsed if isinstance(parsed, dict) else {}
            view.json = body
        req = validate(endpoint, body, self.persona, self.faults.skip)
        if self.exact is not None:  # planning and building the job take ~0.1 ms each: checkpoints between
            self.exact.checkpoint()
        plans = plan_choices(req, self.config.output_tokens, self.rng)
        renderer = Renderer(self.persona, req, self.rng)
        cached = (
            self.cache.lookup_and_insert(req.cache_text, req.prompt_tokens)
            if req.endpoint == "chat" and self.config.prefix_cache
            else 0
        )
        if self.exact is not None:
            self.exact.checkpoint()
        job: Job
        if req.stream:
            job = StreamJob(
                conn,
                req,
                view,
                plans,
                renderer,
                self.faults,
                self.config.tokens_per_chunk,
                cached,
                stats=self.stats,
            )
            status = self.faults.status(200, view) if self.faults.on_status else 200
            headers = [
                ("Content-Type", "text/event-stream"),
                ("Cache-Control", "no-cache"),
                ("Transfer-Encoding", "chunked"),
            ]
            if not conn.keep_alive:
                headers.append(("Connection", "close"))
            if self.faults.on_headers:
                headers = self.faults.headers(headers, view)
            conn.write(response_head(status, headers))
        else:
            job = BodyJob(conn, req, view, plans, renderer, self.faults, self.config.tokens_per_chunk, cached)
        conn.start_job(job)
        if self.exact is not None:
            self.exact.submit(job, received_ns)
        elif self.engine is not None:
            self.engine.submit(job)

    def _send_json(
        self,
        conn: Connection,
        view: RequestView | None,
        status: int,
        body: dict[str, Any],
        extra_headers: tuple[tuple[str, str], ...] = (),
    ) -> None:
        headers = [("Content-Type", "application/json"), *extra_headers]
        if view is not None and self.faults.response_hooks:
            body = self.faults.body(body, view)
            raw = self.faults.body_bytes(orjson.dumps(body), view)
            status = self.faults.status(status, view)
            headers = self.faults.headers(headers, view)
        else:
            raw = orjson.dumps(body)
        conn.respond(status, headers, raw)

    def send_error(self, conn: Connection, view: RequestView | None, err: ApiError) -> None:
        """Answer with the error envelope of `err`."""
        self._send_json(conn, view, err.status, err.body(), err.headers)

    def _sim_endpoint(self, conn: Connection, req: Request) -> None:
        if req.path == "/sim/stats" and req.method == "GET":
            self._send_json(conn, None, 200, self.stats.snapshot(with_samples="samples=1" in req.query))
        elif req.path == "/sim/stats/reset" and req.method == "POST":
            self.stats.reset()
            self._send_json(conn, None, 200, {"reset": True, "at": time.time()})
        else:
            raise ApiError(
                404,
                f"Invalid URL ({req.method} {req.path}); simulator endpoints: GET /sim/stats, "
                "POST /sim/stats/reset.",
                code="unknown_url",
            )
