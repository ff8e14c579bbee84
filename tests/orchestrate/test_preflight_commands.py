"""Issue 9 acceptance: with the key unset, a wrong URL, a wrong prefix or an unknown model, `conformance`,
`load` and `sweep` (and native `pytest`/`locust`) exit 2 within 10 s after at most 5 requests, saying what to fix."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from maascheck.core import schema_registry as schemas
from tests.core.scripted_http import scripted

ROOT = Path(__file__).resolve().parents[2]
KEY = "sk-preflight-" + "commands-fake-0123456789"  # a test key, not a secret
KEY_ENV = "MAASCHECK_PREFLIGHT_TEST_KEY"
COMMANDS = {
    "conformance": [sys.executable, "-m", "maascheck.cli", "conformance"],
    "load": [sys.executable, "-m", "maascheck.cli", "load", "--users", "2", "--run-time", "5s"],
    "sweep": [sys.executable, "-m", "maascheck.cli", "sweep", "--concurrency", "1,2", "--step-time", "3"],
}


@contextmanager
def simulator(profile: str = "openai") -> Iterator[str]:
    from maascheck.sim.config import SimConfig
    from maascheck.sim.server import SimServer

    server = SimServer(SimConfig(profile=profile, api_key=KEY, decode_step_ms=0.5, jitter=0.0, seed=7))
    url = server.start_in_thread()
    try:
        yield url
    finally:
        server.stop()


def run(command: str, base_url: str, model: str, tmp: Path, *extra: str, key: str | None = KEY,
        native: list[str] | None = None) -> tuple[int, str, float]:  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k != KEY_ENV and not k.startswith("MAASCHECK_")}
    if key is not None:
        env[KEY_ENV] = key
    argv = native or [*COMMANDS[command], "--base-url", base_url, "--model", model, "--api-key-env", KEY_ENV,
                      "--report-dir", str(tmp / command), *extra]  # fmt: skip
    t0 = time.monotonic()
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env, cwd=tmp)
    return proc.returncode, proc.stdout + proc.stderr, time.monotonic() - t0


@pytest.mark.slow
@pytest.mark.parametrize("command", list(COMMANDS))
def test_unset_key_exits_2_naming_the_variable(command: str, tmp_path: Path) -> None:
    with simulator() as url:
        code, out, took = run(command, url, "sim-chat", tmp_path, key=None)
    assert code == 2, out[-2000:]
    assert f"environment variable {KEY_ENV} is unset or empty" in out
    assert took < 10 and "Traceback" not in out


@pytest.mark.slow
@pytest.mark.parametrize("command", list(COMMANDS))
def test_wrong_prefix_names_the_base_path_that_answers(command: str, tmp_path: Path) -> None:
    with simulator("taichu") as url:
        wrong = url.removesuffix("/maas/v1") + "/v1"
        code, out, took = run(command, wrong, "taichu_vl", tmp_path, "--profile", "taichu")
    assert code == 2, out[-2000:]
    assert "every request was 404" in out and f"did you mean --base-url {url}?" in out
    assert took < 10


@pytest.mark.slow
@pytest.mark.parametrize("command", list(COMMANDS))
def test_unknown_model_lists_the_served_models(command: str, tmp_path: Path) -> None:
    with simulator() as url:
        code, out, took = run(command, url, "gpt-nope", tmp_path)
    assert code == 2, out[-2000:]
    assert "model 'gpt-nope' is not served" in out and "sim-chat" in out
    assert took < 10


@pytest.mark.slow
@pytest.mark.parametrize("command", list(COMMANDS))
def test_wrong_url_makes_at_most_five_requests(command: str, tmp_path: Path) -> None:
    with scripted(lambda *_: (404, {}, b"no such page")) as srv:
        code, out, took = run(command, srv.origin + "/api", "m", tmp_path)
        served = srv.count
    assert code == 2, out[-2000:]
    assert "every request was 404" in out and 1 <= served <= 5
    assert took < 10


@pytest.mark.slow
def test_native_pytest_and_locust_run_the_preflight(tmp_path: Path) -> None:
    with simulator() as url:
        code, out, _ = run("conformance", url, "sim-chat", tmp_path, key=None, native=[
            sys.executable, "-m", "pytest", str(ROOT / "conformance" / "test_rules.py"), "-p", "no:cacheprovider",
            "--base-url", url, "--model", "sim-chat", "--api-key-env", KEY_ENV])  # fmt: skip
        assert code == 2 and f"{KEY_ENV} is unset or empty" in out, out[-2000:]
        code, out, _ = run("load", url, "gpt-nope", tmp_path, native=[
            sys.executable, "-m", "locust", "-f", str(ROOT / "loadtests" / "locustfile.py"), "--headless",
            "--host", url, "--model", "gpt-nope", "--api-key-env", KEY_ENV, "-u", "1", "-t", "3s",
            "--report-dir", str(tmp_path / "native"), "ChatUser"])  # fmt: skip
        assert code == 2 and "model 'gpt-nope' is not served" in out, out[-2000:]


@pytest.mark.slow
def test_findings_go_into_both_results_documents(tmp_path: Path) -> None:
    with simulator() as url:
        code, out, _ = run("conformance", url, "sim-chat", tmp_path, "--", "-k", "MODELS-001")
        assert code == 0, out[-2000:]
        code, out, _ = run("load", url, "sim-chat", tmp_path, "--max-requests", "2")
        assert code in (0, 1), out[-2000:]
    for name, schema in (("conformance", "conformance-results"), ("load", "load-results")):
        doc = json.loads((tmp_path / name / "results.json").read_text())
        assert schemas.errors(schema, doc) == []
        assert doc["preflight"]["verdict"] == "ok" and doc["preflight"]["requests"] == 2
        assert doc["preflight"]["key_env"] == KEY_ENV and KEY not in json.dumps(doc)


@pytest.mark.slow
def test_no_preflight_is_recorded_as_skipped(tmp_path: Path) -> None:
    with simulator() as url:
        code, out, _ = run("conformance", url, "sim-chat", tmp_path, "--no-preflight", "--", "-k", "MODELS-001")
    assert code == 0, out[-2000:]
    doc = json.loads((tmp_path / "conformance" / "results.json").read_text())
    assert doc["preflight"]["verdict"] == "skipped" and doc["preflight"]["requests"] == 0
