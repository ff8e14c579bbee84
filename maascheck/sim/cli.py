"""`maascheck sim`: serve the simulator until SIGINT/SIGTERM (exit 0); `--list-faults` prints the catalog."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys

from maascheck.core.errors import ConfigError
from maascheck.core.profiles import available_profiles
from maascheck.sim.config import API_KEY_ENV, DEFAULT_API_KEY, SimConfig


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the simulator's flags (names fixed by notes COMMON.md)."""
    d = SimConfig()
    parser.add_argument("--host", default=d.host, help="interface to bind (default %(default)s)")
    parser.add_argument(
        "--port", type=int, default=8000, help="TCP port; 0 picks a free one (default %(default)s)"
    )
    parser.add_argument(
        "--profile",
        default=d.profile,
        help=f"provider persona, one of: {', '.join(available_profiles())} (default %(default)s)",
    )
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="NAME",
        help="inject a fault or legal variation (repeatable); see --list-faults",
    )
    parser.add_argument("--list-faults", action="store_true", help="print the fault catalog and exit")
    parser.add_argument("--seed", type=int, default=None, help="seed for jitter, ids and unseeded output")
    g = parser.add_argument_group("timing model (continuous batching)")
    g.add_argument(
        "--prefill-ms-per-token",
        type=float,
        default=d.prefill_ms_per_token,
        metavar="MS",
        help="prefill cost per uncached prompt token, ms (default %(default)s)",
    )
    g.add_argument(
        "--decode-step-ms",
        type=float,
        default=d.decode_step_ms,
        metavar="MS",
        help="fixed cost of one engine step, ms (default %(default)s)",
    )
    g.add_argument(
        "--decode-ms-per-seq",
        type=float,
        default=d.decode_ms_per_seq,
        metavar="MS",
        help="added step cost per running sequence, ms (default %(default)s)",
    )
    g.add_argument(
        "--max-batch",
        type=int,
        default=d.max_batch,
        metavar="N",
        help="most sequences running at once (default %(default)s)",
    )
    g.add_argument(
        "--tokens-per-chunk",
        type=int,
        default=d.tokens_per_chunk,
        metavar="N",
        help="tokens per SSE event per step (default %(default)s)",
    )
    g.add_argument(
        "--jitter",
        type=float,
        default=d.jitter,
        metavar="F",
        help="relative stddev of step cost (default %(default)s)",
    )
    g.add_argument(
        "--output-tokens",
        type=int,
        default=d.output_tokens,
        metavar="N",
        help="natural output length when max_tokens does not cut it (default %(default)s)",
    )
    g.add_argument(
        "--no-prefix-cache",
        action="store_true",
        help="turn the prefix cache off: every prompt token is prefilled, cached_tokens is 0",
    )
    e = parser.add_argument_group("exact schedule (replaces the timing model)")
    e.add_argument(
        "--exact-schedule",
        action="store_true",
        help="event k of each stream leaves at t_received + ttft + k*itl",
    )
    e.add_argument("--ttft-ms", type=float, default=None, metavar="MS", help="time to first content event")
    e.add_argument("--itl-ms", type=float, default=None, metavar="MS", help="interval between content events")
    parser.add_argument(
        "--record-lateness",
        action="store_true",
        help="keep every event's lateness for GET /sim/stats?samples=1",
    )


def config_from_args(args: argparse.Namespace) -> SimConfig:
    """The SimConfig the flags describe (validated)."""
    cfg = SimConfig(
        host=args.host,
        port=args.port,
        profile=args.profile,
        faults=list(args.fault),
        seed=args.seed,
        prefill_ms_per_token=args.prefill_ms_per_token,
        decode_step_ms=args.decode_step_ms,
        decode_ms_per_seq=args.decode_ms_per_seq,
        max_batch=args.max_batch,
        tokens_per_chunk=args.tokens_per_chunk,
        jitter=args.jitter,
        output_tokens=args.output_tokens,
        exact_schedule=args.exact_schedule,
        ttft_ms=args.ttft_ms,
        itl_ms=args.itl_ms,
        record_lateness=args.record_lateness,
        prefix_cache=not args.no_prefix_cache,
    )
    cfg.validate()
    return cfg


def list_faults() -> str:
    """The fault catalog: name, what it breaks (or "legal"), description."""
    from maascheck.sim.faults import all_faults

    lines = []
    for name, fault in sorted(all_faults().items()):
        breaks = ", ".join(fault.breaks) if fault.breaks else "legal (breaks nothing)"
        if fault.load_kinds:
            breaks = "load taxonomy: " + ", ".join(fault.load_kinds)
        lines.append(f"{name}\n    breaks: {breaks}\n    {fault.description}")
    return "\n".join(lines)


def banner(url: str, config: SimConfig, models: list[str]) -> str:
    """What a newcomer needs to point a client at the simulator: URL, key, models, profile, faults.

    The key is the simulator's documented test key unless $MAASCHECK_SIM_KEY (or the config) sets one;
    a key set that way is named, never printed.
    """
    custom = bool(config.api_key or os.environ.get(API_KEY_ENV))
    if custom:
        key = f"the value of ${API_KEY_ENV}" if not config.api_key else "the key it was configured with"
    else:
        key = f"{DEFAULT_API_KEY!r} (the documented test key; set ${API_KEY_ENV} to choose another)"
    faults = ", ".join(config.faults) if config.faults else "none"
    return "\n".join(
        [
            f"maascheck-sim listening on {url}",
            f"  profile {config.profile}; models: {', '.join(models)}",
            f"  key: clients send `Authorization: Bearer <key>` with {key}",
            f"  faults: {faults}",
            f"  e.g. export OPENAI_API_KEY={'<that key>' if custom else DEFAULT_API_KEY}; "
            f"maascheck conformance --base-url {url} --model {models[0] if models else 'sim-chat'} "
            f"--profile {config.profile}",
        ]
    )


def run(args: argparse.Namespace) -> int:
    """Serve until SIGINT/SIGTERM; exit 0 on a clean shutdown."""
    if args.list_faults:
        print(list_faults())
        return 0
    from maascheck.sim.server import SimServer, new_event_loop

    config = config_from_args(args)  # ConfigError for unknown profile/fault or bad numbers
    server = SimServer(config)
    loop = new_event_loop()
    asyncio.set_event_loop(loop)

    async def main() -> None:
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        url = await server.start()
        print(banner(url, config, server.models), flush=True)
        await stop.wait()
        await server.aclose()

    try:
        loop.run_until_complete(main())
    except OSError as exc:
        raise ConfigError(
            f"cannot listen on {args.host}:{args.port}: {exc.strerror}; "
            "pick another --port (0 = any free port)"
        ) from exc
    finally:
        loop.close()
    print("maascheck-sim stopped", file=sys.stderr, flush=True)
    return 0
