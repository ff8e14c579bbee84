"""The built wheel installs into a fresh venv and runs the main job outside the checkout (issue 8).

Exactly what a new user does: `pip wheel . --no-deps`, install that wheel (not editable) into a new
venv, `cd` to an empty folder, `maascheck demo`: PASS, reports under `./reports/`, and the venv's
site-packages holds `maascheck/` as the only package this project adds.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _run(argv: list[str], cwd: Path, timeout: float, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)
    assert proc.returncode == 0, f"{argv[:4]} exited {proc.returncode}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout


def _site_packages(env_dir: Path) -> Path:
    out = subprocess.run(
        [str(env_dir / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return Path(out.stdout.strip())


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_the_wheel_installs_and_the_demo_passes_outside_the_checkout(tmp_path: Path) -> None:
    dist, env_dir, work = tmp_path / "dist", tmp_path / "venv", tmp_path / "empty"
    work.mkdir()
    _run([sys.executable, "-m", "pip", "wheel", str(ROOT), "-w", str(dist), "--no-deps", "-q"], ROOT, 300)
    wheels = sorted(dist.glob("maascheck-*.whl"))
    assert len(wheels) == 1, wheels
    venv.EnvBuilder(with_pip=True, clear=True).create(env_dir)
    py = str(env_dir / "bin" / "python")
    clean_env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    _run([py, "-m", "pip", "install", "-q", str(wheels[0])], work, 600, clean_env)

    # Only maascheck/ (plus its dist-info) comes from this project: no top-level conformance/ or loadtests/.
    site = _site_packages(env_dir)
    ours = [p.name for p in site.iterdir() if p.name in ("maascheck", "conformance", "loadtests", "schemas", "tests")]
    assert ours == ["maascheck"], ours
    record = next(site.glob("maascheck-*.dist-info")) / "RECORD"
    tops = {line.split("/", 1)[0] for line in record.read_text().splitlines() if line}
    assert "maascheck/data/traces/synthetic-2000.jsonl" in record.read_text()  # --workload trace:synthetic-2000
    assert tops <= {"maascheck", record.parent.name, "..", "../.."} | {t for t in tops if t.startswith("..")}, tops

    out = _run([str(env_dir / "bin" / "maascheck"), "demo"], work, 420, clean_env)
    assert "overall: PASS" in out, out[-3000:]
    runs = sorted((work / "reports").glob("demo-*"))
    assert len(runs) == 1, runs
    conformance = json.loads((runs[0] / "conformance" / "results.json").read_text(encoding="utf-8"))
    assert conformance["summary"]["verdict"] == "pass"
    assert (runs[0] / "load" / "results.json").is_file()
    # The installed package carries the locustfile and the pytest plugin's test module.
    path = _run([str(env_dir / "bin" / "maascheck"), "locustfile"], work, 60, clean_env).strip()
    assert Path(path).is_file() and Path(path).is_relative_to(site), path
