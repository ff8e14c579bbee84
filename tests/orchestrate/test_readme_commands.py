"""Every command the README shows parses and runs as written, against the simulator (issue 9).

The README's shell blocks are read, continuation lines joined. Each `maascheck`, `pytest` and `locust`
command runs for real with only what a loopback test must change: the provider's URL becomes a
simulator's (serving the persona of the profile the command names), placeholders `URL`/`NAME` become its
base URL and chat model, durations shrink to seconds, report folders go under the test's tmp folder.
It must end with a verdict (exit 0 or 1), never a usage error (2) or a traceback. The set-up commands
(`nox -s demo|tests`, `pip install .`) are what CI and tests/orchestrate/test_wheel.py run; `maascheck
clients install` is what `nox -s tests` runs before the suite.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from maascheck.core.profiles import load_profile
from maascheck.sim.config import DEFAULT_API_KEY
from tests.simulator import running_simulator

ROOT = Path(__file__).resolve().parents[2]
RUNNERS = ("maascheck", "pytest", "locust")
SET_UP = ("python3 -m pip install nox", "pip install", "export ", "maascheck clients install")
# What a loopback test shortens: (pattern, replacement) on the joined command line.
SHORTER = (
    (r"--run-time \S+", "--run-time 3s"),
    (r"-t 60s", "-t 3s"),
    (r"--step-time \S+", "--step-time 2s"),
    (r"--concurrency [0-9,]+", "--concurrency 1,2"),
)


def readme_commands() -> list[str]:
    """The README's shell commands, continuation lines joined, comments dropped."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    lines: list[str] = []
    for block in re.findall(r"```sh\n(.*?)```", text, flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():
            command = re.sub(r"\s+#.*$", "", line).strip()
            if command:
                lines.append(re.sub(r"\s+", " ", command))
    return lines


COMMANDS = [c for c in readme_commands() if c.startswith(RUNNERS) and not c.startswith(SET_UP)]


def test_the_readme_shows_commands_of_every_runner() -> None:
    every = readme_commands()
    assert {c.split()[0] for c in COMMANDS} == set(RUNNERS), COMMANDS
    assert all(c.startswith(RUNNERS + SET_UP) for c in every), [c for c in every if not c.startswith(RUNNERS + SET_UP)]


def _profile_of(argv: list[str]) -> str:
    return argv[argv.index("--profile") + 1] if "--profile" in argv else "openai"


def _persona_for(command: str) -> str:
    """The simulator persona that serves what the command asks for (its --profile, or the one naming its model)."""
    argv = shlex.split(command)
    if "--profile" in argv:
        return _profile_of(argv)
    model = argv[argv.index("--model") + 1] if "--model" in argv else "NAME"
    for name in ("openai", "bailian", "maas-openmodels", "taichu", "hhaice"):
        if model in load_profile(name).model_ids:
            return name
    return "openai"


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.parametrize("command", COMMANDS, ids=[" ".join(c.split()[:2]) + f" #{i}" for i, c in enumerate(COMMANDS)])
def test_readme_command_runs_as_written(command: str, tmp_path: Path) -> None:
    persona = _persona_for(command)
    with running_simulator(profile=persona, api_key=DEFAULT_API_KEY, decode_step_ms=1.0) as url:
        line = command.replace("https://provider.example/v1", url).replace(" URL ", f" {url} ")
        line = line.replace(" NAME ", f" {load_profile(persona).models['chat'] or 'sim-chat'} ")
        for pattern, replacement in SHORTER:
            line = re.sub(pattern, replacement, line)
        argv = shlex.split(line)
        if "--report-dir" in argv:
            argv[argv.index("--report-dir") + 1] = str(tmp_path / "reports")
        elif argv[0] == "maascheck":
            argv += ["--report-dir", str(tmp_path / "reports")]
        if argv[0] == "maascheck":
            argv = [sys.executable, "-m", "maascheck", *argv[1:]]
        elif argv[0] in ("pytest", "locust"):
            argv = [sys.executable, "-m", *argv]
        env = {k: v for k, v in os.environ.items() if not k.startswith("MAASCHECK_")}
        env |= {"PROVIDER_KEY": DEFAULT_API_KEY, "OPENAI_API_KEY": DEFAULT_API_KEY}
        proc = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=280)
    out = proc.stdout[-3000:] + proc.stderr[-3000:]
    assert proc.returncode in (0, 1), f"{shlex.join(argv)} exited {proc.returncode}:\n{out}"
    assert "Traceback" not in proc.stdout + proc.stderr, out
    assert list((tmp_path / "reports").rglob("results.json")), f"no results.json: {out}"
