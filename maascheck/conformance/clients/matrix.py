"""Runs one client over the scenarios: its adapter in a subprocess, the replay server in front of it.

A client runs all its scenarios in one adapter process (its imports are paid once); the cells are
cached per run (keyed by the exchanges they replay), so each `CLIENT-...` rule reads its own cell.
A cell passes when the client returned and handed the application what the exchange carried; fails
with the exception or the difference; is skipped when the client is not installed or no exchange fit.
The adapter process gets no API key and no inherited environment: in live mode the suite's recorder
adds the key on the way to the target, so the key reaches only the configured origin.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from maascheck.conformance.clients.catalog import ADAPTERS_DIR, Client
from maascheck.conformance.clients.expect import differences, error_message, expected_view
from maascheck.conformance.clients.install import installed, python_bin
from maascheck.conformance.clients.replay import ReplayServer, Source
from maascheck.conformance.clients.scenarios import BY_NAME
from maascheck.conformance.model.exchange import Exchange

REPLAY_KEY = "maascheck-replay-no-key"  # what the client is configured with: never the real key
OUTPUT_CAP = 4 << 20
START_S = 60.0  # interpreter start and imports (langchain, litellm) on a loaded 2-core machine


@dataclass
class Cell:
    """One client × scenario judgement."""

    outcome: str  # passed | failed | skipped
    message: str = ""
    client_version: str | None = None
    exchange: Exchange | None = None
    expected: Any = None
    received: Any = None


def _command(client: Client) -> list[str]:
    if client.ecosystem == "python":
        return [str(python_bin(client)), str(client.adapter_path)]
    # ESM resolves packages from the script's folder: the adapters run from a copy inside the node folder.
    target = client.env_dir / "adapters"
    target.mkdir(exist_ok=True)
    for script in ADAPTERS_DIR.glob("*.mjs"):
        shutil.copyfile(script, target / script.name)
    node = shutil.which("node") or "node"
    return [node, str(target / client.adapter)]


def _environment(client: Client) -> dict[str, str]:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(client.env_dir), "LANG": "C.UTF-8"}
    env |= {"NO_PROXY": "*", "no_proxy": "*", "PYTHONDONTWRITEBYTECODE": "1", "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    return env


def _lines(out: bytes) -> dict[str, dict[str, Any]]:
    results: dict[str, dict[str, Any]] = {}
    for line in out.decode("utf-8", errors="replace").splitlines():
        try:
            doc = json.loads(line)
        except ValueError:
            continue
        if isinstance(doc, dict) and isinstance(doc.get("scenario"), str):
            results[doc["scenario"]] = doc
    return results


def run_client(client: Client, templates: dict[str, Exchange], source: Source, *, timeout_s: float) -> dict[str, Cell]:
    """Run `client` over the scenarios of `templates` (scenario -> the recorded exchange it starts from)."""
    versions = installed(client)
    if versions is None:
        why = f"client {client.name} is not installed: run `{client.install_hint}`"
        return {s: Cell("skipped", why) for s in templates}
    version = versions.get(client.packages[0][0])
    with ReplayServer(source) as server:
        jobs = [
            {
                "scenario": s,
                "base_url": server.base_url(s),
                "api_key": REPLAY_KEY,
                "request": ex.request_json,
                "timeout_s": timeout_s,
            }
            for s, ex in templates.items()
        ]
        budget_s = START_S + timeout_s * len(jobs)
        stdout, stderr, timed_out = _run_adapter(client, jobs, budget_s)
        results = _lines(stdout)
        cells = {}
        for s in templates:
            served = [m for _, m in server.for_scenario(s)]
            cells[s] = _judge(client, s, results.get(s), served, version, stderr, timed_out, budget_s)
    return cells


def _run_adapter(client: Client, jobs: list[dict[str, Any]], budget_s: float) -> tuple[bytes, str, bool]:
    proc = subprocess.Popen(
        _command(client),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_environment(client),
        cwd=str(client.env_dir),
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(json.dumps({"jobs": jobs}).encode(), timeout=budget_s)
        return out[:OUTPUT_CAP], err[-4000:].decode("utf-8", errors="replace"), False
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
        out, err = proc.communicate()
        return out[:OUTPUT_CAP], err[-4000:].decode("utf-8", errors="replace"), True


def _judge(
    client: Client,
    scenario: str,
    result: dict[str, Any] | None,
    served: list[Exchange | str],
    version: str | None,
    stderr: str,
    timed_out: bool,
    budget_s: float,
) -> Cell:
    exchanges = [m for m in served if isinstance(m, Exchange)]
    misses = [m for m in served if isinstance(m, str)]
    ex = exchanges[-1] if exchanges else None
    if result is None:
        if timed_out and ex is not None:
            return Cell(
                "failed",
                f"{client.name} did not return within {budget_s:.0f} s",
                version,
                ex,
                "the call returns",
                "no result: the client hung",
            )
        tail = stderr.strip().splitlines()[-3:] if stderr.strip() else ["(no output)"]
        return Cell(
            "skipped", f"the {client.name} adapter reported nothing for {scenario}: {' | '.join(tail)}", version
        )
    if ex is None:
        why = misses[0] if misses else "the client sent no request"
        err = result.get("error") or {}
        detail = f"; the client raised {err.get('type')}: {err.get('message')}" if err else ""
        return Cell("skipped", f"no exchange to judge: {why}{detail}", version)
    if BY_NAME[scenario].parts == ("error",):
        return _judge_error(client, result, ex, version)
    if not result.get("ok"):
        err = result.get("error") or {}
        message = f"{client.title} {version} raised {err.get('type')}: {err.get('message')}"
        return Cell(
            "failed", message, version, ex, "the call returns normally", f"{err.get('type')}: {err.get('message')}"
        )
    want = expected_view(ex)
    diffs = differences(BY_NAME[scenario].parts, want, result)
    if diffs:
        message = f"{client.title} {version} handed the application something else than the wire carried: " + "; ".join(
            diffs
        )
        parts = BY_NAME[scenario].parts
        return Cell("failed", message, version, ex, {p: want.get(p) for p in parts}, {p: result.get(p) for p in parts})
    return Cell("passed", "", version, ex)


def _judge_error(client: Client, result: dict[str, Any], ex: Exchange, version: str | None) -> Cell:
    """An error answer: the client raises, and the exception's text holds the server's message.

    An error object in a 200 body (no `choices`) is an error answer too: the application must learn of it.
    """
    doc = ex.json
    in_body = isinstance(doc, dict) and isinstance(doc.get("error"), dict) and "choices" not in doc
    if ex.status is None or (ex.status < 400 and not in_body):
        return Cell("skipped", f"the target answered the {ex.probe} request with {ex.status}: no error to hand on")
    want = error_message(ex)
    if result.get("ok"):
        return Cell(
            "failed",
            f"{client.title} {version} returned normally on a {ex.status} answer: the application sees no error",
            version,
            ex,
            "an exception carrying the server's message",
            "a normal return",
        )
    err = result.get("error") or {}
    said = f"{err.get('type')}: {err.get('message')}"
    if want and want not in str(err.get("message") or ""):
        return Cell(
            "failed",
            f"{client.title} {version} raised {said[:300]}, without the server's message {want[:200]!r}",
            version,
            ex,
            f"an exception whose message holds {want[:200]!r}",
            said[:500],
        )
    return Cell("passed", "", version, ex)


_CACHE: dict[tuple[Any, ...], tuple[dict[str, Cell], list[Exchange]]] = {}
_CACHE_LOCK = threading.Lock()
PARALLEL_CLIENTS = 3  # adapter processes at a time (mostly waiting on imports and the replay server)


def _key(client: Client, mode: str, templates: dict[str, Exchange]) -> tuple[Any, ...]:
    return (client.name, mode, tuple(sorted((s, id(ex)) for s, ex in templates.items())))


def cells_for(
    client: Client,
    templates: dict[str, Exchange],
    sources: Callable[[Client], Source],
    *,
    mode: str,
    timeout_s: float,
    together: tuple[Client, ...] = (),
) -> dict[str, Cell]:
    """The client's cells for these exchanges, run once and cached (the key holds the exchanges alive).

    On a miss, `client` and the clients in `together` (the rest of the run's matrix) run at once.
    """
    with _CACHE_LOCK:
        hit = _CACHE.get(_key(client, mode, templates))
        if hit is not None:
            return hit[0]
        todo = [client, *(c for c in together if c != client and _key(c, mode, templates) not in _CACHE)]
        with ThreadPoolExecutor(max_workers=PARALLEL_CLIENTS) as pool:
            futures = {c: pool.submit(run_client, c, templates, sources(c), timeout_s=timeout_s) for c in todo}
        if len(_CACHE) > 256:
            _CACHE.clear()
        for c, fut in futures.items():
            _CACHE[_key(c, mode, templates)] = (fut.result(), list(templates.values()))
        return _CACHE[_key(client, mode, templates)][0]
