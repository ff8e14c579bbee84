"""`maascheck conformance` end to end (subprocess, simulator on 127.0.0.1): exit codes, reports, no key."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from maascheck.core import schema_registry as schemas
from tests.conformance.conftest import simulator
from tests.conformance.proofs import SIM_KEY

pytestmark = [pytest.mark.timeout(180), pytest.mark.slow]


def _run(url: str, report_dir: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, MY_PROVIDER_KEY=SIM_KEY)
    env.pop("MAASCHECK_BASE_URL", None)
    argv = [
        sys.executable,
        "-m",
        "maascheck",
        "conformance",
        "--base-url",
        url,
        "--model",
        "sim-chat",
        "--api-key-env",
        "MY_PROVIDER_KEY",
        "--report-dir",
        str(report_dir),
        *extra,
    ]
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=170)


def _outputs(report_dir: Path, proc: subprocess.CompletedProcess[str]) -> str:
    return proc.stdout + proc.stderr + "".join(p.read_text(encoding="utf-8") for p in report_dir.iterdir())


def test_must_failure_exits_1_with_reports_and_no_key(tmp_path: Path) -> None:
    # AUTH-002 (a wrong key accepted) breaks no client: the strict view fails it, the compat view does not
    with simulator("auth-presence-only") as url:
        proc = _run(url, tmp_path, "--verdict", "strict", "--", "-k", "AUTH or MODELS")
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert {p.name for p in tmp_path.iterdir()} >= {"results.json", "junit.xml", "summary.md", "summary.html"}
    doc = json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))
    assert schemas.errors("conformance-results", doc) == []
    assert {r["id"] for r in doc["rules"]} == {f"AUTH-00{i}" for i in (1, 2, 3)} | {
        f"MODELS-00{i}" for i in range(1, 6)
    }
    assert [r["id"] for r in doc["rules"] if r["outcome"] == "failed"] == ["AUTH-002"]
    assert doc["summary"]["verdict"] == "fail" and doc["run"]["requests_made"] <= 4
    assert doc["summary"]["view"] == "strict"
    assert doc["summary"]["views"]["strict"]["failing"] == ["AUTH-002"]
    assert doc["summary"]["views"]["compat"] == {"verdict": "pass", "exit_code": 0, "failing": []}
    assert "--api-key-env MY_PROVIDER_KEY" in doc["run"]["reproduce"]
    assert "--verdict strict" in doc["run"]["reproduce"]
    assert "AUTH-002" in proc.stdout and "$MY_PROVIDER_KEY" in proc.stdout
    assert SIM_KEY not in _outputs(tmp_path, proc)


def test_should_failure_passes_unless_strict(tmp_path: Path) -> None:
    # ERR-009 is a SHOULD of hygiene impact: only the strict view with --strict counts it
    with simulator("error-param-null") as url:
        lenient = _run(url, tmp_path / "lenient", "--verdict", "strict", "--", "-k", "ERR")
        strict = _run(url, tmp_path / "strict", "--strict", "--verdict", "strict", "--", "-k", "ERR")
    assert lenient.returncode == 0, lenient.stdout[-3000:]
    assert strict.returncode == 1, strict.stdout[-3000:]
    assert "ERR-009" in lenient.stdout and "verdict PASS" in lenient.stdout
    junit = (tmp_path / "strict" / "junit.xml").read_text(encoding="utf-8")
    assert 'name="test_rule[ERR-009]"' in junit


def test_bad_usage_exits_2_with_a_clear_message(tmp_path: Path) -> None:
    proc = _run("ftp://example", tmp_path)
    assert proc.returncode == 2
    assert "--base-url 'ftp://example': expected an http:// or https:// URL" in proc.stderr
    proc = _run("http://127.0.0.1:9/v1", tmp_path, "--profile", "nope")
    assert proc.returncode == 2 and "unknown profile 'nope'" in proc.stderr


def test_plugin_is_inert_without_base_url(tmp_path: Path) -> None:
    (tmp_path / "test_x.py").write_text("def test_x():\n    assert True\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAASCHECK_")}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert proc.returncode == 0 and "1 passed" in proc.stdout
    assert "maascheck:" not in proc.stdout and not (tmp_path / "reports").exists()


def test_pytest_directly_with_short_options_and_selection(tmp_path: Path) -> None:
    env = dict(os.environ, OPENAI_API_KEY=SIM_KEY)
    with simulator("models-wrong-object") as url:
        argv = [
            sys.executable,
            "-m",
            "pytest",
            "conformance",
            "--base-url",
            url,
            "--model",
            "sim-chat",
            "--report-dir",
            str(tmp_path),
            "--verdict",
            "strict",
            "-k",
            "MODELS",
            "-x",
            "-p",
            "no:cacheprovider",
        ]
        proc = subprocess.run(
            argv, env=env, capture_output=True, text=True, timeout=170, cwd=Path(__file__).parents[2]
        )
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "maascheck: reproduce: maascheck conformance --base-url" in proc.stdout
    doc = json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))
    # -x stopped the run at the first failure: results.json keeps what was judged and says it was cut short
    assert [r["id"] for r in doc["rules"]] == ["MODELS-001", "MODELS-002"]
    assert doc["run"]["interrupted"] is True and doc["summary"]["must_failed"] == 1
    assert (tmp_path / "junit.xml").is_file() and SIM_KEY not in _outputs(tmp_path, proc)
