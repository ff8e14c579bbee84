"""`serve-real` starts the server, hands its URL to a command, and leaves no process behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

from maascheck.orchestrate.real_server import real_server
from maascheck.orchestrate.real_server_install import Installed

pytestmark = pytest.mark.e2e

# The wrapped command: records the URL, the model and the server's pid (a sibling: both are children of
# maascheck), then exits with the code given as argv[2] or sleeps when it is "sleep".
REPORTER = """
import json, os, sys, time, psutil
parent = psutil.Process(os.getppid())
servers = [p.pid for p in parent.children() if p.pid != os.getpid() and "llama_cpp.server" in p.cmdline()]
info = {"base_url": os.environ["MAASCHECK_REAL_BASE_URL"], "model": os.environ["MAASCHECK_REAL_MODEL"],
        "key_set": bool(os.environ.get("OPENAI_API_KEY")), "servers": servers, "me": os.getpid()}
with open(sys.argv[1], "w") as fh:
    json.dump(info, fh)
if sys.argv[2] == "sleep":
    time.sleep(600)
sys.exit(int(sys.argv[2]))
"""


def serve_real(*args: str) -> list[str]:
    return [sys.executable, "-m", "maascheck", "serve-real", *args]


def alive(pid: int) -> bool:
    """Whether `pid` is a live (non-zombie) process."""
    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False


def refused(base_url: str) -> bool:
    """Whether nothing listens at `base_url` any more."""
    try:
        httpx.get(f"{base_url}/models", timeout=2.0)
    except httpx.ConnectError:
        return True
    return False


def wait_for_file(path: Path, proc: subprocess.Popen[str], limit_s: float) -> dict[str, object]:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if path.is_file() and path.stat().st_size:
            data: dict[str, object] = json.loads(path.read_text())
            return data
        assert proc.poll() is None, f"serve-real exited early with {proc.returncode}"
        time.sleep(0.2)
    raise AssertionError(f"the wrapped command wrote no {path} within {limit_s} s")


def test_run_passes_the_command_exit_code_and_stops_the_server(installed: Installed, tmp_path: Path) -> None:
    """A failing command's exit code comes back and neither the server nor the port is left behind."""
    info_path = tmp_path / "info.json"
    done = subprocess.run(
        serve_real("--run", "--", sys.executable, "-c", REPORTER, str(info_path), "3"),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 3, done.stderr
    info = json.loads(info_path.read_text())
    assert info["model"] == "smollm2-135m"
    assert info["key_set"] is True
    assert str(info["base_url"]).startswith("http://127.0.0.1:")
    assert len(info["servers"]) == 1, f"expected one server process beside the command, saw {info['servers']}"
    assert not alive(info["servers"][0]), f"server pid {info['servers'][0]} outlived serve-real"
    assert refused(str(info["base_url"])), f"{info['base_url']} still answers after serve-real exited"


def test_sigterm_stops_command_and_server(installed: Installed, tmp_path: Path) -> None:
    """SIGTERM to serve-real ends it with 130 and takes the server and the command's process group along."""
    info_path = tmp_path / "info.json"
    proc = subprocess.Popen(
        serve_real("--run", "--", sys.executable, "-c", REPORTER, str(info_path), "sleep"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        info = wait_for_file(info_path, proc, limit_s=240)
        os.kill(proc.pid, signal.SIGTERM)
        _out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 130, err
    servers = info["servers"]
    assert isinstance(servers, list) and len(servers) == 1
    assert not alive(servers[0]), f"server pid {servers[0]} outlived SIGTERM to serve-real"
    assert not alive(int(str(info["me"]))), "the wrapped command outlived SIGTERM to serve-real"
    assert refused(str(info["base_url"]))


def test_context_manager_stops_the_server_when_the_block_raises(installed: Installed) -> None:
    """`real_server()` stops its process group even when the body raises, and keeps the log then."""
    seen: dict[str, object] = {}
    with pytest.raises(RuntimeError, match="boom"), real_server() as srv:
        seen.update(pid=srv.pid, url=srv.base_url, log=srv.log_path)
        key = {"Authorization": f"Bearer {srv.api_key}"}
        assert httpx.get(f"{srv.base_url}/models", headers=key, timeout=10).status_code == 200
        assert httpx.get(f"{srv.base_url}/models", timeout=10).status_code == 401
        raise RuntimeError("boom")
    assert not alive(int(str(seen["pid"])))
    assert refused(str(seen["url"]))
    log = Path(str(seen["log"]))
    assert log.is_file(), "the server log is kept when the block fails"
    log.unlink()
