"""The plan plot: goodput of each sweep level against its load, the capacity level and the plan's target marked.

Drawn by `maascheck plan` (plan.png next to plan.json) and embedded in the sweep report. Goodput is the
step's `goodput_rps` (requests/s that met every per-request SLO, `maascheck.load.measure.results`). A
target in requests/s is a horizontal line with what one replica may carry after the headroom; a target
in users (a concurrency sweep) is a vertical line on the load axis. The PNG carries its title and axis
labels as text chunks (`Title`, `Description`), so a reader can check what a file shows without
decoding the image.
"""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from maascheck.load.measure.reader import num, section

_DPI = 100
YLABEL = "goodput (requests/s meeting every SLO)"


def _points(sweep: dict[str, Any]) -> list[tuple[float, float, bool | None]]:
    out = []
    for step in sweep.get("steps") or []:
        if not isinstance(step, dict):
            continue
        load, goodput = num(step.get("load")), num(section(step, "throughput").get("goodput_rps"))
        if load is not None and goodput is not None:
            passed = step.get("passed")
            out.append((load, goodput, passed if isinstance(passed, bool) else None))
    return sorted(out)


def title_of(sweep: dict[str, Any], plan: dict[str, Any] | None) -> str:
    """The figure title: what is plotted and, with a plan, its answer."""
    load_label = str(section(sweep, "sweep").get("load_label") or "load")
    title = f"Goodput vs {load_label}"
    if plan and num(plan.get("replicas")) is not None and num(plan.get("target")) is not None:
        title += f": {plan['replicas']} replica(s) for {float(plan['target']):g} {plan.get('target_unit', '')}"
    return title


def plan_figure(sweep: dict[str, Any], plan: dict[str, Any] | None = None) -> Figure | None:
    """Goodput per level with the capacity level and (with `plan`) the target marked; None without goodput."""
    pts = _points(sweep)
    if not pts:
        return None
    settings = section(sweep, "sweep")
    load_label = str(settings.get("load_label") or "load")
    unit = str(settings.get("load_unit") or "")
    capacity = num(section(sweep, "result").get("capacity"))
    fig = Figure(figsize=(8, 4.4), layout="constrained")
    ax = fig.subplots()
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    ax.plot(xs, ys, color="#4c72b0", marker="o", label="goodput per level")
    fails = [(x, y) for x, y, passed in pts if passed is False]
    if fails:
        ax.scatter([f[0] for f in fails], [f[1] for f in fails], marker="x", s=80, color="#c44e52", zorder=3,
                   label="level failed its SLOs")  # fmt: skip
    if capacity is not None:
        ax.axvline(capacity, color="#55a868", linestyle="--", label=f"capacity: {capacity:g} {unit}".rstrip())
    target, target_unit = (num(plan.get("target")), plan.get("target_unit")) if plan else (None, None)
    if target is not None and target_unit == "users":
        ax.axvline(target, color="#c44e52", linestyle="-.", label=f"target: {target:g} users")
    elif target is not None:
        ax.axhline(target, color="#c44e52", linestyle="-.", label=f"target: {target:g} requests/s")
        per, headroom = num((plan or {}).get("per_replica")), num((plan or {}).get("headroom"))
        if per is not None and headroom is not None:
            usable = per * (1 - headroom)
            ax.axhline(usable, color="#dd8452", linestyle=":",
                       label=f"one replica with {headroom:.0%} headroom: {usable:.3g} requests/s")  # fmt: skip
    ax.set(title=title_of(sweep, plan), xlabel=load_label, ylabel=YLABEL)
    ax.set_ylim(bottom=0)
    ax.legend(loc="best", fontsize="small")
    ax.grid(alpha=0.3)
    return fig


def png_bytes(fig: Figure) -> bytes:
    """The figure as PNG, its title and axis labels in the `Title` and `Description` text chunks."""
    FigureCanvasAgg(fig)
    ax = fig.axes[0]
    meta = {"Title": ax.get_title(), "Description": f"x: {ax.get_xlabel()}; y: {ax.get_ylabel()}"}
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=_DPI, metadata=meta)
    return buf.getvalue()


def plan_plot_b64(sweep: dict[str, Any], plan: dict[str, Any] | None = None) -> str | None:
    """`plan_figure` as base64 PNG for an HTML report, or None."""
    fig = plan_figure(sweep, plan)
    return None if fig is None else base64.b64encode(png_bytes(fig)).decode("ascii")


def write_plan_png(sweep: dict[str, Any], plan: dict[str, Any], path: Path) -> bool:
    """Write the plan plot to `path`; False (nothing written) when no level has a goodput figure."""
    fig = plan_figure(sweep, plan)
    if fig is None:
        return False
    path.write_bytes(png_bytes(fig))
    return True
