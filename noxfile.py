"""Sessions: `tests`, `lint` and `typecheck` by default; `demo`, `conformance`, `load` and `e2e` on request.

Dependencies come from pyproject.toml (`.[dev]`); nothing is pinned here twice.
"""

from __future__ import annotations

import os

import nox

nox.options.sessions = ["tests", "lint", "typecheck"]
nox.options.reuse_venv = "yes"
nox.options.error_on_missing_interpreters = True


def _install(session: nox.Session) -> None:
    session.install("-e", ".[dev]")


def _install_clients(session: nox.Session) -> None:
    """The client matrix's real clients into the cache (reused); a client that cannot install is a skip."""
    session.run("maascheck", "clients", "install", success_codes=[0, 1])


@nox.session
def tests(session: nox.Session) -> None:
    """Run the product's own tests (simulator, conformance self-tests, load, reports); e2e excluded."""
    _install(session)
    _install_clients(session)
    session.run("pytest", "tests", "-m", "not e2e", "--timeout=600", "-q", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """Lint with ruff and check the architecture's import contracts (pyproject [tool.importlinter])."""
    _install(session)
    session.run("ruff", "check", "maascheck", "conformance", "loadtests", "tests", "noxfile.py")
    session.run("lint-imports")


@nox.session
def typecheck(session: nox.Session) -> None:
    """Type-check with mypy --strict (config in pyproject.toml)."""
    _install(session)
    session.run("mypy")


@nox.session
def demo(session: nox.Session) -> None:
    """Run `maascheck demo`: simulator, conformance and a short streaming load test, with reports."""
    _install(session)
    session.run("maascheck", "demo", *session.posargs)


@nox.session(default=False)
def conformance(session: nox.Session) -> None:
    """Run the conformance suite against an endpoint: nox -s conformance -- --base-url URL --model NAME ..."""
    _install(session)
    if not session.posargs:
        session.error("give the target: nox -s conformance -- --base-url URL --model NAME [--profile NAME]")
    session.run("maascheck", "conformance", *session.posargs)


@nox.session(default=False)
def load(session: nox.Session) -> None:
    """Run a streaming load test against an endpoint: nox -s load -- --base-url URL --model NAME ..."""
    _install(session)
    if not session.posargs:
        session.error("give the target: nox -s load -- --base-url URL --model NAME [--users N --run-time 60s]")
    session.run("maascheck", "load", *session.posargs)


@nox.session(default=False)
def e2e(session: nox.Session) -> None:
    """Build and serve llama.cpp (SmolLM2-135M) on loopback; run conformance, a load test and a sweep against it."""
    _install(session)
    env = {"MAASCHECK_E2E": "1"}
    if os.environ.get("CI"):
        env["MAASCHECK_CI"] = "1"
    _install_clients(session)
    session.run("python", "-m", "maascheck", "serve-real", "--install-only", env=env)
    session.run("pytest", "tests/e2e", "-m", "e2e", "--timeout=2400", "-q", "-rA", *session.posargs, env=env)
