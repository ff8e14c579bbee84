"""`maascheck plan --sweep DIR --target-rate R [--headroom 0.3]`: replicas for a target, from a sweep.

Reads `DIR/sweep.json` (written by `maascheck sweep`), prints the plan with its assumptions, writes
`DIR/plan.json` and `DIR/plan.png` (goodput vs load, capacity and target marked:
`maascheck.load.sweep.plan_plot`) and re-renders the sweep's sweep.html/sweep.md with the target marked.
Exit 0 with a plan, 1 when the sweep has no capacity to plan from, 2 on bad options (what is wrong,
what is valid, an example) before anything is read.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from maascheck.core.errors import ConfigError
from maascheck.load.sweep.plan import ASSUMPTIONS, plan
from maascheck.load.sweep.plan_plot import write_plan_png
from maascheck.load.sweep.report import render_files

PLOT_FILE = "plan.png"
EXAMPLE = "maascheck plan --sweep reports/sweep --target-rate 50 --headroom 0.3"


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the plan options."""
    parser.add_argument("--sweep", required=True, metavar="DIR", help="a `maascheck sweep` report directory")
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--target-rate", type=float, metavar="R", help="requests/s to serve")
    target.add_argument("--target-users", type=float, metavar="N", help="concurrent users (concurrency sweeps)")
    parser.add_argument("--headroom", type=float, default=0.3, help="share of each replica kept free (default 0.3)")


def _rerender(doc: dict[str, Any], sweep_dir: Path) -> None:
    """Rewrite the sweep's own sweep.html and sweep.md (when it has them), now with the plan's target marked."""
    if not (sweep_dir / "sweep.html").is_file():
        return
    texts = render_files(doc, sweep_dir)
    for key in ("html", "md"):
        (sweep_dir / f"sweep.{key}").write_text(texts[key], encoding="utf-8")


def _bad(what: str, valid: str) -> ConfigError:
    return ConfigError(f"{what}; valid: {valid}; example: {EXAMPLE}")


def run(args: argparse.Namespace) -> int:
    """Print and write the plan; the exit code as the module docstring says."""
    if not 0 <= args.headroom < 1:
        raise _bad(f"--headroom {args.headroom:g} is out of range", "a number >= 0 and < 1, e.g. 0.3")
    target = args.target_rate if args.target_rate is not None else args.target_users
    if not target > 0:
        raise _bad(f"the target {target:g} is not positive", "--target-rate R > 0 or --target-users N > 0")
    path = Path(args.sweep) / "sweep.json"
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise _bad(f"--sweep {args.sweep}: cannot read {path} ({exc})", "a directory `maascheck sweep` wrote") from None
    if not isinstance(doc, dict):
        raise _bad(f"--sweep {args.sweep}: {path} is not a sweep document", "a directory `maascheck sweep` wrote")
    result = plan(doc, target_rate=args.target_rate, target_users=args.target_users, headroom=args.headroom)
    sweep_dir = Path(args.sweep)
    body = result.as_json()
    body["plot"] = PLOT_FILE if write_plan_png(doc, body, sweep_dir / PLOT_FILE) else None
    (sweep_dir / "plan.json").write_text(json.dumps(body, indent=2) + "\n", encoding="utf-8")
    _rerender(doc, sweep_dir)
    if body["plot"]:
        print(f"plan plot: {sweep_dir / PLOT_FILE}")
    if result.replicas is None:
        print(f"plan: {result.reason}")
        return 1
    print(f"plan: {result.replicas} replica(s) for {result.target:g} {result.target_unit}")
    print(f"  {result.reason}")
    print("  assuming " + "; ".join(ASSUMPTIONS))
    return 0
