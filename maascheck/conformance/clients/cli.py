"""`maascheck clients`: install the client matrix's clients into the cache, or list what is installed.

`maascheck clients install [--clients all|NAME,...]` makes each client's environment from its registry
(PyPI or npm; pins in `maascheck/conformance/clients/pins.json`) under `$MAASCHECK_CACHE_DIR/clients`
(else `~/.cache/maascheck/clients`) and reuses it afterwards. `maascheck clients list` shows each
client, its pin and whether it is installed. Exit 0 when every chosen client is installed, 1 otherwise.
"""

from __future__ import annotations

import argparse

from maascheck.conformance.clients.catalog import CLIENTS, clients_cache, select
from maascheck.conformance.clients.install import InstallFailed, ensure, installed


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the `install` and `list` actions."""
    parser.add_argument("action", choices=("install", "list"), help="install the clients, or list them")
    parser.add_argument(
        "--clients",
        default="all",
        help=f"all (default), or a comma-separated list of: {', '.join(c.name for c in CLIENTS)}",
    )


def run(args: argparse.Namespace) -> int:
    """Install or list the chosen clients."""
    chosen = select(args.clients)  # ConfigError (exit 2) for an unknown name
    if args.action == "list":
        print(f"client environments: {clients_cache()}")
        for c in CLIENTS:
            if c in chosen:
                versions = installed(c)
                state = (
                    "installed " + ", ".join(f"{p} {v}" for p, v in versions.items())
                    if versions
                    else (f"not installed (`{c.install_hint}`)")
                )
                pins = ", ".join(f"{p}=={v}" for p, v in c.packages)
                print(f"  {c.name:<20} {c.ecosystem:<6} {pins:<60} {state}")
        return 0
    failed = 0
    for c in chosen:
        try:
            ensure(c, progress=lambda line: print(f"maascheck clients: {line}", flush=True))
        except InstallFailed as exc:
            failed += 1
            print(f"maascheck clients: {c.name} could not be installed: {exc}", flush=True)
    print(f"maascheck clients: {len(chosen) - failed} of {len(chosen)} clients installed in {clients_cache()}")
    return 1 if failed else 0
