"""serve-real's parts that need no build and no network: cache keys, argv/env hygiene, process-group stop.

These run in the default test session (not marked e2e); nothing here talks to a registry.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from maascheck.core.errors import ConfigError
from maascheck.orchestrate import real_server as realserver
from maascheck.orchestrate import real_server_install as realserver_install
from maascheck.orchestrate.real_server_install import BuildUnavailable, cache_dir, ensure_wheel, wheel_key
from maascheck.orchestrate.real_server_process import ServerOptions, server_command, server_env, stop_group


def test_cache_dir_follows_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MAASCHECK_CACHE_DIR", str(tmp_path / "c"))
    assert cache_dir() == tmp_path / "c"
    monkeypatch.delenv("MAASCHECK_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "maascheck"


def test_wheel_key_names_the_version_and_hashes_the_flags() -> None:
    key = wheel_key()
    assert key.startswith(f"llama-cpp-python-{realserver_install.LLAMA_CPP_VERSION}-")
    assert key == wheel_key(), "the key is stable"
    assert wheel_key(cmake_args="-DGGML_NATIVE=ON") != key, "other CMake flags get another cache entry"
    assert "-DGGML_AMX_INT8=OFF" in realserver_install.SAFE_CMAKE_ARGS


AVX2_ONLY = "processor\t: 0\nflags\t\t: fpu sse4_2 avx f16c fma avx2 bmi2 sse4a\nbugs\t\t:\n"
AVX512_AMX = "flags\t\t: avx avx2 fma f16c bmi2 avx512f avx512_vnni avx512_bf16 avx512_vbmi amx_tile amx_int8\n"


def test_the_build_names_only_instruction_sets_the_cpu_has() -> None:
    """An AVX2-only CPU gets no AVX-512 (a wheel built with it dies with SIGILL); AMX is never on."""
    avx2 = realserver_install.cmake_args_for(realserver_install.cpu_flags(AVX2_ONLY), "x86_64").split()
    assert {"-DGGML_AVX2=ON", "-DGGML_FMA=ON", "-DGGML_AVX512=OFF", "-DGGML_AVX512_VNNI=OFF"} <= set(avx2)
    big = realserver_install.cmake_args_for(realserver_install.cpu_flags(AVX512_AMX), "x86_64").split()
    assert {"-DGGML_AVX512=ON", "-DGGML_AVX512_BF16=ON", "-DGGML_AMX_INT8=OFF", "-DGGML_AMX_TILE=OFF"} <= set(big)
    assert realserver_install.cmake_args_for(set(), "aarch64") == "-DGGML_NATIVE=OFF"
    assert realserver_install.cpu_flags("no flags line") == set()
    assert wheel_key(cmake_args=" ".join(avx2)) != wheel_key(cmake_args=" ".join(big)), "one cache entry per set"


def test_a_cached_wheel_is_reused_without_building(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MAASCHECK_CACHE_DIR", str(tmp_path))
    wheel = tmp_path / "wheels" / wheel_key() / "llama_cpp_python-0.3.36-py3-none-linux_x86_64.whl"
    wheel.parent.mkdir(parents=True)
    wheel.write_bytes(b"PK")
    assert ensure_wheel(progress=lambda _m: None) == (wheel, False, 0.0)


def test_no_compiler_means_the_build_cannot_happen(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MAASCHECK_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(realserver_install, "_compiler", lambda: None)
    with pytest.raises(BuildUnavailable, match=r"^the build cannot happen: no C\+\+ compiler"):
        ensure_wheel(progress=lambda _m: None)


def test_the_api_key_travels_in_the_environment_not_on_argv(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HOST", "PORT", "CONFIG_FILE", "n_ctx"):
        monkeypatch.setenv(name, "from-the-caller")
    opts = ServerOptions(model_path=Path("/m.gguf"), api_key="k-123456", threads=2)
    argv = server_command(opts, 8123)
    assert "k-123456" not in " ".join(argv)
    assert argv[argv.index("--host") + 1] == "127.0.0.1" and argv[argv.index("--port") + 1] == "8123"
    assert argv[argv.index("--interrupt_requests") + 1] == "False"
    env = server_env(opts.api_key)
    assert env["API_KEY"] == "k-123456"
    assert not {"HOST", "PORT", "CONFIG_FILE", "n_ctx"} & set(env), "settings overrides are dropped"
    assert "API_KEY" not in server_env(None)


@pytest.mark.timeout(60)
def test_stop_group_kills_children_that_ignore_sigterm() -> None:
    """SIGTERM first, SIGKILL after the grace period; the grandchild goes with its group."""
    script = "trap '' TERM; sleep 300 & echo $!; wait"
    proc = subprocess.Popen(["sh", "-c", script], stdout=subprocess.PIPE, text=True, start_new_session=True)
    assert proc.stdout is not None
    grandchild = int(proc.stdout.readline())
    started = time.monotonic()
    stop_group(proc, grace_s=1.0)
    assert time.monotonic() - started < 20
    assert proc.returncode == -signal.SIGKILL
    assert not psutil.pid_exists(grandchild) or psutil.Process(grandchild).status() == psutil.STATUS_ZOMBIE


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    realserver.configure(parser)
    cut = argv.index("--") if "--" in argv else len(argv)
    args = parser.parse_args(list(argv[:cut]))
    args.passthrough = list(argv[cut + 1 :])
    return args


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("--run",), "--run needs a command"),
        (("--", "true"), "needs --run"),
        (("--port", "70000"), "--port must be in 1..65535"),
        (("--n-ctx", "16"), "--n-ctx must be at least 256"),
    ],
)
def test_bad_usage_is_a_config_error(argv: tuple[str, ...], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        realserver.run(parse(*argv))


def test_unavailable_build_writes_the_e2e_skip_marker(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Under MAASCHECK_E2E=1, "cannot build here" exits 1 and leaves reports/e2e-SKIPPED for CI."""

    def unavailable(**_kwargs: object) -> object:
        raise BuildUnavailable("no C++ compiler (c++, g++ or clang++) on PATH")

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MAASCHECK_E2E", "1")
    monkeypatch.setattr(realserver, "ensure_installed", unavailable)
    assert realserver.run(parse("--install-only")) == 1
    marker = tmp_path / "reports" / "e2e-SKIPPED"
    assert marker.read_text().startswith("the build cannot happen: no C++ compiler")
    assert "the build cannot happen" in capsys.readouterr().err
    monkeypatch.delenv("MAASCHECK_E2E")
    marker.unlink()
    assert realserver.run(parse("--install-only")) == 1
    assert not marker.exists(), "without MAASCHECK_E2E no marker is written"


def test_run_command_env_points_at_the_server() -> None:
    srv = realserver.RealServer("http://127.0.0.1:9/v1", "smollm2-135m", "k-123456", os.getpid(), Path("/l"))
    env = realserver._command_env(srv)
    assert env["MAASCHECK_REAL_BASE_URL"] == env["OPENAI_BASE_URL"] == "http://127.0.0.1:9/v1"
    assert env["MAASCHECK_REAL_MODEL"] == "smollm2-135m"
    assert env["OPENAI_API_KEY"] == env["MAASCHECK_REAL_API_KEY"] == "k-123456"
    assert env["PATH"].split(os.pathsep)[0] == str(Path(sys.executable).parent)


def test_placeholders_in_the_command_are_expanded_but_not_the_key() -> None:
    srv = realserver.RealServer("http://127.0.0.1:9/v1", "smollm2-135m", "k-123456", os.getpid(), Path("/l"))
    cmd = [
        "x",
        "--base-url",
        "$MAASCHECK_REAL_BASE_URL",
        "--model=${MAASCHECK_REAL_MODEL}",
        "$MAASCHECK_REAL_API_KEY",
    ]
    assert realserver.expand_placeholders(cmd, srv) == [
        "x",
        "--base-url",
        "http://127.0.0.1:9/v1",
        "--model=smollm2-135m",
        "$MAASCHECK_REAL_API_KEY",
    ]
