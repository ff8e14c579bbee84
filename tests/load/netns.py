"""Three Linux network namespaces (master, w1, w2) joined by a bridge, made and torn down by the test.

The bridge lives inside the master's namespace and carries 10.231.7.0/24 (master .1, w1 .2, w2 .3);
each worker reaches it through a veth pair. Nothing is added to the caller's namespace, so no packet
leaves the namespaces and nothing leaves the machine. Names carry the pid, so concurrent runs do not
collide. Where namespaces cannot be made (no root, no `ip`, a sandbox without CLONE_NEWNET) `Topology.make`
raises `NetnsUnavailable` with the reason, for the test to skip with.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

IP = shutil.which("ip") or "/usr/sbin/ip"
SUBNET = "10.231.7"
STEP_TIMEOUT_S = 15.0


class NetnsUnavailable(RuntimeError):
    """Network namespaces cannot be made here (the message says why)."""


@dataclass(frozen=True)
class Node:
    """One namespace and its address on the bridge."""

    netns: str
    address: str

    def argv(self, command: Sequence[str]) -> list[str]:
        """`command` run inside this namespace."""
        return [IP, "netns", "exec", self.netns, *command]

    def popen(self, command: Sequence[str], **kwargs: Any) -> subprocess.Popen[str]:
        """Start `command` inside this namespace (text mode)."""
        return subprocess.Popen(self.argv(command), text=True, **kwargs)


def _ip(*args: str) -> None:
    proc = subprocess.run([IP, *args], capture_output=True, text=True, timeout=STEP_TIMEOUT_S, check=False)
    if proc.returncode != 0:
        raise subprocess.CalledProcessError(proc.returncode, ["ip", *args], proc.stdout, proc.stderr)


@dataclass
class Topology:
    """master, w1, w2 namespaces on one bridge; `teardown` removes everything `make` made."""

    tag: str
    master: Node
    workers: tuple[Node, Node]
    made: list[str]

    @classmethod
    @contextlib.contextmanager
    def make(cls) -> Iterator[Topology]:
        """Yield a fresh topology; tear it down afterwards, even when the body or the setup fails."""
        tag = f"mc{os.getpid()}"
        topo = cls(
            tag,
            Node(f"{tag}-m", f"{SUBNET}.1"),
            (Node(f"{tag}-w1", f"{SUBNET}.2"), Node(f"{tag}-w2", f"{SUBNET}.3")),
            [],
        )
        try:
            topo._probe()
            try:
                topo._build()
            except (OSError, subprocess.SubprocessError) as exc:
                raise NetnsUnavailable(f"could not wire the namespaces: {_reason(exc)}") from exc
            yield topo
        finally:
            topo.teardown()

    def _probe(self) -> None:
        """One `ip netns add`: the test's skip condition."""
        if not os.path.exists(IP):
            raise NetnsUnavailable(f"iproute2 not found ({IP})")
        try:
            _ip("netns", "add", self.master.netns)
        except (OSError, subprocess.SubprocessError) as exc:
            raise NetnsUnavailable(f"`ip netns add` failed: {_reason(exc)}") from exc
        self.made.append(self.master.netns)

    def _build(self) -> None:
        m = self.master.netns
        _ip("-n", m, "link", "set", "lo", "up")
        _ip("-n", m, "link", "add", "br0", "type", "bridge")
        _ip("-n", m, "addr", "add", f"{self.master.address}/24", "dev", "br0")
        _ip("-n", m, "link", "set", "br0", "up")
        for i, node in enumerate(self.workers, start=1):
            _ip("netns", "add", node.netns)
            self.made.append(node.netns)
            _ip("-n", node.netns, "link", "set", "lo", "up")
            # Both ends are made inside the namespaces: nothing appears in the caller's namespace.
            _ip("-n", m, "link", "add", f"v{i}m", "type", "veth", "peer", "name", "eth0", "netns", node.netns)
            _ip("-n", m, "link", "set", f"v{i}m", "master", "br0")
            _ip("-n", m, "link", "set", f"v{i}m", "up")
            _ip("-n", node.netns, "addr", "add", f"{node.address}/24", "dev", "eth0")
            _ip("-n", node.netns, "link", "set", "eth0", "up")

    def pids(self) -> list[int]:
        """Processes still running inside the namespaces (all started by the test)."""
        out: list[int] = []
        for ns in self.made:
            proc = subprocess.run(
                [IP, "netns", "pids", ns], capture_output=True, text=True, timeout=STEP_TIMEOUT_S, check=False
            )
            out += [int(p) for p in proc.stdout.split() if p.isdigit()]
        return out

    def teardown(self) -> None:
        """Kill what still runs inside the namespaces, then delete them (their veths and bridge go too)."""
        for pid in self.pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for ns in reversed(self.made):
            with contextlib.suppress(OSError, subprocess.SubprocessError):
                _ip("netns", "del", ns)
        self.made.clear()


def _reason(exc: BaseException) -> str:
    if isinstance(exc, subprocess.CalledProcessError):
        return f"{' '.join(map(str, exc.cmd))}: {(exc.stderr or '').strip() or f'exit {exc.returncode}'}"
    return f"{type(exc).__name__}: {exc}"
