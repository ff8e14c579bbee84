"""`maascheck locustfile`: the path of the installed locustfile, for `locust -f "$(maascheck locustfile)" ...`."""

from __future__ import annotations

import argparse
from pathlib import Path

LOCUSTFILE = Path(__file__).resolve().parent / "locustfile.py"


def configure(parser: argparse.ArgumentParser) -> None:
    """No options: the command prints one path."""
    parser.epilog = 'e.g. locust -f "$(maascheck locustfile)" --headless --host URL --model NAME -u 8 -t 60s ChatUser'


def run(args: argparse.Namespace) -> int:
    """Print the locustfile's path."""
    print(LOCUSTFILE)
    return 0
