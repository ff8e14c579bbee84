"""Two runs never silently share one report folder: a folder holding another run's results is refused with
exit 2 before any request, in every command and native entry point, unless `--overwrite` (issue 9.13)."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

import pytest

from maascheck.core.errors import ConfigError
from maascheck.core.paths import RUN_DOCUMENTS, refuse_shared_report_dir
from tests.orchestrate.test_bad_options import ROOT, _argv, target

__all__ = ["target"]  # the listening-socket fixture of the bad-option cases

FACES = {  # face -> arguments it needs besides the target and the folder
    "conformance": [],
    "load": [],
    "sweep": ["--concurrency", "1,2"],
    "locust": [],
    "pytest": [],
}


@pytest.mark.parametrize("document", RUN_DOCUMENTS)
def test_a_folder_with_a_run_document_is_refused_unless_overwrite(document: str, tmp_path: Path) -> None:
    (tmp_path / document).write_text("{}")
    with pytest.raises(ConfigError, match=f"holds another run's {document}.*--overwrite"):
        refuse_shared_report_dir(tmp_path, overwrite=False)
    refuse_shared_report_dir(tmp_path, overwrite=True)


def test_a_new_or_empty_folder_is_taken(tmp_path: Path) -> None:
    (tmp_path / "preflight.json").write_text("{}")  # a preflight's findings are not a run's results
    refuse_shared_report_dir(tmp_path, overwrite=False)
    refuse_shared_report_dir(tmp_path / "new", overwrite=False)


@pytest.mark.slow
@pytest.mark.timeout(120)
@pytest.mark.parametrize("face", sorted(FACES))
def test_every_face_refuses_another_runs_folder_before_any_request(
    face: str, target: tuple[str, socket.socket], tmp_path: Path
) -> None:
    url, sock = target
    (tmp_path / "results.json").write_text('{"verdict": "an older run"}')
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAASCHECK_")}
    argv = _argv(face, url, [*FACES[face], "--report-dir", str(tmp_path)])
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=100, cwd=ROOT, env=env)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 2, out[-3000:]
    assert "holds another run's results.json" in out and "--overwrite" in out, out[-3000:]
    assert "Traceback" not in out
    assert (tmp_path / "results.json").read_text() == '{"verdict": "an older run"}'
    with pytest.raises(BlockingIOError):
        sock.accept()  # no connection was made
