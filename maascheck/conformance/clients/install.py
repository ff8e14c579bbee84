"""Create each client's environment in the cache from its registry (PyPI or npm), once, and reuse it.

A Python client gets a venv of its own (`<cache>/clients/py-<name>-<hash>/`), the Node clients share one
folder with one `node_modules` (`<cache>/clients/node-<hash>/`); the hash is of the pins, so a new pin is
a new folder. An environment counts as installed only when its `installed.json` marker exists, written
last, so an interrupted install is redone. An exclusive file lock keeps two runs from racing.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

from maascheck.conformance.clients.catalog import CLIENTS, Client
from maascheck.core.errors import MaascheckError

MARKER = "installed.json"
INSTALL_TIMEOUT_S = 1200.0
Progress = Callable[[str], None]


class InstallFailed(MaascheckError):
    """A client's environment could not be made (registry unreachable, no npm, a failed build)."""


def python_bin(client: Client) -> Path:
    """The interpreter of a Python client's venv."""
    return client.env_dir / "venv" / "bin" / "python"


def installed(client: Client) -> dict[str, str] | None:
    """The versions the client's environment holds ({package: version}), or None when it is not installed."""
    try:
        data = json.loads((client.env_dir / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    versions = data.get("versions") if isinstance(data, dict) else None
    return versions if isinstance(versions, dict) else None


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _run(cmd: list[str], log: Path, cwd: Path | None = None) -> None:
    with log.open("a", encoding="utf-8") as out:
        out.write(f"\n$ {' '.join(cmd)}\n")
        out.flush()
        try:
            code = subprocess.run(
                cmd, stdout=out, stderr=subprocess.STDOUT, cwd=cwd, timeout=INSTALL_TIMEOUT_S, check=False
            ).returncode
        except subprocess.TimeoutExpired:
            raise InstallFailed(f"`{' '.join(cmd[:4])} ...` took over {INSTALL_TIMEOUT_S:.0f} s; log: {log}") from None
        except FileNotFoundError as exc:
            raise InstallFailed(f"{cmd[0]} is not on this machine ({exc}); install it and run again") from None
    if code != 0:
        tail = "\n".join(log.read_text(encoding="utf-8", errors="replace").splitlines()[-15:])
        raise InstallFailed(f"`{' '.join(cmd[:4])} ...` exited {code}; last lines of {log}:\n{tail}")


def _install_python(client: Client, work: Path, log: Path) -> dict[str, str]:
    _run([sys.executable, "-m", "venv", str(work / "venv")], log)
    pip = [str(work / "venv" / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    _run(pip + [f"{pkg}=={version}" for pkg, version in client.packages], log)
    names = json.dumps([pkg for pkg, _ in client.packages])
    probe = subprocess.run(
        [
            str(work / "venv" / "bin" / "python"),
            "-c",
            f"import importlib.metadata as m, json; print(json.dumps({{n: m.version(n) for n in {names}}}))",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if probe.returncode != 0:
        raise InstallFailed(f"{client.name}: the new venv cannot report its versions: {probe.stderr[-400:]}")
    versions: dict[str, str] = json.loads(probe.stdout)
    return versions


def _install_node(work: Path, log: Path) -> dict[str, str]:
    deps = {pkg: version for c in CLIENTS if c.ecosystem == "node" for pkg, version in c.packages}
    manifest = {"name": "maascheck-clients", "private": True, "type": "module", "dependencies": deps}
    work.mkdir(parents=True, exist_ok=True)
    (work / "package.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    npm = shutil.which("npm")
    if npm is None:
        raise InstallFailed("npm is not on this machine: install Node.js (with npm) to run the Node clients")
    _run([npm, "install", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error"], log, cwd=work)
    versions = {}
    for pkg in deps:
        meta = json.loads((work / "node_modules" / pkg / "package.json").read_text(encoding="utf-8"))
        versions[pkg] = str(meta["version"])
    return versions


def ensure(client: Client, *, progress: Progress = print) -> dict[str, str]:
    """Install `client`'s environment unless it is there; return the versions it holds."""
    done = installed(client)
    if done is not None:
        return done
    target = client.env_dir
    with _locked(target.parent / f"{target.name}.lock"):
        done = installed(client)
        if done is not None:
            return done
        log = target.parent / f"{target.name}.log"
        log.write_text("", encoding="utf-8")
        pins = ", ".join(f"{p}=={v}" for p, v in client.packages)
        progress(f"installing {client.name} ({pins}) into {target} (log {log})")
        shutil.rmtree(target, ignore_errors=True)  # a partial install (no marker) is redone from scratch
        target.mkdir(parents=True)
        versions = _install_python(client, target, log) if client.ecosystem == "python" else _install_node(target, log)
        (target / MARKER).write_text(json.dumps({"client": client.name, "versions": versions}), encoding="utf-8")
        progress(f"installed {client.name}: {', '.join(f'{p} {v}' for p, v in versions.items())}")
        return versions
