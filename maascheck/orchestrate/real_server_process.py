"""Start llama-cpp-python's OpenAI-compatible server on loopback, wait until it answers, stop it for sure.

The server runs as `python -m llama_cpp.server` in its own session (process group), so stopping it
signals the whole group: SIGTERM, then SIGKILL after a grace period, then a check that no process
of the group is left. On Linux the child also gets PR_SET_PDEATHSIG(SIGTERM): if maascheck dies
without cleaning up, the kernel stops the server. Flags and settings: llama_cpp/server/settings.py
(llama-cpp-python 0.3.36).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil

from maascheck.core.errors import MaascheckError

DEFAULT_ALIAS = "smollm2-135m"
# A documented, loopback-only test key (like the simulator's `maascheck-sim-key`); not a secret.
DEFAULT_API_KEY = "maascheck-real-key"
API_KEY_ENV = "MAASCHECK_REAL_API_KEY"
# Environment variables that pydantic-settings (ServerSettings/ModelSettings) or `llama_cpp.server.__main__`
# would read and let override our flags (HOST/PORT are read by uvicorn.run, CONFIG_FILE replaces all flags).
_SETTINGS_ENV = (
    "host",
    "port",
    "model",
    "model_alias",
    "api_key",
    "interrupt_requests",
    "n_ctx",
    "n_threads",
    "n_threads_batch",
    "n_batch",
    "n_ubatch",
    "n_gpu_layers",
    "chat_format",
    "config_file",
    "root_path",
    "verbose",
    "seed",
    "cache",
    "cache_type",
    "cache_size",
    "disable_ping_events",
    "ssl_keyfile",
    "ssl_certfile",
    "clip_model_path",
    "hf_model_repo_id",
    "logits_all",
    "embedding",
    "use_mlock",
    "use_mmap",
)


class ServerStartError(MaascheckError):
    """The server exited or did not answer `GET /v1/models` in time; the message holds its log tail."""


class ServerStopError(MaascheckError):
    """Processes of the server's group were still alive after SIGKILL."""


@dataclass(frozen=True)
class ServerOptions:
    """How to run the server: the CLI flags of `maascheck serve-real`, as data."""

    model_path: Path
    model_alias: str = DEFAULT_ALIAS
    port: int | None = None  # None: a free ephemeral port
    n_ctx: int = 2048
    threads: int | None = None  # None: the server's default (cpu_count // 2)
    interrupt_requests: bool = False
    api_key: str | None = DEFAULT_API_KEY  # None: no authentication
    ready_timeout_s: float = 180.0
    log_path: Path | None = None  # None: a temporary file, removed after a clean stop
    extra_args: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class RealServer:
    """A running server: where it listens, what it serves, and how to reach its process group."""

    base_url: str
    model: str
    api_key: str | None
    pid: int
    log_path: Path

    def __str__(self) -> str:
        return self.base_url


def free_port() -> int:
    """An ephemeral TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def log_tail(path: Path, lines: int = 30) -> str:
    """The last `lines` lines of the server log."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        return f"(log {path} unreadable: {exc})"
    return "\n".join(text.splitlines()[-lines:]) or "(empty log)"


def server_command(opts: ServerOptions, port: int) -> list[str]:
    """The argv that starts the server (the API key travels in the environment, never on argv)."""
    cmd = [
        sys.executable, "-m", "llama_cpp.server",
        "--model", str(opts.model_path),
        "--model_alias", opts.model_alias,
        "--host", "127.0.0.1",
        "--port", str(port),
        "--n_ctx", str(opts.n_ctx),
        "--interrupt_requests", "True" if opts.interrupt_requests else "False",
    ]  # fmt: skip
    if opts.threads is not None:
        cmd += ["--n_threads", str(opts.threads), "--n_threads_batch", str(opts.threads)]
    return [*cmd, *opts.extra_args]


def server_env(api_key: str | None) -> dict[str, str]:
    """This process's environment without settings overrides, plus API_KEY (read by ServerSettings)."""
    env = {k: v for k, v in os.environ.items() if k.lower() not in _SETTINGS_ENV}
    if api_key:
        env["API_KEY"] = api_key
    return env


def die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Ask the kernel to SIGTERM this (child) process when its parent dies (Linux PR_SET_PDEATHSIG)."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _group_members(pgid: int) -> list[psutil.Process]:
    out = []
    for proc in psutil.process_iter(["pid", "status"]):
        with contextlib.suppress(psutil.Error, ProcessLookupError, PermissionError):
            if proc.info["status"] != psutil.STATUS_ZOMBIE and os.getpgid(proc.pid) == pgid:
                out.append(proc)
    return out


def stop_group(proc: subprocess.Popen[Any], grace_s: float = 10.0) -> None:
    """Stop `proc`'s process group: SIGTERM, SIGKILL after `grace_s`, then check nothing is left."""
    pgid = proc.pid  # start_new_session=True: the child leads its own group
    for sig, wait_s in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, sig)
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=0.1)
            if proc.returncode is not None and not _group_members(pgid):
                return
    if proc.returncode is None:
        proc.wait(timeout=5)
    if left := _group_members(pgid):
        raise ServerStopError(
            f"server process group {pgid} still has {len(left)} live process(es) after SIGKILL: "
            f"{[p.pid for p in left]}; kill them with `kill -9 -- -{pgid}`"
        )


def wait_ready(proc: subprocess.Popen[bytes], base_url: str, opts: ServerOptions, log_path: Path) -> None:
    """Poll `GET {base_url}/models` until it answers 200; raise ServerStartError on exit or timeout."""
    headers = {"Authorization": f"Bearer {opts.api_key}"} if opts.api_key else {}
    deadline = time.monotonic() + opts.ready_timeout_s
    last = "no answer yet"
    with httpx.Client(timeout=5.0) as client:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                sigill = (
                    " (SIGILL: the wheel uses an instruction set this CPU lacks; delete its folder under "
                    "<cache>/wheels to rebuild it for this CPU)"
                    if proc.returncode == -signal.SIGILL
                    else ""
                )
                raise ServerStartError(
                    f"the llama.cpp server exited with code {proc.returncode}{sigill} before answering "
                    f"GET {base_url}/models; last lines of {log_path}:\n{log_tail(log_path)}"
                )
            try:
                resp = client.get(f"{base_url}/models", headers=headers)
                if resp.status_code == 200:
                    return
                last = f"HTTP {resp.status_code}: {resp.text[:200]}"
            except httpx.HTTPError as exc:
                last = f"{type(exc).__name__}: {exc}"
            time.sleep(0.25)
    raise ServerStartError(
        f"the llama.cpp server did not answer GET {base_url}/models with 200 within "
        f"{opts.ready_timeout_s:.0f} s (last: {last}); raise --ready-timeout on a slow machine; "
        f"last lines of {log_path}:\n{log_tail(log_path)}"
    )


def _launch(opts: ServerOptions, port: int, log_path: Path) -> subprocess.Popen[bytes]:
    with log_path.open("ab") as log:
        return subprocess.Popen(
            server_command(opts, port),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=server_env(opts.api_key),
            start_new_session=True,
            preexec_fn=die_with_parent,  # prctl only: takes no lock between fork and exec
        )


def _start(opts: ServerOptions, log_path: Path) -> tuple[subprocess.Popen[bytes], str]:
    """Start the server and wait until it answers; retry on another port if a picked port was taken."""
    for attempt in range(3):
        port = opts.port or free_port()
        base_url = f"http://127.0.0.1:{port}/v1"
        proc = _launch(opts, port, log_path)
        try:
            wait_ready(proc, base_url, opts, log_path)
            return proc, base_url
        except ServerStartError:
            stop_group(proc)
            if opts.port is not None or attempt == 2 or "address already in use" not in log_tail(log_path):
                raise
        except BaseException:
            stop_group(proc)
            raise
    raise AssertionError("unreachable")  # pragma: no cover


@contextlib.contextmanager
def serve(opts: ServerOptions) -> Iterator[tuple[RealServer, subprocess.Popen[bytes]]]:
    """Run the server for the duration of the block; its process group is stopped whatever happens.

    The log is kept (and its path reported) when the block fails; a temporary log is removed otherwise.
    """
    own_log = opts.log_path is None
    if opts.log_path is None:
        fd, name = tempfile.mkstemp(prefix="maascheck-llama-", suffix=".log")
        os.close(fd)
        log_path = Path(name)
    else:
        log_path = opts.log_path
        log_path.parent.mkdir(parents=True, exist_ok=True)
    proc, base_url = _start(opts, log_path)
    clean = False
    try:
        yield RealServer(base_url, opts.model_alias, opts.api_key, proc.pid, log_path), proc
        clean = True
    finally:
        stop_group(proc)
        if own_log and clean:
            log_path.unlink(missing_ok=True)
