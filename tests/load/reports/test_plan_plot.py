"""The plan plot: goodput vs load with the capacity and the target marked, as plan.png and in the sweep report."""

from __future__ import annotations

import base64
import json
import re
import struct
import subprocess
import sys
import zlib
from pathlib import Path
from typing import Any

import pytest

from maascheck.load.sweep import cli as sweep
from maascheck.load.sweep.plan import plan
from maascheck.load.sweep.plan_plot import YLABEL, plan_figure

from .test_sweep import CAPACITY, SLO, _args, fake_step


def png_text(data: bytes) -> dict[str, str]:
    """The tEXt/zTXt chunks of a PNG (raises when `data` is not a PNG)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", data[:8]
    out, at = {}, 8
    while at < len(data):
        (length,), kind = struct.unpack(">I", data[at : at + 4]), data[at + 4 : at + 8]
        body = data[at + 8 : at + 8 + length]
        if kind == b"tEXt":
            key, _, value = body.partition(b"\0")
            out[key.decode("latin-1")] = value.decode("latin-1")
        elif kind == b"zTXt":
            key, _, rest = body.partition(b"\0")
            out[key.decode("latin-1")] = zlib.decompress(rest[1:]).decode("latin-1")
        at += 12 + length
    return out


@pytest.fixture(scope="module")
def swept(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("sweep")
    args = _args(out, "--concurrency", "2,4,8,16", "--slo", SLO, "--no-early-stop")
    return out, sweep.run_sweep(args, out, runner=fake_step)


def _lines(doc: dict[str, Any], target: dict[str, Any]) -> dict[str, tuple[list[float], list[float]]]:
    fig = plan_figure(doc, target)
    assert fig is not None
    return {str(ln.get_label()): (list(ln.get_xdata()), list(ln.get_ydata())) for ln in fig.axes[0].lines}  # type: ignore[arg-type]


def test_a_rate_target_is_a_horizontal_line_and_the_capacity_a_vertical_one(swept: tuple[Path, Any]) -> None:
    _, doc = swept
    p = plan(doc, target_rate=50, target_users=None, headroom=0.3).as_json()
    lines = _lines(doc, p)
    assert lines[f"capacity: {CAPACITY:g} users"][0] == [CAPACITY, CAPACITY]
    assert lines["target: 50 requests/s"][1] == [50, 50]
    usable = p["per_replica"] * 0.7
    assert lines[f"one replica with 30% headroom: {usable:.3g} requests/s"][1] == pytest.approx([usable, usable])
    steps = {s["load"]: s["throughput"]["goodput_rps"] for s in doc["steps"]}
    assert lines["goodput per level"] == (sorted(steps), [steps[k] for k in sorted(steps)])


def test_a_users_target_is_a_vertical_line(swept: tuple[Path, Any]) -> None:
    _, doc = swept
    lines = _lines(doc, plan(doc, target_rate=None, target_users=40, headroom=0.2).as_json())
    assert lines["target: 40 users"][0] == [40, 40]


def test_plan_writes_a_png_with_its_title_and_labels_and_the_sweep_report_embeds_it(
    swept: tuple[Path, dict[str, Any]],
) -> None:
    out = swept[0]
    html = (out / "sweep.html").read_text(encoding="utf-8")
    assert "Goodput vs concurrency (users) (capacity marked, and the target once maascheck plan ran)" in html
    proc = subprocess.run([sys.executable, "-m", "maascheck", "plan", "--sweep", str(out), "--target-rate", "50"],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 0 and f"plan plot: {out / 'plan.png'}" in proc.stdout, proc.stdout + proc.stderr
    body = json.loads((out / "plan.json").read_text())
    title = f"Goodput vs concurrency (users): {body['replicas']} replica(s) for 50 requests/s"
    meta = png_text((out / "plan.png").read_bytes())
    assert body["plot"] == "plan.png" and meta["Title"] == title
    assert meta["Description"] == f"x: concurrency (users); y: {YLABEL}"
    html = (out / "sweep.html").read_text(encoding="utf-8")  # re-rendered with the target
    images = re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    assert title in [png_text(base64.b64decode(b)).get("Title") for b in images]


def test_no_goodput_no_plot(tmp_path: Path) -> None:
    doc = {"steps": [{"load": 2, "throughput": {}}], "result": {"capacity": None}}
    (tmp_path / "sweep.json").write_text(json.dumps(doc), encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "maascheck", "plan", "--sweep", str(tmp_path), "--target-rate", "5"],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 1 and not (tmp_path / "plan.png").exists(), proc.stdout + proc.stderr
    assert json.loads((tmp_path / "plan.json").read_text())["plot"] is None
