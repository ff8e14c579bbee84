"""The `maascheck` command: one entry point, one subcommand per job.

Each subcommand lives with the layer that owns it and exposes `configure(parser)` and
`run(args) -> int`. Exit codes: 0 pass, 1 the target failed (MUST rules or SLOs),
2 bad usage or configuration, 130 interrupted.
"""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
import threading
from collections.abc import Sequence

from maascheck import __version__
from maascheck.core.errors import EXIT_INTERRUPTED, EXIT_USAGE, ConfigError
from maascheck.core.inert import inert
from maascheck.core.secrets import DEFAULT_KEY_ENV

# name -> (module, help); modules are imported lazily so `maascheck sim` never imports Locust/gevent.
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "sim": ("maascheck.sim.cli", "serve the embedded GPU-serving simulator until interrupted"),
    "conformance": ("maascheck.conformance.cli", "run the conformance suite against an endpoint"),
    "load": ("maascheck.load.run.cli", "run a streaming load test (Locust) against an endpoint"),
    "sweep": ("maascheck.load.sweep.cli", "step the load upward and find the capacity under SLOs"),
    "plan": ("maascheck.load.sweep.plan_cli", "replicas needed for a target load, from a sweep's capacity"),
    "demo": ("maascheck.orchestrate.demo", "simulator + conformance + short load test, reports and a verdict"),
    "bench-sim": ("maascheck.sim.bench", "benchmark: simulator SSE events/s and schedule lateness"),
    "bench-client": (
        "maascheck.orchestrate.bench_client",
        "benchmark: load-client fidelity and CPU cost vs an exact schedule",
    ),
    "locustfile": ("maascheck.load.entry", "print the path of the installed locustfile (for `locust -f`)"),
    "clients": (
        "maascheck.conformance.clients.cli",
        "install the client matrix's real client libraries into the cache (or list them)",
    ),
    "serve-real": ("maascheck.orchestrate.real_server", "install and serve llama.cpp with SmolLM2-135M on loopback"),
}


def build_parser(argv: Sequence[str]) -> argparse.ArgumentParser:
    """The top-level parser; only the chosen subcommand's module is imported."""
    parser = argparse.ArgumentParser(
        prog="maascheck",
        description="Conformance suite and streaming load tester for OpenAI-compatible LLM endpoints.",
        epilog=f"API keys are read from the environment ({DEFAULT_KEY_ENV}, or --api-key-env VAR), never from argv.",
    )
    parser.add_argument("--version", action="version", version=f"maascheck {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    chosen = next((a for a in argv if not a.startswith("-")), None)
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        sp = sub.add_parser(name, help=help_text, description=help_text)
        if name == chosen:
            module = importlib.import_module(module_name)
            module.configure(sp)
            sp.set_defaults(_run=module.run)
    return parser


def _interrupt(signum: int, frame: object) -> None:
    """SIGTERM ends a run as Ctrl-C does: reports from what was kept, verdict interrupted, exit 130."""
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return its exit code (SIGTERM is an interrupt meanwhile; the old handler comes back)."""
    if threading.current_thread() is not threading.main_thread():
        return _main(argv)
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        return _main(argv)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _main(argv: Sequence[str] | None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(args_list)
    # Everything after a bare `--` goes to the underlying tool (pytest / locust) untouched.
    passthrough: list[str] = []
    if "--" in args_list:
        cut = args_list.index("--")
        args_list, passthrough = args_list[:cut], args_list[cut + 1 :]
    try:
        args = parser.parse_args(args_list)
    except SystemExit as exc:  # argparse exits 2 on bad usage already; keep its code
        return int(exc.code or 0)
    if not getattr(args, "_run", None):
        parser.print_help()
        return EXIT_USAGE
    args.passthrough = passthrough
    try:
        return int(args._run(args))
    except ConfigError as exc:
        print(f"maascheck {args.command}: error: {inert(str(exc))}", file=sys.stderr)  # may quote the target
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"maascheck {args.command}: interrupted; partial results were kept", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
