"""`maascheck load --expect-workers N` (master) and `--worker` (worker): their Locust lines and bad usage."""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from maascheck.core.errors import ConfigError
from maascheck.load.run import cli

TARGET = ["--base-url", "http://127.0.0.1:9/v1", "--model", "sim-chat"]


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    cli.configure(parser)
    return parser.parse_args(list(argv))


def test_a_master_waits_bounded_for_its_workers_on_the_given_interface(tmp_path: Path) -> None:
    v = cli.resolve(_args(*TARGET, "--expect-workers", "2", "--master-bind-host", "10.0.0.5", "--workers-wait", "30"))
    argv = cli.locust_argv(v, tmp_path)
    at = argv.index("--master")
    assert argv[at : at + 9] == [
        "--master", "--expect-workers", "2", "--expect-workers-max-wait", "30",
        "--master-bind-host", "10.0.0.5", "--master-bind-port", "5557",
    ]  # fmt: skip
    assert "--worker" not in argv and "--processes" not in argv
    assert "--expect-workers 2" in cli.reproduce_line(v)


def test_a_local_run_is_no_master() -> None:
    argv = cli.locust_argv(cli.resolve(_args(*TARGET, "--processes", "2")), Path("r"))
    assert "--master" not in argv and "--expect-workers" not in argv and argv[argv.index("--processes") + 1] == "2"


def test_local_processes_meet_on_loopback_on_a_port_of_their_own() -> None:
    v = cli.resolve(_args(*TARGET, "--processes", "2"))
    first, second = cli.locust_argv(v, Path("r")), cli.locust_argv(v, Path("r"))

    def port(argv: list[str], flag: str) -> str:
        return argv[argv.index(flag) + 1]

    for argv in (first, second):
        assert port(argv, "--master-bind-host") == port(argv, "--master-host") == "127.0.0.1"
        assert port(argv, "--master-bind-port") == port(argv, "--master-port") != "5557"
    assert port(first, "--master-port") != port(second, "--master-port")  # two runs at once do not meet
    given = cli.locust_argv(v, Path("r"), ["--master-bind-port", "6001", "--master-port", "6001"])
    assert given.count("--master-bind-port") == 1 and port(given, "--master-bind-port") == "6001"


def test_a_worker_needs_only_where_its_master_is() -> None:
    v = cli.resolve_worker(_args("--worker", "--master-host", "10.0.0.5", "--master-port", "6000"))
    argv = cli.worker_argv(v)
    assert argv[argv.index("--worker") :] == [
        "--worker", "--loglevel", "WARNING", "--master-host", "10.0.0.5", "--master-port", "6000",
    ]  # fmt: skip
    assert "--headless" not in argv and "--host" not in argv


BAD = [
    (["--worker", "--users", "3"], cli.resolve_worker, ["takes its run options from the master", "not --users"]),
    (["--worker", "--base-url", "http://x/v1"], cli.resolve_worker, ["not --base-url", "e.g. maascheck load --worker"]),
    (["--worker", "--master-port", "70000"], cli.resolve_worker, ["--master-port '70000'", "1-65535", "e.g."]),
    ([*TARGET, "--expect-workers", "2", "--processes", "2"], cli.resolve, ["not both", "e.g. --expect-workers 2"]),
    ([*TARGET, "--expect-workers", "-1"], cli.resolve, ["--expect-workers '-1'", ">= 0"]),
    ([*TARGET, "--master-bind-port", "0"], cli.resolve, ["--master-bind-port '0'", "1-65535"]),
    ([*TARGET, "--workers-wait", "0s"], cli.resolve, ["--workers-wait '0s'", "> 0"]),
]


@pytest.mark.parametrize(("argv", "resolver", "words"), BAD, ids=[" ".join(b[0][-3:]) for b in BAD])
def test_bad_distribution_options_say_what_is_valid(
    argv: list[str], resolver: Callable[[argparse.Namespace], object], words: list[str]
) -> None:
    with pytest.raises(ConfigError) as exc:
        resolver(_args(*argv))
    for w in words:
        assert w in str(exc.value), str(exc.value)


def test_a_master_without_its_workers_gives_up_after_the_wait_with_exit_2(tmp_path: Path) -> None:
    with socket.socket() as s:  # a free loopback port
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t0 = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "maascheck", "load", *TARGET, "--no-preflight", "--expect-workers", "1",
         "--workers-wait", "2s", "--master-bind-host", "127.0.0.1", "--master-bind-port", str(port),
         "--run-time", "2s", "--report-dir", str(tmp_path / "r")],
        capture_output=True, text=True, timeout=90,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "--expect-workers 1 workers connected within --workers-wait 2s" in proc.stderr
    assert time.monotonic() - t0 < 60
