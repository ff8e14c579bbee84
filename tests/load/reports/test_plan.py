"""`maascheck plan`: replicas for a target from a sweep's capacity (pure plan and the command)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from maascheck.load.sweep.plan import plan


def _sweep(mode: str = "rate", capacity: float | None = 8, goodput: float = 7.5) -> dict[str, Any]:
    steps = [{"load": load, "throughput": {"goodput_rps": goodput if load == 8 else load * 0.95}}
             for load in (2, 4, 8, 16)]  # fmt: skip
    return {"sweep": {"mode": mode}, "steps": steps, "result": {"capacity": capacity, "capacity_reason": "why"}}


@pytest.mark.parametrize(
    ("target", "headroom", "replicas"),
    [(50, 0.3, 10), (5.25, 0.3, 1), (5.26, 0.3, 2), (75, 0.0, 10), (75.1, 0.0, 11)],
)
def test_replicas_from_goodput_at_capacity(target: float, headroom: float, replicas: int) -> None:
    """One replica serves 7.5 requests/s within the SLOs; with 30 % headroom 5.25."""
    p = plan(_sweep(), target_rate=target, target_users=None, headroom=headroom)
    assert p.replicas == replicas and p.per_replica == 7.5 and p.capacity_load == 8, p.reason


def test_users_plan_needs_a_concurrency_sweep() -> None:
    assert plan(_sweep("concurrency"), target_rate=None, target_users=100, headroom=0.2).replicas == 16  # 100/6.4
    assert plan(_sweep("rate"), target_rate=None, target_users=100, headroom=0.2).replicas is None


def test_no_capacity_gives_no_plan() -> None:
    p = plan(_sweep(capacity=None), target_rate=10, target_users=None, headroom=0.3)
    assert p.replicas is None and "why" in p.reason


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "maascheck", "plan", *args], capture_output=True, text=True,
                          timeout=60)  # fmt: skip


def test_plan_command_writes_plan_json_and_exits_by_outcome(tmp_path: Path) -> None:
    (tmp_path / "sweep.json").write_text(json.dumps(_sweep()), encoding="utf-8")
    proc = _cli("--sweep", str(tmp_path), "--target-rate", "50")
    assert proc.returncode == 0 and "10 replica(s)" in proc.stdout and "linearly" in proc.stdout, proc.stderr
    assert json.loads((tmp_path / "plan.json").read_text())["replicas"] == 10
    bad = _cli("--sweep", str(tmp_path), "--target-rate", "50", "--headroom", "1.5")
    assert bad.returncode == 2 and "valid:" in bad.stderr and "example:" in bad.stderr, bad.stderr
    missing = _cli("--sweep", str(tmp_path / "nope"), "--target-rate", "50")
    assert missing.returncode == 2 and "sweep.json" in missing.stderr
    (tmp_path / "sweep.json").write_text(json.dumps(_sweep(capacity=None)), encoding="utf-8")
    assert _cli("--sweep", str(tmp_path), "--target-rate", "50").returncode == 1
