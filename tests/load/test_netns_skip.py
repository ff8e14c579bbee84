"""Where network namespaces cannot be made, the netns tests skip and say why (the acceptance of issue 12 item 5)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from . import netns

HERE = Path(__file__).resolve().parent


def test_a_missing_or_failing_ip_command_is_reported_as_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(netns, "IP", "/nonexistent/ip")
    with pytest.raises(netns.NetnsUnavailable, match=r"iproute2 not found \(/nonexistent/ip\)"), netns.Topology.make():
        pass
    monkeypatch.setattr(netns, "IP", shutil.which("false") or "/bin/false")
    failed = r"`ip netns add` failed: ip netns add mc\d+-m: exit 1"
    with pytest.raises(netns.NetnsUnavailable, match=failed), netns.Topology.make():
        pass


@pytest.mark.timeout(120)
def test_without_the_privilege_the_multihost_tests_skip_with_the_reason(tmp_path: Path) -> None:
    unshare = shutil.which("unshare")
    if unshare is None or subprocess.run([unshare, "--user", "true"], check=False).returncode != 0:
        pytest.skip("no unprivileged user namespace here (unshare --user) to run the tests without CAP_SYS_ADMIN")
    tmp_path.chmod(0o777)
    proc = subprocess.run(
        [unshare, "--user", sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", "-p", "no:randomly",
         "--basetemp", str(tmp_path / "t"), str(HERE / "test_multihost_netns.py")],
        capture_output=True, text=True, timeout=100, cwd=tmp_path, env={**os.environ},
    )  # fmt: skip
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert "2 skipped" in out and "network namespaces cannot be made here: `ip netns add` failed" in out, out[-3000:]
